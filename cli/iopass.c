// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass: PCI passthrough with VFIO, from one binary.
 * Global options, the command table and dispatch; each command lives in cmd-*.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef IOPASS_VERSION
#define IOPASS_VERSION "0"
#endif

static const struct cli_cmd *const commands[] = {
	&cmd_list,
	&cmd_check,
	&cmd_attach,
	&cmd_detach,
	&cmd_emit,
	&cmd_vf,
	&cmd_persist,
	&cmd_apply,
	&cmd_complete,
	&cmd_udev_bind,
};

static const char *guess_command(const char *name)
{
	const char *names[ARRAY_SIZE(commands) + 2];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i]->help)
			names[n++] = commands[i]->name;
	names[n++] = "help";
	names[n] = NULL;
	return cli_did_you_mean(name, names);
}

static int unknown_command(const char *prefix, const char *name)
{
	const char *guess = guess_command(name);

	if (guess)
		cli_err(NULL, "%sunknown command '%s'; did you mean '%s'? see 'iopass --help'", prefix,
			name, guess);
	else
		cli_err(NULL, "%sunknown command '%s'; see 'iopass --help' for the commands", prefix, name);
	return EXIT_USAGE;
}

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fputs("Usage: iopass [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
	      "\nPCI passthrough with VFIO: list devices and IOMMU groups, check, attach, detach.\n"
	      "\nCommands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i]->help) /* NULL: hidden (the completion query) */
			fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->help);
	fputs("  help       show help for a command\n"
	      "\nGlobal options:\n"
	      "      --sysroot DIR  read and write below DIR instead of / (also IOPASS_SYSROOT)\n"
	      "      --color[=WHEN] colour: auto (a terminal without NO_COLOR), always, never\n"
	      "  -v, --verbose      more detail (twice: debug messages)\n"
	      "  -q, --quiet        no warnings or notes on stderr\n"
	      "  -h, --help         show this help\n"
	      "  -V, --version      show the version\n"
	      "\nExit status: 0 ok, 1 failure, 2 usage error, 3 checked and not ready or refused;\n"
	      "apply: 4 changed.\n"
	      "See iopass(8) for details.\n",
	      out);
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	const struct cli_cmd *cmd;
	int c;

	atexit(cli_close_stdout);
	opterr = 0; /* we print one line of our own */
	/* '+': stop at the command name; its options are its own */
	while ((c = getopt_long(argc, argv, "+:" CLI_GLOBAL_SHORTOPTS "V", longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("iopass %s\n", IOPASS_VERSION);
			return EXIT_OK;
		default:
			return cli_option_error(NULL, c, argv, longopts);
		}
	}
	if (optind >= argc) {
		cli_err(NULL, "no command given; try 'iopass list' or 'iopass --help'");
		return cli_usage_error(NULL);
	}

	if (streq(argv[optind], "help")) {
		if (optind + 1 >= argc) {
			usage(stdout);
			return EXIT_OK;
		}
		cmd = find_command(argv[optind + 1]);
		if (!cmd || !cmd->help)
			return unknown_command("help: ", argv[optind + 1]);
		char *hargv[] = { (char *)cmd->name, (char *)"--help", NULL };

		optind = 0;
		return cmd->fn(2, hargv);
	}

	cmd = find_command(argv[optind]);
	if (!cmd)
		return unknown_command("", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0; /* full reset for the command's own getopt_long */
	return cmd->fn(argc, argv);
}
