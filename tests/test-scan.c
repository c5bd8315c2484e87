// SPDX-License-Identifier: GPL-2.0-or-later
/* The device model read from fixture sysfs trees, including broken ones. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "iopass.h"

static struct iopass_devlist *scan(struct fx *fx, struct iopass_ctx **ret_ctx)
{
	struct iopass_devlist *list = NULL;
	struct iopass_ctx *ctx;

	assert_int_equal(iopass_ctx_new(fx_root(fx), &ctx), 0);
	assert_int_equal(iopass_ctx_set_ids_file(ctx, IOPASS_TEST_IDS), 0);
	assert_int_equal(iopass_scan(ctx, &list), 0);
	*ret_ctx = ctx;
	return list;
}

static struct iopass_dev *find(struct iopass_devlist *list, const char *bdf)
{
	struct iopass_addr a;

	assert_int_equal(iopass_addr_parse(bdf, &a), 0);
	return iopass_devlist_find(list, &a);
}

static void test_workstation(void **state)
{
	struct fx *fx = fx_workstation();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list = scan(fx, &ctx);
	struct iopass_dev *d;

	(void)state;
	assert_int_equal(iopass_devlist_count(list), 11);
	assert_int_equal(iopass_iommu_group_count(ctx), 8);
	/* sorted by address */
	assert_string_equal(iopass_dev_get_bdf(iopass_devlist_get(list, 0)), "0000:00:00.0");
	assert_string_equal(iopass_dev_get_bdf(iopass_devlist_get(list, 10)), "0000:03:00.3");

	d = find(list, "0000:01:00.0");
	assert_non_null(d);
	assert_int_equal(iopass_dev_get_vendor(d), 0x10de);
	assert_int_equal(iopass_dev_get_device(d), 0x1b80);
	assert_int_equal(iopass_dev_get_subsystem_vendor(d), 0x1043);
	assert_int_equal(iopass_dev_get_subsystem_device(d), 0x8591);
	assert_int_equal(iopass_dev_get_class(d), 0x030000);
	assert_string_equal(iopass_dev_get_driver(d), "nvidia");
	assert_int_equal(iopass_dev_get_iommu_group(d), 1);
	assert_true(iopass_dev_is_boot_vga(d));
	assert_false(iopass_dev_is_vfio(d));
	assert_false(iopass_dev_is_bridge(d));
	assert_null(iopass_dev_get_warning(d));
	assert_string_equal(iopass_dev_get_vendor_name(d), "NVIDIA Corporation");
	assert_string_equal(iopass_dev_get_device_name(d), "GP104 [GeForce GTX 1080]");
	assert_string_equal(iopass_dev_get_class_name(d), "VGA compatible controller");

	d = find(list, "0000:00:01.0");
	assert_true(iopass_dev_is_bridge(d));
	assert_string_equal(iopass_dev_get_class_name(d), "PCI bridge");
	d = find(list, "0000:00:00.0");
	assert_false(iopass_dev_is_bridge(d)); /* a host bridge has no secondary bus */
	assert_null(iopass_dev_get_driver(d));

	d = find(list, "0000:03:00.0");
	assert_int_equal(iopass_dev_get_sriov_totalvfs(d), 8);
	assert_int_equal(iopass_dev_get_sriov_numvfs(d), 2);
	assert_null(iopass_dev_get_physfn(d));
	d = find(list, "0000:03:00.2");
	assert_string_equal(iopass_dev_get_physfn(d), "0000:03:00.0");
	assert_true(iopass_dev_is_vfio(d));
	assert_int_equal(iopass_dev_get_sriov_totalvfs(d), -ENOENT);
	assert_int_equal(iopass_dev_get_iommu_group(d), 6);
	d = find(list, "0000:03:00.3");
	assert_null(iopass_dev_get_driver(d));
	assert_false(iopass_dev_is_vfio(d));

	/* an unknown device ID: no name, no crash */
	d = find(list, "0000:02:00.0");
	assert_string_equal(iopass_dev_get_device_name(d), "NVMe SSD Controller SM981/PM981/PM983");
	assert_string_equal(iopass_dev_get_class_name(d), "Non-Volatile memory controller");

	assert_null(find(list, "0000:09:00.0"));
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

