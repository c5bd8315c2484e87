// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass emit: QEMU arguments and libvirt <hostdev> XML for devices on vfio-pci. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

static const char CMD[] = "emit";

static void usage(void)
{
	fputs("Usage: iopass emit [--qemu | --libvirt | --json] [options] DEVICE... | --group N\n"
	      "\nPrint the configuration that passes devices to a VM: QEMU -device arguments\n"
	      "(default) or libvirt <hostdev> elements. The functions of one card (a GPU and\n"
	      "its audio function) share one guest slot, multifunction=on on function 0; on\n"
	      "QEMU's q35 each PCIe card sits behind a pcie-root-port that emit adds.\n"
	      "DEVICE is a PCI address, a slot (DDDD:BB:SS or BB:SS: every function of the card,\n"
	      "not its VFs), card:DEV (the card function DEV is on) or group:N.\n"
	      "\nOptions:\n"
	      "      --qemu             QEMU arguments, one -device per line (default)\n"
	      "      --libvirt          libvirt <hostdev> elements\n"
	      "  -J, --json             the placement and properties as JSON\n"
	      "  -g, --group N          every endpoint of IOMMU group N\n"
	      "      --card DEV         every function of the card that DEV is on\n"
	      "      --bus NAME[,NAME]  place the cards on these guest buses (pcie.0, or ids of\n"
	      "                         your own ports), one per card; without it, QEMU output\n"
	      "                         gives each PCIe card a pcie-root-port of its own (q35)\n"
	      "      --first-slot N     first guest slot of each bus (default 0x10 on the root\n"
	      "                         bus pcie.0, 0 on any other)\n"
	      "      --guest-address    libvirt: write each device's guest <address> (default:\n"
	      "                         libvirt places them, adding root ports itself)\n"
	      "      --rombar on|off    expose the option ROM BAR or not\n"
	      "      --romfile PATH     use this option ROM image\n"
	      "      --primary-gpu      x-vga=on for a VGA device (legacy BIOS guests only)\n"
	      "      --display on|off   vfio display support for display devices\n"
	      "      --iommufd          use iommufd (needs /dev/iommu and the VFIO device cdev)\n"
	      "      --managed          libvirt managed='yes': libvirt rebinds the devices itself\n"
	      "      --split DIR        libvirt: one file per device in DIR, for virsh attach-device\n"
	      "      --strict           exit 3 instead of warning when a device is not ready\n"
	      "      --sysroot DIR      read sysfs below DIR\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            no warnings\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 printed, 1 error, 2 usage error, 3 --strict and not ready.\n",
	      stdout);
}

static int parse_onoff(const char *opt, const char *arg, bool allow_auto)
{
	if (streq(arg, "on"))
		return IOPASS_ON;
	if (streq(arg, "off"))
		return IOPASS_OFF;
	if (allow_auto && streq(arg, "auto"))
		return IOPASS_DEFAULT;
	cli_err(CMD, "%s '%s': use on or off%s", opt, arg, allow_auto ? " (or auto)" : "");
	return -2;
}

/* Warn about devices that are not ready; true when any is not. */
static bool warn_not_ready(struct iopass_ctx *ctx, const struct iopass_devlist *list,
			   const struct cli_selection *sel, bool managed)
{
	bool not_ready = false;

	for (size_t i = 0; i < sel->n; i++) {
		struct iopass_dev *d = sel->devs[i];
		struct iopass_report *r = NULL;
		const char *drv = iopass_dev_get_driver(d);

		if (!managed && !iopass_dev_is_vfio(d)) {
			cli_warn(CMD, "%s is %s%s, not on vfio-pci; run 'iopass attach %s' first "
				      "(or use --managed with libvirt)",
				 iopass_dev_get_bdf(d), drv ? "bound to " : "unbound", drv ? drv : "",
				 iopass_dev_get_bdf(d));
			not_ready = true;
		}
		if (iopass_check_dev(ctx, list, d, sel->devs, sel->n, &r) < 0)
			continue;
		for (size_t k = 0; k < iopass_report_count(r); k++)
			if (iopass_report_effect(r, k) == IOPASS_EFFECT_NOT_VIABLE ||
			    iopass_report_effect(r, k) == IOPASS_EFFECT_BLOCKS) {
				cli_warn(CMD, "%s: %s", iopass_dev_get_bdf(d), iopass_report_message(r, k));
				not_ready = true;
			}
		iopass_report_free(r);
	}
	return not_ready;
}

