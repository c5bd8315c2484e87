// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass emit: golden QEMU and libvirt output for the recipes users need,
 * bad input, and the real consumers: every libvirt snippet validates against
 * libvirt's schema (virt-xml-validate), every QEMU property exists in
 * qemu-system-x86_64's vfio-pci and its option parser accepts the arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Everything on vfio-pci: the GPU, its audio, the NVMe, both VFs; plus a 4-function group. */
static struct fx *fx_attached(void)
{
	struct fx *fx = fx_new();

	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 1, .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:01:00.0", .vendor = 0x10de, .device = 0x1b80, .class = 0x030000,
			   .parent = "0000:00:01.0", .driver = "vfio-pci", .vfio_dev = true, .group = 1,
			   .multifunction = true, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:01:00.1", .vendor = 0x10de, .device = 0x10f0, .class = 0x040300,
			   .parent = "0000:00:01.0", .driver = "vfio-pci", .vfio_dev = true, .group = 1,
			   .multifunction = true, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:02:00.0", .vendor = 0x144d, .device = 0xa808, .class = 0x010802,
			   .driver = "vfio-pci", .vfio_dev = true, .group = 2, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.0", .vendor = 0x15b3, .device = 0x1017, .class = 0x020000,
			   .driver = "mlx5_core", .group = 3, .totalvfs = 8, .numvfs = 2,
			   .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.2", .vendor = 0x15b3, .device = 0x1018, .class = 0x020000,
			   .driver = "vfio-pci", .vfio_dev = true, .group = 4, .physfn = "0000:03:00.0",
			   .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.3", .vendor = 0x15b3, .device = 0x1018, .class = 0x020000,
			   .driver = "vfio-pci", .vfio_dev = true, .group = 5, .physfn = "0000:03:00.0",
			   .pcie = FX_PCIE_ENDPOINT));
	for (int f = 0; f < 4; f++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:00:1f.%d", f);
		fx_add(fx, &FX_DEV(.bdf = bdf, .vendor = 0x8086, .device = (uint16_t)(0xa300 + f),
				   .class = f == 0 ? 0x060100 : 0x0c0500, .driver = "vfio-pci",
				   .vfio_dev = true, .group = 9, .multifunction = true));
	}
	fx_printf(fx, "dev/vfio/vfio", "%s", "");
	return fx;
}

static struct fx *fx;

static int setup(void **state)
{
	(void)state;
	fx = fx_attached();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_free(fx);
	return 0;
}

#define EMIT_OK(expected, ...)                                                                 \
	do {                                                                                   \
		struct run r_;                                                                 \
		RUN(&r_, fx_root(fx), "emit", __VA_ARGS__);                                    \
		if (r_.status != 0)                                                            \
			fprintf(stderr, "%s", r_.err);                                         \
		assert_int_equal(r_.status, 0);                                                \
		assert_text_equal(r_.out, expected);                                           \
		run_free(&r_);                                                                 \
	} while (0)

static void test_qemu_single_nic(void **state)
{
	(void)state;
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0\n", "02:00.0");
}

static void test_qemu_gpu_audio(void **state)
{
	(void)state;
	/* one root port for the card, its functions at slot 0 behind it */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0,multifunction=on \\\n"
		"-device vfio-pci,host=0000:01:00.1,id=hostdev1,bus=iopass-rp0,addr=0x0.1\n",
		"01:00.1", "01:00.0");
	/* behind a root port the user named, as a legacy-BIOS primary GPU */
	EMIT_OK("-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=rp1,addr=0x0.0,multifunction=on,x-vga=on \\\n"
		"-device vfio-pci,host=0000:01:00.1,id=hostdev1,bus=rp1,addr=0x0.1\n",
		"--group", "1", "--bus", "rp1", "--primary-gpu");
	/* naming the root bus: no port, clear of the host bridge in slot 0 */
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0\n", "02:00.0",
		"--bus", "pcie.0");
	/* only the audio function: it becomes function 0 of its own slot */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:01:00.1,id=hostdev0,bus=iopass-rp0,addr=0x0.0\n", "01:00.1");
}

static void test_qemu_group_of_four(void **state)
{
	(void)state;
	EMIT_OK("-device vfio-pci,host=0000:00:1f.0,id=hostdev0,bus=pcie.0,addr=0x8.0,multifunction=on \\\n"
		"-device vfio-pci,host=0000:00:1f.1,id=hostdev1,bus=pcie.0,addr=0x8.1 \\\n"
		"-device vfio-pci,host=0000:00:1f.2,id=hostdev2,bus=pcie.0,addr=0x8.2 \\\n"
		"-device vfio-pci,host=0000:00:1f.3,id=hostdev3,bus=pcie.0,addr=0x8.3\n",
		"group:9", "--first-slot", "8");
}

