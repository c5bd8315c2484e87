// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass list, end to end: the binary against fixture trees, exact output and exit codes. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "testutil.h"


static const char expected_tree[] =
	"NAME           CLASS                          DEVICE                                                                               DRIVER        FLAGS\n"
	"group 0                                                                                                                                          \n"
	"`-0000:00:00.0 Host bridge                    Intel Corporation 8th Gen Core 8 Processor Host Bridge/DRAM Registers [8086:3e30]    -             \n"
	"group 1                                                                                                                                          \n"
	"|-0000:00:01.0 PCI bridge                     Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901]      pcieport      bridge\n"
	"|-0000:01:00.0 VGA compatible controller      NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80]                              nvidia        boot-vga\n"
	"`-0000:01:00.1 Audio device                   NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0]                snd_hda_intel \n"
	"group 2                                                                                                                                          \n"
	"`-0000:00:14.0 USB controller                 Intel Corporation 200 Series/Z370 Chipset Family USB 3.0 xHCI Controller [8086:a2af] xhci_hcd      \n"
	"group 3                                                                                                                                          \n"
	"|-0000:00:1b.0 PCI bridge                     Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901]      pcieport      bridge\n"
	"`-0000:02:00.0 Non-Volatile memory controller Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808]         nvme          \n"
	"group 4                                                                                                                                          \n"
	"`-0000:00:1c.0 PCI bridge                     Intel Corporation 6th-10th Gen Core Processor PCIe Controller (x16) [8086:1901]      pcieport      bridge\n"
	"group 5                                                                                                                                          \n"
	"`-0000:03:00.0 Ethernet controller            Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]                        mlx5_core     pf:2/8\n"
	"group 6                                                                                                                                          \n"
	"`-0000:03:00.2 Ethernet controller            Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]       vfio-pci      vfio,vf-of:0000:03:00.0\n"
	"group 7                                                                                                                                          \n"
	"`-0000:03:00.3 Ethernet controller            Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]       -             vf-of:0000:03:00.0\n"
	;

static const char expected_json[] =
	"{\n"
	"  \"schema\": 1,\n"
	"  \"devices\": [\n"
	"    {\n"
	"      \"bdf\": \"0000:01:00.0\",\n"
	"      \"group\": 1,\n"
	"      \"class\": \"VGA compatible controller\",\n"
	"      \"classid\": \"030000\",\n"
	"      \"vendor\": \"NVIDIA Corporation\",\n"
	"      \"product\": \"GP104 [GeForce GTX 1080]\",\n"
	"      \"vendor_id\": \"10de\",\n"
	"      \"device_id\": \"1b80\",\n"
	"      \"subsys_id\": \"1043:8591\",\n"
	"      \"driver\": \"nvidia\",\n"
	"      \"vfio\": false,\n"
	"      \"bridge\": false,\n"
	"      \"boot_vga\": true,\n"
	"      \"physfn\": null,\n"
	"      \"numvfs\": null,\n"
	"      \"totalvfs\": null\n"
	"    },\n"
	"    {\n"
	"      \"bdf\": \"0000:03:00.3\",\n"
	"      \"group\": 7,\n"
	"      \"class\": \"Ethernet controller\",\n"
	"      \"classid\": \"020000\",\n"
	"      \"vendor\": \"Mellanox Technologies\",\n"
	"      \"product\": \"MT27800 Family [ConnectX-5 Virtual Function]\",\n"
	"      \"vendor_id\": \"15b3\",\n"
	"      \"device_id\": \"1018\",\n"
	"      \"subsys_id\": \"15b3:0007\",\n"
	"      \"driver\": null,\n"
	"      \"vfio\": false,\n"
	"      \"bridge\": false,\n"
	"      \"boot_vga\": false,\n"
	"      \"physfn\": \"0000:03:00.0\",\n"
	"      \"numvfs\": null,\n"
	"      \"totalvfs\": null\n"
	"    }\n"
	"  ]\n"
	"}\n";

static struct fx *ws;

static int setup(void **state)
{
	(void)state;
	ws = fx_workstation();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_free(ws);
	return 0;
}

