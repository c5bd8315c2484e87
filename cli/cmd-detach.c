// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass detach: give devices back to the drivers they had before attach. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CMD[] = "detach";

static void usage(void)
{
	fputs("Usage: iopass detach [options] DEVICE... | --group N | --all\n"
	      "\nGive devices back to the driver they had before 'iopass attach' (clear\n"
	      "driver_override, unbind from vfio-pci, probe, and bind the recorded driver if\n"
	      "the probe picks another). Without a record, the kernel's probe decides.\n"
	      "Refused while /dev/vfio/<group> is open (a running VM). DEVICE is a PCI\n"
	      "address, a slot (DDDD:BB:SS or BB:SS: every function of the card, not its VFs),\n"
	      "card:DEV (the card function DEV is on) or group:N.\n"
	      "\nOptions:\n"
	      "  -g, --group N          detach every endpoint of IOMMU group N\n"
	      "      --card DEV         every function of the card that DEV is on\n"
	      "  -a, --all              detach every device iopass attached\n"
	      "  -f, --force            detach even while a VM holds the group; also roll back an\n"
	      "                         interrupted run the guards would keep; with --persist,\n"
	      "                         go past a desired state that does not parse (left as is)\n"
	      "  -n, --dry-run          print each write, in order, and change nothing\n"
	      "  -J, --json             JSON output: devices, steps, guards\n"
	      "  -w, --wait SECONDS     wait this long for another iopass to finish (default 30)\n"
	      "      --persist          also drop the devices from the boot configuration (their\n"
	      "                         lines in " IOPASS_DESIRED_FILE " say host, or go)\n"
	      "      --sysroot DIR      act below DIR instead of /\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            print only errors\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 done, 1 failed (the host is as it was), 2 usage error,\n"
	      "3 refused by a guard (nothing was changed).\n",
	      stdout);
}

/* --all: every device with a record (addrs, n: the record's addresses). */
static int select_recorded(const struct iopass_devlist *list, const struct iopass_addr *addrs,
			   size_t n, struct cli_selection *sel)
{
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *d = iopass_devlist_find(list, &addrs[i]);
		struct iopass_dev **nd;

		if (!d)
			continue; /* gone (hot-unplugged): nothing to give back */
		nd = reallocarray(sel->devs, sel->n + 1, sizeof(*nd));
		if (!nd)
			return EXIT_FAIL;
		sel->devs = nd;
		sel->devs[sel->n++] = d;
	}
	return EXIT_OK;
}

static int cmd_detach_main(int argc, char *argv[])
{
	enum { OPT_PERSIST = OPT_GLOBAL_LAST, OPT_CARD };
	static const struct option longopts[] = {
		{ "persist", no_argument, NULL, OPT_PERSIST },
		{ "group", required_argument, NULL, 'g' },
		{ "card", required_argument, NULL, OPT_CARD },
		{ "all", no_argument, NULL, 'a' },
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
	struct cli_selection sel = { NULL, 0 };
	struct cli_devargs da = { 0 };
	struct cli_write_opts w = { .wait_ms = -1 };
	struct iopass_addr *recorded = NULL;
	size_t nrecorded = 0;
	bool have_group = false, all = false, persist = false;
	int c, r, group = -1, ret;

	while ((c = getopt_long(argc, argv, ":g:afnJw:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		r = cli_write_option(CMD, c, optarg, &w);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'g':
			if (cli_parse_group(CMD, optarg, &group) < 0)
				return EXIT_USAGE;
			have_group = true;
			break;
		case 'a':
			all = true;
			break;
		case OPT_PERSIST:
			persist = true;
			break;
		case OPT_CARD:
			if (cli_devargs_add_card(CMD, &da, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (cli_devargs_finish(&da, argv + optind, (size_t)(argc - optind)) < 0) {
		cli_err(CMD, "out of memory");
		ret = EXIT_FAIL;
		goto out;
	}
	if (all && (have_group || da.n > 0)) {
		cli_err(CMD, "--all detaches every attached device; drop the devices or --group");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!all && !have_group && da.n == 0) {
		cli_err(CMD, "no device given; name devices by address, or use --group N or --all");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = cli_check_device_args(CMD, da.v, da.n);
	if (ret != EXIT_OK)
		goto out;

	ret = cli_ctx_new_writer(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	if (w.wait_ms >= 0)
		iopass_ctx_set_lock_timeout(ctx, w.wait_ms);
	ret = EXIT_FAIL;
	if (all) {
		r = iopass_attached(ctx, &recorded, &nrecorded);
		if (r < 0) {
			cli_err(CMD, "cannot read the record of attached devices: %s", strerror(-r));
			goto out;
		}
		if (cli_scan_addrs(CMD, ctx, recorded, nrecorded, &list) < 0)
			goto out;
		ret = select_recorded(list, recorded, nrecorded, &sel);
	} else if (cli_scan_args(CMD, ctx, da.v, da.n,
				 have_group ? &group : NULL, &list) < 0) {
		goto out;
	} else
		ret = cli_select(CMD, list, da.v, da.n,
				 have_group ? &group : NULL, false, &sel);
	if (ret != EXIT_OK)
		goto out;
	if (persist && !(w.flags & IOPASS_BIND_DRY_RUN) &&
	    cli_persist_check(CMD, ctx, &sel, NULL, w.flags & IOPASS_BIND_FORCE) < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	r = iopass_detach(ctx, list, sel.devs, sel.n, w.flags, &t);
	if (!t) {
		cli_err(CMD, "%s", strerror(-r));
		ret = EXIT_FAIL;
		goto out;
	}
	ret = cli_txn_report(CMD, ctx, t, r, w.json, w.flags & IOPASS_BIND_DRY_RUN);
	if (ret == EXIT_OK && persist && !(w.flags & IOPASS_BIND_DRY_RUN)) {
		/* the boot configuration after the detach: a failed detach keeps both as they were */
		const char **bdfs = calloc(sel.n ? sel.n : 1, sizeof(*bdfs));
		_cleanup_free_ char *msg = NULL;

		if (!bdfs) {
			ret = EXIT_FAIL;
			goto out;
		}
		for (size_t i = 0; i < sel.n; i++)
			bdfs[i] = iopass_dev_get_bdf(sel.devs[i]);
		struct iopass_txn *pt = NULL;

		r = iopass_persist_remove(ctx, bdfs, sel.n, true,
					  w.flags & (IOPASS_BIND_FORCE | IOPASS_BIND_FORCE_RECOVERY), &msg, &pt);
		cli_txn_recovery(CMD, pt);
		iopass_txn_free(pt);
		free(bdfs);
		if (r < 0) {
			cli_err(CMD, "--persist: %s; the devices are detached, but still set for the next boot",
				msg ? msg : strerror(-r));
			ret = EXIT_FAIL;
		} else if (msg) {
			cli_note(CMD, "%s", msg);
		}
	}
out:
	cli_devargs_free(&da);
	free(recorded);
	iopass_txn_free(t);
	cli_selection_free(&sel);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_detach = {
	.name = "detach",
	.fn = cmd_detach_main,
	.help = "give devices back to their original drivers",
};