static void test_qemu_vfs(void **state)
{
	(void)state;
	/* VFs are devices of their own: one root port each, or one slot each */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev0,bus=iopass-rp0,addr=0x0.0 \\\n"
		"-device pcie-root-port,id=iopass-rp1,bus=pcie.0,addr=0x11.0,chassis=17 \\\n"
		"-device vfio-pci,host=0000:03:00.3,id=hostdev1,bus=iopass-rp1,addr=0x0.0\n",
		"03:00.2", "03:00.3");
	EMIT_OK("-device vfio-pci,host=0000:03:00.2,id=hostdev0,bus=pcie.0,addr=0x10.0 \\\n"
		"-device vfio-pci,host=0000:03:00.3,id=hostdev1,bus=pcie.0,addr=0x11.0\n",
		"03:00.2", "03:00.3", "--bus", "pcie.0,pcie.0");
	EMIT_OK("-device vfio-pci,host=0000:03:00.2,id=hostdev0,bus=rp1,addr=0x0.0 \\\n"
		"-device vfio-pci,host=0000:03:00.3,id=hostdev1,bus=rp2,addr=0x0.0\n",
		"03:00.2", "03:00.3", "--bus", "rp1,rp2");
}

static void test_qemu_rom_display(void **state)
{
	(void)state;
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0,rombar=0\n",
		"02:00.0", "--rombar", "off", "--bus", "pcie.0");
	/* a comma in a path is doubled for QEMU's option parser */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0,romfile=/srv/roms/gp104,,patched.rom,display=off\n",
		"01:00.0", "--romfile", "/srv/roms/gp104,patched.rom", "--display", "off");
}

static void test_iommufd(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, fx_root(fx), "emit", "--iommufd", "02:00.0");
	assert_int_equal(r.status, 3);
	assert_text_equal(r.err, "iopass: emit: --iommufd: this host has no /dev/iommu (a kernel with "
				 "CONFIG_IOMMUFD, 6.2 or newer, and the iommufd module)\n");
	run_free(&r);
	fx_printf(fx, "dev/iommu", "%s", "");
	RUN(&r, fx_root(fx), "emit", "--iommufd", "02:00.0");
	assert_int_equal(r.status, 3);
	assert_text_equal(r.err, "iopass: emit: --iommufd: 0000:02:00.0 has no VFIO device node "
				 "(/dev/vfio/devices/vfioN: attach it first; the kernel needs "
				 "CONFIG_VFIO_DEVICE_CDEV)\n");
	run_free(&r);
	fx_printf(fx, "dev/vfio/devices/vfio0", "%s", "");
	EMIT_OK("-object iommufd,id=iommufd0 \\\n"
		"-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0,iommufd=iommufd0 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=pcie.0,addr=0x11.0,iommufd=iommufd0\n",
		"--iommufd", "02:00.0", "03:00.2", "--bus", "pcie.0,pcie.0");
	fx_unlink(fx, "dev/iommu");
	fx_unlink(fx, "dev/vfio/devices/vfio0");
}

static const char gpu_libvirt[] =
	"<hostdev mode='subsystem' type='pci' managed='no'>\n"
	"  <driver name='vfio'/>\n"
	"  <source>\n"
	"    <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
	"  </source>\n"
	"  <address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x0' multifunction='on'/>\n"
	"  <rom bar='off' file='/srv/a&apos;b&amp;.rom'/>\n"
	"</hostdev>\n"
	"<hostdev mode='subsystem' type='pci' managed='no'>\n"
	"  <driver name='vfio'/>\n"
	"  <source>\n"
	"    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
	"  </source>\n"
	"  <address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x1'/>\n"
	"  <rom bar='off' file='/srv/a&apos;b&amp;.rom'/>\n"
	"</hostdev>\n";

static void test_libvirt(void **state)
{
	struct run r;
	char *dir, *p, *text;

	(void)state;
	EMIT_OK(gpu_libvirt, "--libvirt", "--guest-address", "01:00.0", "01:00.1", "--rombar", "off",
		"--romfile", "/srv/a'b&.rom");
	/* without: libvirt places the devices (and adds the root ports) itself */
	EMIT_OK("<hostdev mode='subsystem' type='pci' managed='no'>\n"
		"  <driver name='vfio'/>\n"
		"  <source>\n"
		"    <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"
		"  </source>\n"
		"</hostdev>\n",
		"--libvirt", "02:00.0");
	EMIT_OK("<hostdev mode='subsystem' type='pci' managed='yes'>\n"
		"  <driver name='vfio'/>\n"
		"  <source>\n"
		"    <address domain='0x0000' bus='0x03' slot='0x00' function='0x2'/>\n"
		"  </source>\n"
		"  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
		"</hostdev>\n",
		"--libvirt", "--managed", "03:00.2", "--bus", "5");

	/* --split: one file per device, for virsh attach-device */
	assert_true(asprintf(&dir, "%s/split", fx_root(fx)) > 0);
	fx_mkdir(fx, "split");
	RUN(&r, fx_root(fx), "emit", "--libvirt", "--split", dir, "group:1");
	assert_int_equal(r.status, 0);
	assert_true(asprintf(&p, "%s/0000:01:00.0.xml\n%s/0000:01:00.1.xml\n", dir, dir) > 0);
	assert_text_equal(r.out, p);
	free(p);
	run_free(&r);
	text = fx_read(fx, "split/0000:01:00.1.xml");
	assert_non_null(strstr(text, "function='0x1'/>\n  </source>"));
	free(text);
	free(dir);
}