static void test_no_iommu(void **state)
{
	struct fx *fx = fx_new();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;
	struct iopass_dev *d;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:00:03.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000, .driver = "e1000e"));
	list = scan(fx, &ctx);
	assert_int_equal(iopass_iommu_group_count(ctx), 0);
	d = find(list, "0000:00:03.0");
	assert_int_equal(iopass_dev_get_iommu_group(d), -ENOENT);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

static void test_empty_sysroot(void **state)
{
	struct fx *fx = fx_new();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;

	(void)state;
	fx_unlink(fx, "sys/bus/pci/devices");
	list = scan(fx, &ctx);
	assert_int_equal(iopass_devlist_count(list), 0);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
	assert_int_equal(iopass_ctx_new("/nonexistent/iopass", &ctx), -ENOENT);
}

/* Everything odd a crafted or half-gone sysfs can hold, in one tree. */
static struct fx *fx_broken(void)
{
	struct fx *fx = fx_new();
	char *p, big[8192];
	const char *dir;

	fx_iommu_enable(fx);
	/* garbage vendor, and uevent lost its PCI_ID */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000, .group = 1));
	dir = fx_dev_dir(fx, "0000:00:01.0");
	assert_true(asprintf(&p, "%s/vendor", dir) > 0);
	fx_printf(fx, p, "0xzzzz\n");
	free(p);
	assert_true(asprintf(&p, "%s/uevent", dir) > 0);
	fx_printf(fx, p, "PCI_CLASS=20000\n");
	free(p);

	/* no uevent, class is a directory, vendor a FIFO that nobody writes */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000, .group = 2));
	dir = fx_dev_dir(fx, "0000:00:02.0");
	assert_true(asprintf(&p, "%s/uevent", dir) > 0);
	fx_unlink(fx, p);
	free(p);
	assert_true(asprintf(&p, "%s/class", dir) > 0);
	fx_unlink(fx, p);
	fx_mkdir(fx, p);
	free(p);
	assert_true(asprintf(&p, "%s/%s/vendor", fx_root(fx), dir) > 0);
	unlink(p);
	assert_int_equal(mkfifo(p, 0600), 0);
	free(p);

	/* a dangling driver link */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:03.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000, .group = 3, .driver = "e1000e"));
	fx_unlink(fx, "sys/bus/pci/drivers/e1000e/0000:00:03.0");
	fx_unlink(fx, "sys/bus/pci/drivers/e1000e/bind");
	fx_unlink(fx, "sys/bus/pci/drivers/e1000e/unbind");
	fx_unlink(fx, "sys/bus/pci/drivers/e1000e/new_id");
	fx_unlink(fx, "sys/bus/pci/drivers/e1000e");

	/* a huge uevent: not trusted, the attribute files are read instead */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:04.0", .vendor = 0x10de, .device = 0x1b80,
			   .class = 0x030000, .group = 4));
	memset(big, 'A', sizeof(big));
	assert_true(asprintf(&p, "%s/uevent", fx_dev_dir(fx, "0000:00:04.0")) > 0);
	fx_write(fx, p, big, sizeof(big));
	free(p);

	/* not a PCI address, and a device that vanished (dangling bus link) */
	fx_symlink(fx, "sys/bus/pci/devices/not-a-bdf", "../../../devices/pci0000:00/0000:00:01.0");
	fx_symlink(fx, "sys/bus/pci/devices/0000:00:05.0", "../../../devices/pci0000:00/0000:00:05.0");
	/* an iommu_group link that does not name a number */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:06.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x020000));
	assert_true(asprintf(&p, "%s/iommu_group", fx_dev_dir(fx, "0000:00:06.0")) > 0);
	fx_symlink(fx, p, "../../../kernel/iommu_groups/x");
	free(p);
	return fx;
}

