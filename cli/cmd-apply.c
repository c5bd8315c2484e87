// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass apply: make the host match a desired-state file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

static const char CMD[] = "apply";

#define FILE_MAX (16u << 20)

static void usage(void)
{
	fputs("Usage: iopass apply [options] [FILE]\n"
	      "\nMake the host match the desired state in FILE (default " IOPASS_DESIRED_FILE ", below\n"
	      "--sysroot; '-' reads standard input): each device on the driver its line names,\n"
	      "each PF with its VF count, the boot configuration with the lines marked 'boot'.\n"
	      "One writing run under the lock: every line resolved and every guard passed before\n"
	      "the first write; a failed step is undone. Devices no line names are left alone.\n"
	      "A line: ADDRESS VVVV:DDDD[/SSSS:SSSS] DRIVER [boot] [optional] [vfs=N]\n"
	      "[vf-driver=DRIVER] [nth=K] [pf=ADDRESS]; DRIVER is vfio-pci, a vfio variant or host.\n"
	      "\nOptions:\n"
	      "  -n, --check            compute the plan and its guards, change nothing (--dry-run)\n"
	      "      --diff             print every field of every line: BEFORE -> AFTER, or = when equal\n"
	      "  -f, --force            take devices the guards refuse, overwrite boot files edited by\n"
	      "                         hand; also roll back an interrupted run the guards would keep\n"
	      "  -J, --json             JSON output: changes, refusals, recovery, boot\n"
	      "  -w, --wait SECONDS     wait this long for another iopass to finish (default 30)\n"
	      "      --sysroot DIR      act below DIR instead of /\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            print only errors\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 the host matched already (nothing changed), 4 changed (--check: would\n"
	      "change), 1 failed (the moves were undone), 2 usage error or a malformed file,\n"
	      "3 refused: a guard, or a line whose device is absent or another card (nothing changed).\n",
	      stdout);
}

