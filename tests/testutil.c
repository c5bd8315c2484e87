// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iopass.h"
#include "testutil.h"

static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		abort();
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

void run_iopass(struct run *r, const char *root, const char *const argv[])
{
	run_iopass_env(r, root, NULL, argv);
}

/* stdout_fd < 0: captured into r->out; else the child's stdout is that descriptor */
static void run_iopass_io(struct run *r, const char *root, const char *const env[],
			  const char *const argv[], int stdout_fd, bool ignore_sigpipe)
{
	char outname[] = "/tmp/iopass-out-XXXXXX", errname[] = "/tmp/iopass-err-XXXXXX";
	int outfd = stdout_fd >= 0 ? dup(stdout_fd) : mkstemp(outname), errfd = mkstemp(errname);
	size_t argc = 0;
	const char **av;
	pid_t pid;
	int st;

	assert_true(outfd >= 0 && errfd >= 0);
	if (stdout_fd < 0)
		unlink(outname);
	unlink(errname);
	while (argv[argc])
		argc++;
	av = calloc(argc + 4, sizeof(*av));
	assert_non_null(av);
	av[0] = IOPASS_BIN;
	size_t n = 1;
	if (root) {
		av[n++] = "--sysroot";
		av[n++] = root;
	}
	for (size_t i = 0; i < argc; i++)
		av[n++] = argv[i];

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(outfd, 1);
		dup2(errfd, 2);
		signal(SIGPIPE, ignore_sigpipe ? SIG_IGN : SIG_DFL);
		setenv("IOPASS_PCI_IDS", IOPASS_TEST_IDS, 1);
		setenv("LC_ALL", "C", 1);
		unsetenv("IOPASS_SYSROOT");
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(IOPASS_BIN, (char *const *)av);
		_exit(127);
	}
	free(av);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = stdout_fd >= 0 ? NULL : slurp_fd(outfd);
	r->err = slurp_fd(errfd);
	close(outfd);
	close(errfd);
}

void run_iopass_env(struct run *r, const char *root, const char *const env[],
		    const char *const argv[])
{
	run_iopass_io(r, root, env, argv, -1, false);
}

void run_iopass_stdout(struct run *r, const char *root, int stdout_fd, bool ignore_sigpipe,
		       const char *const argv[])
{
	run_iopass_io(r, root, NULL, argv, stdout_fd, ignore_sigpipe);
}

void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void _assert_text_equal(const char *actual, const char *expected, const char *file, int line)
{
	if (actual && expected && strcmp(actual, expected) == 0)
		return;
	fprintf(stderr, "--- expected\n%s\n--- actual\n%s\n---\n", expected ? expected : "(null)",
		actual ? actual : "(null)");
	_fail(file, line);
}

size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