static void test_tree(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, fx_root(ws), "list");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, expected_tree);
	assert_string_equal(r.err, "");
	run_free(&r);
}

static void test_json(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, fx_root(ws), "list", "-J", "01:00.0", "0000:03:00.3");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, expected_json);
	assert_string_equal(r.err, "");
	run_free(&r);
}

static void test_columns(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, fx_root(ws), "list", "-D", "-n", "-o",
	    "BDF,GROUP,DRIVER,ID,SUBSYS_ID,CLASSID,TOTALVFS,PHYSFN,BOOT_VGA");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out,
		"0000:00:00.0     0 -             8086:3e30 1043:8694 060000                        no\n"
		"0000:00:01.0     1 pcieport      8086:1901 0000:0000 060400                        no\n"
		"0000:00:14.0     2 xhci_hcd      8086:a2af 0000:0000 0c0330                        no\n"
		"0000:00:1b.0     3 pcieport      8086:1901 0000:0000 060400                        no\n"
		"0000:00:1c.0     4 pcieport      8086:1901 0000:0000 060400                        no\n"
		"0000:01:00.0     1 nvidia        10de:1b80 1043:8591 030000                        yes\n"
		"0000:01:00.1     1 snd_hda_intel 10de:10f0 1043:8591 040300                        no\n"
		"0000:02:00.0     3 nvme          144d:a808 144d:a801 010802                        no\n"
		"0000:03:00.0     5 mlx5_core     15b3:1017 15b3:0007 020000         8              no\n"
		"0000:03:00.2     6 vfio-pci      15b3:1018 15b3:0007 020000           0000:03:00.0 no\n"
		"0000:03:00.3     7 -             15b3:1018 15b3:0007 020000           0000:03:00.0 no\n");
	run_free(&r);

	/* raw: one space between cells, spaces inside cells escaped */
	RUN(&r, fx_root(ws), "list", "-r", "-o", "BDF,CLASS,FLAGS", "03:00.2");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "BDF CLASS FLAGS\n"
				 "0000:03:00.2 Ethernet\\x20controller vfio,vf-of:0000:03:00.0\n");
	run_free(&r);

	/* +COLS appends to the defaults */
	RUN(&r, fx_root(ws), "list", "-D", "-r", "-o", "+NUMVFS", "03:00.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out,
		"BDF GROUP CLASS DEVICE DRIVER FLAGS NUMVFS\n"
		"0000:03:00.0 5 Ethernet\\x20controller Mellanox\\x20Technologies\\x20MT27800\\x20Family\\x20[ConnectX-5]\\x20[15b3:1017] mlx5_core pf:2/8 2\n");
	run_free(&r);

	/* --output-all names every column */
	RUN(&r, fx_root(ws), "list", "-r", "--output-all", "00:00.0");
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "BDF GROUP CLASS CLASSID DEVICE VENDOR PRODUCT ID VENDOR_ID "
				   "DEVICE_ID SUBSYS_ID DRIVER VFIO BRIDGE BOOT_VGA PHYSFN NUMVFS "
				   "TOTALVFS FLAGS VFIO_DRIVER\n",
			    94 + 45) == 0);
	run_free(&r);
}

/* VFIO_DRIVER: what attach binds, from modules.alias; nothing for bridges */
static void test_vfio_driver_column(void **state)
{
	struct fx *fx = fx_workstation();
	struct run r;

	(void)state;
	fx_add_cx6dx(fx);
	fx_modules_alias(fx, NULL, NULL);
	RUN(&r, fx_root(fx), "list", "-D", "-r", "-o", "BDF,ID,DRIVER,VFIO_DRIVER", "00:00.0", "00:01.0",
	    "03:00.2", "03:00.3", "06:00.0", "06:00.1");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "BDF ID DRIVER VFIO_DRIVER\n"
				 "0000:00:00.0 8086:3e30 - -\n"
				 "0000:00:01.0 8086:1901 pcieport -\n"
				 "0000:03:00.2 15b3:1018 vfio-pci vfio-pci\n"
				 "0000:03:00.3 15b3:1018 - vfio-pci\n"
				 "0000:06:00.0 15b3:101d mlx5_core vfio-pci\n"
				 "0000:06:00.1 15b3:101e - mlx5_vfio_pci\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "list", "-J", "-o", "BDF,VFIO_DRIVER", "00:01.0", "06:00.1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:00:01.0\",\n      \"vfio_driver\": null"));
	assert_non_null(strstr(r.out, "\"vfio_driver\": \"mlx5_vfio_pci\""));
	run_free(&r);
	fx_free(fx);
}