static void test_json(void **state)
{
	struct run r;

	(void)state;
	RUN(&r, fx_root(fx), "emit", "-J", "01:00.0", "01:00.1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:01:00.0\",\n      \"id\": \"hostdev0\",\n"
				      "      \"guest\": {\n        \"bus\": \"iopass-rp0\",\n        \"slot\": 0,\n"
				      "        \"function\": 0,\n        \"multifunction\": true\n      },\n"));
	assert_non_null(strstr(r.out, "\"ports\": [\n    {\n      \"id\": \"iopass-rp0\",\n      \"bus\": "
				      "\"pcie.0\",\n      \"slot\": 16,\n      \"chassis\": 16,\n      "
				      "\"device\": \"pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16\"\n"
				      "    }\n  ],\n"));
	assert_non_null(strstr(r.out, "\"qemu\": [\n    \"-device\",\n    \"pcie-root-port,id=iopass-rp0,"
				      "bus=pcie.0,addr=0x10.0,chassis=16\",\n    \"-device\",\n    "
				      "\"vfio-pci,host=0000:01:00.0,"));
	assert_non_null(strstr(r.out, "\"libvirt\": \"<hostdev mode='subsystem' type='pci' managed='no'>\\n"));
	assert_null(strstr(r.out, "<address type='pci'"));
	run_free(&r);
	/* placed by the user: no ports, libvirt addresses */
	RUN(&r, fx_root(fx), "emit", "-J", "02:00.0", "--bus", "pcie.0");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ports\": [],\n"));
	assert_non_null(strstr(r.out, "<address type='pci' domain='0x0000' bus='0x00' slot='0x10'"));
	run_free(&r);
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *argv[8];
		int status;
		const char *err;
	} cases[] = {
		{ { "emit", "09:00.0" }, 2, "iopass: emit: 0000:09:00.0: no such PCI device; 'iopass list' shows the devices\n" },
		{ { "emit", "--primary-gpu", "02:00.0" }, 2, "iopass: emit: --primary-gpu needs a VGA device (class 0300); none of these is one\n" },
		{ { "emit", "--display", "on", "02:00.0" }, 2, "iopass: emit: --display applies to display devices; none of these is one\n" },
		{ { "emit", "--rombar", "maybe", "02:00.0" }, 2, "iopass: emit: --rombar 'maybe': use on or off\n" },
		{ { "emit", "--first-slot", "32", "02:00.0" }, 2, "iopass: emit: --first-slot '32': a slot number from 0 to 31 (or 0x0 to 0x1f)\n" },
		{ { "emit", "--bus", "a,b=c", "02:00.0" }, 2, "iopass: emit: --bus: 'b=c' is not a bus name (a QEMU id such as pcie.0 or rp1: a letter, then letters, digits, '-', '.', '_')\n" },
		{ { "emit", "--bus", "1rp", "02:00.0" }, 2, "iopass: emit: --bus: '1rp' is not a bus name (a QEMU id such as pcie.0 or rp1: a letter, then letters, digits, '-', '.', '_')\n" },
		{ { "emit", "--bus", "rp 1", "02:00.0" }, 2, "iopass: emit: --bus: 'rp 1' is not a bus name (a QEMU id such as pcie.0 or rp1: a letter, then letters, digits, '-', '.', '_')\n" },
		{ { "emit", "--romfile", "/a\tb.rom", "02:00.0" }, 2, "iopass: emit: --romfile: a path without control characters (no XML or command line can carry them)\n" },
		{ { "emit", "--libvirt", "--romfile", "/a\x1b[31m.rom", "02:00.0" }, 2, "iopass: emit: --romfile: a path without control characters (no XML or command line can carry them)\n" },
		{ { "emit", "--libvirt", "--split", "/nonexistent/dir", "02:00.0" }, 2, "iopass: emit: --split '/nonexistent/dir': No such file or directory; name an existing directory\n" },
		{ { "emit", "--libvirt", "--primary-gpu", "01:00.0" }, 2, "iopass: emit: --libvirt: --primary-gpu has no libvirt <hostdev> attribute; use --qemu, or a <qemu:commandline> override\n" },
		{ { "emit", "--libvirt", "--bus", "rp1", "02:00.0" }, 2, "iopass: emit: --libvirt: a guest bus is a number there (0 for pcie.0, or the controller's index); --bus names like 'rp1' are QEMU's\n" },
		{ { "emit", "--qemu", "--libvirt", "02:00.0" }, 2, "iopass: emit: --qemu, --libvirt and --json exclude each other; pick one\n" },
		{ { "emit", "--split", "/tmp", "02:00.0" }, 2, "iopass: emit: --split writes libvirt files; add --libvirt\n" },
		{ { "emit", "03:00.2", "03:00.3", "--bus", "rp1" }, 2, "iopass: emit: 1 buses given for more physical devices; name one bus per device (0000:03:00.3 is the next)\n" },
		{ { "emit" }, 2, "iopass: emit: no device given; name devices by address, or use --group N\n" },
		{ { "emit", "02:00.0", "03:00.2", "--first-slot", "0x1e" }, 2, "iopass: emit: out of guest slots on the bus; use --first-slot lower or one --bus per device\n" },
		{ { "emit", "02:00.0", "--first-slot", "0x1f" }, 2, "iopass: emit: out of guest slots on the bus; use --first-slot lower or one --bus per device\n" },
		{ { "emit", "--guest-address", "02:00.0" }, 2, "iopass: emit: --guest-address is libvirt's; add --libvirt\n" },
		{ { "emit", "--card", "03:00.2" }, 2, "iopass: emit: card:0000:03:00.2: a virtual function is a device of its own, on no card of its own; name it, or its PF's card (card:0000:03:00.0)\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		run_iopass(&r, fx_root(fx), cases[i].argv);
		assert_int_equal(r.status, cases[i].status);
		assert_text_equal(r.err, cases[i].err);
		assert_string_equal(r.out, "");
		run_free(&r);
	}
}