struct fx *fx_workstation(void)
{
	struct fx *fx = fx_new();

	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:00.0", .vendor = 0x8086, .device = 0x3e30,
			   .subvendor = 0x1043, .subdevice = 0x8694, .class = 0x060000, .group = 0));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 1,
			   .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:01:00.0", .vendor = 0x10de, .device = 0x1b80,
			   .subvendor = 0x1043, .subdevice = 0x8591, .class = 0x030000,
			   .parent = "0000:00:01.0", .driver = "nvidia", .group = 1, .boot_vga = true,
			   .multifunction = true, .pcie = FX_PCIE_ENDPOINT, .reset_method = "bus"));
	fx_add(fx, &FX_DEV(.bdf = "0000:01:00.1", .vendor = 0x10de, .device = 0x10f0,
			   .subvendor = 0x1043, .subdevice = 0x8591, .class = 0x040300,
			   .parent = "0000:00:01.0", .driver = "snd_hda_intel", .group = 1,
			   .multifunction = true, .pcie = FX_PCIE_ENDPOINT, .reset_method = "bus"));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:14.0", .vendor = 0x8086, .device = 0xa2af,
			   .class = 0x0c0330, .driver = "xhci_hcd", .group = 2,
			   .pcie = FX_PCIE_RCIEP, .reset_method = "pm"));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1b.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 3,
			   .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:02:00.0", .vendor = 0x144d, .device = 0xa808,
			   .subvendor = 0x144d, .subdevice = 0xa801, .class = 0x010802,
			   .parent = "0000:00:1b.0", .driver = "nvme", .group = 3,
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr bus"));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1c.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 4,
			   .pcie = FX_PCIE_ROOT_PORT, .acs = true, .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.0", .vendor = 0x15b3, .device = 0x1017,
			   .subvendor = 0x15b3, .subdevice = 0x0007, .class = 0x020000,
			   .parent = "0000:00:1c.0", .driver = "mlx5_core", .group = 5, .totalvfs = 8,
			   .numvfs = 2, .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr",
			   .vf_native = "mlx5_core"));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.2", .vendor = 0x15b3, .device = 0x1018,
			   .subvendor = 0x15b3, .subdevice = 0x0007, .class = 0x020000,
			   .parent = "0000:00:1c.0", .driver = "vfio-pci", .vfio_dev = true, .group = 6,
			   .physfn = "0000:03:00.0", .pcie = FX_PCIE_ENDPOINT, .flr = true,
			   .native = "mlx5_core"));
	fx_add(fx, &FX_DEV(.bdf = "0000:03:00.3", .vendor = 0x15b3, .device = 0x1018,
			   .subvendor = 0x15b3, .subdevice = 0x0007, .class = 0x020000,
			   .parent = "0000:00:1c.0", .group = 7, .physfn = "0000:03:00.0",
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .native = "mlx5_core"));

	/* a ready host: Intel, IOMMU on, interrupt remapping, vfio loaded */
	fx_mkdir(fx, "sys/class/iommu/dmar0");
	fx_mkdir(fx, "sys/class/iommu/dmar1");
	fx_printf(fx, "proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/mapper/vg-root ro intel_iommu=on iommu=pt quiet\n");
	fx_printf(fx, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n");
	fx_printf(fx, "proc/interrupts",
		  "            CPU0       CPU1\n"
		  "  0:         28          0  IR-IO-APIC    2-edge      timer\n"
		  " 24:          0          0  DMAR-MSI    0-edge      dmar0\n"
		  "122:       1234          0  IR-PCI-MSI-0000:02:00.0    0-edge      nvme0q0\n");
	fx_printf(fx, "proc/sys/kernel/osrelease", "6.1.0-28-amd64\n");
	fx_printf(fx, "sys/module/vfio/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_pci/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_iommu_type1/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n");
	fx_printf(fx, "dev/vfio/vfio", "%s", "");
	fx_printf(fx, "proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
	fx_printf(fx, "proc/net/ipv6_route", "%s", "");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	fx_printf(fx, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	return fx;
}

const char *fx_driver(struct fx *fx, const char *bdf, char *buf, size_t size)
{
	char *p, target[4096];
	ssize_t n;

	if (asprintf(&p, "%s/sys/bus/pci/devices/%s/driver", fx_root(fx), bdf) < 0)
		abort();
	n = readlink(p, target, sizeof(target) - 1);
	free(p);
	buf[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(buf, size, "%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	}
	return buf;
}

char *fx_read(struct fx *fx, const char *path)
{
	char *p, *text;
	int fd;

	if (asprintf(&p, "%s/%s", fx_root(fx), path) < 0)
		abort();
	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return NULL;
	text = slurp_fd(fd);
	close(fd);
	for (size_t len = strlen(text); len && text[len - 1] == '\n'; len--)
		text[len - 1] = '\0';
	return text;
}

bool fx_exists(struct fx *fx, const char *path)
{
	char *p;
	bool r;

	if (asprintf(&p, "%s/%s", fx_root(fx), path) < 0)
		abort();
	r = access(p, F_OK) == 0;
	free(p);
	return r;
}

/* ---- the simulated kernel ---- */

void sim_open(struct sim *s, struct fx *fx)
{
	s->fx = fx;
	fx_add_driver(fx, "vfio-pci");
	snprintf(s->log, sizeof(s->log), "%s/sim.log", fx_root(fx));
	snprintf(s->env_root, sizeof(s->env_root), "IOPASS_SIM_ROOT=%s", fx_root(fx));
	snprintf(s->env_log, sizeof(s->env_log), "IOPASS_SIM_LOG=%s", s->log);
	s->env_fail[0] = s->env_kill[0] = s->env_delay[0] = s->env_extra[0] = '\0';
}

void sim_close(struct sim *s)
{
	fx_free(s->fx);
}

/* Run iopass with the simulated kernel; fail/kill/delay as set in s. */
void sim_run(struct sim *s, struct run *r, const char *const argv[])
{
	size_t n = 0;

	s->env[n++] = "LD_PRELOAD=" IOPASS_SIMKERNEL;
	/* ASan wants to be first; the shim only wraps open/write/close */
	s->env[n++] = "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1";
	s->env[n++] = s->env_root;
	s->env[n++] = s->env_log;
	s->env[n++] = *s->env_fail ? s->env_fail : "IOPASS_SIM_FAIL=";
	if (*s->env_kill)
		s->env[n++] = s->env_kill;
	if (*s->env_delay)
		s->env[n++] = s->env_delay;
	if (*s->env_extra)
		s->env[n++] = s->env_extra;
	s->env[n] = NULL;
	run_iopass_env(r, fx_root(s->fx), s->env, argv);
}

char *sim_log(struct sim *s)
{
	char *t = fx_read(s->fx, "sim.log");

	return t ? t : strdup("");
}

void sim_log_reset(struct sim *s)
{
	unlink(s->log);
}


void assert_file(struct sim *s, const char *path, const char *expected)
{
	char *t = fx_read(s->fx, path);

	if (!expected) {
		if (t)
			fprintf(stderr, "%s exists: %s\n", path, t);
		assert_null(t);
		return;
	}
	assert_non_null(t);
	assert_text_equal(t, expected);
	free(t);
}


/* The workstation with the GPU as a secondary card (not the boot VGA). */
void fx_modules_alias(struct fx *fx, const char *release, const char *extra)
{
	char path[256];

	snprintf(path, sizeof(path), "lib/modules/%s/modules.alias", release ? release : "6.1.0-28-amd64");
	fx_printf(fx, path,
		  "# Aliases extracted from modules themselves.\n"
		  "alias pci:v0000144Dd0000A808sv*sd*bc*sc*i* nvme\n"
		  "alias pci:v*d*sv*sd*bc01sc08i02* nvme\n"
		  "alias pci:v000015B3d0000101Dsv*sd*bc*sc*i* mlx5_core\n"
		  "alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core\n"
		  /* drivers/vfio/pci/mlx5/main.c mlx5vf_pci_table */
		  "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
		  /* drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.c: SEC, HPRE, ZIP VFs */
		  "alias vfio_pci:v000019E5d0000A256sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
		  "alias vfio_pci:v000019E5d0000A259sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
		  "alias vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i* hisi_acc_vfio_pci\n"
		  /* drivers/vfio/pci/pds/pci_drv.c: the Ethernet VF */
		  "alias vfio_pci:v00001DD8d00001003sv*sd*bc*sc*i* pds_vfio_pci\n"
		  /* drivers/vfio/pci/virtio/main.c: virtio-net and virtio-blk */
		  "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\n"
		  "alias vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i* virtio_vfio_pci\n"
		  /* drivers/vfio/pci/qat/main.c: QAT 4xxx VFs */
		  "alias vfio_pci:v00008086d00004941sv*sd*bc*sc*i* qat_vfio_pci\n"
		  "alias vfio_pci:v00008086d00004943sv*sd*bc*sc*i* qat_vfio_pci\n"
		  "alias vfio_pci:v00008086d00004945sv*sd*bc*sc*i* qat_vfio_pci\n"
		  /* drivers/vfio/pci/nvgrace-gpu/main.c: GH200 */
		  "alias vfio_pci:v000010DEd00002342sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci\n"
		  "alias vfio_pci:v000010DEd00002345sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci\n"
		  "alias pci:v00008086d0000A2AFsv*sd*bc*sc*i* xhci_pci\n"
		  "%s"
		  /* drivers/vfio/pci/vfio_pci.c: PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) */
		  "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n",
		  extra ? extra : "");
}

void fx_add_cx6dx(struct fx *fx)
{
	fx_add(fx, &FX_DEV(.bdf = "0000:06:00.0", .vendor = 0x15b3, .device = 0x101d,
			   .subvendor = 0x15b3, .subdevice = 0x0016, .class = 0x020000,
			   .driver = "mlx5_core", .group = 20, .totalvfs = 8, .numvfs = 2,
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr",
			   .vf_device = 0x101e, .vf_native = "mlx5_core"));
	for (int i = 1; i <= 2; i++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:06:00.%d", i);
		fx_add(fx, &FX_DEV(.bdf = bdf, .vendor = 0x15b3, .device = 0x101e,
				   .subvendor = 0x15b3, .subdevice = 0x0016, .class = 0x020000,
				   .group = 20 + i, .physfn = "0000:06:00.0", .pcie = FX_PCIE_ENDPOINT,
				   .flr = true, .native = "mlx5_core"));
	}
}

struct fx *fx_secondary_gpu(void)
{
	struct fx *fx = fx_workstation();

	fx_printf(fx, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/boot_vga", "0\n");
	return fx;
}

/* ---- the related scan against the full one ---- */

/* One report as text: verdict, needs, then level, effect, code, message, hint of each finding. */
static char *report_text(const struct iopass_report *r)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	fprintf(f, "verdict %d\n", (int)iopass_report_verdict(r));
	for (size_t i = 0; i < iopass_report_needs_count(r); i++)
		fprintf(f, "needs %s\n", iopass_report_needs(r, i));
	for (size_t i = 0; i < iopass_report_count(r); i++)
		fprintf(f, "%d %d %s: %s [%s]\n", (int)iopass_report_level(r, i),
			(int)iopass_report_effect(r, i), iopass_report_code(r, i),
			iopass_report_message(r, i),
			iopass_report_hint(r, i) ? iopass_report_hint(r, i) : "");
	fclose(f);
	return buf;
}

/* The set's devices as they are in list (all of them must be there). */
static struct iopass_dev **set_in(const struct iopass_devlist *list, struct iopass_dev *const *set,
				  size_t n)
{
	struct iopass_dev **out = calloc(n ? n : 1, sizeof(*out));

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		out[i] = iopass_devlist_find(list, iopass_dev_get_addr(set[i]));
		if (!out[i])
			fail_msg("related scan lacks %s", iopass_dev_get_bdf(set[i]));
	}
	return out;
}

/* check of each device of set, on full and on related: the same words. */
static size_t compare_checks(struct iopass_ctx *ctx, const struct iopass_devlist *full,
			     const struct iopass_devlist *related, struct iopass_dev *const *set,
			     size_t n, const char *what)
{
	struct iopass_dev **rset = set_in(related, set, n);

	for (size_t i = 0; i < n; i++) {
		struct iopass_report *a = NULL, *b = NULL;
		char *ta, *tb;

		assert_int_equal(iopass_check_dev(ctx, full, set[i], set, n, &a), 0);
		assert_int_equal(iopass_check_dev(ctx, related, rset[i], rset, n, &b), 0);
		ta = report_text(a);
		tb = report_text(b);
		if (strcmp(ta, tb) != 0)
			fail_msg("%s, check of %s:\n--- full scan:\n%s--- related scan:\n%s", what,
				 iopass_dev_get_bdf(set[i]), ta, tb);
		free(ta);
		free(tb);
		iopass_report_free(a);
		iopass_report_free(b);
	}
	free(rset);
	return n;
}

size_t assert_related_scan_agrees(const char *root, size_t *ret_max_related)
{
	struct iopass_devlist *full = NULL;
	struct iopass_ctx *ctx;
	size_t compared = 0, n;

	assert_int_equal(iopass_ctx_new(root, &ctx), 0);
	assert_int_equal(iopass_ctx_set_ids_file(ctx, IOPASS_TEST_IDS), 0);
	assert_int_equal(iopass_scan(ctx, &full), 0);
	n = iopass_devlist_count(full);
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *d = iopass_devlist_get(full, i), **set;
		struct iopass_devlist *rel = NULL;
			int g = iopass_dev_get_iommu_group(d);
		char what[128];
		size_t nset = 0;

		/* attach D */
		assert_int_equal(iopass_scan_related(ctx, iopass_dev_get_addr(d), 1, NULL, 0, &rel), 0);
		snprintf(what, sizeof(what), "related scan of %s", iopass_dev_get_bdf(d));
		compared += compare_checks(ctx, full, rel, &d, 1, what);
		if (ret_max_related && iopass_devlist_count(rel) > *ret_max_related)
			*ret_max_related = iopass_devlist_count(rel);
		iopass_devlist_free(rel);

		set = calloc(n, sizeof(*set));
		assert_non_null(set);
		/* attach group:G: its endpoints together */
		if (g >= 0) {
			for (size_t k = 0; k < n; k++)
				if (iopass_dev_get_iommu_group(iopass_devlist_get(full, k)) == g &&
				    iopass_dev_is_endpoint(iopass_devlist_get(full, k)))
					set[nset++] = iopass_devlist_get(full, k);
			rel = NULL;
			assert_int_equal(iopass_scan_related(ctx, NULL, 0, &g, 1, &rel), 0);
			snprintf(what, sizeof(what), "related scan of group %d", g);
			compared += compare_checks(ctx, full, rel, set, nset, what);
			iopass_devlist_free(rel);
		}
		/* vf create --attach on D as the PF: its VFs together, the PF as the seed */
		nset = 0;
		for (size_t k = 0; iopass_dev_get_sriov_totalvfs(d) > 0 && k < n; k++) {
			const char *kpf = iopass_dev_get_physfn(iopass_devlist_get(full, k));

			if (kpf && strcmp(kpf, iopass_dev_get_bdf(d)) == 0)
				set[nset++] = iopass_devlist_get(full, k);
		}
		if (nset) {
			rel = NULL;
			assert_int_equal(iopass_scan_related(ctx, iopass_dev_get_addr(d), 1, NULL, 0, &rel), 0);
			snprintf(what, sizeof(what), "related scan of PF %s", iopass_dev_get_bdf(d));
			compared += compare_checks(ctx, full, rel, set, nset, what);
			iopass_devlist_free(rel);
		}
		free(set);
	}
	iopass_devlist_free(full);
	iopass_ctx_free(ctx);
	return compared;
}
