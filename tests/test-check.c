// SPDX-License-Identifier: GPL-2.0-or-later
/* iopass check: host readiness and device verdicts on fixture trees, each rule and its reason. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "iopass.h"

struct env {
	struct fx *fx;
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;
};

static void env_open(struct env *e, struct fx *fx)
{
	e->fx = fx;
	assert_int_equal(iopass_ctx_new(fx_root(fx), &e->ctx), 0);
	assert_int_equal(iopass_ctx_set_ids_file(e->ctx, IOPASS_TEST_IDS), 0);
	assert_int_equal(iopass_scan(e->ctx, &e->list), 0);
}

/* A new context: host-wide tables (routes, mounts, block devices) are read once per context. */
static void env_refresh(struct env *e)
{
	iopass_devlist_free(e->list);
	iopass_ctx_free(e->ctx);
	env_open(e, e->fx);
}

static void env_close(struct env *e)
{
	iopass_devlist_free(e->list);
	iopass_ctx_free(e->ctx);
	fx_free(e->fx);
}

static struct iopass_dev *dev(struct env *e, const char *bdf)
{
	struct iopass_addr a;
	struct iopass_dev *d;

	assert_int_equal(iopass_addr_parse(bdf, &a), 0);
	d = iopass_devlist_find(e->list, &a);
	assert_non_null(d);
	return d;
}

/* Check the devices (a NULL-terminated list of BDFs) as one set; the report of the first. */
static struct iopass_report *check_set(struct env *e, const char *const *bdfs)
{
	struct iopass_dev *set[8];
	struct iopass_report *r;
	size_t n = 0;

	for (; *bdfs; bdfs++)
		set[n++] = dev(e, *bdfs);
	assert_int_equal(iopass_check_dev(e->ctx, e->list, set[0], set, n, &r), 0);
	return r;
}
#define CHECK(e, ...) check_set((e), (const char *const[]){ __VA_ARGS__, NULL })

static const char *finding(const struct iopass_report *r, const char *code)
{
	for (size_t i = 0; i < iopass_report_count(r); i++)
		if (strcmp(iopass_report_code(r, i), code) == 0)
			return iopass_report_message(r, i);
	return NULL;
}

static const char *hint_of(const struct iopass_report *r, const char *code)
{
	for (size_t i = 0; i < iopass_report_count(r); i++)
		if (strcmp(iopass_report_code(r, i), code) == 0)
			return iopass_report_hint(r, i) ? iopass_report_hint(r, i) : "";
	return "";
}

static void dump(const struct iopass_report *r)
{
	for (size_t i = 0; i < iopass_report_count(r); i++)
		fprintf(stderr, "  %s %s: %s\n", iopass_level_name(iopass_report_level(r, i)),
			iopass_report_code(r, i), iopass_report_message(r, i));
}

#define assert_finding(r, code, msg)                                                           \
	do {                                                                                   \
		const char *m_ = finding((r), (code));                                         \
		if (!m_)                                                                       \
			dump(r);                                                               \
		assert_non_null(m_);                                                           \
		if (msg)                                                                       \
			assert_text_equal(m_, (const char *)(msg));                           \
	} while (0)
#define assert_no_finding(r, code)                                                             \
	do {                                                                                   \
		if (finding((r), (code)))                                                      \
			dump(r);                                                               \
		assert_null(finding((r), (code)));                                             \
	} while (0)

/* ---- host -------------------------------------------------------------- */

static void test_host_ready(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_workstation());
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_INFO);
	assert_finding(r, "iommu-enabled",
		       "IOMMU enabled: 8 groups in /sys/kernel/iommu_groups, 2 units (dmar0, dmar1)");
	assert_finding(r, "iommu-domain-type", "default domain types: DMA ×8");
	assert_finding(r, "iommu-passthrough", NULL);
	assert_finding(r, "interrupt-remapping",
		       "interrupt remapping enabled (IR-PCI-MSI interrupts in /proc/interrupts)");
	assert_finding(r, "vfio-pci", "vfio_pci is loaded");
	assert_finding(r, "vfio-iommu-backend", "vfio_iommu_type1 is loaded, iommufd is missing");
	assert_finding(r, "vfio-devices", "/dev/vfio/vfio present");
	assert_no_finding(r, "acs-override");
	iopass_report_free(r);
	env_close(&e);
}

static void test_host_no_iommu(void **state)
{
	struct fx *fx = fx_new();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x8086, .device = 0x1901, .class = 0x020000));
	fx_printf(fx, "proc/cmdline", "root=/dev/sda1 intel_iommu=off\n");
	fx_printf(fx, "proc/cpuinfo", "vendor_id\t: GenuineIntel\n");
	env_open(&e, fx);
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_FAIL);
	assert_finding(r, "no-iommu",
		       "no IOMMU groups in /sys/kernel/iommu_groups and no IOMMU units in "
		       "/sys/class/iommu; the kernel command line has intel_iommu=off");
	assert_string_equal(iopass_report_hint(r, 0),
			    "enable VT-d in the firmware setup and boot with intel_iommu=on");
	/* nothing to remap without an IOMMU: no second failure about it */
	assert_no_finding(r, "no-interrupt-remapping");
	/* no modules index, no /sys/module: vfio is missing */
	assert_finding(r, "no-vfio-pci", NULL);
	iopass_report_free(r);

	/* and a device on it: impossible */
	r = CHECK(&e, "0000:00:02.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_IMPOSSIBLE);
	assert_finding(r, "no-iommu-group", NULL);
	iopass_report_free(r);
	env_close(&e);
}

static void test_host_amd_hint(void **state)
{
	struct fx *fx = fx_new();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_mkdir(fx, "sys/class/iommu/ivhd0");
	fx_printf(fx, "proc/cmdline", "amd_iommu=off\n");
	fx_printf(fx, "proc/cpuinfo", "vendor_id\t: AuthenticAMD\n");
	env_open(&e, fx);
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_finding(r, "no-iommu",
		       "no IOMMU groups in /sys/kernel/iommu_groups and IOMMU units present (ivhd0) "
		       "but not enabled; the kernel command line has amd_iommu=off");
	assert_non_null(strstr(iopass_report_hint(r, 0), "remove amd_iommu=off"));
	iopass_report_free(r);
	env_close(&e);
}

static void test_host_interrupt_remapping(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_printf(fx, "proc/interrupts", "  0:  28  IO-APIC 2-edge timer\n 24: 0 PCI-MSI 0-edge nvme0q0\n");
	env_open(&e, fx);
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_FAIL);
	assert_finding(r, "no-interrupt-remapping", NULL);
	assert_no_finding(r, "interrupt-remapping");
	iopass_report_free(r);

	/* allow_unsafe_interrupts: works, with a warning */
	fx_printf(fx, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_WARN);
	assert_finding(r, "unsafe-interrupts",
		       "no interrupt remapping (no IR- chips in /proc/interrupts), and "
		       "vfio_iommu_type1 allow_unsafe_interrupts=Y: VFIO works, but a guest can "
		       "forge interrupts to the host");
	iopass_report_free(r);
	env_close(&e);
}

static void test_host_cmdline_warnings(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_printf(fx, "proc/cmdline", "intel_iommu=on pcie_acs_override=downstream,multifunction vfio-pci.ids=10de:1b80,10de:10f0\n");
	fx_printf(fx, "sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "Y\n");
	env_open(&e, fx);
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_WARN);
	assert_finding(r, "acs-override", NULL);
	assert_non_null(strstr(finding(r, "acs-override"), "pcie_acs_override=downstream,multifunction"));
	assert_finding(r, "vfio-pci-ids", NULL);
	assert_finding(r, "noiommu-mode", NULL);
	assert_no_finding(r, "iommu-passthrough");
	iopass_report_free(r);
	env_close(&e);
}

static void test_host_modules_missing(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_unlink(fx, "sys/module/vfio_pci/initstate");
	fx_unlink(fx, "sys/module/vfio_pci");
	fx_unlink(fx, "sys/module/vfio_iommu_type1/initstate");
	fx_unlink(fx, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
	fx_unlink(fx, "sys/module/vfio_iommu_type1/parameters");
	fx_unlink(fx, "sys/module/vfio_iommu_type1");
	env_open(&e, fx);
	assert_int_equal(iopass_check_host(e.ctx, &r), 0);
	assert_finding(r, "no-vfio-pci",
		       "vfio_pci is missing and vfio is loaded for kernel 6.1.0-28-amd64 "
		       "(no module index in /lib/modules for it)");
	assert_finding(r, "no-vfio-iommu-backend", NULL);
	iopass_report_free(r);
	env_close(&e);
}

/* ---- devices ------------------------------------------------------------ */

static void test_gpu(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_workstation());
	/* alone: the audio function keeps the group from being viable, and it is the boot VGA */
	r = CHECK(&e, "0000:01:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "boot-vga", "the firmware's boot display device (boot_vga=1): the host console is on it");
	assert_finding(r, "group-not-viable",
		       "group 1 is viable only when 0000:01:00.1 is attached too (bound to host drivers now)");
	assert_int_equal(iopass_report_needs_count(r), 1);
	assert_string_equal(iopass_report_needs(r, 0), "0000:01:00.1");
	assert_finding(r, "multifunction-no-acs",
		       "shares group 1 with bridge 0000:00:01.0 (pcieport), 0000:01:00.1 (snd_hda_intel): "
		       "the functions of this device have no ACS, so the kernel cannot isolate them from each other");
	assert_finding(r, "no-acs",
		       "shares group 1 with bridge 0000:00:01.0 (pcieport), 0000:01:00.1 (snd_hda_intel) "
		       "because root port 0000:00:01.0 has no ACS capability");
	/* bus reset only, and the audio function is on the same bus */
	assert_finding(r, "reset-bus-only", NULL);
	assert_finding(r, "gpu-companion",
		       "other functions of this card: 0000:01:00.1 (Audio device); guests and drivers expect the whole card");
	iopass_report_free(r);
	env_close(&e);
}

static void test_gpu_secondary(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_printf(fx, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/boot_vga", "0\n");
	env_open(&e, fx);
	/* the audio function alone: needs the GPU */
	r = CHECK(&e, "0000:01:00.1");
	assert_int_equal(iopass_report_verdict(r), IOPASS_NEEDS_GROUP);
	assert_string_equal(iopass_report_needs(r, 0), "0000:01:00.0");
	iopass_report_free(r);
	/* both functions together: ready, no companion hint */
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_int_equal(iopass_report_needs_count(r), 0);
	assert_no_finding(r, "gpu-companion");
	assert_no_finding(r, "group-not-viable");
	iopass_report_free(r);
	env_close(&e);
}

static void test_not_endpoint(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_workstation());
	r = CHECK(&e, "0000:00:01.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_IMPOSSIBLE);
	assert_finding(r, "not-endpoint", NULL);
	iopass_report_free(r);
	env_close(&e);
}

static void test_ready_usb_and_vf(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_workstation());
	r = CHECK(&e, "0000:00:14.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_finding(r, "reset-pm", "reset_method lists pm, tried in this order: pm is power management "
				      "reset (D3hot to D0)");
	assert_int_equal(iopass_report_worst(r), IOPASS_LEVEL_OK);
	iopass_report_free(r);

	/* a VF with no reset_method attribute: FLR, as every VF has */
	r = CHECK(&e, "0000:03:00.3");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_finding(r, "reset-flr", "function level reset (FLR)");
	iopass_report_free(r);

	/* already on vfio-pci: ready, and said so */
	r = CHECK(&e, "0000:03:00.2");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_finding(r, "attached", "bound to vfio-pci already");
	assert_no_finding(r, "group-open");
	iopass_report_free(r);
	env_close(&e);
}

static void test_group_open(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_printf(fx, "proc/4242/comm", "qemu-system-x86\n");
	fx_symlink(fx, "proc/4242/fd/0", "/dev/null");
	fx_symlink(fx, "proc/4242/fd/17", "/dev/vfio/6");
	fx_symlink(fx, "proc/77/fd/3", "/dev/vfio/60");
	env_open(&e, fx);
	r = CHECK(&e, "0000:03:00.2");
	assert_finding(r, "group-open",
		       "group 6 is open by qemu-system-x86 (pid 4242, /dev/vfio/6): a VM is using it");
	iopass_report_free(r);

	/* the iommufd backend: the VM holds the device's cdev, not the group's file */
	fx_unlink(fx, "proc/4242/fd/17");
	fx_symlink(fx, "proc/4242/fd/21", "/dev/vfio/devices/vfio3");
	fx_symlink(fx, "proc/4242/fd/22", "/dev/iommu");
	fx_mkdir(fx, "sys/class/vfio-dev/vfio3/device");
	fx_symlink(fx, "sys/class/vfio-dev/vfio3/device/iommu_group", "../../../../kernel/iommu_groups/6");
	env_refresh(&e);
	r = CHECK(&e, "0000:03:00.2");
	assert_finding(r, "group-open", "group 6 is open by qemu-system-x86 (pid 4242, "
					 "/dev/vfio/devices/vfio3): a VM is using it");
	iopass_report_free(r);
	/* a cdev whose device is gone, or a name that is no cdev's, is no user */
	fx_unlink(fx, "sys/class/vfio-dev/vfio3/device/iommu_group");
	fx_symlink(fx, "proc/4242/fd/23", "/dev/vfio/devices/../6");
	env_refresh(&e);
	r = CHECK(&e, "0000:03:00.2");
	assert_no_finding(r, "group-open");
	iopass_report_free(r);
	env_close(&e);
}

static void test_pf_with_vfs(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_workstation());
	r = CHECK(&e, "0000:03:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "pf-vfs-in-use",
		       "SR-IOV PF with 2 VFs enabled and in use: 0000:03:00.2 (vfio-pci); changing "
		       "the PF's driver destroys them");
	iopass_report_free(r);
	env_close(&e);
}