/* The BDFs printed by "list -r -n -o BDF" with extra filter arguments. */
static void assert_selects(const char *const *args, const char *expected)
{
	const char *argv[16] = { "list", "-r", "-n", "-o", "BDF" };
	size_t n = 5;
	struct run r;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	run_iopass(&r, fx_root(ws), argv);
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, expected);
	run_free(&r);
}
#define SELECTS(expected, ...) assert_selects((const char *const[]){ __VA_ARGS__, NULL }, expected)

static void test_filters(void **state)
{
	(void)state;
	SELECTS("0000:00:01.0\n0000:01:00.0\n0000:01:00.1\n", "--group", "1");
	SELECTS("0000:01:00.0\n", "--class", "display");
	SELECTS("0000:01:00.0\n", "-c", "gpu");
	SELECTS("0000:00:14.0\n", "--class", "0c03");
	SELECTS("0000:00:14.0\n", "--class", "usb");
	SELECTS("0000:02:00.0\n", "--class", "nvme");
	SELECTS("0000:01:00.1\n", "--class", "audio");
	SELECTS("0000:00:00.0\n0000:00:01.0\n0000:00:1b.0\n0000:00:1c.0\n", "--class", "bridge");
	SELECTS("0000:03:00.2\n0000:03:00.3\n", "--id", "15b3:1018");
	SELECTS("0000:03:00.2\n0000:03:00.3\n", "-d", "15B3:1018");
	SELECTS("0000:00:00.0\n0000:03:00.3\n", "--driver", "none");
	SELECTS("0000:03:00.2\n", "--driver", "vfio-pci");
	SELECTS("", "--driver", "e1000e");
	SELECTS("", "--id", "abcd:ef01");
	SELECTS("0000:01:00.0\n0000:03:00.0\n", "03:00.0", "01:00.0");
	/* filters combine: AND across options */
	SELECTS("0000:01:00.1\n", "--group", "1", "--driver", "snd_hda_intel");
	SELECTS("", "--group", "1", "--class", "net");
}

static void expect_usage_error(const char *root, const char *const *argv, const char *msg)
{
	struct run r;

	run_iopass(&r, root, argv);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_text_equal(r.err, msg);
	run_free(&r);
}
#define USAGE_ERROR(msg, ...) expect_usage_error(fx_root(ws), (const char *const[]){ __VA_ARGS__, NULL }, msg)