/*
 * --split DIR: DIR/BDF.xml per device. Each is written to a new file beside it and
 * renamed over the name, so nothing already at the name (a FIFO, a symlink, a hard
 * link to another file) is opened or written through; DIR itself must be a directory.
 */
static int write_split(const char *dir, const struct iopass_emit *e)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		cli_err(CMD, "--split '%s': %s; name an existing directory", dir, strerror(errno));
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < iopass_emit_count(e); i++) {
		_cleanup_free_ char *xml = NULL;
		char name[64], tmp[96];
		int fd, r;
		size_t len;

		r = iopass_emit_libvirt(e, i, &xml);
		if (r < 0) {
			cli_err(CMD, "out of memory");
			close(dfd);
			return EXIT_FAIL;
		}
		snprintf(name, sizeof(name), "%s.xml", iopass_emit_bdf(e, i));
		snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			cli_err(CMD, "--split: cannot create %s/%s: %s", dir, tmp, strerror(errno));
			close(dfd);
			return EXIT_FAIL;
		}
		len = strlen(xml);
		r = write(fd, xml, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) < 0 || r < 0 || renameat(dfd, tmp, dfd, name) < 0) {
			cli_err(CMD, "--split: cannot write %s/%s: %s", dir, name, strerror(errno));
			unlinkat(dfd, tmp, 0);
			close(dfd);
			return EXIT_FAIL;
		}
		if (!cli.quiet) {
			cli_put_safe(dir, stdout);
			printf("/%s\n", name);
		}
	}
	close(dfd);
	return EXIT_OK;
}

/* The root port device i is the first on, to go before it; NULL when none. */
static const char *port_before(const struct iopass_emit *e, size_t i)
{
	int k = iopass_emit_port(e, i);

	if (k < 0 || (i > 0 && iopass_emit_port(e, i - 1) == k))
		return NULL;
	return iopass_emit_port_get(e, (size_t)k)->device;
}

/* One "-device ARG" per line, continued with '\', each ARG quoted for a shell; a port before its card. */
static void print_qemu(const struct iopass_emit *e, bool iommufd)
{
	size_t n = iopass_emit_count(e);

	if (iommufd)
		fputs("-object iommufd,id=iommufd0 \\\n", stdout);
	for (size_t i = 0; i < n; i++) {
		const char *port = port_before(e, i);

		if (port) {
			fputs("-device ", stdout);
			cli_shell_quote(stdout, port);
			fputs(" \\\n", stdout);
		}
		fputs("-device ", stdout);
		cli_shell_quote(stdout, iopass_emit_device_arg(e, i));
		fputs(i + 1 < n ? " \\\n" : "\n", stdout);
	}
}