static void test_nvme_lvm_mounted(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add_block(fx, "0000:02:00.0", "nvme/nvme0", NULL, "nvme0n1", "259:0", NULL);
	fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p1", "259:1", NULL);
	fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p2", "259:2", NULL);
	fx_add_block(fx, NULL, NULL, NULL, "dm-0", "253:0", "vg-root");
	fx_add_block(fx, NULL, NULL, NULL, "dm-1", "253:1", "vg-swap");
	fx_add_holder(fx, "nvme0n1p2", "dm-0");
	fx_add_holder(fx, "nvme0n1p2", "dm-1");
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
		  "23 22 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw\n");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n/dev/dm-1 partition 8388604 0 -2\n");
	env_open(&e, fx);
	r = CHECK(&e, "0000:02:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	const char *m = finding(r, "disk-in-use");
	assert_non_null(m);
	/* readdir order is the file system's: check each part */
	assert_non_null(strstr(m, "nvme0n1p1 is mounted on /boot/efi"));
	assert_non_null(strstr(m, "dm-0 (vg-root), mounted on /"));
	assert_non_null(strstr(m, "dm-1 (vg-swap), in use as swap"));
	assert_non_null(strstr(m, "nvme0n1p2 is held by "));
	iopass_report_free(r);

	/* nothing mounted, but an md array holds the disk: still in use */
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	fx_printf(fx, "proc/swaps", "%s", "");
	fx_unlink(fx, "sys/devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/holders/dm-0");
	fx_unlink(fx, "sys/devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/holders/dm-1");
	fx_add_block(fx, NULL, NULL, NULL, "md0", "9:0", NULL);
	fx_add_holder(fx, "nvme0n1p2", "md0");
	env_refresh(&e);
	r = CHECK(&e, "0000:02:00.0");
	assert_finding(r, "disk-in-use", "nvme0n1p2 is held by md0");
	iopass_report_free(r);

	/* nothing at all: the NVMe is ready (FLR) */
	fx_unlink(fx, "sys/devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/holders/md0");
	env_refresh(&e);
	r = CHECK(&e, "0000:02:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_finding(r, "reset-flr", "reset_method lists flr bus, tried in this order: flr is function "
				       "level reset (FLR); bus is secondary bus reset (alone on its bus)");
	iopass_report_free(r);
	env_close(&e);
}

/*
 * Every way from a PCI function to something mounted or active: a host with two
 * NVMe drives (02:00.0 nvme0, 06:00.0 nvme1) and, scene by scene, what is on them.
 */
static struct fx *fx_two_nvme(void)
{
	struct fx *fx = fx_workstation();

	fx_add(fx, &FX_DEV(.bdf = "0000:06:00.0", .vendor = 0x144d, .device = 0xa808,
			   .class = 0x010802, .driver = "nvme", .group = 40,
			   .pcie = FX_PCIE_ENDPOINT, .flr = true));
	fx_add_block(fx, "0000:02:00.0", "nvme/nvme0", NULL, "nvme0n1", "259:0", NULL);
	fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p1", "259:1", NULL);
	fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p2", "259:2", NULL);
	fx_add_block(fx, "0000:06:00.0", "nvme/nvme1", NULL, "nvme1n1", "259:3", NULL);
	fx_add_block(fx, NULL, NULL, "nvme1n1", "nvme1n1p1", "259:4", NULL);
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n");
	return fx;
}

/* The disk-in-use message of bdf, or NULL when the device is not in use. */
static char *disk_use(struct fx *fx, const char *bdf)
{
	struct env e;
	struct iopass_report *r;
	const char *m;
	char *copy;

	env_open(&e, fx);
	r = check_set(&e, (const char *const[]){ bdf, NULL });
	m = finding(r, "disk-in-use");
	copy = m ? strdup(m) : NULL;
	if (m)
		assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	iopass_report_free(r);
	iopass_devlist_free(e.list); /* the tree stays: env_close() would free it */
	iopass_ctx_free(e.ctx);
	return copy;
}

#define assert_disk_use(fx, bdf, expected)                                                     \
	do {                                                                                   \
		char *m_ = disk_use((fx), (bdf));                                              \
		assert_text_equal(m_, (expected));                                             \
		free(m_);                                                                      \
	} while (0)
#define assert_disk_free(fx, bdf)                                                              \
	do {                                                                                   \
		char *m_ = disk_use((fx), (bdf));                                              \
		if (m_)                                                                        \
			fprintf(stderr, "unexpected: %s\n", m_);                               \
		assert_null(m_);                                                               \
	} while (0)

static void test_storage_btrfs(void **state)
{
	struct fx *fx = fx_two_nvme();

	(void)state;
	/* a btrfs root: its st_dev is anonymous (0:33), no holder; seen in PID 1's namespace
	 * only (iopass in a private one, as a unit or udev may run it) */
	fx_mkdir(fx, "sys/fs/btrfs/features");
	fx_mkdir(fx, "sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e/devices");
	fx_symlink(fx, "sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e/devices/nvme0n1p2",
		   "../../../../devices/pci0000:00/0000:00:1b.0/0000:02:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
	fx_printf(fx, "proc/1/mountinfo",
		  "26 1 0:33 /@ / rw,relatime shared:1 - btrfs /dev/nvme0n1p2 rw,ssd,space_cache=v2,subvol=/@\n"
		  "27 26 0:33 /@home /home rw,relatime shared:2 - btrfs /dev/nvme0n1p2 rw,subvol=/@home\n"
		  "28 26 259:1 / /boot/efi rw,relatime shared:3 - vfat /dev/nvme0n1p1 rw\n");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p1 is mounted on /boot/efi; "
					    "nvme0n1p2 is part of the btrfs file system mounted on /");
	assert_disk_free(fx, "0000:06:00.0");

	/* raid1 over both drives: the mount names one device, the file system has two */
	fx_symlink(fx, "sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e/devices/nvme1n1p1",
		   "../../../../devices/pci0000:00/0000:06:00.0/nvme/nvme1/nvme1n1/nvme1n1p1");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the btrfs file system mounted on /");

	/* named through a /dev/disk link, in this process's namespace this time */
	fx_unlink(fx, "proc/1/mountinfo");
	fx_mkdir(fx, "dev/disk/by-uuid");
	fx_symlink(fx, "dev/disk/by-uuid/5c1e2f5a", "../../nvme1n1p1");
	fx_printf(fx, "proc/self/mountinfo",
		  "40 1 0:45 / /srv rw,relatime - btrfs /dev/disk/by-uuid/5c1e2f5a rw\n");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is part of the btrfs file system mounted on /srv");

	/* no mount of it visible, but the kernel still has it: its sysfs directory lives as
	 * long as the file system is mounted (another namespace, a lazy unmount) */
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is part of a btrfs file system that is still mounted "
					    "(/sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e), though no mount of it is visible here");
	/* ext4 and xfs keep /sys/fs/TYPE/DEVICE the same way */
	fx_mkdir(fx, "sys/fs/xfs/nvme1n1p1");
	fx_unlink(fx, "sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e/devices/nvme1n1p1");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is holding an xfs file system that is still mounted "
					    "(/sys/fs/xfs/nvme1n1p1), though no mount of it is visible here");
	/* unmounted for good: nothing left */
	fx_unlink(fx, "sys/fs/btrfs/5c1e2f5a-0b7d-4e3a-9d1a-2f3c4b5a6d7e/devices/nvme0n1p2");
	fx_unlink(fx, "sys/fs/xfs/nvme1n1p1");
	assert_disk_free(fx, "0000:02:00.0");
	assert_disk_free(fx, "0000:06:00.0");
	fx_free(fx);
}

/* ZFS: no holders, no device in the mount source; udev's tags and the imported pools say it. */
static void test_storage_zfs(void **state)
{
	struct fx *fx = fx_two_nvme();

	(void)state;
	fx_printf(fx, "proc/self/mountinfo", "22 1 0:30 / / rw - zfs rpool/ROOT/debian rw,xattr,posixacl\n");
	fx_printf(fx, "run/udev/data/b259:2", "S:disk/by-partuuid/x\nE:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=rpool\n"
					      "E:ID_FS_UUID=123\n");
	fx_printf(fx, "run/udev/data/b259:4", "E:ID_FS_TYPE=zfs_member\nE:ID_FS_LABEL=tank\n");
	fx_mkdir(fx, "proc/spl/kstat/zfs/rpool");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is part of the imported ZFS pool rpool");
	/* a member of a pool that is not imported is free */
	assert_disk_free(fx, "0000:06:00.0");
	fx_mkdir(fx, "proc/spl/kstat/zfs/tank");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the imported ZFS pool tank");
	/* without the zfs module nothing is imported */
	fx_unlink(fx, "proc/spl/kstat/zfs/tank");
	fx_unlink(fx, "proc/spl/kstat/zfs/rpool");
	fx_unlink(fx, "proc/spl/kstat/zfs");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	assert_disk_free(fx, "0000:02:00.0");
	fx_free(fx);
}

