/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fixture sysfs trees for tests (and the benchmark generator): a temporary
 * directory laid out as the kernel lays out /sys for PCI — devices nested
 * under their bridges, bus/pci/devices and drivers/<drv>/<bdf> links, each
 * bus in class/pci_bus, kernel/iommu_groups/N/devices, uevent and a config
 * space consistent with the attribute files.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct fx;

struct fx_dev {
	const char *bdf;     /* full BDF, lower case */
	uint16_t vendor, device;
	uint16_t subvendor, subdevice;
	uint32_t class;      /* 24-bit */
	const char *parent;  /* BDF of the upstream bridge; NULL: on the root bus */
	const char *driver;  /* NULL: unbound */
	int group;           /* IOMMU group, or -1 for none */
	int totalvfs;        /* SR-IOV PF: > 0 */
	int numvfs;
	const char *physfn;  /* SR-IOV VF: BDF of its PF */
	bool boot_vga;
	bool vfio_dev;       /* add vfio-dev/vfio0 (vfio-pci and variants) */
	bool multifunction;  /* header type bit 7 */
	int pcie;            /* FX_PCIE_*: a PCIe capability of that port type; 0: conventional PCI */
	bool acs;            /* an ACS extended capability ... */
	uint16_t acs_ctrl;   /* ... with these control bits (FX_ACS_ALL: SV, RR, CR, UF) */
	uint16_t acs_cap;    /* ... offering these (0: FX_ACS_ALL) */
	int header;          /* FX_HEADER_*: the header type, when it is not what the class says */
	uint16_t acs_ctrl_at8; /* ... and this at ACS + 8, where Intel's Sunrise Point keeps it */
	bool flr;            /* DevCap FLR */
	bool no_soft_reset;  /* PM NoSoftRst: no PM reset */
	const char *reset_method; /* the reset_method attribute; NULL: none (kernel < 5.15) */
	int config_len;      /* bytes of config space; 0: 4096 for PCIe, 256 otherwise */
	const char *native;  /* the driver the simulated kernel probes (default: driver) */
	uint16_t vf_device;  /* SR-IOV PF: the VFs' device ID (sriov_vf_device); 0: device + 1 */
	const char *vf_native; /* SR-IOV PF: the VFs' native driver */
};

enum {
	FX_PCIE_ENDPOINT = 1,
	FX_PCIE_ROOT_PORT,
	FX_PCIE_UPSTREAM,
	FX_PCIE_DOWNSTREAM,
	FX_PCIE_PCI_BRIDGE, /* PCIe-to-PCI */
	FX_PCIE_RCIEP,      /* root complex integrated endpoint */
	FX_PCIE_PCIX_BRIDGE, /* PCI/PCI-X-to-PCIe (reverse) */
};
#define FX_ACS_ALL 0x001d /* SV | RR | CR | UF */
enum { FX_HEADER_BY_CLASS = 0, FX_HEADER_ENDPOINT, FX_HEADER_BRIDGE };

/* A fresh tree in $TMPDIR (or /tmp); aborts on failure, tests want no error paths here. */
struct fx *fx_new(void);
/* Removes the tree. */
void fx_free(struct fx *fx);
/* An existing tree (the simulated kernel adds VFs to it); fx_close keeps the files. */
struct fx *fx_open(const char *root);
void fx_close(struct fx *fx);
const char *fx_root(const struct fx *fx);
/* The device directory (relative to the root) of a device added before. */
const char *fx_dev_dir(const struct fx *fx, const char *bdf);

/* group = -1 and totalvfs = 0 are the usual defaults: use FX_DEV(...) */
#define FX_DEV(...) ((struct fx_dev){ .group = -1, __VA_ARGS__ })
void fx_add(struct fx *fx, const struct fx_dev *dev);
/* Create the iommu_groups directory even when no device has a group (an IOMMU host). */
void fx_iommu_enable(struct fx *fx);

/* A network interface of a device; up sets IFF_UP in flags. */
void fx_add_net(struct fx *fx, const char *bdf, const char *ifname, bool up);
/* A virtual interface (bond, bridge, vlan) on top of lower. */
void fx_add_net_upper(struct fx *fx, const char *lower, const char *upper, bool up);
/*
 * A block device: under a device (bdf, with subdir such as "nvme/nvme0"), under
 * another block device (parent_block, for partitions), or virtual (dm-N, mdN)
 * when both are NULL; dmname sets dm/name.
 */
void fx_add_block(struct fx *fx, const char *bdf, const char *subdir, const char *parent_block,
		  const char *name, const char *devt, const char *dmname);
/* upper (dm-0, md0) holds lower */
void fx_add_holder(struct fx *fx, const char *lower, const char *upper);
/* A framebuffer fbN driven by the device. */
void fx_add_fb(struct fx *fx, const char *bdf, const char *fbname);

/* A loaded driver: sys/bus/pci/drivers/<name> with bind and unbind. */
void fx_add_driver(struct fx *fx, const char *name);

/* Raw helpers, paths relative to the root; parents are created. */
void fx_write(struct fx *fx, const char *path, const void *data, size_t len);
void fx_printf(struct fx *fx, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fx_symlink(struct fx *fx, const char *path, const char *target);
void fx_mkdir(struct fx *fx, const char *path);
/*
 * A class entry with a device file: DIR/NAME under the device (subdir such as
 * "drm" or "sound/card0"), sys/class/CLS/NAME linking to it, DEVNAME=devname.
 */
void fx_add_class_node(struct fx *fx, const char *bdf, const char *subdir, const char *cls,
		       const char *name, const char *devname);
void fx_unlink(struct fx *fx, const char *path);
/* "a/b/c" relative to the root -> the relative link target from dir "x/y" */
char *fx_relpath(const char *from_dir, const char *to);