static void test_not_ready(void **state)
{
	struct run r;

	(void)state;
	/* the PF is on its host driver: a warning, still printed; --strict: exit 3, nothing printed */
	RUN(&r, fx_root(fx), "emit", "03:00.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.err, "iopass: emit: warning: 0000:03:00.0 is bound to mlx5_core, not on vfio-pci; "
				 "run 'iopass attach 0000:03:00.0' first (or use --managed with libvirt)\n");
	assert_text_equal(r.out, "-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
				 "-device vfio-pci,host=0000:03:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "emit", "--strict", "03:00.0");
	assert_int_equal(r.status, 3);
	assert_string_equal(r.out, "");
	run_free(&r);
	/* managed: libvirt rebinds it, no warning */
	RUN(&r, fx_root(fx), "emit", "--libvirt", "--managed", "--strict", "03:00.0");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	run_free(&r);
}

/* ---- the real consumers --------------------------------------------------- */

static bool have(const char *prog)
{
	char *cmd;
	int r;

	if (asprintf(&cmd, "command -v %s >/dev/null 2>&1", prog) < 0)
		return false;
	r = system(cmd);
	free(cmd);
	return r == 0;
}

/* Run argv (NULL-terminated), output into out (at most size bytes); the exit status. */
static int run_cmd(char *const argv[], char *out, size_t size)
{
	int p[2], st;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_libvirt_schema(void **state)
{
	static const char *const recipes[][6] = {
		{ "01:00.0", "01:00.1", "--rombar", "off", NULL },
		{ "group:9", "--managed", NULL },
		{ "03:00.2", "03:00.3", "--bus", "3,4", "--romfile", "/srv/x.rom" },
		{ "02:00.0", "--rombar", "on", "--first-slot", "0x1e", NULL },
	};
	char out[8192];

	(void)state;
	if (!have("virt-xml-validate")) {
		fprintf(stderr, "SKIPPED: virt-xml-validate is not installed (apt-get install libvirt-clients); "
				"libvirt output NOT validated\n");
		skip();
		return;
	}
	for (size_t i = 0; i < sizeof(recipes) / sizeof(recipes[0]); i++) {
		const char *argv[10] = { "emit", "--libvirt" };
		size_t n = 2;
		struct run r;
		char *xml, path[4200];
		int fd;

		for (size_t k = 0; k < 6 && recipes[i][k]; k++)
			argv[n++] = recipes[i][k];
		argv[n] = NULL;
		run_iopass(&r, fx_root(fx), argv);
		assert_int_equal(r.status, 0);
		assert_true(asprintf(&xml,
				     "<domain type='kvm'>\n  <name>iopass-test</name>\n"
				     "  <memory unit='MiB'>1024</memory>\n"
				     "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
				     "  <devices>\n%s  </devices>\n</domain>\n", r.out) > 0);
		snprintf(path, sizeof(path), "%s/domain-%zu.xml", fx_root(fx), i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0 && write(fd, xml, strlen(xml)) == (ssize_t)strlen(xml));
		close(fd);
		free(xml);
		run_free(&r);
		char *vargv[] = { (char *)"virt-xml-validate", path, (char *)"domain", NULL };
		int st = run_cmd(vargv, out, sizeof(out));

		if (st != 0)
			fprintf(stderr, "virt-xml-validate %s: %s\n", path, out);
		assert_int_equal(st, 0);
	}
}

static void test_qemu_accepts(void **state)
{
	char help[65536], out[8192];
	struct run r;

	(void)state;
	if (!have("qemu-system-x86_64")) {
		fprintf(stderr, "SKIPPED: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86); "
				"QEMU output NOT checked\n");
		skip();
		return;
	}
	char *hargv[] = { (char *)"qemu-system-x86_64", (char *)"-device", (char *)"vfio-pci,help", NULL };
	assert_int_equal(run_cmd(hargv, help, sizeof(help)), 0);

	RUN(&r, fx_root(fx), "emit", "-J", "01:00.0", "01:00.1", "--rombar", "off", "--romfile",
	    "/x.rom", "--primary-gpu", "--display", "off");
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* every property name we write is one vfio-pci has */
	RUN(&r, fx_root(fx), "emit", "01:00.0", "01:00.1", "--rombar", "off", "--romfile", "/x.rom",
	    "--primary-gpu", "--display", "off", "--bus", "pcie.0");
	assert_int_equal(r.status, 0);
	for (char *p = r.out; (p = strstr(p, ",")); p++) {
		char prop[64];

		if (sscanf(p + 1, "%63[a-z-]=", prop) != 1)
			continue;
		if (strcmp(prop, "id") == 0 || strcmp(prop, "bus") == 0)
			continue; /* -device's own options, not vfio-pci properties */
		char want[80];

		snprintf(want, sizeof(want), "  %s=", prop);
		if (!strstr(help, want)) {
			fprintf(stderr, "vfio-pci has no property '%s'\n", prop);
			fail();
		}
	}
	/* the parser takes the whole line: the first device gets as far as opening the host device */
	char *line = strdup(r.out), *dev = strstr(line, "vfio-pci,");

	dev[strcspn(dev, " \n")] = '\0';
	char *qargv[] = { (char *)"qemu-system-x86_64", (char *)"-machine", (char *)"q35",
			  (char *)"-accel", (char *)"tcg", (char *)"-nodefaults", (char *)"-display",
			  (char *)"none", (char *)"-S", (char *)"-device", dev, NULL };
	int st = run_cmd(qargv, out, sizeof(out));

	assert_int_not_equal(st, 0); /* no such host device here */
	if (strstr(out, "not found") || strstr(out, "Invalid parameter") || strstr(out, "Parameter")) {
		fprintf(stderr, "qemu rejected the arguments: %s\n", out);
		fail();
	}
	assert_non_null(strstr(out, "vfio"));
	free(line);
	run_free(&r);
}


/*
 * Start QEMU (q35, stopped, answering one QMP "quit") with a root port rp1 and a
 * pcie-pci-bridge pb, plus emit's QEMU lines with e1000e in place of vfio-pci: 0
 * when QEMU placed every device, else its exit status, with its message printed.
 */
static int qemu_places(const char *lines)
{
	char *script, *dev = malloc(strlen(lines) + 1), *d = dev, out[8192];
	const char *p = lines;
	int st;

	assert_non_null(dev);
	while (*p) {
		if (strncmp(p, "vfio-pci,host=", 14) == 0) {
			p += strcspn(p, ",") + 1;
			p += strcspn(p, ",") + 1;
			d = stpcpy(d, "e1000e,");
		} else {
			*d++ = *p++;
		}
	}
	*d = '\0';
	assert_true(asprintf(&script, "printf '%%s\\n' '{\"execute\":\"qmp_capabilities\"}' "
				      "'{\"execute\":\"quit\"}' | qemu-system-x86_64 -machine q35 -accel tcg "
				      "-nodefaults -display none -S -qmp stdio -net none "
				      "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x5,chassis=1 "
				      "-device pcie-pci-bridge,id=pb,bus=pcie.0,addr=0x6 %s", dev) > 0);
	char *shargv[] = { (char *)"sh", (char *)"-c", script, NULL };

	st = run_cmd(shargv, out, sizeof(out));
	if (st != 0 || strstr(out, ": -device "))
		fprintf(stderr, "QEMU (%d) with\n%s: %s\n", st, dev, out);
	if (st == 0 && strstr(out, ": -device "))
		st = 1;
	free(script);
	free(dev);
	return st;
}

/* Each placement rule, and each placement as QEMU's own parser and PCI core take it. */
static void test_bus_placement(void **state)
{
	(void)state;
	/* the root bus named explicitly is still the root bus: from 0x10, clear of the host bridge */
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0\n", "02:00.0",
		"--bus", "pcie.0");
	/* each card starts its own bus's count: a root port gets slot 0 wherever it is listed */
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=rp1,addr=0x0.0\n",
		"02:00.0", "03:00.2", "--bus", "pcie.0,rp1");
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=rp1,addr=0x0.0 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=pcie.0,addr=0x10.0\n",
		"02:00.0", "03:00.2", "--bus", "rp1,pcie.0");
	/* two cards on the root bus between others: the next free slot there */
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x10.0 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=rp1,addr=0x0.0 \\\n"
		"-device vfio-pci,host=0000:03:00.3,id=hostdev2,bus=pcie.0,addr=0x11.0\n",
		"02:00.0", "03:00.2", "03:00.3", "--bus", "pcie.0,rp1,pcie.0");
	/* the same bridge twice (a pcie-pci-bridge has 32 slots): 0, then 1 */
	EMIT_OK("-device vfio-pci,host=0000:03:00.2,id=hostdev0,bus=pb,addr=0x0.0 \\\n"
		"-device vfio-pci,host=0000:03:00.3,id=hostdev1,bus=pb,addr=0x1.0\n",
		"03:00.2", "03:00.3", "--bus", "pb,pb");
	/* --first-slot applies to every bus */
	EMIT_OK("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pb,addr=0x3.0 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=pcie.0,addr=0x3.0\n",
		"02:00.0", "03:00.2", "--bus", "pb,pcie.0", "--first-slot", "3");

	if (!have("qemu-system-x86_64")) {
		fprintf(stderr, "SKIPPED: qemu-system-x86_64 is not installed; placements NOT checked by QEMU\n");
		skip();
		return;
	}
	/*
	 * QEMU places the devices as its PCI core does, all of them at once (a slot taken
	 * twice, the host bridge's slot 0, a root port's only slot on QEMU 8.2 and later),
	 * each with an emulated NIC standing in for vfio-pci (which would stop at the
	 * missing host device first); the emitted lines are pasted into sh as they are.
	 */
	static const char *const placements[][5] = {
		{ "02:00.0", "03:00.2", "--bus", "pcie.0,rp1" },
		{ "02:00.0", "03:00.2", "--bus", "rp1,pcie.0" },
		{ "02:00.0", "03:00.2", "--bus", "pb,pb" },
		{ "02:00.0", "03:00.2", "--bus", "pcie.0,pcie.0" },
		{ "02:00.0", "03:00.2", "--first-slot", "0x1d" },
		{ "02:00.0", "03:00.2", "03:00.3" },
		{ "01:00.0", "01:00.1", "--bus", "rp1" },
		{ "01:00.0", "01:00.1", "02:00.0" },
		{ "group:9", "01:00.0", "01:00.1", "02:00.0" },
	};
	for (size_t i = 0; i < N_OF(placements); i++) {
		const char *argv[8] = { "emit" };
		struct run r;

		for (size_t k = 0; k < 5 && placements[i][k]; k++)
			argv[k + 1] = placements[i][k];
		run_iopass(&r, fx_root(fx), argv);
		assert_int_equal(r.status, 0);
		assert_int_equal(qemu_places(r.out), 0);
		run_free(&r);
	}
	/* and it fails where it must: slot 0 of the root bus, the same slot twice */
	assert_int_not_equal(qemu_places("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pcie.0,addr=0x0.0\n"), 0);
	assert_int_not_equal(qemu_places("-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=rp1,addr=0x0.0 \\\n"
					 "-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=rp1,addr=0x0.0\n"), 0);
}