static void test_bad_input(void **state)
{
	(void)state;
	USAGE_ERROR("iopass: list: '0000:00:00.8' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F, e.g. 0000:01:00.0\n",
		    "list", "0000:00:00.8");
	USAGE_ERROR("iopass: list: '../../etc' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F, e.g. 0000:01:00.0\n",
		    "list", "../../etc");
	USAGE_ERROR("iopass: list: 0000:09:00.0: no such PCI device; 'iopass list' shows the devices\n",
		    "list", "09:00.0");
	USAGE_ERROR("iopass: list: --class 'nett': unknown class; use a name (net, storage, display, usb, ...) or a hex prefix (02, 0c03)\n",
		    "list", "--class", "nett");
	USAGE_ERROR("iopass: list: --id '10de': not a vendor:device ID; use four hex digits each, e.g. 10de:1b80\n",
		    "list", "--id", "10de");
	USAGE_ERROR("iopass: list: --group '-1': not a group number; use a number from 'iopass list'\n",
		    "list", "--group", "-1");
	USAGE_ERROR("iopass: list: IOMMU group 42 does not exist; 'iopass list' shows the groups\n",
		    "list", "--group", "42");
	USAGE_ERROR("iopass: list: --driver '../x': not a driver name\n", "list", "--driver", "../x");
	USAGE_ERROR("iopass: list: unknown column 'FOO'; see 'iopass list --help' for the columns\n",
		    "list", "-o", "BDF,FOO");
	USAGE_ERROR("iopass: list: --json and --raw cannot be combined; pick one\n", "list", "-J", "-r");
	USAGE_ERROR("iopass: list: unknown option '--frob'; see 'iopass list --help'\n", "list", "--frob");
	USAGE_ERROR("iopass: list: unknown option '-x'; see 'iopass list --help'\n", "list", "-x");
	USAGE_ERROR("iopass: list: option '--output' needs an argument; see 'iopass list --help'\n",
		    "list", "--output");
	USAGE_ERROR("iopass: unknown command 'lsit'; did you mean 'list'? see 'iopass --help'\n", "lsit");
	USAGE_ERROR("iopass: unknown command 'frobnicate'; see 'iopass --help' for the commands\n", "frobnicate");
	USAGE_ERROR("iopass: list: unknown option '--jsno'; did you mean '--json'? see 'iopass list --help'\n",
		    "list", "--jsno");
	USAGE_ERROR("iopass: no command given; try 'iopass list' or 'iopass --help'\n", "-v");
	expect_usage_error(NULL, (const char *const[]){ "--sysroot", "/nonexistent/iopass", "list", NULL },
			   "iopass: list: sysroot '/nonexistent/iopass': No such file or directory; pass an existing directory to --sysroot\n");
}

static void test_help(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, NULL, "list", "--help");
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "Usage: iopass list [options] [DEVICE...]\n", 41) == 0);
	assert_non_null(strstr(r.out, "  TOTALVFS  SR-IOV: VFs this PF supports\n"));
	run_free(&r);
	RUN(&r, NULL, "help", "list");
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "Usage: iopass list", 18) == 0);
	run_free(&r);
	RUN(&r, NULL, "--help");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  list       list PCI devices and their IOMMU groups\n"));
	run_free(&r);
}

static void test_no_iommu(void **state)
{
	struct fx *fx = fx_new();
	struct run r;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x10de, .device = 0x1b80,
			   .class = 0x030000, .driver = "nouveau", .boot_vga = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:03.0", .vendor = 0x15b3, .device = 0x1017,
			   .class = 0x020000));
	RUN(&r, fx_root(fx), "list");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out,
		"NAME         CLASS                     DEVICE                                                        DRIVER  FLAGS\n"
		"0000:00:02.0 VGA compatible controller NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80]       nouveau boot-vga\n"
		"0000:00:03.0 Ethernet controller       Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017] -       \n");
	assert_text_equal(r.err, "iopass: list: no IOMMU groups: the IOMMU is not enabled or not present, so devices are listed without groups; 'iopass check' explains\n");
	run_free(&r);

	RUN(&r, fx_root(fx), "list", "-J", "-o", "BDF,GROUP");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "{\n  \"schema\": 1,\n  \"devices\": [\n    {\n      \"bdf\": \"0000:00:02.0\",\n"
				 "      \"group\": null\n    },\n    {\n      \"bdf\": \"0000:00:03.0\",\n"
				 "      \"group\": null\n    }\n  ]\n}\n");
	run_free(&r);

	/* -q silences the note, not the data */
	RUN(&r, fx_root(fx), "list", "-q", "-n", "-r", "-o", "BDF");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "0000:00:02.0\n0000:00:03.0\n");
	assert_string_equal(r.err, "");
	run_free(&r);

	expect_usage_error(fx_root(fx), (const char *const[]){ "list", "--group", "1", NULL },
			   "iopass: list: IOMMU group 1 does not exist (this host has no IOMMU groups; see 'iopass check')\n");
	fx_free(fx);
}

