// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass persist list | remove DEVICE...: the devices on vfio-pci from boot.
 * iopass __udev-bind BDF (hidden): what the generated udev rule runs to
 * rebind a persisted device whose host driver got it first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"

static const char CMD[] = "persist";

static void usage(void)
{
	fputs("Usage: iopass persist list [-J]\n"
	      "       iopass persist remove [options] DEVICE...\n"
	      "\nThe devices held on a vfio driver at every boot, by address and IDs, and whether\n"
	      "that is in effect now: active (on that driver), inactive (not yet: the next boot\n"
	      "or hotplug applies it), moved (another card is at the address now: it is left\n"
	      "alone), absent; and whether the desired state (" IOPASS_DESIRED_FILE ") holds\n"
	      "them from boot on: its 'boot' lines are the one source of truth, which 'attach\n"
	      "--persist', 'detach --persist', 'persist remove' and 'apply' edit. remove takes\n"
	      "'boot' off the devices' lines.\n"
	      "\nOptions:\n"
	      "  -J, --json             JSON output (list)\n"
	      "  -f, --force            remove: overwrite generated files that were edited by hand,\n"
	      "                         go past a desired state that does not parse (left as it\n"
	      "                         is), and roll back an interrupted run the guards would keep\n"
	      "      --sysroot DIR      act below DIR instead of /\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            print only errors\n"
	      "  -h, --help             show this help\n"
	      "\nFiles: " IOPASS_DESIRED_FILE ", /etc/iopass/persist, /etc/udev/rules.d/60-iopass.rules,\n"
	      "/etc/modprobe.d/iopass.conf. Exit status: 0 ok, 1 failure, 2 usage error,\n"
	      "3 (list) a persisted device is not in effect, or the desired state and the\n"
	      "boot configuration differ.\n",
	      stdout);
}

static int persist_list(struct iopass_ctx *ctx, bool json)
{
	struct iopass_persist *p = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_persist_pending *pend = NULL;
	_cleanup_free_ bool *in_desired = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t npend = 0;
	int r, ret = EXIT_OK;
	bool no_desired;
	struct json j;

	r = iopass_persist_load(ctx, &p);
	if (r < 0) {
		cli_err(CMD, "cannot read /etc/iopass/persist: %s", r == -EBADMSG ? "it is corrupt" : strerror(-r));
		return EXIT_FAIL;
	}
	r = iopass_scan(ctx, &list);
	if (r < 0) {
		cli_err(CMD, "cannot read PCI devices: %s", strerror(-r));
		iopass_persist_free(p);
		return EXIT_FAIL;
	}
	in_desired = calloc(iopass_persist_count(p) + 1, sizeof(*in_desired));
	r = in_desired ? iopass_persist_drift(ctx, p, list, in_desired, &pend, &npend, &msg) : -ENOMEM;
	if (r < 0) {
		cli_err(CMD, "%s", msg ? msg : strerror(-r));
		ret = EXIT_FAIL;
		goto out;
	}
	/* a record from before the desired state: no drift to tell (the first change seeds it) */
	no_desired = r == 1;
	if (json) {
		json_document_begin(&j, stdout);
		json_array_begin(&j, "devices");
	} else if (iopass_persist_count(p) && !cli.quiet) {
		printf("%-13s %-9s %-14s %-14s %-8s %s\n", "BDF", "ID", "DRIVER", "HOST-DRIVER", "STATE",
		       "DESIRED");
	}
	for (size_t i = 0; i < iopass_persist_count(p); i++) {
		enum iopass_persist_state s = iopass_persist_state(p, i, list);
		const char *drv = iopass_persist_host_driver(p, i);

		if (s != IOPASS_PERSIST_ACTIVE || (!no_desired && !in_desired[i]))
			ret = EXIT_NOT_READY;
		if (json) {
			json_object_begin(&j, NULL);
			json_string(&j, "bdf", iopass_persist_bdf(p, i));
			json_string(&j, "id", iopass_persist_ids(p, i));
			json_string(&j, "driver", iopass_persist_driver(p, i));
			json_string(&j, "host_driver", drv);
			json_string(&j, "state", iopass_persist_state_name(s));
			if (no_desired)
				json_null(&j, "desired");
			else
				json_bool(&j, "desired", in_desired[i]);
			json_object_end(&j);
		} else if (!cli.quiet) {
			printf("%-13s %-9s %-14s %-14s %-8s %s\n", iopass_persist_bdf(p, i),
			       iopass_persist_ids(p, i), iopass_persist_driver(p, i), drv ? drv : "-",
			       iopass_persist_state_name(s), no_desired ? "-" : in_desired[i] ? "yes" : "no");
		}
	}
	/* what the desired state holds from boot on and the boot configuration does not */
	if (json) {
		json_array_end(&j);
		json_array_begin(&j, "pending");
	}
	for (size_t i = 0; i < npend; i++) {
		ret = EXIT_NOT_READY;
		if (json) {
			json_object_begin(&j, NULL);
			json_int(&j, "line", pend[i].line);
			json_string(&j, "bdf", *pend[i].bdf ? pend[i].bdf : NULL);
			json_string(&j, "driver", pend[i].driver);
			json_object_end(&j);
		} else if (*pend[i].bdf) {
			cli_warn(CMD, IOPASS_DESIRED_FILE " line %u holds %s on %s from boot on, but the boot "
				      "configuration does not; run 'iopass apply'", pend[i].line,
				 pend[i].bdf, pend[i].driver);
		} else {
			cli_warn(CMD, IOPASS_DESIRED_FILE " line %u holds a device on %s from boot on that "
				      "is not there now: the boot configuration names devices by address, "
				      "so it does not hold this one", pend[i].line, pend[i].driver);
		}
	}
	if (json) {
		json_array_end(&j);
		json_document_end(&j);
	}
out:
	free(pend);
	iopass_devlist_free(list);
	iopass_persist_free(p);
	return ret;
}