/*
 * q35 topology: a pcie-root-port per PCIe card in the card's pcie.0 slot, the
 * card at slot 0 behind it; conventional PCI stays on pcie.0; chassis numbers
 * unique; without readable config space the link attributes tell PCIe.
 */
static void test_root_ports(void **state)
{
	struct run r;
	struct fx *nr;

	(void)state;
	/* the conventional 4-function group at 0x10 itself, then a port per PCIe card */
	EMIT_OK("-device vfio-pci,host=0000:00:1f.0,id=hostdev0,bus=pcie.0,addr=0x10.0,multifunction=on \\\n"
		"-device vfio-pci,host=0000:00:1f.1,id=hostdev1,bus=pcie.0,addr=0x10.1 \\\n"
		"-device vfio-pci,host=0000:00:1f.2,id=hostdev2,bus=pcie.0,addr=0x10.2 \\\n"
		"-device vfio-pci,host=0000:00:1f.3,id=hostdev3,bus=pcie.0,addr=0x10.3 \\\n"
		"-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x11.0,chassis=17 \\\n"
		"-device vfio-pci,host=0000:01:00.0,id=hostdev4,bus=iopass-rp0,addr=0x0.0,multifunction=on \\\n"
		"-device vfio-pci,host=0000:01:00.1,id=hostdev5,bus=iopass-rp0,addr=0x0.1 \\\n"
		"-device pcie-root-port,id=iopass-rp1,bus=pcie.0,addr=0x12.0,chassis=18 \\\n"
		"-device vfio-pci,host=0000:02:00.0,id=hostdev6,bus=iopass-rp1,addr=0x0.0\n",
		"02:00.0", "group:9", "01:00.1", "01:00.0");
	/* --first-slot moves the ports; past slot 31 there is no room */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x1d.0,chassis=29 \\\n"
		"-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0 \\\n"
		"-device pcie-root-port,id=iopass-rp1,bus=pcie.0,addr=0x1e.0,chassis=30 \\\n"
		"-device vfio-pci,host=0000:03:00.2,id=hostdev1,bus=iopass-rp1,addr=0x0.0\n",
		"02:00.0", "03:00.2", "--first-slot", "0x1d");
	/* a card named by one of its functions */
	EMIT_OK("-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
		"-device vfio-pci,host=0000:01:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0,multifunction=on \\\n"
		"-device vfio-pci,host=0000:01:00.1,id=hostdev1,bus=iopass-rp0,addr=0x0.1\n",
		"--card", "01:00.1");
	/* past slot 31, --guest-address with --qemu, the card of a VF: test_bad_input */

	/* as an unprivileged reader sees it: 64 bytes of config, the link attributes decide */
	nr = fx_new();
	fx_iommu_enable(nr);
	fx_add(nr, &FX_DEV(.bdf = "0000:02:00.0", .vendor = 0x144d, .device = 0xa808, .class = 0x010802,
			   .driver = "vfio-pci", .vfio_dev = true, .group = 2, .pcie = FX_PCIE_ENDPOINT,
			   .config_len = 64));
	fx_add(nr, &FX_DEV(.bdf = "0000:05:01.0", .vendor = 0x8086, .device = 0x100e, .class = 0x020000,
			   .driver = "vfio-pci", .vfio_dev = true, .group = 3, .config_len = 64));
	RUN(&r, fx_root(nr), "emit", "02:00.0", "05:01.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "-device pcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,chassis=16 \\\n"
				 "-device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=iopass-rp0,addr=0x0.0 \\\n"
				 "-device vfio-pci,host=0000:05:01.0,id=hostdev1,bus=pcie.0,addr=0x11.0\n");
	run_free(&r);
	fx_free(nr);
}