static void test_storage_swapfile_overlay_loop(void **state)
{
	struct fx *fx = fx_two_nvme();

	(void)state;
	/* a swap file (its name with a blank, escaped by the kernel) on /var, on the 2nd drive;
	 * /var2 must not count as under /var */
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n"
		  "23 22 259:4 / /var rw,relatime - xfs /dev/nvme1n1p1 rw\n"
		  "24 22 0:50 / /var2 rw,relatime - nfs4 srv:/export rw,addr=192.0.2.1\n");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n"
				    "/var/swap\\040file file 4194300 0 -2\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is mounted on /var, holding the active swap file /var/swap file");
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n"
		  "24 22 0:50 / /var2 rw,relatime - nfs4 srv:/export rw,addr=192.0.2.1\n");
	/* /var not mounted: the swap file is on / (nvme0n1p2), and nvme1 is free */
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is mounted on /, holding the active swap file /var/swap file");
	assert_disk_free(fx, "0000:06:00.0");
	fx_printf(fx, "proc/self/mountinfo",
		  "23 1 259:4 / /var rw,relatime - xfs /dev/nvme1n1p1 rw\n"
		  "24 1 0:50 / /var2 rw,relatime - nfs4 srv:/export rw,addr=192.0.2.1\n");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n"
				    "/var2/swap file 4194300 0 -2\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is mounted on /var");
	/* /var2 is not under /var: a swap file there is on / */
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n"
		  "23 22 259:4 / /var rw,relatime - xfs /dev/nvme1n1p1 rw\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is mounted on /var");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is mounted on /, holding the active swap file /var2/swap");
	/* the swap file alone, where nothing is mounted but the file system under it */
	fx_printf(fx, "proc/self/mountinfo", "23 1 259:4 / /var\\040lib rw - xfs /dev/nvme1n1p1 rw\n");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n"
				    "/var\\040lib/swapfile file 4194300 0 -2\n");
	{
		char *m = disk_use(fx, "0000:06:00.0");

		assert_non_null(m);
		assert_text_equal(m, "nvme1n1p1 is mounted on /var lib, holding the active swap file /var lib/swapfile");
		free(m);
	}
	/* swap file on a btrfs (anonymous device): through /sys/fs/btrfs */
	fx_mkdir(fx, "sys/fs/btrfs/aaaa-bbbb/devices");
	fx_symlink(fx, "sys/fs/btrfs/aaaa-bbbb/devices/nvme1n1p1", "../../../../nvme1n1p1");
	fx_printf(fx, "proc/1/mountinfo", "30 1 0:40 / /swap rw - btrfs /dev/nvme1n1p1 rw\n");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n/swap/file file 4194300 0 -2\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the btrfs file system mounted on /swap, "
					    "holding the active swap file /swap/file");
	fx_printf(fx, "proc/1/mountinfo", "%s", "");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");

	/* an overlay (a container's root) whose upper layer lives on the 2nd drive, which is
	 * mounted nowhere else as such: only the layer's mount counts */
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n");
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n"
		  "23 22 259:4 /containers /srv/c rw - xfs /dev/nvme1n1p1 rw\n"
		  "60 22 0:70 / /run/c1/merged rw - overlay overlay rw,lowerdir=/usr/share/img\\:1:/opt/base,upperdir=/srv/c/up,workdir=/srv/c/work\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is mounted on /srv/c, holding a layer of the overlay mounted on /run/c1/merged");
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n"
		  "60 22 0:70 / /run/c1/merged rw - overlay overlay rw,lowerdir=/srv/c/low,upperdir=/tmp/up,workdir=/tmp/work\n");
	/* the lower layer on / : nvme0n1p2, as the root already is */
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p2 is mounted on /, holding a layer of the overlay mounted on /run/c1/merged");
	/* the layers' own mount seen only through the overlay: mounted in PID 1's namespace */
	fx_printf(fx, "proc/self/mountinfo",
		  "60 1 0:70 / /run/c1/merged rw - overlay overlay rw,lowerdir=/data/low:/data/low2,upperdir=/data/up,workdir=/data/work\n");
	fx_printf(fx, "proc/1/mountinfo", "23 1 259:4 / /data rw - xfs /dev/nvme1n1p1 rw\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is mounted on /data, holding a layer of the overlay mounted on /run/c1/merged");

	/* bcachefs over both drives: its source names each device */
	fx_printf(fx, "proc/1/mountinfo", "%s", "");
	fx_printf(fx, "proc/self/mountinfo",
		  "23 1 0:81 / /var/lib rw - bcachefs /dev/nvme1n1p1:/dev/nvme0n1p1 rw\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the bcachefs file system mounted on /var/lib");
	assert_disk_use(fx, "0000:02:00.0", "nvme0n1p1 is part of the bcachefs file system mounted on /var/lib");
	fx_free(fx);
}

/* The loop path by itself: a loop device in use, its file on a disk nothing else uses. */
static void test_storage_loop(void **state)
{
	struct fx *fx = fx_two_nvme();

	(void)state;
	fx_add_block(fx, NULL, NULL, NULL, "loop3", "7:3", NULL);
	fx_printf(fx, "sys/devices/virtual/block/loop3/loop/backing_file", "/images/vm.img\n");
	/* the drive's file system is mounted in a namespace iopass cannot see: only the
	 * loop device's backing file ties it to the drive (by a mount seen here) */
	fx_printf(fx, "proc/self/mountinfo",
		  "22 1 7:3 / /mnt rw - ext4 /dev/loop3 rw\n"
		  "23 1 0:90 / /images rw - bcachefs /dev/nvme1n1p1 rw\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the bcachefs file system mounted on /images, "
					    "holding /images/vm.img, the file behind loop3 (mounted on /mnt)");
	/* swap on the loop device, its file on /images: the loop reason carries it */
	fx_printf(fx, "proc/self/mountinfo", "23 1 0:90 / /images rw - bcachefs /dev/nvme1n1p1 rw\n");
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n/dev/loop3 partition 1000 0 -2\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme1n1p1 is part of the bcachefs file system mounted on /images, "
					    "holding /images/vm.img, the file behind loop3 (in use as swap)");
	/* the loop device unused: the drive is used only by /images itself */
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	assert_disk_free(fx, "0000:06:00.0");
	fx_free(fx);
}

/* NVMe native multipath: one namespace head under the subsystem, a path under each controller. */
static void test_storage_nvme_multipath(void **state)
{
	struct fx *fx = fx_workstation();

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:06:00.0", .vendor = 0x144d, .device = 0xa824,
			   .class = 0x010802, .driver = "nvme", .group = 40, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:06:00.1", .vendor = 0x144d, .device = 0xa824,
			   .class = 0x010802, .driver = "nvme", .group = 41, .pcie = FX_PCIE_ENDPOINT));
	fx_add_block(fx, "0000:06:00.0", "nvme/nvme0", NULL, "nvme0c0n1", "0:0", NULL);
	fx_add_block(fx, "0000:06:00.1", "nvme/nvme1", NULL, "nvme0c1n1", "0:0", NULL);
	fx_add_block(fx, NULL, NULL, NULL, "nvme0n1", "259:0", NULL);
	fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p1", "259:1", NULL);
	fx_printf(fx, "proc/swaps", "Filename Type Size Used Priority\n");
	fx_printf(fx, "proc/self/mountinfo", "22 1 259:1 / /data rw - xfs /dev/nvme0n1p1 rw\n");
	assert_disk_use(fx, "0000:06:00.0", "nvme0c0n1 leads to nvme0n1, and nvme0n1p1 is mounted on /data");
	assert_disk_use(fx, "0000:06:00.1", "nvme0c1n1 leads to nvme0n1, and nvme0n1p1 is mounted on /data");
	fx_printf(fx, "proc/self/mountinfo", "%s", "");
	assert_disk_free(fx, "0000:06:00.0");
	fx_free(fx);
}

static struct fx *fx_nics(void)
{
	struct fx *fx = fx_workstation();

	fx_add(fx, &FX_DEV(.bdf = "0000:00:1f.6", .vendor = 0x8086, .device = 0x15bc,
			   .class = 0x020000, .driver = "e1000e", .group = 20,
			   .pcie = FX_PCIE_RCIEP, .flr = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1f.7", .vendor = 0x8086, .device = 0x15bc,
			   .class = 0x020000, .driver = "e1000e", .group = 21,
			   .pcie = FX_PCIE_RCIEP, .flr = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1e.0", .vendor = 0x8086, .device = 0x15bc,
			   .class = 0x020000, .driver = "e1000e", .group = 22,
			   .pcie = FX_PCIE_RCIEP, .flr = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1e.1", .vendor = 0x8086, .device = 0x15bc,
			   .class = 0x020000, .driver = "e1000e", .group = 23,
			   .pcie = FX_PCIE_RCIEP, .flr = true));
	fx_add_net(fx, "0000:00:1f.6", "eno1", true);
	fx_add_net(fx, "0000:00:1f.7", "eno2", false);
	fx_add_net_upper(fx, "eno2", "bond0", true);
	fx_add_net_upper(fx, "bond0", "br0", true);
	fx_add_net(fx, "0000:00:1e.0", "enp0s30", false);
	fx_add_net(fx, "0000:00:1e.1", "v6only", true);
	fx_printf(fx, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
		  "eno1\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
		  "br0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
	fx_printf(fx, "proc/net/ipv6_route",
		  "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   enp0s30\n"
		  "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001    v6only\n");
	return fx;
}

static void test_nics(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_nics());
	r = CHECK(&e, "0000:00:1f.6");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "nic-in-use", "eno1 is up and carries the default route");
	iopass_report_free(r);

	r = CHECK(&e, "0000:00:1f.7");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "nic-in-use",
		       "eno2 is under bond0, and bond0 is up; bond0 is under br0, and br0 is up and "
		       "carries the default route");
	iopass_report_free(r);

	/* down, only a link-local IPv6 route: not in use */
	r = CHECK(&e, "0000:00:1e.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_no_finding(r, "nic-in-use");
	iopass_report_free(r);

	r = CHECK(&e, "0000:00:1e.1");
	assert_finding(r, "nic-in-use", "v6only is up and carries routes");
	iopass_report_free(r);
	env_close(&e);
}

/*
 * Viability follows the kernel's DMA ownership: a root port on pcieport (which
 * manages its own DMA) leaves the group viable; a bridge on another driver does not.
 */