static void test_broken_entries(void **state)
{
	struct fx *fx = fx_broken();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list = scan(fx, &ctx);
	struct iopass_dev *d;

	(void)state;
	/* the vanished one and the bad name are skipped; the rest is listed */
	assert_int_equal(iopass_devlist_count(list), 5);

	d = find(list, "0000:00:01.0");
	assert_int_equal(iopass_dev_get_vendor(d), -ENODATA);
	assert_int_equal(iopass_dev_get_device(d), 0x1901);
	assert_int_equal(iopass_dev_get_class(d), 0x020000);
	assert_string_equal(iopass_dev_get_warning(d), "vendor: invalid value");
	assert_null(iopass_dev_get_vendor_name(d));
	assert_null(iopass_dev_get_device_name(d));

	d = find(list, "0000:00:02.0");
	assert_int_equal(iopass_dev_get_vendor(d), -ENODATA);
	assert_int_equal(iopass_dev_get_class(d), -ENODATA);
	assert_int_equal(iopass_dev_get_device(d), 0x1901);
	assert_string_equal(iopass_dev_get_warning(d), "vendor: invalid value; class: Is a directory");
	assert_int_equal(iopass_dev_get_iommu_group(d), 2);

	d = find(list, "0000:00:03.0");
	assert_null(iopass_dev_get_driver(d));
	assert_string_equal(iopass_dev_get_warning(d), "driver: link to 'e1000e' is dangling");

	d = find(list, "0000:00:04.0");
	assert_int_equal(iopass_dev_get_vendor(d), 0x10de);
	assert_int_equal(iopass_dev_get_class(d), 0x030000);
	assert_null(iopass_dev_get_warning(d));

	d = find(list, "0000:00:06.0");
	assert_int_equal(iopass_dev_get_iommu_group(d), -ENOENT);
	assert_string_equal(iopass_dev_get_warning(d), "iommu_group: unreadable link");

	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

/* Symlink loops, links out of the tree, non-UTF-8 names, empty attributes: no crash, the rest works. */
static void test_hostile_tree(void **state)
{
	struct fx *fx = fx_new();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;
	struct iopass_dev *d;
	char *p;

	(void)state;
	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901, .class = 0x020000,
			   .group = 1));
	/* a loop where a device should be, and a name that is not UTF-8 */
	fx_symlink(fx, "sys/bus/pci/devices/0000:00:02.0", "0000:00:02.0");
	fx_symlink(fx, "sys/bus/pci/devices/\xff\xfe:00:03.0", "../../../devices/pci0000:00/0000:00:01.0");
	/* a driver link out of the tree and an iommu_group link that loops */
	assert_true(asprintf(&p, "%s/driver", fx_dev_dir(fx, "0000:00:01.0")) > 0);
	fx_symlink(fx, p, "/etc/passwd");
	free(p);
	/* empty attributes and an empty uevent */
	assert_true(asprintf(&p, "%s/uevent", fx_dev_dir(fx, "0000:00:01.0")) > 0);
	fx_printf(fx, p, "%s", "");
	free(p);
	assert_true(asprintf(&p, "%s/class", fx_dev_dir(fx, "0000:00:01.0")) > 0);
	fx_printf(fx, p, "%s", "");
	free(p);
	list = scan(fx, &ctx);
	assert_int_equal(iopass_devlist_count(list), 1);
	d = find(list, "0000:00:01.0");
	assert_non_null(d);
	assert_int_equal(iopass_dev_get_vendor(d), 0x8086);
	assert_int_equal(iopass_dev_get_class(d), -ENODATA);
	/* the link's name is read, never followed out of the tree: "passwd" is a dangling driver here */
	assert_null(iopass_dev_get_driver(d));
	assert_non_null(iopass_dev_get_warning(d));
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

static void test_corrupt_ids_file(void **state)
{
	struct fx *fx = fx_workstation();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;
	char ids[] = "/tmp/iopass-ids-XXXXXX";
	int fd = mkstemp(ids);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "zzzz garbage\n\tnot an id\n", 24) == 24);
	close(fd);
	assert_int_equal(iopass_ctx_new(fx_root(fx), &ctx), 0);
	assert_int_equal(iopass_ctx_set_ids_file(ctx, ids), 0);
	assert_int_equal(iopass_scan(ctx, &list), 0);
	/* no names, no exit: libpci's error callback is contained */
	assert_null(iopass_dev_get_vendor_name(iopass_devlist_get(list, 0)));
	assert_null(iopass_dev_get_vendor_name(iopass_devlist_get(list, 1)));
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	unlink(ids);
	fx_free(fx);
}

/*
 * The quick scans of the completions (drivers from the drivers' directory
 * listings) pick the same devices, drivers and groups as the full scan.
 */
static void assert_candidates(struct iopass_ctx *ctx, struct iopass_devlist *full,
			      enum iopass_candidates which, unsigned flags)
{
	struct iopass_devlist *quick = NULL;
	size_t k = 0;