/* QEMU lines are pasted into a shell: what the shell makes of them is what emit meant. */
static void test_shell_quoting(void **state)
{
	static const char *const romfiles[] = { "/tmp/my rom;$(id)", "/srv/it's.rom", "/a\"b`c`\\d.rom",
						"/srv/rom*?[x]", "/srv/~x&y|z>w.rom" };
	(void)state;
	for (size_t i = 0; i < N_OF(romfiles); i++) {
		struct run r;
		char *script, out[4096], *want;

		RUN(&r, fx_root(fx), "emit", "02:00.0", "--romfile", romfiles[i]);
		assert_int_equal(r.status, 0);
		/* the words the shell makes of the line, one per line */
		assert_true(asprintf(&script, "set -- %s\nprintf '%%s\\n' \"$@\"", r.out) > 0);
		char *shargv[] = { (char *)"sh", (char *)"-c", script, NULL };

		if (run_cmd(shargv, out, sizeof(out)) != 0) {
			fprintf(stderr, "sh -c '%s': %s\n", script, out);
			fail();
		}
		char *escaped;
		size_t n = 0;

		escaped = malloc(2 * strlen(romfiles[i]) + 1);
		assert_non_null(escaped);
		for (const char *p = romfiles[i]; *p; p++) {
			if (*p == ',')
				escaped[n++] = ',';
			escaped[n++] = *p;
		}
		escaped[n] = '\0';
		assert_true(asprintf(&want, "-device\npcie-root-port,id=iopass-rp0,bus=pcie.0,addr=0x10.0,"
					    "chassis=16\n-device\nvfio-pci,host=0000:02:00.0,id=hostdev0,"
					    "bus=iopass-rp0,addr=0x0.0,romfile=%s\n", escaped) > 0);
		assert_text_equal(out, want);
		free(escaped);
		free(want);
		free(script);
		run_free(&r);
	}
}