static void test_bridge_drivers(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1e.0", .vendor = 0x8086, .device = 0x244e,
			   .class = 0x060401, .driver = "shpchp", .group = 50));
	fx_add(fx, &FX_DEV(.bdf = "0000:07:00.0", .vendor = 0x8086, .device = 0x10d3,
			   .class = 0x020000, .parent = "0000:00:1e.0", .group = 50));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.0", .vendor = 0x8086, .device = 0x244e,
			   .class = 0x060400, .group = 51));
	fx_add(fx, &FX_DEV(.bdf = "0000:08:00.0", .vendor = 0x8086, .device = 0x10d3,
			   .class = 0x020000, .parent = "0000:00:1d.0", .group = 51));
	env_open(&e, fx);
	/* the NVMe shares group 3 with its root port on pcieport: ready */
	r = CHECK(&e, "0000:02:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_no_finding(r, "group-not-viable");
	iopass_report_free(r);
	/* a bridge on shpchp: not viable, whatever is attached */
	r = CHECK(&e, "0000:07:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "group-not-viable",
		       "bridge 0000:00:1e.0 in group 50 is bound to shpchp, which may not share an IOMMU "
		       "group with a VFIO device (only drivers that manage their own DMA, as pcieport and "
		       "pci-stub, may)");
	iopass_report_free(r);
	/* an unbound bridge: viable */
	r = CHECK(&e, "0000:08:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	iopass_report_free(r);
	env_close(&e);
}

/* The PCH's core functions share a group with its audio: none of them is the guest's to take. */
static struct fx *fx_pch(void)
{
	struct fx *fx = fx_workstation();
	static const struct {
		const char *bdf, *driver;
		uint16_t device;
		uint32_t class;
	} fns[] = {
		{ "0000:00:1f.0", "lpc_ich", 0xa305, 0x060100 },    /* LPC/eSPI */
		{ "0000:00:1f.2", NULL, 0xa321, 0x058000 },         /* PMC */
		{ "0000:00:1f.3", "snd_hda_intel", 0xa348, 0x040300 },
		{ "0000:00:1f.4", "i801_smbus", 0xa323, 0x0c0500 }, /* SMBus */
		{ "0000:00:1f.5", "intel-spi", 0xa324, 0x0c8000 },  /* SPI flash */
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		fx_add(fx, &FX_DEV(.bdf = fns[i].bdf, .vendor = 0x8086, .device = fns[i].device,
				   .class = fns[i].class, .driver = fns[i].driver, .group = 12,
				   .multifunction = true));
	return fx;
}

static void test_chipset_core(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_pch());
	r = CHECK(&e, "0000:00:1f.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "chipset-core", "is the chipset's ISA/LPC (or eSPI) bridge: the TPM, the "
					  "super-I/O and the embedded controller sit behind it; the host needs it");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:1f.5");
	assert_finding(r, "chipset-core", "is the chipset's SPI controller: the firmware's flash is on it; "
					  "the host needs it");
	iopass_report_free(r);
	/* the audio function: its group would take the platform with it */
	r = CHECK(&e, "0000:00:1f.3");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	{
		const char *m;
		size_t n = 0;

		for (size_t i = 0; i < iopass_report_count(r); i++)
			if (strcmp(iopass_report_code(r, i), "chipset-core") == 0) {
				m = iopass_report_message(r, i);
				assert_non_null(strstr(m, "group member 0000:00:1f."));
				n++;
			}
		assert_int_equal(n, 3); /* LPC, SMBus, SPI; the unbound PMC does not keep the group */
	}
	iopass_report_free(r);
	/* the whole group as a set: still refused */
	r = CHECK(&e, "0000:00:1f.3", "0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.4", "0000:00:1f.5");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_non_null(strstr(finding(r, "chipset-core"), "group member 0000:00:1f."));
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:1f.2");
	assert_finding(r, "chipset-core", "is the chipset's power management controller; the host needs it");
	iopass_report_free(r);
	/* the host bridge: never */
	r = CHECK(&e, "0000:00:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_IMPOSSIBLE);
	assert_finding(r, "host-bridge", "is the host bridge, the CPU's link to every other device: it "
					 "cannot be passed through");
	iopass_report_free(r);
	env_close(&e);
}

/* Processes that use a device through its host driver: a display server, a sound server. */
static void test_device_open(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add_class_node(fx, "0000:01:00.0", "drm", "drm", "card1", "dri/card1");
	fx_add_class_node(fx, "0000:01:00.0", "drm", "drm", "renderD128", "dri/renderD128");
	fx_add_class_node(fx, "0000:01:00.1", "sound/card1", "sound", "pcmC1D3p", "snd/pcmC1D3p");
	fx_add_class_node(fx, "0000:01:00.1", "sound/card1", "sound", "controlC1", "snd/controlC1");
	fx_printf(fx, "proc/812/comm", "Xorg\n");
	fx_symlink(fx, "proc/812/fd/0", "/dev/null");
	fx_symlink(fx, "proc/812/fd/9", "/dev/dri/card1");
	fx_symlink(fx, "proc/812/fd/10", "/dev/dri/renderD128");
	fx_printf(fx, "proc/1540/comm", "gnome-shell\n");
	fx_symlink(fx, "proc/1540/fd/21", "/dev/dri/renderD128");
	fx_printf(fx, "proc/900/comm", "pipewire\n");
	fx_symlink(fx, "proc/900/fd/33", "/dev/snd/controlC1");
	/* the same file names on another card are not this one's */
	fx_symlink(fx, "proc/900/fd/34", "/dev/snd/controlC0");
	env_open(&e, fx);
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "device-open", "/dev/dri/card1 is open by Xorg (pid 812); /dev/dri/renderD128 "
					 "is open by Xorg (pid 812), gnome-shell (pid 1540)");
	iopass_report_free(r);
	r = CHECK(&e, "0000:01:00.1", "0000:01:00.0");
	assert_finding(r, "device-open", "/dev/snd/controlC1 is open by pipewire (pid 900)");
	iopass_report_free(r);
	env_close(&e);

	/* NVIDIA's own nodes: /dev/nvidiaN, N the GPU's minor in /proc/driver/nvidia */
	fx = fx_workstation();
	fx_printf(fx, "proc/driver/nvidia/gpus/0000:01:00.0/information",
		  "Model: \t\t NVIDIA GeForce GTX 1080\nIRQ:   \t\t 130\nDevice Minor: \t 1\n");
	fx_printf(fx, "proc/700/comm", "nvidia-persiste\n");
	fx_symlink(fx, "proc/700/fd/3", "/dev/nvidia1");
	fx_symlink(fx, "proc/700/fd/4", "/dev/nvidiactl");
	fx_printf(fx, "proc/701/comm", "other\n");
	fx_symlink(fx, "proc/701/fd/3", "/dev/nvidia0");
	env_open(&e, fx);
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_finding(r, "device-open", "/dev/nvidia1 is open by nvidia-persiste (pid 700)");
	iopass_report_free(r);
	env_close(&e);

	/* nobody holds them: the card is free of users */
	fx = fx_workstation();
	fx_add_class_node(fx, "0000:01:00.0", "drm", "drm", "card1", "dri/card1");
	fx_printf(fx, "proc/900/comm", "pipewire\n");
	fx_symlink(fx, "proc/900/fd/33", "/dev/dri/card0");
	env_open(&e, fx);
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_no_finding(r, "device-open");
	iopass_report_free(r);
	env_close(&e);
}

/*
 * Storage reached through a NIC: a diskless host's NFS root, an iSCSI connection and
 * an NVMe/TCP controller, each found by routing its server's address (the longest
 * prefix, then the lowest metric) to an interface of the NIC or one stacked on it.
 */
static void test_nic_storage(void **state)
{
	struct fx *fx = fx_nics();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_printf(fx, "proc/self/mountinfo",
		  "30 1 0:60 / / rw,relatime - nfs4 srv:/root rw,vers=4.2,clientaddr=10.9.0.5,"
		  "addr=192.168.2.7\n"
		  "31 30 0:61 / /mnt/far rw - cifs //far/share rw,addr=10.1.1.1\n");
	fx_printf(fx, "sys/class/iscsi_connection/connection1:0/persistent_address", "10.9.8.7\n");
	fx_printf(fx, "sys/class/nvme/nvme5/transport", "tcp\n");
	fx_printf(fx, "sys/class/nvme/nvme5/address", "traddr=192.168.2.9,trsvcid=4420\n");
	fx_printf(fx, "sys/class/nvme/nvme6/transport", "pcie\n");
	env_open(&e, fx);
	/* 192.168.2.0/24 is on eno1; 10.x goes by the default route of lowest metric: br0 */
	r = CHECK(&e, "0000:00:1f.6");
	assert_finding(r, "nic-carries-storage",
		       "eno1 carries the nfs4 file system mounted on / (server 192.168.2.7); eno1 carries "
		       "the NVMe over fabrics controller nvme5 (192.168.2.9)");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:1f.7");
	assert_finding(r, "nic-carries-storage",
		       "br0 carries the cifs file system mounted on /mnt/far (server 10.1.1.1); br0 carries "
		       "the iSCSI connection connection1:0 to 10.9.8.7");
	iopass_report_free(r);
	/* a NIC that routes none of them */
	r = CHECK(&e, "0000:00:1e.0");
	assert_no_finding(r, "nic-carries-storage");
	iopass_report_free(r);
	env_close(&e);
}

static size_t count_substr(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/*
 * The hints say how to fix the cause; what --force does is the CLI's to say, on a
 * fail it overrides (the NIC with the default route), not on one it cannot (the
 * host bridge); -J has the hint alone and the effect.
 */
static void test_hint_force_text(void **state)
{
	struct fx *fx = fx_nics();
	struct run r;

	(void)state;
	RUN(&r, fx_root(fx), "check", "00:1f.6", "00:00.0");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "    fail  eno1 is up and carries the default route\n"
				      "          fix: take the interface down and move its addresses and "
				      "routes first; or attach with --force\n"));
	assert_non_null(strstr(r.out, "0000:00:00.0 impossible"));
	assert_int_equal(count_substr(r.out, "--force"), 1);
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "-J", "00:1f.6");
	assert_non_null(strstr(r.out, "\"effect\": \"unless-forced\",\n"));
	assert_non_null(strstr(r.out, "\"hint\": \"take the interface down and move its addresses and "
				      "routes first\"\n"));
	assert_null(strstr(r.out, "--force"));
	run_free(&r);
	fx_free(fx);
}

/* IPv4 routes other than the default one count too; link-local ones do not. */
static void test_nic_routes(void **state)
{
	struct fx *fx = fx_nics();
	struct env e;
	struct iopass_report *r;

	(void)state;
	/* eno1 down with a static 10.0.0.0/8 route, eno2's bond with a host route, and the
	 * link-local 169.254.0.0/16 on enp0s30, which avahi puts on any interface */
	fx_printf(fx, "sys/class/net/eno1/flags", "0x1002\n");
	fx_printf(fx, "sys/class/net/bond0/flags", "0x1002\n");
	fx_printf(fx, "sys/class/net/br0/flags", "0x1002\n");
	fx_printf(fx, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eno1\t0000000A\t0102A8C0\t0003\t0\t0\t100\t000000FF\t0\t0\t0\n"
		  "bond0\t0A0200C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
		  "enp0s30\t0000FEA9\t00000000\t0001\t0\t0\t1000\t0000FFFF\t0\t0\t0\n");
	env_open(&e, fx);
	r = CHECK(&e, "0000:00:1f.6");
	assert_finding(r, "nic-in-use", "eno1 carries routes");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:1f.7");
	assert_finding(r, "nic-in-use", "eno2 is under bond0, and bond0 carries routes");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:1e.0");
	assert_no_finding(r, "nic-in-use");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	iopass_report_free(r);
	env_close(&e);
}

/* A VM's root over virtio-9p, and a virtio-net interface nested under virtioN/. */
static void test_virtio(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;
	char *dir;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:05.0", .vendor = 0x1af4, .device = 0x1009, .class = 0x000200,
			   .driver = "virtio-pci", .group = 60, .pcie = FX_PCIE_RCIEP));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:06.0", .vendor = 0x1af4, .device = 0x1041, .class = 0x020000,
			   .driver = "virtio-pci", .group = 61, .pcie = FX_PCIE_RCIEP));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:07.0", .vendor = 0x1af4, .device = 0x1009, .class = 0x000200,
			   .driver = "virtio-pci", .group = 62, .pcie = FX_PCIE_RCIEP));
	assert_true(asprintf(&dir, "%s/virtio0/mount_tag", fx_dev_dir(fx, "0000:00:05.0")) > 0);
	fx_printf(fx, dir, "hostroot");
	free(dir);
	assert_true(asprintf(&dir, "%s/virtio2/mount_tag", fx_dev_dir(fx, "0000:00:07.0")) > 0);
	fx_printf(fx, dir, "unused");
	free(dir);
	fx_printf(fx, "proc/self/mountinfo",
		  "20 1 0:24 / / ro,relatime shared:1 - 9p hostroot ro,sync,access=client,trans=virtio\n");
	/* virtio-net: the interface sits under virtio1/, not directly under the PCI device */
	assert_true(asprintf(&dir, "%s/virtio1/net/eth0", fx_dev_dir(fx, "0000:00:06.0")) > 0);
	fx_mkdir(fx, dir);
	fx_printf(fx, "proc/net/route", "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
					  "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\n");
	char *flags;

	assert_true(asprintf(&flags, "%s/flags", dir) > 0);
	fx_printf(fx, flags, "0x1003\n");
	free(flags);
	char *rel = fx_relpath("sys/class/net", dir);

	fx_symlink(fx, "sys/class/net/eth0", rel);
	free(rel);
	free(dir);
	env_open(&e, fx);
	r = CHECK(&e, "0000:00:05.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "fs-in-use", "9p share 'hostroot' is mounted on /");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:06.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "nic-in-use", "eth0 is up and carries the default route");
	iopass_report_free(r);
	r = CHECK(&e, "0000:00:07.0");
	assert_no_finding(r, "fs-in-use");
	iopass_report_free(r);
	env_close(&e);
}