static int cmd_persist_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "force", no_argument, NULL, 'f' },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_ctx *ctx = NULL;
	bool json = false, force = false;
	const char *verb;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":Jf" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		switch (c) {
		case 'J':
			json = true;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (optind >= argc) {
		cli_err(CMD, "no action given; use 'iopass persist list' or 'iopass persist remove DEVICE'");
		return EXIT_USAGE;
	}
	verb = argv[optind++];
	if (streq(verb, "list")) {
		if (optind < argc) {
			cli_err(CMD, "list takes no devices");
			return EXIT_USAGE;
		}
	} else if (streq(verb, "remove")) {
		if (optind >= argc) {
			cli_err(CMD, "remove takes devices, e.g. iopass persist remove 0000:01:00.0");
			return EXIT_USAGE;
		}
		for (int i = optind; i < argc; i++) {
			struct iopass_addr a;

			if (cli_parse_bdf(CMD, argv[i], &a) < 0)
				return EXIT_USAGE;
		}
	} else {
		cli_err(CMD, "unknown action '%s'; use list or remove", verb);
		return EXIT_USAGE;
	}
	ret = streq(verb, "remove") ? cli_ctx_new_writer(CMD, &ctx) : cli_ctx_new(CMD, &ctx);
	if (ret != EXIT_OK)
		return ret;
	if (streq(verb, "list")) {
		ret = persist_list(ctx, json);
	} else {
		const char **bdfs = calloc((size_t)(argc - optind), sizeof(*bdfs));
		char (*canon)[IOPASS_BDF_MAX] = calloc((size_t)(argc - optind), sizeof(*canon));
		_cleanup_free_ char *msg = NULL;
		int r;

		if (!bdfs || !canon) {
			free(bdfs);
			free(canon);
			iopass_ctx_free(ctx);
			return EXIT_FAIL;
		}
		for (int i = optind; i < argc; i++) {
			struct iopass_addr a;

			iopass_addr_parse(argv[i], &a);
			iopass_addr_format(&a, canon[i - optind]);
			bdfs[i - optind] = canon[i - optind];
		}
		struct iopass_txn *t = NULL;

		r = iopass_persist_remove(ctx, bdfs, (size_t)(argc - optind), false,
					  force ? IOPASS_BIND_FORCE | IOPASS_BIND_FORCE_RECOVERY : 0, &msg, &t);
		if (r != -ECANCELED)
			cli_txn_recovery(CMD, t);
		if (r == -ECANCELED) {
			/* recovery of an interrupted run refused: say what blocks it */
			ret = cli_txn_report(CMD, ctx, t, r, false, false);
		} else if (r < 0) {
			cli_err(CMD, "%s", msg ? msg : strerror(-r));
			ret = EXIT_FAIL;
		} else if (msg) {
			cli_note(CMD, "%s", msg);
		}
		iopass_txn_free(t);
		free(bdfs);
		free(canon);
	}
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_persist = {
	.name = "persist",
	.fn = cmd_persist_main,
	.help = "list or remove the devices passed through from boot",
};

/*
 * __udev-bind BDF: run by the udev rule on "add". The device is persisted
 * (the rule matched its address and IDs): put it on vfio-pci now, guards off,
 * quietly; the journal and the record work as for attach.
 */
static int cmd_udev_bind_main(int argc, char *argv[])
{
	static const struct option longopts[] = { CLI_GLOBAL_LONGOPTS, {} };
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_txn *t = NULL;
	struct iopass_addr a;
	struct iopass_dev *d;
	char target[72];
	int c, r, ret;

	while ((c = getopt_long(argc, argv, ":" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1)
		if (!cli_global_option(c, optarg))
			return EXIT_USAGE;
	if (optind + 1 != argc || iopass_addr_parse(argv[optind], &a) < 0)
		return EXIT_USAGE;
	ret = cli_ctx_new_writer("__udev-bind", &ctx);
	if (ret != EXIT_OK)
		return ret;
	ret = EXIT_FAIL;
	if (iopass_scan_related(ctx, &a, 1, NULL, 0, &list) < 0)
		goto out;
	d = iopass_devlist_find(list, &a);
	if (!d)
		goto out;
	/* udev reloads rules lazily: a rule for a device no longer in the record (or a card
	 * that took its address) still fires; undo its override and leave the device be */
	r = iopass_persist_claims(ctx, list, d, target, sizeof(target));
	if (r <= 0) {
		if (r < 0)
			cli_err("__udev-bind", "the record /etc/iopass/persist: %s; %s left alone",
				strerror(-r), iopass_dev_get_bdf(d));
		r = iopass_persist_unclaim(ctx, d, &t);
		if (r < 0)
			cli_err("__udev-bind", "%s: %s", iopass_dev_get_bdf(d),
				t && iopass_txn_error(t) ? iopass_txn_error(t) : strerror(-r));
		ret = r < 0 ? EXIT_FAIL : EXIT_OK;
		goto out;
	}
	if (iopass_dev_get_driver(d) && streq(iopass_dev_get_driver(d), target)) {
		ret = EXIT_OK;
		goto out;
	}
	r = iopass_attach(ctx, list, &d, 1, target, NULL, IOPASS_BIND_FORCE, &t);
	if (r < 0 && t && iopass_txn_error(t))
		cli_err("__udev-bind", "%s", iopass_txn_error(t));
	ret = r < 0 ? EXIT_FAIL : EXIT_OK;
out:
	iopass_txn_free(t);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_udev_bind = {
	.name = "__udev-bind",
	.fn = cmd_udev_bind_main,
	.help = NULL, /* hidden: run by the generated udev rule */
};