static void test_broken(void **state)
{
	struct fx *fx = fx_new();
	struct run r;
	char *p;

	(void)state;
	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000, .group = 1, .driver = "e1000e"));
	assert_true(asprintf(&p, "%s/uevent", fx_dev_dir(fx, "0000:00:01.0")) > 0);
	fx_printf(fx, p, "DRIVER=e1000e\n");
	free(p);
	assert_true(asprintf(&p, "%s/vendor", fx_dev_dir(fx, "0000:00:01.0")) > 0);
	fx_printf(fx, p, "garbage\n");
	free(p);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x10de, .device = 0x1b80,
			   .class = 0x030000, .group = 2));
	fx_symlink(fx, "sys/bus/pci/devices/0000:00:07.0", "../../../devices/pci0000:00/0000:00:07.0");

	RUN(&r, fx_root(fx), "list", "-D", "-r", "-o", "BDF,GROUP,ID,CLASSID,DRIVER");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "BDF GROUP ID CLASSID DRIVER\n"
				 "0000:00:01.0 1 ????:1901 020000 e1000e\n"
				 "0000:00:02.0 2 10de:1b80 030000 -\n");
	assert_text_equal(r.err, "iopass: list: warning: 0000:00:07.0: skipped: No such file or directory\n"
				 "iopass: list: warning: 0000:00:01.0: vendor: invalid value; listed with what could be read\n");
	run_free(&r);
	fx_free(fx);
}

/*
 * Unless stdout is a terminal, iopass writes the table itself as it makes the
 * lines (IOPASS_LIST_WHOLE=1: libsmartcols lays it out whole, as for a
 * terminal). Every layout must come out byte for byte as libsmartcols prints it.
 */