static void test_console_fb(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add_fb(fx, "0000:01:00.0", "fb0");
	env_open(&e, fx);
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_int_equal(iopass_report_verdict(r), IOPASS_UNSAFE);
	assert_finding(r, "console", "drives framebuffer fb0, the host console");
	assert_finding(r, "boot-vga", NULL);
	iopass_report_free(r);
	env_close(&e);
}

/* A switch with ACS on one downstream port, none on another, RR off on a third; a PCI bridge. */
static struct fx *fx_switch(void)
{
	struct fx *fx = fx_workstation();

	fx_add(fx, &FX_DEV(.bdf = "0000:05:00.0", .vendor = 0x10b5, .device = 0x8747, .class = 0x060400,
			   .parent = "0000:00:1c.0", .driver = "pcieport", .group = 30, .pcie = FX_PCIE_UPSTREAM));
	fx_add(fx, &FX_DEV(.bdf = "0000:06:00.0", .vendor = 0x10b5, .device = 0x8747, .class = 0x060400,
			   .parent = "0000:05:00.0", .driver = "pcieport", .group = 31,
			   .pcie = FX_PCIE_DOWNSTREAM, .acs = true, .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:07:00.0", .vendor = 0x144d, .device = 0xa808, .class = 0x010802,
			   .parent = "0000:06:00.0", .driver = "nvme", .group = 32, .pcie = FX_PCIE_ENDPOINT,
			   .flr = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:06:01.0", .vendor = 0x10b5, .device = 0x8747, .class = 0x060400,
			   .parent = "0000:05:00.0", .driver = "pcieport", .group = 33, .pcie = FX_PCIE_DOWNSTREAM));
	fx_add(fx, &FX_DEV(.bdf = "0000:08:00.0", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:06:01.0", .group = 33, .pcie = FX_PCIE_ENDPOINT, .flr = true,
			   .multifunction = true, .acs = true, .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:08:00.1", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:06:01.0", .driver = "ixgbe", .group = 33, .pcie = FX_PCIE_ENDPOINT,
			   .flr = true, .multifunction = true, .acs = true, .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:06:02.0", .vendor = 0x10b5, .device = 0x8747, .class = 0x060400,
			   .parent = "0000:05:00.0", .driver = "pcieport", .group = 34,
			   .pcie = FX_PCIE_DOWNSTREAM, .acs = true, .acs_ctrl = FX_ACS_ALL & ~0x0004));
	fx_add(fx, &FX_DEV(.bdf = "0000:09:00.0", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:06:02.0", .group = 34, .pcie = FX_PCIE_ENDPOINT, .flr = true,
			   .multifunction = true, .acs = true, .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:09:00.1", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:06:02.0", .group = 34, .pcie = FX_PCIE_ENDPOINT, .flr = true,
			   .multifunction = true, .acs = true, .acs_ctrl = FX_ACS_ALL));
	/* a PCIe-to-PCI bridge with two conventional cards */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.0", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 40, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:0a:00.0", .vendor = 0x104c, .device = 0x8240, .class = 0x060400,
			   .parent = "0000:00:1d.0", .group = 41, .pcie = FX_PCIE_PCI_BRIDGE));
	fx_add(fx, &FX_DEV(.bdf = "0000:0b:01.0", .vendor = 0x1102, .device = 0x0002, .class = 0x040100,
			   .parent = "0000:0a:00.0", .group = 41));
	fx_add(fx, &FX_DEV(.bdf = "0000:0b:02.0", .vendor = 0x8086, .device = 0x100e, .class = 0x020000,
			   .parent = "0000:0a:00.0", .driver = "e1000", .group = 41));
	return fx;
}

/*
 * Ports the kernel's ACS quirks and rules treat otherwise than a plain reading of
 * their ACS capability: a Sunrise Point PCH root port (ACS control at +8), a
 * Wellsburg (X99) PCH root port without ACS, a port whose ACS offers no Upstream
 * Forwarding, a PCI-X-to-PCIe bridge, and an I350 whose functions have no ACS.
 */
static struct fx *fx_acs_quirks(void)
{
	struct fx *fx = fx_workstation();

	/* Skylake desktop: a GPU behind PCH root port #1 (8086:a110); the control reads 0 at +6 */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1c.4", .vendor = 0x8086, .device = 0xa114, .class = 0x060400,
			   .driver = "pcieport", .group = 50, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = 0, .acs_ctrl_at8 = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:0c:00.0", .vendor = 0x10de, .device = 0x1c82, .class = 0x030000,
			   .parent = "0000:00:1c.4", .group = 50, .pcie = FX_PCIE_ENDPOINT,
			   .multifunction = true, .acs = false));
	fx_add(fx, &FX_DEV(.bdf = "0000:0c:00.1", .vendor = 0x10de, .device = 0x0fb9, .class = 0x040300,
			   .parent = "0000:00:1c.4", .group = 50, .pcie = FX_PCIE_ENDPOINT,
			   .multifunction = true));
	/* the same board's Sunrise Point port with its ACS really off */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1c.5", .vendor = 0x8086, .device = 0xa115, .class = 0x060400,
			   .driver = "pcieport", .group = 51, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL, .acs_ctrl_at8 = 0));
	fx_add(fx, &FX_DEV(.bdf = "0000:0d:00.0", .vendor = 0x8086, .device = 0x1539, .class = 0x020000,
			   .parent = "0000:00:1c.5", .group = 51, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1c.6", .vendor = 0x8086, .device = 0x1901, .class = 0x088000,
			   .group = 51, .pcie = FX_PCIE_RCIEP));
	/* X99: a NIC behind a Wellsburg PCH root port (8086:8d10), no ACS capability */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1c.0", .vendor = 0x8086, .device = 0x8d10, .class = 0x060400,
			   .driver = "pcieport", .group = 52, .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:0e:00.0", .vendor = 0x8086, .device = 0x1533, .class = 0x020000,
			   .parent = "0000:00:1c.0", .group = 52, .pcie = FX_PCIE_ENDPOINT));
	/* a downstream port whose ACS offers SV, RR and CR only, all on: it isolates */
	fx_add(fx, &FX_DEV(.bdf = "0000:0f:00.0", .vendor = 0x1b21, .device = 0x2824, .class = 0x060400,
			   .parent = "0000:00:1c.0", .driver = "pcieport", .group = 52,
			   .pcie = FX_PCIE_DOWNSTREAM, .acs = true, .acs_cap = 0x000d, .acs_ctrl = 0x000d));
	fx_add(fx, &FX_DEV(.bdf = "0000:10:00.0", .vendor = 0x1b21, .device = 0x2142, .class = 0x0c0330,
			   .parent = "0000:0f:00.0", .group = 52, .pcie = FX_PCIE_ENDPOINT));
	/* a PCI-X card behind a reverse (PCI-X-to-PCIe) bridge: the bridge aliases DMA */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1e.0", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 53, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:11:00.0", .vendor = 0x10e3, .device = 0x8114, .class = 0x060400,
			   .parent = "0000:00:1e.0", .group = 54, .pcie = FX_PCIE_PCIX_BRIDGE));
	fx_add(fx, &FX_DEV(.bdf = "0000:12:00.0", .vendor = 0x1000, .device = 0x0030, .class = 0x010000,
			   .parent = "0000:11:00.0", .group = 54));
	fx_add(fx, &FX_DEV(.bdf = "0000:12:01.0", .vendor = 0x1000, .device = 0x0030, .class = 0x010000,
			   .parent = "0000:11:00.0", .group = 54));
	/* an I350 whose functions share a group for another reason (its port has no ACS) */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1f.6", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 55, .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:13:00.0", .vendor = 0x8086, .device = 0x1521, .class = 0x020000,
			   .parent = "0000:00:1f.6", .group = 55, .pcie = FX_PCIE_ENDPOINT,
			   .multifunction = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:13:00.1", .vendor = 0x8086, .device = 0x1521, .class = 0x020000,
			   .parent = "0000:00:1f.6", .group = 55, .pcie = FX_PCIE_ENDPOINT,
			   .multifunction = true));
	return fx;
}

static void test_acs_quirks(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_acs_quirks());
	/* Sunrise Point: its control at +8 is on; only the GPU's own functions join it */
	r = CHECK(&e, "0000:0c:00.0");
	assert_no_finding(r, "acs-disabled");
	assert_finding(r, "multifunction-no-acs", NULL);
	iopass_report_free(r);

	/* Sunrise Point with the control at +8 off: that is what counts, not +6 */
	r = CHECK(&e, "0000:0d:00.0");
	assert_finding(r, "acs-disabled",
		       "shares group 51 with bridge 0000:00:1c.5 (pcieport), 0000:00:1c.6 (no driver) "
		       "because root port 0000:00:1c.5 has ACS with SV/RR/CR/UF off");
	assert_non_null(strstr(hint_of(r, "acs-disabled"), "pci=disable_acs_redir="));
	assert_null(strstr(hint_of(r, "acs-disabled"), "firmware"));
	iopass_report_free(r);

	/* Wellsburg PCH root port: no ACS capability, but the kernel's quirk isolates it */
	r = CHECK(&e, "0000:0e:00.0");
	assert_no_finding(r, "no-acs");
	assert_finding(r, "group-shared", NULL);
	assert_non_null(strstr(finding(r, "group-shared"), "root port 0000:00:1c.0 has no ACS capability "
							    "but isolates through the kernel's Intel PCH "
							    "workaround"));
	iopass_report_free(r);

	/* no Upstream Forwarding in the capability: not required, so not "UF off" */
	r = CHECK(&e, "0000:10:00.0");
	assert_no_finding(r, "acs-disabled");
	iopass_report_free(r);

	/* a PCI-X-to-PCIe bridge aliases DMA like a PCIe-to-PCI one */
	r = CHECK(&e, "0000:12:00.0");
	assert_finding(r, "pci-bridge",
		       "shares group 54 with bridge 0000:11:00.0 (no driver), 0000:12:01.0 (no driver) "
		       "because PCI/PCI-X-to-PCIe bridge 0000:11:00.0 cannot isolate its children");
	iopass_report_free(r);

	/* 64 bytes of config (not root) on the root bus: the explanation is unknown, and says so */
	fx_add(e.fx, &FX_DEV(.bdf = "0000:00:16.0", .vendor = 0x8086, .device = 0xa13a, .class = 0x078000,
			     .group = 56, .pcie = FX_PCIE_RCIEP, .multifunction = true, .config_len = 64));
	fx_add(e.fx, &FX_DEV(.bdf = "0000:00:16.3", .vendor = 0x8086, .device = 0xa13d, .class = 0x070002,
			     .group = 56, .pcie = FX_PCIE_RCIEP, .multifunction = true, .config_len = 64));
	env_refresh(&e);
	r = CHECK(&e, "0000:00:16.0");
	assert_finding(r, "group-shared", "shares group 56 with 0000:00:16.3 (no driver); the config "
					  "space of 0000:00:16.0 could not be read to say why (run as root)");
	iopass_report_free(r);

	/* I350: the kernel knows its functions do not talk to each other; the port is the cause */
	r = CHECK(&e, "0000:13:00.0");
	assert_no_finding(r, "multifunction-no-acs");
	assert_finding(r, "no-acs", NULL);
	iopass_report_free(r);
	env_close(&e);
}