	assert_int_equal(iopass_scan_candidates(ctx, which, flags, &quick), 0);
	for (size_t i = 0; i < iopass_devlist_count(full); i++) {
		struct iopass_dev *d = iopass_devlist_get(full, i), *q;
		bool want = which == IOPASS_CANDIDATES_DETACH ?
				    iopass_dev_is_vfio(d) :
				    !iopass_dev_is_vfio(d) && !iopass_dev_is_bridge(d);

		if (!want)
			continue;
		q = iopass_devlist_get(quick, k++);
		assert_non_null(q);
		assert_string_equal(iopass_dev_get_bdf(q), iopass_dev_get_bdf(d));
		if (iopass_dev_get_driver(d))
			assert_string_equal(iopass_dev_get_driver(q), iopass_dev_get_driver(d));
		else
			assert_null(iopass_dev_get_driver(q));
		assert_int_equal(iopass_dev_is_vfio(q), iopass_dev_is_vfio(d));
		assert_int_equal(iopass_dev_get_iommu_group(q),
				 flags & IOPASS_SCAN_GROUPS ? iopass_dev_get_iommu_group(d) : -ENOENT);
	}
	assert_int_equal(iopass_devlist_count(quick), k);
	iopass_devlist_free(quick);
}

static void test_candidates(void **state)
{
	struct fx *fx = fx_new();
	struct iopass_devlist *full, *list = NULL;
	struct iopass_ctx *ctx;

	(void)state;
	fx_iommu_enable(fx);
	fx_add(fx, &FX_DEV(.bdf = "0000:00:00.0", .vendor = 0x8086, .device = 0x3e30,
			   .class = 0x060000, .group = 0)); /* a host bridge: not a PCI bridge */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:01.0", .vendor = 0x8086, .device = 0x1901,
			   .class = 0x060400, .driver = "pcieport", .group = 1, .pcie = FX_PCIE_ROOT_PORT));
	fx_add(fx, &FX_DEV(.bdf = "0000:01:00.0", .vendor = 0x144d, .device = 0xa808,
			   .class = 0x010802, .parent = "0000:00:01.0", .driver = "nvme", .group = 2));
	/* a PCIe-to-PCI bridge has no driver: its class says bridge */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:02.0", .vendor = 0x1a03, .device = 0x1150,
			   .class = 0x060400, .group = 3, .pcie = FX_PCIE_PCI_BRIDGE));
	fx_add(fx, &FX_DEV(.bdf = "0000:02:00.0", .vendor = 0x1a03, .device = 0x2000,
			   .class = 0x030000, .parent = "0000:00:02.0", .group = 3));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:03.0", .vendor = 0x15b3, .device = 0x1018,
			   .class = 0x020000, .driver = "vfio-pci", .vfio_dev = true, .group = 4));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:04.0", .vendor = 0x15b3, .device = 0x101e,
			   .class = 0x020000, .driver = "mlx5_vfio_pci", .vfio_dev = true, .group = 5));
	/* named like a variant but without vfio-dev/: not a vfio driver */
	fx_add(fx, &FX_DEV(.bdf = "0000:00:05.0", .vendor = 0x15b3, .device = 0x101e,
			   .class = 0x020000, .driver = "vfio_lookalike", .group = 6));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:06.0", .vendor = 0x8086, .device = 0x1521,
			   .class = 0x020000, .group = 7));
	fx_add(fx, &FX_DEV(.bdf = "0000:00:07.0", .vendor = 0x8086, .device = 0x1521,
			   .class = 0x020000, .driver = "igb"));

	full = scan(fx, &ctx);
	assert_true(iopass_dev_is_bridge(find(full, "0000:00:02.0")));
	assert_true(iopass_dev_is_vfio(find(full, "0000:00:04.0")));
	assert_false(iopass_dev_is_vfio(find(full, "0000:00:05.0")));
	assert_candidates(ctx, full, IOPASS_CANDIDATES_ATTACH, 0);
	assert_candidates(ctx, full, IOPASS_CANDIDATES_ATTACH, IOPASS_SCAN_GROUPS);
	assert_candidates(ctx, full, IOPASS_CANDIDATES_DETACH, 0);
	assert_candidates(ctx, full, IOPASS_CANDIDATES_DETACH, IOPASS_SCAN_GROUPS);
	{
		/* without /sys/class/pci_bus the classes of unbound devices tell the bridges */
		char *from, *to;

		assert_true(asprintf(&from, "%s/sys/class/pci_bus", fx_root(fx)) > 0);
		assert_true(asprintf(&to, "%s/sys/class/pci_bus.off", fx_root(fx)) > 0);
		assert_int_equal(rename(from, to), 0);
		assert_candidates(ctx, full, IOPASS_CANDIDATES_ATTACH, 0);
		assert_int_equal(rename(to, from), 0);
		free(from);
		free(to);
	}

	/* the attach candidates: the host bridge, nvme, the card behind the bridge, ... */
	assert_int_equal(iopass_scan_candidates(ctx, IOPASS_CANDIDATES_ATTACH, 0, &list), 0);
	assert_int_equal(iopass_devlist_count(list), 6);
	iopass_devlist_free(list);

	assert_int_equal(iopass_scan_candidates(ctx, 0, 0, &list), -EINVAL);
	assert_int_equal(iopass_scan_candidates(ctx, IOPASS_CANDIDATES_ATTACH, 0x100, &list), -EINVAL);
	iopass_devlist_free(full);
	iopass_ctx_free(ctx);
	fx_free(fx);

	/* no PCI bus at all: no candidates */
	fx = fx_new();
	assert_int_equal(iopass_ctx_new(fx_root(fx), &ctx), 0);
	assert_int_equal(iopass_scan_candidates(ctx, IOPASS_CANDIDATES_ATTACH, 0, &list), 0);
	assert_int_equal(iopass_devlist_count(list), 0);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