/* --split writes new files: a FIFO, a symlink or a hard link at a name is replaced, not used. */
static void test_split_replaces(void **state)
{
	char *dir, *outside, *hard, *fifo, *sym;
	struct stat st;
	struct run r;

	(void)state;
	fx_mkdir(fx, "split2");
	fx_printf(fx, "outside.xml", "%s", "precious\n");
	assert_true(asprintf(&dir, "%s/split2", fx_root(fx)) > 0);
	assert_true(asprintf(&outside, "%s/outside.xml", fx_root(fx)) > 0);
	assert_true(asprintf(&hard, "%s/0000:01:00.0.xml", dir) > 0);
	assert_true(asprintf(&fifo, "%s/0000:01:00.1.xml", dir) > 0);
	assert_true(asprintf(&sym, "%s/0000:02:00.0.xml", dir) > 0);
	assert_int_equal(link(outside, hard), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(symlink(outside, sym), 0);
	RUN(&r, fx_root(fx), "emit", "--libvirt", "--split", dir, "01:00.0", "01:00.1", "02:00.0");
	assert_int_equal(r.status, 0);
	run_free(&r);
	char *text = fx_read(fx, "outside.xml");

	assert_string_equal(text, "precious");
	free(text);
	assert_int_equal(lstat(hard, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_nlink == 1);
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(sym, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	text = fx_read(fx, "split2/0000:02:00.0.xml");
	assert_non_null(strstr(text, "<hostdev mode='subsystem'"));
	free(text);
	/* a file where the directory should be */
	RUN(&r, fx_root(fx), "emit", "--libvirt", "--split", outside, "02:00.0");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "Not a directory; name an existing directory"));
	run_free(&r);
	free(dir);
	free(outside);
	free(hard);
	free(fifo);
	free(sym);
}

/* Inputs that are not what they claim to be: said in one line, exit 2, no hang. */
static void test_bad_environment(void **state)
{
	char *fifo, *env, *empty;
	struct run r;

	(void)state;
	assert_true(asprintf(&fifo, "%s/ids.fifo", fx_root(fx)) > 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_true(asprintf(&env, "IOPASS_PCI_IDS=%s", fifo) > 0);
	run_iopass_env(&r, fx_root(fx), (const char *const[]){ env, NULL },
		       (const char *const[]){ "list", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "ids.fifo': not a regular file; name a pci.ids file or unset it\n"));
	assert_string_equal(r.out, "");
	run_free(&r);
	free(env);
	assert_true(asprintf(&env, "IOPASS_PCI_IDS=%s/no-such.ids", fx_root(fx)) > 0);
	run_iopass_env(&r, fx_root(fx), (const char *const[]){ env, NULL },
		       (const char *const[]){ "check", "--all", NULL });
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no-such.ids': No such file or directory; name a pci.ids file"));
	run_free(&r);

	/* a sysroot that is a directory without sys/ */
	fx_mkdir(fx, "empty-root");
	assert_true(asprintf(&empty, "%s/empty-root", fx_root(fx)) > 0);
	static const char *const cmds[][3] = { { "list" }, { "check", "--all" }, { "emit", "02:00.0" },
					       { "persist", "list" } };
	for (size_t i = 0; i < N_OF(cmds); i++) {
		run_iopass(&r, empty, cmds[i]);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "empty-root' has no sys/ directory; pass to --sysroot the "
					      "directory that holds the tree's sys/ (and proc/, dev/)\n"));
		assert_string_equal(r.out, "");
		run_free(&r);
	}
	free(empty);
	free(env);
	free(fifo);
}