static void assert_same_as_libsmartcols(const char *root, const char *ids_env)
{
	static const char *const option_sets[][8] = {
		{ "list" },
		{ "list", "-D" },
		{ "list", "-n" },
		{ "list", "-r" },
		{ "list", "--output-all" },
		{ "list", "-D", "--output-all" },
		{ "list", "-r", "--output-all" },
		{ "list", "-r", "-n", "-o", "NAME,VENDOR" },
		{ "list", "-o", "NAME,GROUP,NUMVFS,FLAGS" },
		{ "list", "-o", "GROUP,NAME" },
		{ "list", "-D", "-o", "DRIVER,GROUP,VENDOR" },
		{ "list", "-D", "-o", "GROUP" },
		{ "list", "--driver", "none" },
		{ "list", "--driver", "nosuch" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(option_sets); i++) {
		const char *env[] = { "IOPASS_LIST_WHOLE=1", ids_env, NULL };
		struct run whole, stream;

		run_iopass_env(&whole, root, env, option_sets[i]);
		assert_int_equal(whole.status, 0);
		env[0] = "IOPASS_LIST_WHOLE=0";
		run_iopass_env(&stream, root, env, option_sets[i]);
		assert_int_equal(stream.status, 0);
		assert_text_equal(stream.out, whole.out);
		assert_text_equal(stream.err, whole.err);
		run_free(&stream);
		run_free(&whole);
	}
}

static void test_stream(void **state)
{
	struct fx *fx = fx_new();
	char *ids_path, *ids_env;
	static const char ids[] =
		"1af4  \xc3\x9c" "n\xc3\xaf" "code Syst\xc3\xa8" "mes\n"
		"\t1041  Virtio network device\n"
		"\t1042  Virtio block device with a name much longer than any other in the tree\n"
		"\t1043  Odd \\x41\tname\n"
		"8086  Intel Corporation\n"
		"\t1901  6th-10th Gen Core Processor PCIe Controller (x16)\n"
		"C 01  Mass storage controller\n"
		"C 02  Network controller\n"
		"\t00  Ethernet controller\n"
		"C 06  Bridge\n"
		"\t04  PCI bridge\n";

	(void)state;
	/* the workstation: groups of one and of three, the widest cells in the middle */
	assert_same_as_libsmartcols(fx_root(ws), NULL);

	/* names that are not ASCII (C locale: each byte is a \xHH), a long one at the end */
	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 1,
			   .pcie = FX_PCIE_ROOT_PORT));
	for (int i = 0; i < 6; i++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:01:00.%d", i);
		fx_add(fx, &FX_DEV(.bdf = bdf, .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
				   .parent = "0000:00:01.0", .driver = i % 2 ? "virtio-pci" : NULL,
				   .group = i < 3 ? 1 : 10 + i, .multifunction = true));
	}
	fx_add(fx, &FX_DEV(.bdf = "0000:02:00.0", .vendor = 0x1af4, .device = 0x1042,
			   .class = 0x010000, .driver = "virtio-pci", .group = 1234567));
	/* "\x" and a tab in a name: escaped as \x5c and \x09 */
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.0", .vendor = 0x1af4, .device = 0x1043,
			   .class = 0x020000, .group = 20));
	assert_true(asprintf(&ids_path, "%s/pci.ids", fx_root(fx)) > 0);
	fx_write(fx, "pci.ids", ids, sizeof(ids) - 1);
	assert_true(asprintf(&ids_env, "IOPASS_PCI_IDS=%s", ids_path) > 0);
	assert_same_as_libsmartcols(fx_root(fx), ids_env);
	{
		const char *env[] = { ids_env, NULL };
		struct run r;

		run_iopass_env(&r, fx_root(fx), env,
			       (const char *const[]){ "list", "-n", "-o", "NAME,VENDOR", "02:00.0", NULL });
		assert_int_equal(r.status, 0);
		assert_text_equal(r.out, "group 1234567  \n"
					 "`-0000:02:00.0 \\xc3\\x9cn\\xc3\\xafcode Syst\\xc3\\xa8mes\n");
		run_free(&r);
		run_iopass_env(&r, fx_root(fx), env,
			       (const char *const[]){ "list", "-D", "-n", "-o", "PRODUCT,BDF", "03:00.0", NULL });
		assert_int_equal(r.status, 0);
		assert_text_equal(r.out, "Odd \\x5cx41\\x09name 0000:03:00.0\n");
		run_free(&r);
	}

	/* and without an IOMMU: a flat table with NAME */
	fx_free(fx);
	fx = fx_new();
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x1af4, .device = 0x1042,
			   .class = 0x010000, .driver = "virtio-pci"));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:03.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400));
	free(ids_env);
	free(ids_path);
	assert_true(asprintf(&ids_path, "%s/pci.ids", fx_root(fx)) > 0);
	fx_write(fx, "pci.ids", ids, sizeof(ids) - 1);
	assert_true(asprintf(&ids_env, "IOPASS_PCI_IDS=%s", ids_path) > 0);
	assert_same_as_libsmartcols(fx_root(fx), ids_env);
	free(ids_env);
	free(ids_path);
	fx_free(fx);
}

/* The real /sys of the machine running the tests: every device, no crash. */
static void test_real_sys(void **state)
{
	struct run r;
	size_t n = 0;
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;

	(void)state;
	if (!d) {
		skip();
		return;
	}
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	RUN(&r, "/", "list", "-q", "-D", "-n", "-r", "-o", "BDF");
	assert_int_equal(r.status, 0);
	assert_int_equal(count_lines(r.out), n);
	run_free(&r);
	RUN(&r, "/", "list", "-q", "-J");
	assert_int_equal(r.status, 0);
	assert_true(strncmp(r.out, "{\n  \"schema\": 1,\n  \"devices\": [", 31) == 0);
	{
		size_t objects = 0;

		for (const char *p = r.out; (p = strstr(p, "\n      \"bdf\": ")); p++)
			objects++;
		assert_int_equal(objects, n);
	}
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),	  cmocka_unit_test(test_json),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_vfio_driver_column),	  cmocka_unit_test(test_filters),
		cmocka_unit_test(test_bad_input), cmocka_unit_test(test_help),
		cmocka_unit_test(test_no_iommu),  cmocka_unit_test(test_broken),
		cmocka_unit_test(test_stream),	  cmocka_unit_test(test_real_sys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