/* Which device a desired-state line means: by address and IDs, or by IDs with nth= or pf=. */
static void test_desired_resolve(void **state)
{
	static const struct {
		const char *line, *bdf, *error;
		int r;
	} cases[] = {
		{ "0000:02:00.0 144d:a808 vfio-pci", "0000:02:00.0", NULL, 0 },
		{ "02:00.0 144d:a808/144d:a801 vfio-pci", "0000:02:00.0", NULL, 0 },
		/* the subsystem IDs tell two boards with one chip apart */
		{ "0000:02:00.0 144d:a808/144d:a802 vfio-pci", NULL,
		  "line 1: another card sits at 0000:02:00.0: 144d:a808/144d:a801, not 144d:a808/144d:a802; correct the line for this host", -ESTALE },
		{ "0000:02:00.0 8086:10d3 vfio-pci", NULL,
		  "line 1: another card sits at 0000:02:00.0: 144d:a808/144d:a801, not 8086:10d3; correct the line for this host", -ESTALE },
		/* optional covers an absent card, never another one */
		{ "0000:02:00.0 8086:10d3 vfio-pci optional", NULL,
		  "line 1: another card sits at 0000:02:00.0: 144d:a808/144d:a801, not 8086:10d3; correct the line for this host", -ESTALE },
		{ "0000:09:00.0 8086:10d3 vfio-pci", NULL,
		  "line 1: no device at 0000:09:00.0 (the line is for 8086:10d3); mark the line 'optional' if the card may be absent", -ENODEV },
		{ "0000:09:00.0 8086:10d3 vfio-pci optional", "", NULL, 0 },
		/* by IDs: the only one, or which of several */
		{ "* 144d:a808 vfio-pci", "0000:02:00.0", NULL, 0 },
		{ "* 8086:1901 vfio-pci", NULL,
		  "line 1: 3 devices are 8086:1901; name one by address, or add nth=K", -EEXIST },
		{ "* 8086:1901 vfio-pci nth=1", "0000:00:01.0", NULL, 0 },
		{ "* 8086:1901 vfio-pci nth=3", "0000:00:1c.0", NULL, 0 },
		{ "* 8086:1901 vfio-pci nth=4", NULL,
		  "line 1: 8086:1901 (nth=4): 3 such devices on this host, no number 4; mark the line 'optional' if the card may be absent", -ENODEV },
		{ "* 8086:1901 vfio-pci nth=4 optional", "", NULL, 0 },
		{ "* 10de:1eb8 vfio-pci", NULL,
		  "line 1: no 10de:1eb8 on this host; mark the line 'optional' if the card may be absent", -ENODEV },
		/* VFs by their PF: two PFs with two VFs each, the same IDs */
		/* VFs only by their PF: a count over PFs and VFs would change after vfs= */
		{ "* 15b3:1018 vfio-pci", NULL,
		  "line 1: no 15b3:1018 on this host but VFs (select those with pf=ADDRESS); mark the line 'optional' if the card may be absent", -ENODEV },
		{ "* 15b3:1017 vfio-pci", NULL,
		  "line 1: 2 devices are 15b3:1017; name one by address, or add nth=K", -EEXIST },
		{ "* 15b3:1017 host nth=2 vfs=4", "0000:04:00.0", NULL, 0 },
		{ "0000:02:00.0 144d:a808 host vfs=2", NULL,
		  "line 1: vfs=2: 0000:02:00.0 is not an SR-IOV physical function (no sriov_totalvfs); drop vfs= from the line", -EOPNOTSUPP },
		{ "* 15b3:1018 host pf=0000:03:00.0 nth=2 optional", "0000:03:00.3", NULL, 0 },
		{ "* 15b3:1018 vfio-pci pf=0000:04:00.0", NULL,
		  "line 1: 2 devices are 15b3:1018 (0000:04:00.0); name one by address, or add nth=K", -EEXIST },
		{ "* 15b3:1018 vfio-pci pf=0000:04:00.0 nth=2", "0000:04:00.3", NULL, 0 },
		{ "* 15b3:1018 vfio-pci pf=03:00.0 nth=1", "0000:03:00.2", NULL, 0 },
		{ "* 15b3:1018 vfio-pci nth=3", NULL,
		  "line 1: 15b3:1018 (nth=3): 0 such devices on this host, no number 3; mark the line 'optional' if the card may be absent", -ENODEV },
		/* the same device by IDs with and without its subsystem IDs */
		{ "* 144d:a808 vfio-pci\n* 144d:a808/144d:a801 host", NULL,
		  "line 2: the same device as line 1 (0000:02:00.0); one line per device", -EEXIST },
		{ "* 15b3:1018 vfio-pci pf=0000:02:00.0", NULL,
		  "line 1: no 15b3:1018 (0000:02:00.0) on this host; mark the line 'optional' if the card may be absent", -ENODEV },
		/* two lines, one device: by address and by IDs */
		{ "0000:02:00.0 144d:a808 vfio-pci\n* 144d:a808 host", NULL,
		  "line 2: the same device as line 1 (0000:02:00.0); one line per device", -EEXIST },
		{ "* 8086:1901 vfio-pci nth=2\n0000:00:1b.0 8086:1901 host", NULL,
		  "line 2: the same device as line 1 (0000:00:1b.0); one line per device", -EEXIST },
	};
	struct fx *fx = fx_workstation();
	struct iopass_ctx *ctx;
	struct iopass_devlist *list;

	(void)state;
	fx_add(fx, &FX_DEV(.bdf = "0000:04:00.0", .vendor = 0x15b3, .device = 0x1017,
			   .class = 0x020000, .driver = "mlx5_core", .group = 8, .totalvfs = 8,
			   .numvfs = 2, .pcie = FX_PCIE_ENDPOINT, .vf_native = "mlx5_core"));
	fx_add(fx, &FX_DEV(.bdf = "0000:04:00.2", .vendor = 0x15b3, .device = 0x1018,
			   .class = 0x020000, .group = 9, .physfn = "0000:04:00.0",
			   .pcie = FX_PCIE_ENDPOINT));
	fx_add(fx, &FX_DEV(.bdf = "0000:04:00.3", .vendor = 0x15b3, .device = 0x1018,
			   .class = 0x020000, .group = 10, .physfn = "0000:04:00.0",
			   .pcie = FX_PCIE_ENDPOINT));
	list = scan(fx, &ctx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iopass_desired *d = NULL;
		struct iopass_dev *devs[2] = { NULL, NULL };
		char *err = NULL;
		int r;

		assert_int_equal(iopass_desired_parse(cases[i].line, strlen(cases[i].line), &d, &err), 0);
		r = iopass_desired_resolve_all(d, list, devs, &err);
		assert_int_equal(r, cases[i].r);
		if (cases[i].error) {
			assert_non_null(err);
			assert_text_equal(err, cases[i].error);
		} else {
			if (r != 0)
				fail_msg("'%s': %d %s", cases[i].line, r, err ? err : "");
			assert_null(err);
			if (*cases[i].bdf)
				assert_string_equal(iopass_dev_get_bdf(devs[0]), cases[i].bdf);
			else
				assert_null(devs[0]);
		}
		free(err);
		iopass_desired_free(d);
	}
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workstation), cmocka_unit_test(test_desired_resolve),    cmocka_unit_test(test_no_iommu),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_empty_sysroot),  cmocka_unit_test(test_broken_entries),
		cmocka_unit_test(test_corrupt_ids_file), cmocka_unit_test(test_hostile_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