static void test_acs_walk(void **state)
{
	struct env e;
	struct iopass_report *r;

	(void)state;
	env_open(&e, fx_switch());
	/* behind a port with ACS: alone in its group, nothing to explain */
	r = CHECK(&e, "0000:07:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	assert_no_finding(r, "no-acs");
	assert_no_finding(r, "group-shared");
	iopass_report_free(r);

	/* functions with ACS, behind a downstream port without it */
	r = CHECK(&e, "0000:08:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_NEEDS_GROUP);
	assert_string_equal(iopass_report_needs(r, 0), "0000:08:00.1");
	assert_no_finding(r, "multifunction-no-acs");
	assert_finding(r, "no-acs",
		       "shares group 33 with bridge 0000:06:01.0 (pcieport), 0000:08:00.1 (ixgbe) "
		       "because switch downstream port 0000:06:01.0 has no ACS capability");
	iopass_report_free(r);

	/* ACS with RR off */
	r = CHECK(&e, "0000:09:00.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY); /* 09:00.1 is unbound */
	assert_finding(r, "acs-disabled",
		       "shares group 34 with bridge 0000:06:02.0 (pcieport), 0000:09:00.1 (no driver) "
		       "because switch downstream port 0000:06:02.0 has ACS with RR off");
	iopass_report_free(r);

	/* conventional PCI behind a PCIe-to-PCI bridge */
	r = CHECK(&e, "0000:0b:01.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_NEEDS_GROUP);
	assert_finding(r, "pci-bridge",
		       "shares group 41 with bridge 0000:0a:00.0 (no driver), 0000:0b:02.0 (e1000) "
		       "because PCIe-to-PCI bridge 0000:0a:00.0 cannot isolate its children");
	assert_string_equal(iopass_report_hint(r, 1), "move the card to a slot on a CPU root port");
	iopass_report_free(r);

	/* --group semantics: the whole set is ready */
	r = CHECK(&e, "0000:0b:01.0", "0000:0b:02.0");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY);
	iopass_report_free(r);
	env_close(&e);
}

/*
 * On a kernel without reset_method the method comes from config space with the
 * kernel's reset quirks (drivers/pci/quirks.c): a Samsung PM1725 (device-specific
 * nvme_disable_and_flr), an AMD function whose FLR is broken (quirk_no_flr), a
 * Radeon whose PM reset is not used (quirk_no_pm_reset), an NVIDIA GPU that must
 * not see a bus reset (quirk_nvidia_no_bus_reset).
 */
static void test_reset_quirks(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.0", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 60, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:20:00.0", .vendor = 0x144d, .device = 0xa804, .class = 0x010802,
			   .parent = "0000:00:1d.0", .group = 61, .pcie = FX_PCIE_ENDPOINT, .flr = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.1", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 62, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:21:00.0", .vendor = 0x1022, .device = 0x1487, .class = 0x040300,
			   .parent = "0000:00:1d.1", .group = 63, .pcie = FX_PCIE_ENDPOINT, .flr = true,
			   .multifunction = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:21:00.1", .vendor = 0x1002, .device = 0x67df, .class = 0x030000,
			   .parent = "0000:00:1d.1", .group = 63, .pcie = FX_PCIE_ENDPOINT,
			   .multifunction = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.2", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 64, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:22:00.0", .vendor = 0x10de, .device = 0x2342, .class = 0x030200,
			   .parent = "0000:00:1d.2", .group = 65, .pcie = FX_PCIE_ENDPOINT,
			   .no_soft_reset = true));
	env_open(&e, fx);
	r = CHECK(&e, "0000:20:00.0");
	assert_finding(r, "reset-device-specific", "a device-specific reset (drivers/pci/quirks.c)");
	iopass_report_free(r);
	r = CHECK(&e, "0000:21:00.0");
	assert_no_finding(r, "reset-flr");
	assert_finding(r, "reset-pm", NULL);
	iopass_report_free(r);
	r = CHECK(&e, "0000:21:00.1");
	assert_no_finding(r, "reset-pm");
	assert_finding(r, "no-reset", NULL);
	iopass_report_free(r);
	r = CHECK(&e, "0000:22:00.0");
	assert_no_finding(r, "reset-bus");
	assert_finding(r, "no-reset", NULL);
	iopass_report_free(r);
	env_close(&e);
}

/*
 * One rule for a bridge in list and check: the header type (the kernel's
 * secondary_bus_number), not the class. A card whose class says PCI bridge but
 * whose header is type 0, and a bridge with class "other bridge" and a type 1
 * header.
 */
static void test_bridge_rule(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;
	struct run run;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:0c:00.0", .vendor = 0x10ee, .device = 0x7024, .class = 0x060400,
			   .group = 70, .pcie = FX_PCIE_ENDPOINT, .header = FX_HEADER_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:0d:00.0", .vendor = 0x12d8, .device = 0xe111, .class = 0x068000,
			   .group = 71, .pcie = FX_PCIE_PCI_BRIDGE, .header = FX_HEADER_BRIDGE));
	env_open(&e, fx);
	assert_false(iopass_dev_is_bridge(dev(&e, "0000:0c:00.0")));
	assert_true(iopass_dev_is_endpoint(dev(&e, "0000:0c:00.0")));
	assert_true(iopass_dev_is_bridge(dev(&e, "0000:0d:00.0")));
	assert_false(iopass_dev_is_endpoint(dev(&e, "0000:0d:00.0")));
	r = CHECK(&e, "0000:0c:00.0");
	assert_no_finding(r, "not-endpoint");
	iopass_report_free(r);
	r = CHECK(&e, "0000:0d:00.0");
	assert_finding(r, "not-endpoint", NULL);
	iopass_report_free(r);
	RUN(&run, fx_root(fx), "list", "-n", "-o", "BDF,FLAGS", "0c:00.0", "0d:00.0");
	assert_text_equal(run.out, "0000:0c:00.0 \n0000:0d:00.0 bridge\n");
	run_free(&run);
	env_close(&e);
}

static void test_reset_rules(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;

	(void)state;
	/* two conventional functions on one bus, no FLR, PM NoSoftRst, no reset_method */
	fx_add(fx, &FX_DEV(.bdf = "0000:0c:00.0", .vendor = 0x1234, .device = 0x0001, .class = 0x078000,
			   .group = 50, .pcie = FX_PCIE_ENDPOINT, .no_soft_reset = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:0c:01.0", .vendor = 0x1234, .device = 0x0002, .class = 0x078000,
			   .group = 51, .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:0d:00.0", .vendor = 0x1234, .device = 0x0003, .class = 0x078000,
			   .group = 52, .pcie = FX_PCIE_ENDPOINT, .reset_method = ""));
	fx_add(fx, &FX_DEV(.bdf = "0000:0e:00.0", .vendor = 0x1234, .device = 0x0004, .class = 0x078000,
			   .group = 53, .pcie = FX_PCIE_ENDPOINT, .config_len = 64));
	env_open(&e, fx);
	r = CHECK(&e, "0000:0c:00.0");
	assert_finding(r, "no-reset",
		       "no FLR, no PM reset (NoSoftRst set, no PM capability, or a kernel quirk against "
		       "it) and no bus reset of its own: the device cannot be reset between guests");
	assert_int_equal(iopass_report_verdict(r), IOPASS_READY); /* a warning, not a blocker */
	iopass_report_free(r);
	r = CHECK(&e, "0000:0c:01.0");
	assert_finding(r, "reset-pm", "power management reset (D3hot to D0)");
	iopass_report_free(r);
	r = CHECK(&e, "0000:0d:00.0");
	assert_finding(r, "no-reset", "reset_method is empty: the device cannot be reset between guests");
	iopass_report_free(r);
	/* the whole card alone on its bus, behind a root port: QEMU's bus reset covers it */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1a.0", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 60, .pcie = FX_PCIE_ROOT_PORT));
	for (int f = 0; f < 3; f++) {
		char bdf[16];

		snprintf(bdf, sizeof(bdf), "0000:0f:00.%d", f);
		fx_add(fx, &FX_DEV(.bdf = bdf, .vendor = 0x1002, .device = (uint16_t)(0x67df + f),
				   .class = f == 0 ? 0x030000 : f == 1 ? 0x040300 : 0x0c0330,
				   .parent = "0000:00:1a.0", .group = 60, .multifunction = true,
				   .pcie = FX_PCIE_ENDPOINT, .reset_method = ""));
	}
	/* and one without reset_method (before 5.15): no FLR, PM NoSoftRst, judged from config */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1a.4", .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
			   .driver = "pcieport", .group = 61, .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:10:00.0", .vendor = 0x1234, .device = 0x0010, .class = 0x030000,
			   .parent = "0000:00:1a.4", .group = 61, .multifunction = true,
			   .pcie = FX_PCIE_ENDPOINT, .no_soft_reset = true));
	fx_add(fx, &FX_DEV(.bdf = "0000:10:00.1", .vendor = 0x1234, .device = 0x0011, .class = 0x040300,
			   .parent = "0000:00:1a.4", .group = 61, .multifunction = true,
			   .pcie = FX_PCIE_ENDPOINT, .no_soft_reset = true));
	env_refresh(&e);
	r = CHECK(&e, "0000:0f:00.0", "0000:0f:00.1", "0000:0f:00.2");
	assert_finding(r, "reset-bus-set", "no reset of its own (reset_method is empty), but every "
					   "function on bus 0f is passed through in this set: QEMU resets "
					   "them together with a bus reset through the bridge above");
	assert_no_finding(r, "no-reset");
	/* ... but 1002:67df is a Polaris 10, which no bus reset brings back */
	assert_finding(r, "reset-bug", "an AMD Polaris 10 GPU, whose advertised resets do not reset "
				       "it (reset_method is empty): a second VM start, or a guest "
				       "reboot, may hang or find it dead (the AMD reset bug; "
				       "vendor-reset lists it)");
	iopass_report_free(r);
	/* a function of the bus left out: no reset for the set */
	r = CHECK(&e, "0000:0f:00.0", "0000:0f:00.1");
	assert_finding(r, "no-reset", "reset_method is empty: the device cannot be reset between guests");
	assert_no_finding(r, "reset-bus-set");
	iopass_report_free(r);
	r = CHECK(&e, "0000:10:00.1", "0000:10:00.0");
	assert_finding(r, "reset-bus-set", "no FLR and no PM reset, but every function on bus 10 is "
					   "passed through in this set: QEMU resets them together with a "
					   "bus reset through the bridge above");
	iopass_report_free(r);
	r = CHECK(&e, "0000:10:00.0");
	assert_finding(r, "no-reset", NULL);
	iopass_report_free(r);
	/* the workstation's GPU with its audio: reset_method bus, both in the set */
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_finding(r, "reset-bus-set", NULL);
	assert_no_finding(r, "reset-bus-only");
	iopass_report_free(r);

	/* unprivileged readers see 64 bytes of config: say it is unknown, guess nothing */
	r = CHECK(&e, "0000:0e:00.0");
	assert_finding(r, "reset-unknown", NULL);
	iopass_report_free(r);
	env_close(&e);
}

/* ---- the command -------------------------------------------------------- */

static void test_cli(void **state)
{
	struct fx *fx = fx_switch();
	struct run r;

	(void)state;
	RUN(&r, fx_root(fx), "check");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out,
		"host: ready\n"
		"  ok    IOMMU enabled: 15 groups in /sys/kernel/iommu_groups, 2 units (dmar0, dmar1)\n"
		"  ok    interrupt remapping enabled (IR-PCI-MSI interrupts in /proc/interrupts)\n"
		"  ok    vfio_pci is loaded\n"
		"  ok    vfio_iommu_type1 is loaded, iommufd is missing\n"
		"  ok    /dev/vfio/vfio present\n");
	run_free(&r);

	RUN(&r, fx_root(fx), "check", "07:00.0");
	assert_int_equal(r.status, 0);
	assert_text_equal(r.out, "0000:07:00.0 ready: Samsung Electronics Co Ltd NVMe SSD Controller "
				 "SM981/PM981/PM983, group 32, nvme\n");
	run_free(&r);

	RUN(&r, fx_root(fx), "check", "08:00.0");
	assert_int_equal(r.status, 3);
	assert_text_equal(r.out,
		"0000:08:00.0 needs-group: Intel Corporation Device, group 33, no driver\n"
		"    needs: 0000:08:00.1\n"
		"    warn  group 33 is viable only when 0000:08:00.1 is attached too (bound to host drivers now)\n"
		"          fix: attach the whole group: iopass attach --group 33\n");
	run_free(&r);

	/* the group as a set, by --group and by group:N */
	RUN(&r, fx_root(fx), "check", "--group", "33");
	assert_int_equal(r.status, 0);
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "group:33", "-q");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	run_free(&r);

	RUN(&r, fx_root(fx), "check", "-J", "09:00.1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "{\n  \"schema\": 1,\n  \"ready\": true,\n  \"host\": {\n    \"ready\": true,\n"));
	assert_non_null(strstr(r.out, "\"devices\": [\n    {\n      \"bdf\": \"0000:09:00.1\",\n"
				      "      \"group\": 34,\n      \"driver\": null,\n"
				      "      \"verdict\": \"ready\",\n      \"needs\": [],\n"));
	assert_non_null(strstr(r.out, "\"code\": \"acs-disabled\",\n          \"level\": \"info\",\n"));
	run_free(&r);

	/* --all: every endpoint on its own; this host has unsafe ones */
	RUN(&r, fx_root(fx), "check", "--all", "-J");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.out, "\"bdf\": \"0000:03:00.0\",\n      \"group\": 5,\n"
				      "      \"driver\": \"mlx5_core\",\n      \"verdict\": \"unsafe\""));
	assert_null(strstr(r.out, "\"bdf\": \"0000:00:01.0\"")); /* bridges are not checked */
	run_free(&r);
	fx_free(fx);
}

