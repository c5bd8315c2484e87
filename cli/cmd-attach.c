// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass attach: give devices to vfio-pci, all or nothing, guarded. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CMD[] = "attach";

static void usage(void)
{
	fputs("Usage: iopass attach [options] DEVICE... | --group N | --id VVVV:DDDD\n"
	      "\nBind devices to their vfio driver (driver_override, unbind, drivers_probe,\n"
	      "verify), all or nothing: on a failure every device goes back to its driver.\n"
	      "The driver is vfio-pci, or the vfio variant driver (mlx5_vfio_pci, ...) whose\n"
	      "alias in the kernel's modules.alias matches the device most specifically.\n"
	      "Devices already on a vfio driver are left alone (unless --driver names another).\n"
	      "The original drivers are recorded for 'iopass detach'.\n"
	      "Refused, before any write, when a device or a group member is in use by the host\n"
	      "or the group would not be viable. DEVICE is a PCI address, a slot (DDDD:BB:SS\n"
	      "or BB:SS: every function of the card, not its VFs), card:DEV (the card function\n"
	      "DEV is on) or group:N.\n"
	      "\nOptions:\n"
	      "  -g, --group N          attach every endpoint of IOMMU group N\n"
	      "      --card DEV         every function of the card that DEV is on\n"
	      "  -d, --id VVVV:DDDD     the one device with these IDs (several: name them by address)\n"
	      "      --driver NAME      bind NAME: vfio-pci (any device), or a variant driver whose\n"
	      "                         alias claims every device\n"
	      "      --reset-method M[,M]  set each device's reset_method first (kernel 5.15+):\n"
	      "                         device_specific, acpi, flr, af_flr, pm, bus, cxl_bus;\n"
	      "                         detach gives the old methods back\n"
	      "  -f, --force            take devices the guards refuse (in use, group not viable);\n"
	      "                         also roll back an interrupted run the guards would keep\n"
	      "  -n, --dry-run          print each write, in order, and change nothing\n"
	      "  -J, --json             JSON output: devices, steps, guards\n"
	      "  -w, --wait SECONDS     wait this long for another iopass to finish (default 30)\n"
	      "      --persist          also on every boot: the device's line in " IOPASS_DESIRED_FILE ",\n"
	      "                         a udev rule and softdep, by address and IDs\n"
	      "      --sysroot DIR      act below DIR instead of /\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            print only errors\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 done, 1 failed (the host is as it was), 2 usage error,\n"
	      "3 refused by a guard (nothing was changed).\n",
	      stdout);
}

/*
 * The vfio driver of the run. With --driver: one that claims every device
 * (one of its vfio_pci aliases in modules.alias matches; vfio-pci claims
 * all), since the kernel binds whatever driver_override names. Without: the
 * driver each device's most specific alias names; devices on a vfio driver
 * already stay there (IOPASS_BIND_KEEP_VFIO); one run binds one driver, so
 * devices that would go to different ones all go to vfio-pci, with a warning.
 */