/* util-linux's close_stdout: output that did not get out is an error; a reader gone is not. */
static void test_output_errors(void **state)
{
	static const char *const cmds[][5] = {
		{ "list" }, { "list", "-J" }, { "list", "-r" }, { "check", "--all" }, { "check", "-J", "--all" },
		{ "emit", "02:00.0" }, { "emit", "--libvirt", "02:00.0" }, { "persist", "list", "-J" },
		{ "attach", "-n", "-f", "03:00.0" }, { "detach", "-n", "02:00.0" },
		{ "--version" }, { "--help" }, { "emit", "--help" },
	};
	(void)state;
	for (size_t i = 0; i < N_OF(cmds); i++) {
		int full = open("/dev/full", O_WRONLY | O_CLOEXEC), p[2];
		struct run r;

		assert_true(full >= 0);
		run_iopass_stdout(&r, fx_root(fx), full, false, cmds[i]);
		close(full);
		if (r.status != 1 || !strstr(r.err, "cannot write the output: No space left on device\n"))
			fprintf(stderr, "%s %s: status %d, stderr '%s'\n", cmds[i][0],
				cmds[i][1] ? cmds[i][1] : "", r.status, r.err);
		assert_int_equal(r.status, 1);
		assert_non_null(strstr(r.err, "iopass: cannot write the output: No space left on device\n"));
		run_free(&r);

		/* a closed pipe, SIGPIPE as a shell leaves it (killed quietly) or ignored (EPIPE) */
		for (int ign = 0; ign < 2; ign++) {
			assert_int_equal(pipe(p), 0);
			close(p[0]);
			run_iopass_stdout(&r, fx_root(fx), p[1], ign, cmds[i]);
			close(p[1]);
			/* warnings of the command itself may be there; no word of the output */
			assert_null(strstr(r.err, "write"));
			assert_null(strstr(r.err, "print"));
			if (!ign)
				assert_int_equal(r.status, 128 + SIGPIPE);
			run_free(&r);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_single_nic),
		cmocka_unit_test(test_qemu_gpu_audio),
		cmocka_unit_test(test_qemu_group_of_four),
		cmocka_unit_test(test_qemu_vfs),
		cmocka_unit_test(test_qemu_rom_display),
		cmocka_unit_test(test_iommufd),
		cmocka_unit_test(test_libvirt),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test(test_libvirt_schema),
		cmocka_unit_test(test_qemu_accepts),
		cmocka_unit_test(test_bus_placement),
		cmocka_unit_test(test_root_ports),
		cmocka_unit_test(test_shell_quoting),
		cmocka_unit_test(test_split_replaces),
		cmocka_unit_test(test_bad_environment),
		cmocka_unit_test(test_output_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