/* Text from outside (pci.ids names, process names) reaches the terminal escaped. */
static void test_cli_escapes(void **state)
{
	struct fx *fx = fx_workstation();
	static const char ids[] = "15b3  Evil\x1b]0;owned\x07 Corp\n"
				  "\t1018  VF \x1b[31mred\x1b[0m\n";
	char *ids_env;
	struct run r;

	(void)state;
	fx_printf(fx, "proc/4242/comm", "qemu\x1b[2J\n");
	fx_symlink(fx, "proc/4242/fd/17", "/dev/vfio/6");
	fx_write(fx, "pci.ids", ids, sizeof(ids) - 1);
	assert_true(asprintf(&ids_env, "IOPASS_PCI_IDS=%s/pci.ids", fx_root(fx)) > 0);
	run_iopass_env(&r, fx_root(fx), (const char *const[]){ ids_env, NULL },
		       (const char *const[]){ "check", "-v", "03:00.2", NULL });
	assert_null(strchr(r.out, '\x1b'));
	assert_null(strchr(r.out, '\x07'));
	assert_non_null(strstr(r.out, "Evil\\x1b]0;owned\\x07 Corp VF \\x1b[31mred\\x1b[0m, group 6"));
	assert_non_null(strstr(r.out, "group 6 is open by qemu\\x1b[2J (pid 4242, /dev/vfio/6)"));
	run_free(&r);
	free(ids_env);
	fx_free(fx);
}

static void test_cli_errors(void **state)
{
	struct fx *fx = fx_workstation();
	struct run r;

	(void)state;
	RUN(&r, fx_root(fx), "check", "0000:01:00.9");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: check: '0000:01:00.9' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F for a function, DDDD:BB:SS or BB:SS for every function of a card, e.g. 0000:01:00.0 or 01:00\n");
	assert_string_equal(r.out, "");
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "--group", "99");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: check: IOMMU group 99 does not exist; 'iopass list' shows the groups\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "group:x");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: check: 'group:x' is not a group; use group:N with N from 'iopass list'\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "--all", "01:00.0");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: check: --all checks every device; drop the devices or --group\n");
	run_free(&r);
	RUN(&r, fx_root(fx), "check", "0f:00.0");
	assert_int_equal(r.status, 2);
	assert_text_equal(r.err, "iopass: check: 0000:0f:00.0: no such PCI device; 'iopass list' shows the devices\n");
	run_free(&r);
	fx_free(fx);
}

/*
 * What only a scan of more than the group shows: a GPU whose functions have ACS
 * (a group each) and only a bus reset; a dual-port NIC without ACS (one group)
 * whose first port has VFs on its own bus and on the next, bound to a driver.
 */
static struct fx *fx_related(void)
{
	struct fx *fx = fx_workstation();

	fx_add(fx, &FX_DEV(.bdf = "0000:00:1d.0", .vendor = 0x8086, .device = 0x1902, .class = 0x060400,
			   .driver = "pcieport", .group = 60, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:0d:00.0", .vendor = 0x1002, .device = 0x73bf, .class = 0x030000,
			   .parent = "0000:00:1d.0", .driver = "amdgpu", .group = 61, .multifunction = true,
			   .pcie = FX_PCIE_ENDPOINT, .acs = true, .acs_ctrl = FX_ACS_ALL,
			   .reset_method = "bus"));
	fx_add(fx, &FX_DEV(.bdf = "0000:0d:00.1", .vendor = 0x1002, .device = 0xab28, .class = 0x040300,
			   .parent = "0000:00:1d.0", .driver = "snd_hda_intel", .group = 62,
			   .multifunction = true, .pcie = FX_PCIE_ENDPOINT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL, .reset_method = "bus"));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:1e.0", .vendor = 0x8086, .device = 0x1903, .class = 0x060400,
			   .driver = "pcieport", .group = 63, .pcie = FX_PCIE_ROOT_PORT, .acs = true,
			   .acs_ctrl = FX_ACS_ALL));
	fx_add(fx, &FX_DEV(.bdf = "0000:0e:00.0", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:00:1e.0", .driver = "ixgbe", .group = 64, .multifunction = true,
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr", .totalvfs = 4,
			   .numvfs = 2, .vf_native = "ixgbevf"));
	fx_add(fx, &FX_DEV(.bdf = "0000:0e:00.1", .vendor = 0x8086, .device = 0x10fb, .class = 0x020000,
			   .parent = "0000:00:1e.0", .driver = "ixgbe", .group = 64, .multifunction = true,
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr"));
	fx_add(fx, &FX_DEV(.bdf = "0000:0e:10.0", .vendor = 0x8086, .device = 0x10ed, .class = 0x020000,
			   .parent = "0000:00:1e.0", .driver = "ixgbevf", .group = 65, .physfn = "0000:0e:00.0",
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr"));
	/* many VFs spill over onto the next bus number (no bridge: the PF claims it) */
	fx_add(fx, &FX_DEV(.bdf = "0000:0f:00.0", .vendor = 0x8086, .device = 0x10ed, .class = 0x020000,
			   .parent = "0000:00:1e.0", .driver = "ixgbevf", .group = 66, .physfn = "0000:0e:00.0",
			   .pcie = FX_PCIE_ENDPOINT, .flr = true, .reset_method = "flr"));
	return fx;
}

/*
 * The related scan that attach, detach and vf make is enough: on every fixture
 * host here, what check says of each device (alone, with its group, as a PF's
 * VFs) is what it says on the full scan.
 */
/*
 * The vfio driver attach would bind: the variant whose vfio_pci alias matches
 * the modalias with the fewest wildcards, vfio-pci's catch-all last, the first
 * of equally specific ones; vfio-pci when the index is missing.
 */
static void test_vfio_variant(void **state)
{
	struct iopass_vfio_choice c;
	struct iopass_report *r;
	struct env e;
	struct fx *fx;

	(void)state;
	fx = fx_workstation();
	fx_add_cx6dx(fx);
	fx_modules_alias(fx, NULL, NULL);
	env_open(&e, fx);
	r = CHECK(&e, "0000:06:00.1");
	assert_finding(r, "vfio-variant",
		       "attach binds the vfio variant driver mlx5_vfio_pci: its alias "
		       "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* is the most specific match of "
		       "vfio_pci:v000015B3d0000101Esv000015B3sd00000016... in modules.alias of "
		       "6.1.0-28-amd64 (5 wildcards)");
	assert_no_finding(r, "vfio-driver");
	iopass_report_free(r);
	/* a ConnectX-5 VF: mlx5_vfio_pci's table has only the mlx5Gen VF, 101e */
	r = CHECK(&e, "0000:03:00.3");
	assert_finding(r, "vfio-driver", "attach binds vfio-pci: no vfio variant driver's alias in "
					 "modules.alias of 6.1.0-28-amd64 matches it");
	assert_no_finding(r, "vfio-variant");
	iopass_report_free(r);
	/* on vfio-pci while a variant fits: said, with the way to it */
	{
		struct env e2;
		struct fx *f2 = fx_workstation();

		fx_add_cx6dx(f2);
		fx_add(f2, &FX_DEV(.bdf = "0000:06:00.3", .vendor = 0x15b3, .device = 0x101e,
				   .subvendor = 0x15b3, .subdevice = 0x0016, .class = 0x020000,
				   .driver = "vfio-pci", .vfio_dev = true, .group = 23,
				   .physfn = "0000:06:00.0", .pcie = FX_PCIE_ENDPOINT, .flr = true));
		fx_modules_alias(f2, NULL, NULL);
		env_open(&e2, f2);
		r = CHECK(&e2, "0000:06:00.3");
		assert_finding(r, "vfio-variant",
			       "on vfio-pci, while attach would bind the vfio variant driver "
			       "mlx5_vfio_pci: its alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* is the "
			       "most specific match of vfio_pci:v000015B3d0000101Esv000015B3sd00000016... "
			       "in modules.alias of 6.1.0-28-amd64 (5 wildcards)");
		iopass_report_free(r);
		/* on vfio-pci with no variant for it: nothing to add to "attached" */
		r = CHECK(&e2, "0000:03:00.2");
		assert_no_finding(r, "vfio-variant");
		assert_no_finding(r, "vfio-driver");
		iopass_report_free(r);
		env_close(&e2);
	}
	/* asking: a driver claims a device only through its own aliases */
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "vfio-pci", &c), 0);
	assert_string_equal(c.driver, "vfio-pci");
	assert_string_equal(c.alias, "vfio_pci:v*d*sv*sd*bc*sc*i*");
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:03:00.3"), "mlx5_vfio_pci", &c), -ENOENT);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "pds_vfio_pci", &c), -ENOENT);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "mlx5_vfio_pci", &c), 0);
	assert_int_equal(c.wildcards, 5);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:00:14.0"), "../x", &c), -EINVAL);
	env_close(&e);

	/* made-up lines: one as specific as mlx5's (5 wildcards) but later loses */
	fx = fx_workstation();
	fx_add_cx6dx(fx);
	fx_modules_alias(fx, NULL, "alias vfio_pci:v000015B3d*sv*sd*bc02sc*i* late_vfio_pci\n");
	env_open(&e, fx);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), NULL, &c), 0);
	assert_string_equal(c.driver, "mlx5_vfio_pci");
	env_close(&e);

	/* one naming the subsystem too wins over mlx5's; broken lines are skipped */
	fx = fx_workstation();
	fx_add_cx6dx(fx);
	fx_modules_alias(fx, NULL,
			 "alias vfio_pci:v000015B3d*sv*sd*bc02sc*i* late_vfio_pci\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc*sc*i*\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc*sc*i* "
			 "a_module_name_far_too_long_to_be_a_driver_name_at_all_since_it_goes_past_72\n"
			 "alias  vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* two_blanks\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc*sc*i* acme_vfio_pci\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i00 ../../etc\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i00 a/b\n"
			 "alias vfio_pci:v000015B3d0000101Esv000015B3sd00000016bc02sc00i* crlf_vfio_pci\r\n");
	env_open(&e, fx);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), NULL, &c), 0);
	assert_string_equal(c.driver, "crlf_vfio_pci"); /* not the path-like names, and no '\r' */
	assert_int_equal(c.wildcards, 1);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "acme_vfio_pci", &c), 0);
	assert_int_equal(c.wildcards, 3);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "late_vfio_pci", &c), 0);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:03:00.3"), NULL, &c), 0);
	assert_string_equal(c.driver, "late_vfio_pci"); /* class 0200 matches, 1018 too */
	/* no alias of that driver at all, and one whose aliases do not match the device */
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:06:00.1"), "two_blanks", &c), -ESRCH);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:00:14.0"), "acme_vfio_pci", &c), -ENOENT);
	env_close(&e);

	/* no index: vfio-pci, and a variant cannot be checked */
	env_open(&e, fx_workstation());
	r = CHECK(&e, "0000:03:00.3");
	assert_finding(r, "vfio-driver", "attach binds vfio-pci: modules.alias of kernel 6.1.0-28-amd64 "
					 "could not be read (No such file or directory), so no vfio "
					 "variant driver can be chosen");
	iopass_report_free(r);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:03:00.3"), "mlx5_vfio_pci", &c), -ENODATA);
	assert_int_equal(iopass_dev_vfio_driver(dev(&e, "0000:03:00.3"), "vfio-pci", &c), 0);
	env_close(&e);
}