static void print_json(const struct iopass_emit *e)
{
	_cleanup_free_ char *xml = NULL;
	struct json j;

	json_document_begin(&j, stdout);
	json_array_begin(&j, "devices");
	for (size_t i = 0; i < iopass_emit_count(e); i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "bdf", iopass_emit_bdf(e, i));
		json_string(&j, "id", iopass_emit_id(e, i));
		json_object_begin(&j, "guest");
		json_string(&j, "bus", iopass_emit_bus(e, i));
		json_int(&j, "slot", iopass_emit_slot(e, i));
		json_int(&j, "function", iopass_emit_function(e, i));
		json_bool(&j, "multifunction", iopass_emit_multifunction(e, i));
		json_object_end(&j);
		json_string(&j, "device", iopass_emit_device_arg(e, i));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_begin(&j, "ports");
	for (size_t k = 0; k < iopass_emit_port_count(e); k++) {
		const struct iopass_emit_port *rp = iopass_emit_port_get(e, k);

		json_object_begin(&j, NULL);
		json_string(&j, "id", rp->id);
		json_string(&j, "bus", "pcie.0");
		json_int(&j, "slot", rp->slot);
		json_int(&j, "chassis", rp->chassis);
		json_string(&j, "device", rp->device);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_begin(&j, "qemu");
	for (size_t i = 0; i < iopass_emit_count(e); i++) {
		if (i == 0 && strstr(iopass_emit_device_arg(e, 0), "iommufd=")) {
			json_string(&j, NULL, "-object");
			json_string(&j, NULL, "iommufd,id=iommufd0");
		}
		if (port_before(e, i)) {
			json_string(&j, NULL, "-device");
			json_string(&j, NULL, port_before(e, i));
		}
		json_string(&j, NULL, "-device");
		json_string(&j, NULL, iopass_emit_device_arg(e, i));
	}
	json_array_end(&j);
	json_string(&j, "libvirt", iopass_emit_libvirt(e, SIZE_MAX, &xml) == 0 ? xml : NULL);
	json_document_end(&j);
}

static int cmd_emit_main(int argc, char *argv[])
{
	enum {
		OPT_QEMU = OPT_GLOBAL_LAST,
		OPT_LIBVIRT,
		OPT_BUS,
		OPT_FIRST_SLOT,
		OPT_ROMBAR,
		OPT_ROMFILE,
		OPT_PRIMARY_GPU,
		OPT_DISPLAY,
		OPT_IOMMUFD,
		OPT_MANAGED,
		OPT_SPLIT,
		OPT_STRICT,
		OPT_GUEST_ADDRESS,
		OPT_CARD,
	};
	static const struct option longopts[] = {
		{ "qemu", no_argument, NULL, OPT_QEMU },
		{ "libvirt", no_argument, NULL, OPT_LIBVIRT },
		{ "json", no_argument, NULL, 'J' },
		{ "group", required_argument, NULL, 'g' },
		{ "card", required_argument, NULL, OPT_CARD },
		{ "bus", required_argument, NULL, OPT_BUS },
		{ "first-slot", required_argument, NULL, OPT_FIRST_SLOT },
		{ "rombar", required_argument, NULL, OPT_ROMBAR },
		{ "romfile", required_argument, NULL, OPT_ROMFILE },
		{ "primary-gpu", no_argument, NULL, OPT_PRIMARY_GPU },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "iommufd", no_argument, NULL, OPT_IOMMUFD },
		{ "managed", no_argument, NULL, OPT_MANAGED },
		{ "split", required_argument, NULL, OPT_SPLIT },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "guest-address", no_argument, NULL, OPT_GUEST_ADDRESS },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_emit_opts o = { .first_slot = -1, .rombar = IOPASS_DEFAULT,
				      .display = IOPASS_DEFAULT };
	enum { FMT_QEMU, FMT_LIBVIRT, FMT_JSON } fmt = FMT_QEMU;
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_emit *e = NULL;
	struct cli_selection sel = { NULL, 0 };
	struct cli_devargs da = { 0 };
	_cleanup_free_ char *text = NULL;
	static char buses_buf[4096]; /* --bus NAME[,NAME...], split in place */
	const char *buses[32], *split = NULL;
	bool have_group = false, strict = false, guest_address = false;
	int c, r, group = -1, ret, nfmt = 0;
	unsigned v = 0;

	while ((c = getopt_long(argc, argv, ":Jg:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		switch (c) {
		case OPT_QEMU:
			fmt = FMT_QEMU;
			nfmt++;
			break;
		case OPT_LIBVIRT:
			fmt = FMT_LIBVIRT;
			nfmt++;
			break;
		case 'J':
			fmt = FMT_JSON;
			nfmt++;
			break;
		case 'g':
			if (cli_parse_group(CMD, optarg, &group) < 0)
				return EXIT_USAGE;
			have_group = true;
			break;
		case OPT_BUS:
			snprintf(buses_buf, sizeof(buses_buf), "%s", optarg);
			o.nbuses = 0;
			for (char *save = NULL, *b = strtok_r(buses_buf, ",", &save); b;
			     b = strtok_r(NULL, ",", &save)) {
				if (o.nbuses == ARRAY_SIZE(buses)) {
					cli_err(CMD, "--bus: at most %zu buses", ARRAY_SIZE(buses));
					return EXIT_USAGE;
				}
				buses[o.nbuses++] = b;
			}
			if (!o.nbuses) {
				cli_err(CMD, "--bus '%s': name a bus, e.g. pcie.0 or a root port's id", optarg);
				return EXIT_USAGE;
			}
			o.buses = buses;
			break;
		case OPT_FIRST_SLOT: {
			uint32_t hv = 0;

			if (strncmp(optarg, "0x", 2) == 0 ? parse_hex_arg(optarg, &hv) < 0
							 : parse_dec_arg(optarg, &v) < 0) {
				cli_err(CMD, "--first-slot '%s': a slot number from 0 to 31 (or 0x0 to 0x1f)",
					optarg);
				return EXIT_USAGE;
			}
			o.first_slot = strncmp(optarg, "0x", 2) == 0 ? (int)hv : (int)v;
			if (o.first_slot > 31) {
				cli_err(CMD, "--first-slot '%s': a slot number from 0 to 31 (or 0x0 to 0x1f)",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_ROMBAR:
			o.rombar = parse_onoff("--rombar", optarg, false);
			if (o.rombar == -2)
				return EXIT_USAGE;
			break;
		case OPT_ROMFILE:
			o.romfile = optarg;
			break;
		case OPT_PRIMARY_GPU:
			o.primary_gpu = true;
			break;
		case OPT_DISPLAY:
			o.display = parse_onoff("--display", optarg, true);
			if (o.display == -2)
				return EXIT_USAGE;
			break;
		case OPT_IOMMUFD:
			o.iommufd = true;
			break;
		case OPT_MANAGED:
			o.managed = true;
			break;
		case OPT_SPLIT:
			split = optarg;
			break;
		case OPT_STRICT:
			strict = true;
			break;
		case OPT_GUEST_ADDRESS:
			guest_address = true;
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
	if (nfmt > 1) {
		cli_err(CMD, "--qemu, --libvirt and --json exclude each other; pick one");
		ret = EXIT_USAGE;
		goto out;
	}
	if (split && fmt != FMT_LIBVIRT) {
		cli_err(CMD, "--split writes libvirt files; add --libvirt");
		ret = EXIT_USAGE;
		goto out;
	}
	if (fmt == FMT_LIBVIRT && (o.primary_gpu || o.display != IOPASS_DEFAULT || o.iommufd)) {
		cli_err(CMD, "--libvirt: %s has no libvirt <hostdev> attribute; use --qemu, or a "
			     "<qemu:commandline> override",
			o.primary_gpu ? "--primary-gpu" : o.display != IOPASS_DEFAULT ? "--display" : "--iommufd");
		ret = EXIT_USAGE;
		goto out;
	}
	if ((o.managed || guest_address) && fmt == FMT_QEMU) {
		cli_err(CMD, "%s is libvirt's; add --libvirt", o.managed ? "--managed" : "--guest-address");
		ret = EXIT_USAGE;
		goto out;
	}
	/*
	 * QEMU: a root port per PCIe card unless --bus places them. libvirt adds its
	 * own ports: guest addresses only when asked for (or implied by --bus,
	 * --first-slot). JSON describes QEMU's placement, and libvirt's with it.
	 */
	if (fmt == FMT_LIBVIRT) {
		o.guest_address = guest_address || o.nbuses || o.first_slot >= 0;
	} else {
		o.root_ports = !o.nbuses && !guest_address;
		o.guest_address = !o.root_ports;
	}
	if (!have_group && da.n == 0) {
		cli_err(CMD, "no device given; name devices by address, or use --group N");
		ret = EXIT_USAGE;
		goto out;
	}
	ret = cli_check_device_args(CMD, da.v, da.n);
	if (ret != EXIT_OK)
		goto out;

	ret = cli_ctx_new(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (cli_scan(CMD, ctx, &list) < 0)
		goto out;
	ret = cli_select(CMD, list, da.v, da.n, have_group ? &group : NULL,
			 false, &sel);
	if (ret != EXIT_OK)
		goto out;
	r = iopass_emit_new(ctx, sel.devs, sel.n, &o, &e);
	if (r < 0) {
		cli_err(CMD, "%s", iopass_emit_error(e) ? iopass_emit_error(e) : strerror(-r));
		ret = r == -EINVAL ? EXIT_USAGE : r == -ENODEV ? EXIT_NOT_READY : EXIT_FAIL;
		goto out;
	}
	if (warn_not_ready(ctx, list, &sel, o.managed) && strict) {
		cli_err(CMD, "--strict: not every device is ready; nothing printed");
		ret = EXIT_NOT_READY;
		goto out;
	}
	ret = EXIT_OK;
	switch (fmt) {
	case FMT_QEMU:
		print_qemu(e, o.iommufd);
		break;
	case FMT_LIBVIRT:
		r = iopass_emit_libvirt(e, SIZE_MAX, &text);
		if (r == -EDOM) {
			cli_err(CMD, "--libvirt: a guest bus is a number there (0 for pcie.0, or the "
				     "controller's index); --bus names like '%s' are QEMU's",
				iopass_emit_bus(e, 0));
			ret = EXIT_USAGE;
		} else if (r < 0) {
			ret = EXIT_FAIL;
		} else if (split) {
			ret = write_split(split, e);
		} else {
			fputs(text, stdout);
		}
		break;
	case FMT_JSON:
		print_json(e);
		break;
	}
out:
	cli_devargs_free(&da);
	iopass_emit_free(e);
	cli_selection_free(&sel);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_emit = {
	.name = "emit",
	.fn = cmd_emit_main,
	.help = "print QEMU arguments or libvirt XML for devices",
};