static int choose_driver(const struct cli_selection *sel, const char *asked, bool persist,
			 char *driver, size_t size, unsigned *flags)
{
	struct iopass_vfio_choice c;
	const char *first_bdf = NULL, *other_bdf = NULL, *kept = NULL;
	char other[72] = "";

	*driver = '\0';
	if (!asked)
		*flags |= IOPASS_BIND_KEEP_VFIO;
	for (size_t i = 0; i < sel->n; i++) {
		const struct iopass_dev *d = sel->devs[i];
		const char *bdf = iopass_dev_get_bdf(d);
		int r = iopass_dev_vfio_driver(d, asked, &c);

		if (asked && r == -ESRCH) {
			cli_err(CMD, "--driver %s: no vfio driver of that name in modules.alias of %s; "
				     "vfio-pci binds any device, and 'iopass list -o +VFIO_DRIVER' shows the "
				     "variant each device takes", asked, c.release);
			return EXIT_USAGE;
		}
		if (asked && r == -ENOENT) {
			cli_err(CMD, "--driver %s does not claim %s: no vfio_pci alias of %s in modules.alias "
				     "of %s matches it (vfio_pci:v%08Xd%08X...); 'iopass check -v %s' "
				     "names the driver that does, and --driver vfio-pci binds any device",
				asked, bdf, asked, c.release, (unsigned)iopass_dev_get_vendor(d),
				(unsigned)iopass_dev_get_device(d), bdf);
			return EXIT_USAGE;
		}
		if (asked && r == -ENODATA) {
			/* the kernel would bind it regardless: refuse what cannot be checked */
			cli_err(CMD, "--driver %s: cannot tell whether it claims %s (%s), and the kernel "
				     "binds whatever driver driver_override names; --driver vfio-pci binds "
				     "any device", asked, bdf,
				c.ids_unread ? "its IDs could not be read" : "no modules.alias was read");
			return EXIT_USAGE;
		}
		if (r < 0) {
			cli_err(CMD, "%s: %s", bdf, strerror(-r));
			return EXIT_FAIL;
		}
		if (!asked && iopass_dev_is_vfio(d) && !kept)
			kept = bdf;
		if (asked || iopass_dev_is_vfio(d))
			continue;
		if (!first_bdf) {
			snprintf(driver, size, "%s", c.driver);
			first_bdf = bdf;
		} else if (!other_bdf && !streq(driver, c.driver)) {
			snprintf(other, sizeof(other), "%s", c.driver);
			other_bdf = bdf;
		}
	}
	if (other_bdf) {
		cli_warn(CMD, "%s would go to %s and %s to %s, but one run binds one driver: all go to "
			      "vfio-pci; attach them in separate runs (a shared IOMMU group cannot be) or "
			      "name the driver with --driver", first_bdf, driver, other_bdf, other);
		snprintf(driver, size, "vfio-pci");
	}
	if (asked || !*driver)
		snprintf(driver, size, "%s", asked ? asked : "vfio-pci");
	/* the boot configuration holds one driver for the run's devices: it must be theirs */
	for (size_t i = 0; persist && kept && i < sel->n; i++) {
		const struct iopass_dev *d = sel->devs[i];

		if (iopass_dev_is_vfio(d) && !streq(iopass_dev_get_driver(d), driver)) {
			cli_err(CMD, "--persist: %s stays on %s while the run binds %s, and the boot "
				     "configuration gets one driver for all: name it with --driver, or "
				     "persist them in separate runs", iopass_dev_get_bdf(d),
				iopass_dev_get_driver(d), driver);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* --persist: record the devices for every boot, with the drivers they had before. */
static int persist_devices(struct iopass_ctx *ctx, const struct iopass_txn *t,
			   const struct cli_selection *sel, const char *driver, unsigned flags)
{
	const char **drivers = calloc(sel->n ? sel->n : 1, sizeof(*drivers));
	char **owned = calloc(sel->n ? sel->n : 1, sizeof(*owned));
	_cleanup_free_ char *msg = NULL;
	struct iopass_txn *pt = NULL;
	int r, ret = EXIT_OK;

	if (!drivers || !owned) {
		free(drivers);
		free(owned);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < sel->n; i++) {
		const char *bdf = iopass_dev_get_bdf(sel->devs[i]);

		for (size_t k = 0; k < iopass_txn_dev_count(t); k++)
			if (streq(iopass_txn_dev_bdf(t, k), bdf) &&
			    iopass_txn_dev_state(t, k) == IOPASS_DEV_ATTACHED)
				drivers[i] = iopass_txn_dev_from(t, k);
		if (!drivers[i] && iopass_record_get(ctx, bdf, &owned[i]) == 0)
			drivers[i] = owned[i]; /* attached before: the record knows */
	}
	r = iopass_persist_add(ctx, sel->devs, drivers, sel->n, driver,
			       flags & (IOPASS_BIND_FORCE | IOPASS_BIND_FORCE_RECOVERY), &msg, &pt);
	cli_txn_recovery(CMD, pt);
	iopass_txn_free(pt);
	if (r < 0) {
		cli_err(CMD, "--persist: %s; the devices are attached now, but not for the next boot",
			msg ? msg : strerror(-r));
		ret = EXIT_FAIL;
	} else if (msg) {
		cli_note(CMD, "%s", msg);
	}
	for (size_t i = 0; i < sel->n; i++)
		free(owned[i]);
	free(owned);
	free(drivers);
	return ret;
}

static int cmd_attach_main(int argc, char *argv[])
{
	enum { OPT_DRIVER = OPT_GLOBAL_LAST, OPT_PERSIST, OPT_CARD, OPT_RESET_METHOD };
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "card", required_argument, NULL, OPT_CARD },
		{ "id", required_argument, NULL, 'd' },
		{ "driver", required_argument, NULL, OPT_DRIVER },
		{ "reset-method", required_argument, NULL, OPT_RESET_METHOD },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "wait", required_argument, NULL, 'w' },
		{ "persist", no_argument, NULL, OPT_PERSIST },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_txn *t = NULL;
	struct cli_selection sel = { NULL, 0 };
	struct cli_devargs da = { 0 };
	const char *asked = NULL, *id = NULL, *reset = NULL;
	char driver[72], reset_buf[128];
	struct cli_write_opts w = { .wait_ms = -1 };
	bool have_group = false, persist = false;
	int c, r, group = -1, ret;

	while ((c = getopt_long(argc, argv, ":g:d:fnJw:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
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
		case 'd':
			id = optarg;
			if (cli_check_id(CMD, id) < 0)
				return EXIT_USAGE;
			break;
		case OPT_DRIVER:
			if (!iopass_driver_name_valid(optarg)) {
				cli_err(CMD, "--driver '%s': not a driver name", optarg);
				return EXIT_USAGE;
			}
			asked = optarg;
			break;
		case OPT_PERSIST:
			persist = true;
			break;
		case OPT_RESET_METHOD:
			if (iopass_reset_methods_parse(optarg, reset_buf, sizeof(reset_buf)) < 0) {
				cli_err(CMD, "--reset-method '%s': name the kernel's reset methods, each once, "
					     "separated by commas (device_specific, acpi, flr, af_flr, pm, bus, "
					     "cxl_bus), e.g. device_specific,bus", optarg);
				return EXIT_USAGE;
			}
			reset = reset_buf;
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
	if (reset && persist) {
		/* the udev rule does not set reset_method yet: a boot would not have what attach sets */
		cli_err(CMD, "--reset-method with --persist: the boot configuration cannot keep reset "
			     "methods yet; use one or the other");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!have_group && !id && da.n == 0) {
		cli_err(CMD, "no device given; name devices by address, or use --group N or --id VVVV:DDDD");
		ret = EXIT_USAGE;
		goto out;
	}
	/* every argument is valid before anything is read or written */
	ret = cli_check_device_args(CMD, da.v, da.n);
	if (ret != EXIT_OK)
		goto out;

	ret = cli_ctx_new_writer(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	if (w.wait_ms >= 0)
		iopass_ctx_set_lock_timeout(ctx, w.wait_ms);
	ret = EXIT_FAIL;
	/* --id looks at every device; addresses and groups need only theirs (and what guards them) */
	if ((id ? cli_scan(CMD, ctx, &list)
		: cli_scan_args(CMD, ctx, da.v, da.n,
				have_group ? &group : NULL, &list)) < 0)
		goto out;
	ret = cli_select(CMD, list, da.v, da.n, have_group ? &group : NULL,
			 false, &sel);
	if (ret == EXIT_OK && id)
		ret = cli_select_id(CMD, list, id, &sel);
	if (ret == EXIT_OK)
		ret = choose_driver(&sel, asked, persist, driver, sizeof(driver), &w.flags);
	if (ret != EXIT_OK)
		goto out;
	if (persist && !(w.flags & IOPASS_BIND_DRY_RUN)) {
		const char *helper;

		if (cli_persist_check(CMD, ctx, &sel, driver, w.flags & IOPASS_BIND_FORCE) < 0) {
			ret = EXIT_FAIL;
			goto out;
		}
		r = iopass_persist_helper(ctx, &helper);
		if (r < 0) {
			/* the rule would name a program udev cannot run: the rebind would never happen */
			cli_err(CMD, "--persist: the udev rule would run %s, which %s (this build is not "
				     "installed): run 'cmake --install BUILD_DIR' first, or configure with "
				     "-DCMAKE_INSTALL_PREFIX set to where iopass is installed; nothing was changed",
				helper, r == -ENOENT ? "does not exist" : "is not an executable file");
			ret = EXIT_FAIL;
			goto out;
		}
	}
	r = iopass_attach(ctx, list, sel.devs, sel.n, driver, reset, w.flags, &t);
	if (!t) {
		cli_err(CMD, "%s", strerror(-r));
		ret = EXIT_FAIL;
		goto out;
	}
	ret = cli_txn_report(CMD, ctx, t, r, w.json, w.flags & IOPASS_BIND_DRY_RUN);
	if (ret == EXIT_OK && persist && !(w.flags & IOPASS_BIND_DRY_RUN))
		ret = persist_devices(ctx, t, &sel, driver, w.flags);
out:
	cli_devargs_free(&da);
	iopass_txn_free(t);
	cli_selection_free(&sel);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_attach = {
	.name = "attach",
	.fn = cmd_attach_main,
	.help = "bind devices to their vfio driver, all or nothing",
};