static void test_related_scan(void **state)
{
	struct fx *(*const hosts[])(void) = { fx_workstation, fx_secondary_gpu, fx_two_nvme, fx_nics,
					      fx_pch, fx_switch, fx_acs_quirks,
					      fx_related };

	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct fx *fx = hosts[i]();

		assert_true(assert_related_scan_agrees(fx_root(fx), NULL) > 0);
		fx_free(fx);
	}
}

/*
 * The GPUs of vendor-reset's table: a warning, with the fix, until the device-specific
 * reset comes first; every other AMD device (a newer GPU, the HDMI audio) goes without.
 */
static void test_reset_bug(void **state)
{
	static const struct {
		const char *bdf;
		uint16_t device;
		uint32_t class;
		const char *methods; /* NULL: a kernel before 5.15 */
		const char *warning; /* NULL: no reset-bug finding */
	} cases[] = {
		{ "0000:11:00.0", 0x731f, 0x030000, "bus",
		  "an AMD Navi 10 GPU, whose advertised resets do not reset it (reset_method: bus): a "
		  "second VM start, or a guest reboot, may hang or find it dead (the AMD reset bug; "
		  "vendor-reset lists it)" },
		{ "0000:12:00.0", 0x687f, 0x030000, "pm bus",
		  "an AMD Vega 10 GPU, whose advertised resets do not reset it (reset_method: pm bus): "
		  "a second VM start, or a guest reboot, may hang or find it dead (the AMD reset bug; "
		  "vendor-reset lists it)" },
		{ "0000:13:00.0", 0x67ef, 0x030000, NULL,
		  "an AMD Polaris 11 GPU, whose advertised resets do not reset it (no reset_method: a "
		  "kernel before 5.15): a second VM start, or a guest reboot, may hang or find it dead "
		  "(the AMD reset bug; vendor-reset lists it)" },
		{ "0000:14:00.0", 0x7340, 0x030000, "device_specific bus", NULL }, /* vendor-reset loaded */
		{ "0000:15:00.0", 0x73bf, 0x030000, "bus", NULL },  /* Navi 21: not in the table */
		{ "0000:16:00.0", 0xab38, 0x040300, "bus", NULL },  /* the card's HDMI audio */
		{ "0000:17:00.0", 0x1681, 0x030000, "bus", NULL },  /* Rembrandt iGPU: not listed */
	};
	struct fx *fx = fx_workstation();
	struct env e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char port[16];

		snprintf(port, sizeof(port), "0000:00:1d.%zu", i);
		fx_add(fx, &FX_DEV(.bdf = port, .vendor = 0x8086, .device = 0x1901, .class = 0x060400,
				   .driver = "pcieport", .group = 70 + (int)i, .pcie = FX_PCIE_ROOT_PORT));
		fx_add(fx, &FX_DEV(.bdf = cases[i].bdf, .vendor = 0x1002, .device = cases[i].device,
				   .class = cases[i].class, .parent = port, .group = 70 + (int)i,
				   .pcie = FX_PCIE_ENDPOINT, .reset_method = cases[i].methods));
	}
	env_open(&e, fx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iopass_report *r = CHECK(&e, cases[i].bdf);

		if (cases[i].warning) {
			char hint[160];

			assert_finding(r, "reset-bug", cases[i].warning);
			if (cases[i].methods)
				snprintf(hint, sizeof(hint), "load the vendor-reset module (modprobe "
					 "vendor-reset) and put its reset first: echo device_specific > "
					 "/sys/bus/pci/devices/%s/reset_method", cases[i].bdf);
			else
				snprintf(hint, sizeof(hint), "load the vendor-reset module (modprobe "
					 "vendor-reset): it replaces the device-specific reset, which the "
					 "kernel tries first");
			assert_text_equal(hint_of(r, "reset-bug"), hint);
			assert_int_equal(iopass_report_verdict(r), IOPASS_READY); /* a warning */
		} else {
			assert_no_finding(r, "reset-bug");
		}
		iopass_report_free(r);
	}
	/* before 5.15, vendor-reset loaded: its hook is the device-specific reset, no warning */
	fx_mkdir(fx, "sys/module/vendor_reset");
	{
		struct iopass_report *r = CHECK(&e, "0000:13:00.0");

		assert_no_finding(r, "reset-bug");
		iopass_report_free(r);
	}
	env_close(&e);
}

/* Device links (a GPU's HDA, USB, UCSI functions need its display function): named when left out. */
static void test_linked_functions(void **state)
{
	struct fx *fx = fx_workstation();
	struct env e;
	struct iopass_report *r;
	char *link;

	(void)state;
	/* as the driver core shows pci_create_device_link()'s link, on both ends */
	assert_true(asprintf(&link, "%s/consumer:pci:0000:01:00.1", fx_dev_dir(fx, "0000:01:00.0")) > 0);
	fx_symlink(fx, link, "../../../virtual/devlink/pci:0000:01:00.0--pci:0000:01:00.1");
	free(link);
	assert_true(asprintf(&link, "%s/supplier:pci:0000:01:00.0", fx_dev_dir(fx, "0000:01:00.1")) > 0);
	fx_symlink(fx, link, "../../../virtual/devlink/pci:0000:01:00.0--pci:0000:01:00.1");
	free(link);
	/* a link to a platform device is not a PCI function's */
	assert_true(asprintf(&link, "%s/consumer:platform:ucsi", fx_dev_dir(fx, "0000:01:00.0")) > 0);
	fx_symlink(fx, link, "../../../virtual/devlink/pci:0000:01:00.0--platform:ucsi");
	free(link);
	env_open(&e, fx);
	r = CHECK(&e, "0000:01:00.0");
	assert_finding(r, "linked-function", "the kernel ties a function to this device by a device "
					     "link, and it stays on the host: 0000:01:00.1 (needs this "
					     "device, on snd_hda_intel)");
	assert_text_equal(hint_of(r, "linked-function"), "pass the linked functions through together with it");
	iopass_report_free(r);
	r = CHECK(&e, "0000:01:00.1");
	assert_finding(r, "linked-function", "the kernel ties a function to this device by a device "
					     "link, and it stays on the host: 0000:01:00.0 (this "
					     "device needs it, on nvidia)");
	iopass_report_free(r);
	/* together: nothing left out */
	r = CHECK(&e, "0000:01:00.0", "0000:01:00.1");
	assert_no_finding(r, "linked-function");
	iopass_report_free(r);
	/* a device with no links */
	r = CHECK(&e, "0000:00:14.0");
	assert_no_finding(r, "linked-function");
	iopass_report_free(r);

	/* the CLI: the related scan reads a linked function in another slot (its driver is
	 * named), and a slot takes what links tie to its functions */
	assert_true(asprintf(&link, "%s/consumer:pci:0000:02:00.0", fx_dev_dir(fx, "0000:01:00.1")) > 0);
	fx_symlink(fx, link, "../../../virtual/devlink/pci:0000:01:00.1--pci:0000:02:00.0");
	free(link);
	struct run cli;

	RUN(&cli, fx_root(fx), "check", "-v", "01:00.1");
	assert_non_null(strstr(cli.out, "0000:02:00.0 (needs this device, on nvme)"));
	run_free(&cli);
	/* a slot is the card: a linked function on another card is named, never selected
	 * unnamed (here the host's NVMe) */
	RUN(&cli, fx_root(fx), "check", "-J", "01:00");
	assert_non_null(strstr(cli.out, "\"bdf\": \"0000:01:00.0\""));
	assert_non_null(strstr(cli.out, "\"bdf\": \"0000:01:00.1\""));
	assert_null(strstr(cli.out, "\"bdf\": \"0000:02:00.0\""));
	assert_non_null(strstr(cli.out, "\"code\": \"linked-function\""));
	run_free(&cli);
	/* a link to a bridge (a Thunderbolt NHI's root port) asks for nothing impossible */
	assert_true(asprintf(&link, "%s/supplier:pci:0000:00:1c.0", fx_dev_dir(fx, "0000:00:14.0")) > 0);
	fx_symlink(fx, link, "../../../virtual/devlink/pci:0000:00:1c.0--pci:0000:00:14.0");
	free(link);
	RUN(&cli, fx_root(fx), "check", "-v", "00:14.0");
	assert_null(strstr(cli.out, "linked"));
	run_free(&cli);
	/* many links: every one named, in address order, whatever readdir's order */
	for (int k = 9; k >= 0; k--) {
		assert_true(asprintf(&link, "%s/consumer:pci:0000:20:%02x.%d", fx_dev_dir(fx, "0000:01:00.0"),
				     k / 8, k % 8) > 0);
		fx_symlink(fx, link, "../../../virtual/devlink/x");
		free(link);
	}
	RUN(&cli, fx_root(fx), "check", "-J", "01:00");
	assert_non_null(strstr(cli.out, "0000:02:00.0 (needs this device, on nvme)"));
	assert_non_null(strstr(cli.out, "stay on the host: 0000:20:00.0 (needs this device, on a driver "
					"not read), 0000:20:00.1"));
	assert_non_null(strstr(cli.out, "0000:20:01.0 (needs this device, on a driver not read), "
					"0000:20:01.1 (needs this device, on a driver not read)\""));
	run_free(&cli);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_ready),
		cmocka_unit_test(test_host_no_iommu),
		cmocka_unit_test(test_host_amd_hint),
		cmocka_unit_test(test_host_interrupt_remapping),
		cmocka_unit_test(test_host_cmdline_warnings),
		cmocka_unit_test(test_host_modules_missing),
		cmocka_unit_test(test_gpu),
		cmocka_unit_test(test_gpu_secondary),
		cmocka_unit_test(test_not_endpoint),
		cmocka_unit_test(test_ready_usb_and_vf),
		cmocka_unit_test(test_group_open),
		cmocka_unit_test(test_pf_with_vfs),
		cmocka_unit_test(test_nvme_lvm_mounted),
		cmocka_unit_test(test_storage_btrfs),
		cmocka_unit_test(test_storage_swapfile_overlay_loop),
		cmocka_unit_test(test_storage_loop),
		cmocka_unit_test(test_storage_zfs),
		cmocka_unit_test(test_storage_nvme_multipath),
		cmocka_unit_test(test_nics),
		cmocka_unit_test(test_nic_routes),
		cmocka_unit_test(test_hint_force_text),
		cmocka_unit_test(test_nic_storage),
		cmocka_unit_test(test_bridge_drivers),
		cmocka_unit_test(test_chipset_core),
		cmocka_unit_test(test_device_open),
		cmocka_unit_test(test_console_fb),
		cmocka_unit_test(test_virtio),
		cmocka_unit_test(test_acs_walk),
		cmocka_unit_test(test_acs_quirks),
		cmocka_unit_test(test_reset_quirks),
		cmocka_unit_test(test_bridge_rule),
		cmocka_unit_test(test_reset_rules),
		cmocka_unit_test(test_related_scan),
		cmocka_unit_test(test_vfio_variant),
		cmocka_unit_test(test_reset_bug),
		cmocka_unit_test(test_linked_functions),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_cli_escapes),
		cmocka_unit_test(test_cli_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
