// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass vf create PF COUNT [--attach] | iopass vf remove PF: SR-IOV virtual functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CMD[] = "vf";

static void usage(void)
{
	fputs("Usage: iopass vf create [options] PF COUNT\n"
	      "       iopass vf remove [options] PF\n"
	      "\nCreate or remove SR-IOV virtual functions of the physical function PF (a PCI\n"
	      "address). With --attach the new VFs go straight to vfio-pci: autoprobe is off\n"
	      "while they appear, so no host driver takes them, and on a failure they are\n"
	      "removed again. remove refuses while a VF is in use (a VM, an up interface).\n"
	      "\nOptions:\n"
	      "  -a, --attach           create: attach the new VFs to vfio-pci\n"
	      "  -f, --force            remove: even while VFs are in use; create --attach: the guards;\n"
	      "                         also roll back an interrupted run the guards would keep\n"
	      "  -n, --dry-run          print each write, in order, and change nothing\n"
	      "  -J, --json             JSON output: devices, steps, guards\n"
	      "  -w, --wait SECONDS     wait this long for another iopass to finish (default 30)\n"
	      "      --sysroot DIR      act below DIR instead of /\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            print only errors\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 done, 1 failed, 2 usage error, 3 refused by a guard.\n",
	      stdout);
}

static int cmd_vf_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "attach", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "wait", required_argument, NULL, 'w' },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_txn *t = NULL;
	struct iopass_addr a;
	struct iopass_dev *pf;
	const char *verb;
	struct cli_write_opts w = { .wait_ms = -1 };
	bool create;
	unsigned count = 0;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, ":afnJw:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		r = cli_write_option(CMD, c, optarg, &w);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'a':
			w.flags |= IOPASS_VF_ATTACH;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (optind >= argc) {
		cli_err(CMD, "no action given; use 'iopass vf create PF COUNT' or 'iopass vf remove PF'");
		return EXIT_USAGE;
	}
	verb = argv[optind++];
	create = streq(verb, "create");
	if (!create && !streq(verb, "remove")) {
		cli_err(CMD, "unknown action '%s'; use create or remove", verb);
		return EXIT_USAGE;
	}
	if (argc - optind != (create ? 2 : 1)) {
		cli_err(CMD, create ? "create takes PF COUNT, e.g. iopass vf create 0000:03:00.0 4"
				    : "remove takes PF, e.g. iopass vf remove 0000:03:00.0");
		return EXIT_USAGE;
	}
	if (cli_parse_bdf(CMD, argv[optind], &a) < 0)
		return EXIT_USAGE;
	if (create && (parse_dec_arg(argv[optind + 1], &count) < 0 || count == 0 || count > 65535)) {
		cli_err(CMD, "COUNT '%s': a number of VFs from 1 to the PF's sriov_totalvfs",
			argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (!create && (w.flags & IOPASS_VF_ATTACH)) {
		cli_err(CMD, "--attach goes with create");
		return EXIT_USAGE;
	}

	ret = cli_ctx_new_writer(CMD, &ctx);
	if (ret != EXIT_OK)
		return ret;
	if (w.wait_ms >= 0)
		iopass_ctx_set_lock_timeout(ctx, w.wait_ms);
	ret = EXIT_FAIL;
	if (cli_scan_addrs(CMD, ctx, &a, 1, &list) < 0)
		goto out;
	pf = iopass_devlist_find(list, &a);
	if (!pf) {
		char bdf[IOPASS_BDF_MAX];

		iopass_addr_format(&a, bdf);
		cli_err(CMD, "%s: no such PCI device; 'iopass list' shows the devices", bdf);
		ret = EXIT_USAGE;
		goto out;
	}
	r = create ? iopass_vf_create(ctx, list, pf, count, w.flags, &t)
		   : iopass_vf_remove(ctx, list, pf, w.flags, &t);
	if (!t) {
		cli_err(CMD, "%s", strerror(-r));
		goto out;
	}
	if (r == -EINVAL) {
		/* not a PF, or a count out of range: the user's input */
		cli_err(CMD, "%s", iopass_txn_error(t));
		ret = EXIT_USAGE;
		goto out;
	}
	ret = cli_txn_report(CMD, ctx, t, r, w.json, w.flags & IOPASS_BIND_DRY_RUN);
out:
	iopass_txn_free(t);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_vf = {
	.name = "vf",
	.fn = cmd_vf_main,
	.help = "create or remove SR-IOV virtual functions",
};