/* FILE, or standard input for '-': the user's own file, read whole. */
static int read_input(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = streq(path, "-") ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (fd != STDIN_FILENO && fcntl(fd, F_SETFL, 0) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			char *nb;

			if (cap >= FILE_MAX) {
				r = -EFBIG;
				goto out;
			}
			cap = cap ? 2 * cap : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = buf ? buf : strdup("");
	buf = NULL;
	*ret_len = len;
	if (!*ret)
		r = -ENOMEM;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

static const char *show(const char *s)
{
	return s ? s : "none";
}

void cli_json_change(struct json *j, const struct iopass_apply *a, size_t i)
{
	json_int(j, "line", iopass_apply_line(a, i));
	json_string(j, "bdf", iopass_apply_bdf(a, i));
	json_string(j, "field", iopass_change_field_name(iopass_apply_field(a, i)));
	json_string(j, "from", iopass_apply_from(a, i));
	json_string(j, "to", iopass_apply_to(a, i));
}

static void print_json(const struct iopass_apply *a, const char *file, int rc, bool check)
{
	const struct iopass_txn *t = iopass_apply_txn(a);
	struct json j;

	json_document_begin(&j, stdout);
	json_bool(&j, "ok", rc == 0);
	json_bool(&j, "check", check);
	json_bool(&j, "changed", iopass_apply_changed(a));
	json_string(&j, "file", file);
	json_string(&j, "error", iopass_txn_error(t));
	json_string(&j, "note", iopass_apply_note(a));
	json_array_begin(&j, "changes");
	for (size_t i = 0; i < iopass_apply_count(a); i++) {
		json_object_begin(&j, NULL);
		cli_json_change(&j, a, i);
		json_string(&j, "status", iopass_change_status_name(iopass_apply_status(a, i)));
		json_object_end(&j);
	}
	json_array_end(&j);
	/* the guards' findings: what refused the run, or what --force took; both keys always */
	cli_json_guards(&j, "refused", rc == -ECANCELED ? t : NULL);
	cli_json_guards(&j, "forced", rc == -ECANCELED ? NULL : t);
	cli_json_recovered(&j, t);
	json_object_begin(&j, "boot");
	json_bool(&j, "changed", iopass_apply_boot_changed(a));
	json_string(&j, "initramfs", iopass_apply_initramfs(a));
	json_object_end(&j);
	json_document_end(&j);
}

static void print_text(const struct iopass_apply *a, const char *file, bool check, bool diff,
		       bool ok)
{
	bool any = false;

	for (size_t i = 0; i < iopass_apply_count(a); i++) {
		enum iopass_change_status st = iopass_apply_status(a, i);
		const char *field = iopass_change_field_name(iopass_apply_field(a, i));
		const char *from = show(iopass_apply_from(a, i)), *to = show(iopass_apply_to(a, i));

		if (!ok && st == IOPASS_CHANGE_NOT_RUN)
			continue; /* a failed run says what became of what it began */
		if (st == IOPASS_CHANGE_UNCHANGED) {
			if (diff)
				printf("%s %s %s = %s\n", iopass_apply_bdf(a, i), field, from, to);
			continue;
		}
		any = true;
		if (diff)
			printf("%s %s %s -> %s\n", iopass_apply_bdf(a, i), field, from, to);
		else if (st == IOPASS_CHANGE_DONE || st == IOPASS_CHANGE_PLANNED)
			printf("%s%s: %s %s -> %s\n", check ? "would change: " : "",
			       iopass_apply_bdf(a, i), field, from, to);
		else
			printf("%s: %s %s -> %s (%s)\n", iopass_apply_bdf(a, i), field, from, to,
			       iopass_change_status_name(st));
	}
	if (!any && !diff && ok)
		printf("unchanged: the host matches %s\n", file);
}

static int cmd_apply_main(int argc, char *argv[])
{
	enum { OPT_DIFF = OPT_GLOBAL_LAST };
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "diff", no_argument, NULL, OPT_DIFF },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "wait", required_argument, NULL, 'w' },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_ctx *ctx = NULL;
	struct iopass_desired *d = NULL;
	struct iopass_apply *a = NULL;
	struct cli_write_opts w = { .wait_ms = -1 };
	_cleanup_free_ char *text = NULL, *perr = NULL;
	const char *file = NULL;
	bool diff = false, check;
	size_t len = 0;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, ":fnJw:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		r = cli_write_option(CMD, c, optarg, &w);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case OPT_DIFF:
			diff = true;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (argc - optind > 1) {
		cli_err(CMD, "one desired-state file at most, got %d; name one FILE (or - for standard "
			     "input)", argc - optind);
		return EXIT_USAGE;
	}
	check = w.flags & IOPASS_BIND_DRY_RUN;
	/* the file first: a malformed one is a usage error before anything is read of the host */
	if (optind < argc) {
		file = argv[optind];
		r = read_input(file, &text, &len);
		if (r < 0) {
			cli_err(CMD, "cannot read %s: %s; name a readable desired-state file",
				streq(file, "-") ? "standard input" : file, strerror(-r));
			return EXIT_USAGE;
		}
		r = iopass_desired_parse(text, len, &d, &perr);
	}
	ret = check ? cli_ctx_new(CMD, &ctx) : cli_ctx_new_writer(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	if (!file) {
		file = IOPASS_DESIRED_FILE;
		r = iopass_desired_load(ctx, &d, &perr);
		if (r < 0 && r != -EINVAL) {
			cli_err(CMD, "cannot read %s%s: %s; name a FILE, or write that one (root's, not "
				     "writable by others)", streq(iopass_ctx_get_sysroot(ctx), "/") ? ""
				: iopass_ctx_get_sysroot(ctx), IOPASS_DESIRED_FILE,
				r == -EPERM ? "not root's, or writable by others" : strerror(-r));
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (r < 0) {
		if (r == -EINVAL && perr)
			cli_err(CMD, "%s: %s", streq(file, "-") ? "standard input" : file, perr);
		else
			cli_err(CMD, "%s: %s", file, strerror(-r));
		ret = r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (iopass_desired_count(d) == 0) {
		/* a generator that failed upstream writes nothing: that is not "the host matches" */
		cli_err(CMD, "%s names no device; a desired state has one line per device (an empty "
			     "one would change nothing)", streq(file, "-") ? "standard input" : file);
		ret = EXIT_USAGE;
		goto out;
	}
	if (w.wait_ms >= 0)
		iopass_ctx_set_lock_timeout(ctx, w.wait_ms);
	if (streq(file, "-"))
		file = "standard input";
	r = iopass_apply(ctx, d, w.flags, &a);
	if (!a) {
		cli_err(CMD, "%s", strerror(-r));
		ret = EXIT_FAIL;
		goto out;
	}
	cli_txn_recovery(CMD, iopass_apply_txn(a));
	cli_txn_guards(CMD, iopass_apply_txn(a), r == -ECANCELED);
	if (w.json)
		print_json(a, file, r, check);
	else if (r != -ECANCELED && !(check && r < 0) && !cli.quiet)
		print_text(a, file, check, diff, r == 0); /* a failed plan has nothing to show */
	if (r == 0 && iopass_apply_boot_note(a))
		cli_note(CMD, "%s", iopass_apply_boot_note(a));
	if (r == 0 && iopass_apply_note(a))
		cli_note(CMD, "note: %s", iopass_apply_note(a));
	if (r < 0)
		cli_err(CMD, "%s", iopass_txn_error(iopass_apply_txn(a)) ? iopass_txn_error(iopass_apply_txn(a))
									 : strerror(-r));
	/* 3 says nothing was changed: a refusal after the VF counts changed is a failure */
	ret = r == 0 ? (iopass_apply_changed(a) ? EXIT_CHANGED : EXIT_OK)
	      : r == -ECANCELED && !iopass_apply_changed(a) ? EXIT_NOT_READY : EXIT_FAIL;
out:
	iopass_apply_free(a);
	iopass_desired_free(d);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_apply = {
	.name = "apply",
	.fn = cmd_apply_main,
	.help = "make the host match a desired-state file",
};
