// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass-bench-gen: a synthetic sysfs (and procfs) tree of a server with N PCI
 * functions, deterministic from a seed, for the benchmark.
 *
 *   iopass-bench-gen [-n N] [-s SEED] [-q] OUTDIR
 *   iopass-bench-gen [-n N] [-s SEED] -d        (dry run: the summary only)
 *
 * The server has one or more PCI domains, each with one or more root
 * complexes (root buses). Every root complex has a host bridge and chipset
 * functions; behind its root ports sit GPUs with their audio functions,
 * SR-IOV NICs with VFs and net/ interfaces, NVMe drives directly on a port or
 * behind a PCIe switch (with and without ACS on the downstream ports), QAT
 * accelerators with VFs, legacy PCI cards behind PCIe-to-PCI bridges and
 * multifunction RCiEPs. Domain 0 has a PCH with root ports without ACS, the
 * management NIC and the BMC's display behind a PCIe-to-PCI bridge.
 *
 * IOMMU groups are computed as the kernel's pci_device_group() would: a
 * device joins the group of its upstream bridge when the path from that
 * bridge to the root bus is not ACS-isolated (PCIe-to-PCI bridges never
 * are); the functions of a multifunction device without ACS share a group;
 * everything else gets a new group, numbered in the order the kernel adds
 * devices (bus by bus, VFs last since they appear when sriov_numvfs is set).
 *
 * The tree is built with the test fixture library (tests/fixture.c): it has
 * the attribute files, uevent, a config space consistent with them, the
 * driver, iommu_group, physfn/virtfn links, plus the attributes lspci reads
 * (irq, resource, ...) and the host files `iopass check` reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

#define MAX_CHILD_BUSES 255

/* ---- deterministic pseudo-random numbers (splitmix64) ------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* 0 .. n-1 */
static int rnd(int n)
{
	return n <= 1 ? 0 : (int)(rng_next() % (uint64_t)n);
}

/* true with probability pct/100 */
static bool chance(int pct)
{
	return rnd(100) < pct;
}

/* ---- the model ----------------------------------------------------------- */

struct node {
	char bdf[16];
	int parent; /* index of the upstream bridge; -1: on a root bus */
	int domain, bus, devfn;
	int secondary; /* bridges: the bus below; -1 otherwise */
	uint16_t vendor, device, subvendor, subdevice;
	uint32_t class;
	const char *driver;
	int pcie;
	bool acs, mf, flr, boot_vga, vfio_dev;
	uint16_t acs_ctrl;
	const char *reset_method;
	int totalvfs, numvfs;
	uint16_t vf_device;
	const char *vf_native, *native;
	int physfn; /* VFs: index of the PF; -1 otherwise */
	char ifname[24];
	bool if_up;
	int nvme;   /* index of the NVMe controller (nvmeN) when bound to nvme; -1 */
	int numa;
	int group;
	char *dir;  /* relative to the root, as the fixture lays it out */
};

static struct node *nodes;
static size_t nnodes, capnodes;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("iopass-bench-gen");
		exit(1);
	}
	return p;
}

static int add_node(const struct node *n)
{
	if (nnodes == capnodes) {
		capnodes = capnodes ? capnodes * 2 : 1024;
		nodes = xrealloc(nodes, capnodes * sizeof(*nodes));
	}
	nodes[nnodes] = *n;
	snprintf(nodes[nnodes].bdf, sizeof(nodes[0].bdf), "%04x:%02x:%02x.%x", n->domain, n->bus,
		 n->devfn >> 3, n->devfn & 7);
	return (int)nnodes++;
}

/* A node with the defaults: no parent, unbound, no SR-IOV, no ACS. */
static struct node blank(int domain, int bus, int devfn, int parent, uint16_t vendor,
			 uint16_t device, uint32_t class)
{
	struct node n = { .parent = parent, .domain = domain, .bus = bus, .devfn = devfn,
			  .secondary = -1, .vendor = vendor, .device = device, .class = class,
			  .physfn = -1, .nvme = -1, .group = -1 };
	return n;
}

/* A root complex: one root bus and the bus numbers below it. */
struct rc {
	int domain, root_bus, next_bus, bus_limit;
	uint32_t used_slots; /* slots taken on the root bus */
	int port_slot, port_fn; /* where the next root port goes: functions of one slot */
	int numa;
	int quota;      /* functions still to place in this root complex */
	bool first;
};

static int nic_count, gpu_count, nvme_ctrl_count, nvme_dev_count, switch_count, vf_count,
	qat_count, legacy_count, rciep_count;

static int take_bus(struct rc *rc)
{
	if (rc->next_bus > rc->bus_limit)
		return -1;
	return rc->next_bus++;
}

static int buses_left(const struct rc *rc)
{
	return rc->bus_limit - rc->next_bus + 1;
}

/* A free slot on the root bus, or -1. */
static int take_slot(struct rc *rc)
{
	for (int s = 1; s < 32; s++) {
		if (!(rc->used_slots & (1u << s))) {
			rc->used_slots |= 1u << s;
			return s;
		}
	}
	return -1;
}

/*
 * A root port with (or without) ACS on the root bus, with its own secondary
 * bus. Ports are the functions of multifunction slots, 8 to a slot, as on
 * AMD's root complexes: with ACS each is a group of its own, without ACS the
 * kernel puts them in one group with the other such functions of the slot.
 */
static int root_port(struct rc *rc, bool acs)
{
	struct node n;

	if (rc->port_slot <= 0 || rc->port_fn >= 8) {
		rc->port_slot = take_slot(rc);
		rc->port_fn = 0;
	}
	n = blank(rc->domain, rc->root_bus, rc->port_slot << 3 | rc->port_fn, -1, 0x8086,
		  (uint16_t)(0x2030 + rc->port_fn % 4), 0x060400);
	rc->port_fn++;
	n.driver = "pcieport";
	n.pcie = FX_PCIE_ROOT_PORT;
	n.mf = true;
	n.acs = acs;
	n.acs_ctrl = acs ? FX_ACS_ALL : 0;
	n.secondary = take_bus(rc);
	n.numa = rc->numa;
	return add_node(&n);
}

static struct node endpoint(const struct node *parent, int devfn, uint16_t vendor, uint16_t device,
			    uint32_t class)
{
	struct node n = blank(parent->domain, parent->secondary, devfn, (int)(parent - nodes), vendor,
			      device, class);

	n.pcie = FX_PCIE_ENDPOINT;
	n.numa = parent->numa;
	n.flr = true;
	n.reset_method = "flr bus";
	return n;
}

/* ---- building blocks ---------------------------------------------------- */

/* A GPU with its HDMI audio function (multifunction, no ACS: one group), or a compute GPU. */
static int block_gpu(struct rc *rc)
{
	int port = root_port(rc, true), r = rnd(100);
	const char *vd, *ad;
	bool compute = chance(40);
	struct node g;

	if (r < 50) {
		vd = "nvidia";
		ad = "snd_hda_intel";
	} else if (r < 85) {
		vd = ad = "vfio-pci";
	} else {
		vd = ad = NULL;
	}
	gpu_count++;
	if (compute) {
		static const uint16_t ids[] = { 0x20b5, 0x2331, 0x1db6, 0x1eb8 };

		g = endpoint(&nodes[port], 0, 0x10de, ids[rnd(4)], 0x030200);
		g.subvendor = 0x10de;
		g.subdevice = 0x1533;
		g.driver = vd;
		g.native = "nvidia";
		g.vfio_dev = vd && strcmp(vd, "vfio-pci") == 0;
		g.reset_method = "flr bus";
		add_node(&g);
		return 2;
	}
	g = endpoint(&nodes[port], 0, 0x10de, 0x2230, 0x030000);
	g.subvendor = 0x10de;
	g.subdevice = 0x1459;
	g.mf = true;
	g.driver = vd;
	g.native = "nvidia";
	g.vfio_dev = vd && strcmp(vd, "vfio-pci") == 0;
	g.reset_method = "bus";
	add_node(&g);
	g = endpoint(&nodes[port], 1, 0x10de, 0x1aef, 0x040300);
	g.subvendor = 0x10de;
	g.subdevice = 0x1459;
	g.mf = true;
	g.driver = ad;
	g.native = "snd_hda_intel";
	g.vfio_dev = ad && strcmp(ad, "vfio-pci") == 0;
	g.reset_method = "bus";
	add_node(&g);
	return 3;
}

struct nic_model {
	uint16_t vendor, pf, vf;
	const char *pf_drv, *vf_drv;
	int totalvfs;
};

static const struct nic_model nic_models[] = {
	{ 0x8086, 0x1593, 0x1889, "ice", "iavf", 128 },
	{ 0x8086, 0x1572, 0x154c, "i40e", "iavf", 64 },
	{ 0x15b3, 0x101b, 0x101c, "mlx5_core", "mlx5_core", 127 },
	{ 0x8086, 0x1563, 0x1565, "ixgbe", "ixgbevf", 63 },
};

/* VFs of PF pf: devfn from first on, each its own group behind an ACS port. */
static void add_vfs(int pf, int first, int count, const char *native, const char *ifbase)
{
	for (int i = 0; i < count; i++) {
		struct node v = nodes[pf];
		int r = rnd(100);

		v.devfn = first + i;
		v.mf = false;
		v.acs = false;
		v.acs_ctrl = 0;
		v.totalvfs = v.numvfs = 0;
		v.vf_native = NULL;
		v.device = nodes[pf].vf_device;
		v.physfn = pf;
		v.native = native;
		v.reset_method = "flr";
		v.ifname[0] = '\0';
		v.if_up = false;
		v.vfio_dev = false;
		v.nvme = -1;
		v.group = -1;
		v.dir = NULL;
		if (r < 40) {
			v.driver = native;
			if (ifbase)
				snprintf(v.ifname, sizeof(v.ifname), "%sv%d", ifbase, i);
		} else if (r < 80) {
			v.driver = "vfio-pci";
			v.vfio_dev = true;
		} else {
			v.driver = NULL;
		}
		add_node(&v);
		vf_count++;
	}
}

/* A dual-port SR-IOV NIC behind an ACS root port; budget caps the functions used. */
static int block_nic(struct rc *rc, int budget, int min_vfs)
{
	static const int vf_choices[] = { 0, 4, 8, 16, 32, 64, 96, 126 };
	const struct nic_model *m = &nic_models[rnd(4)];
	int port = root_port(rc, true), slot = nic_count++, nvfs, pfs[2];

	nvfs = vf_choices[rnd(8)];
	if (nvfs < min_vfs)
		nvfs = min_vfs;
	if (nvfs > m->totalvfs)
		nvfs = m->totalvfs;
	if (nvfs > 126)
		nvfs = 126;
	if (3 + 2 * nvfs > budget)
		nvfs = budget > 3 ? (budget - 3) / 2 : 0;
	for (int f = 0; f < 2; f++) {
		struct node p = endpoint(&nodes[port], f, m->vendor, m->pf, 0x020000);

		p.subvendor = m->vendor;
		p.subdevice = 0x0002;
		p.mf = true;
		p.acs = true; /* these NICs isolate their functions */
		p.acs_ctrl = FX_ACS_ALL;
		p.driver = chance(90) ? m->pf_drv : "vfio-pci";
		p.vfio_dev = strcmp(p.driver, "vfio-pci") == 0;
		p.native = m->pf_drv;
		p.totalvfs = m->totalvfs;
		p.numvfs = p.vfio_dev ? 0 : nvfs;
		p.vf_device = m->vf;
		p.vf_native = m->vf_drv;
		p.reset_method = "flr";
		if (!p.vfio_dev) {
			snprintf(p.ifname, sizeof(p.ifname), "ens%df%d%s", (slot + 1) % 1000, f & 1,
				 m->vendor == 0x15b3 ? "np0" : "");
			p.if_up = f == 0 || chance(50);
		}
		pfs[f] = add_node(&p);
	}
	return 3 + nodes[pfs[0]].numvfs + nodes[pfs[1]].numvfs;
}

/* NVMe drive: bound to nvme (with a block device) or to vfio-pci. */
static void nvme_fill(struct node *n)
{
	if (chance(85)) {
		n->driver = "nvme";
		n->nvme = nvme_ctrl_count++;
	} else {
		n->driver = "vfio-pci";
		n->vfio_dev = true;
	}
	n->native = "nvme";
	n->reset_method = "flr bus";
	nvme_dev_count++;
}

/*
 * An NVMe drive on its own root port; now and then a port without ACS, which
 * puts port and drive in one group with the slot's other ports without ACS.
 * The boot disk is on nvme, behind a port with ACS.
 */
static int block_nvme(struct rc *rc, bool boot)
{
	int port = root_port(rc, boot || !chance(15));
	struct node n = endpoint(&nodes[port], 0, chance(50) ? 0x144d : 0x8086,
				 0, 0x010802);

	n.device = n.vendor == 0x144d ? 0xa80a : 0x0b60;
	n.subvendor = n.vendor;
	n.subdevice = 0xa812;
	if (boot) {
		n.driver = n.native = "nvme";
		n.nvme = nvme_ctrl_count++;
		nvme_dev_count++;
	} else {
		nvme_fill(&n);
	}
	add_node(&n);
	return 2;
}

/* A PCIe switch with k downstream ports, each with an NVMe drive; ACS on the ports or not. */
static int block_switch(struct rc *rc, int k)
{
	int port = root_port(rc, true), up, internal;
	bool acs = chance(65);
	bool gen4 = chance(50);
	struct node u;

	switch_count++;
	u = endpoint(&nodes[port], 0, gen4 ? 0x1000 : 0x10b5, gen4 ? 0xc010 : 0x8747, 0x060400);
	u.pcie = FX_PCIE_UPSTREAM;
	u.driver = "pcieport";
	u.flr = false;
	u.reset_method = NULL;
	internal = take_bus(rc);
	u.secondary = internal;
	up = add_node(&u);
	for (int i = 0; i < k; i++) {
		struct node d = endpoint(&nodes[up], i << 3, nodes[up].vendor, nodes[up].device,
					 0x060400);
		struct node e;
		int dp;

		d.pcie = FX_PCIE_DOWNSTREAM;
		d.driver = "pcieport";
		d.acs = acs;
		d.acs_ctrl = acs ? FX_ACS_ALL : 0;
		d.flr = false;
		d.reset_method = NULL;
		d.secondary = take_bus(rc);
		dp = add_node(&d);
		e = endpoint(&nodes[dp], 0, 0x144d, 0xa80a, 0x010802);
		e.subvendor = 0x144d;
		e.subdevice = 0xa812;
		nvme_fill(&e);
		add_node(&e);
	}
	return 2 + 2 * k;
}

/* A QuickAssist card with VFs behind an ACS root port. */
static int block_qat(struct rc *rc, int budget)
{
	int port = root_port(rc, true), pf, nvfs = 16;
	struct node q = endpoint(&nodes[port], 0, 0x8086, 0x37c8, 0x0b4000);

	if (2 + nvfs > budget)
		nvfs = budget > 2 ? budget - 2 : 0;
	qat_count++;
	q.subvendor = 0x8086;
	q.subdevice = 0x0001;
	q.driver = "c6xx";
	q.native = "c6xx";
	q.totalvfs = 16;
	q.numvfs = nvfs;
	q.vf_device = 0x37c9;
	q.vf_native = "c6xxvf";
	pf = add_node(&q);
	add_vfs(pf, 8, nvfs, "c6xxvf", NULL);
	return 2 + nvfs;
}

/* A legacy PCI card behind a PCIe-to-PCI bridge: bridge and card share one group. */
static int block_legacy(struct rc *rc)
{
	int port = root_port(rc, true), br;
	struct node b = endpoint(&nodes[port], 0, 0x104c, 0x8240, 0x060400);

	legacy_count++;
	b.pcie = FX_PCIE_PCI_BRIDGE;
	b.flr = false;
	b.reset_method = NULL;
	b.secondary = take_bus(rc);
	br = add_node(&b);
	for (int f = 0; f < 2; f++) {
		struct node c = endpoint(&nodes[br], (4 << 3) | f, 0x1415, f ? 0x9513 : 0x9501,
					 f ? 0x070103 : 0x070006);

		c.pcie = 0; /* conventional PCI */
		c.mf = true;
		c.flr = false;
		c.reset_method = "bus";
		c.driver = f ? "parport_pc" : "serial";
		add_node(&c);
	}
	return 4;
}

/* Multifunction RCiEPs on the root bus (DMA engines), no ACS: one group per slot. */
static int block_rciep(struct rc *rc, int budget)
{
	int slot = take_slot(rc), nf = budget < 8 ? budget : 8;

	rciep_count++;
	for (int f = 0; f < nf; f++) {
		struct node n = blank(rc->domain, rc->root_bus, slot << 3 | f, -1, 0x8086, 0x2021,
				      0x088000);

		n.pcie = FX_PCIE_RCIEP;
		n.mf = nf > 1;
		n.driver = "ioatdma";
		n.numa = rc->numa;
		n.reset_method = NULL;
		add_node(&n);
	}
	return nf;
}

/* The start of every root complex: host bridge, VT-d/RAS/IOAPIC functions. */
static int rc_base(struct rc *rc)
{
	static const uint16_t fn5[] = { 0x2034, 0x2035, 0x2036 };
	struct node h = blank(rc->domain, rc->root_bus, 0, -1, 0x8086, rc->first ? 0x2020 : 0x2024,
			      rc->first ? 0x060000 : 0x088000);
	int used = 1;

	h.pcie = FX_PCIE_RCIEP;
	h.numa = rc->numa;
	add_node(&h);
	for (int i = 0; i < 3; i++) {
		struct node n = blank(rc->domain, rc->root_bus, 5 << 3 | (i * 2), -1, 0x8086, fn5[i],
				      0x088000);

		n.pcie = FX_PCIE_RCIEP;
		n.mf = true;
		n.numa = rc->numa;
		add_node(&n);
		used++;
	}
	rc->used_slots |= 1u << 0 | 1u << 5;
	return used;
}

/* Domain 0's chipset: PCH functions, root ports without ACS, management NIC and the BMC. */
static int chipset(struct rc *rc)
{
	int used = 0, rp0, rp1, br;
	struct node n;

	rc->used_slots |= 1u << 0x11 | 1u << 0x14 | 1u << 0x16 | 1u << 0x17 | 1u << 0x1c | 1u << 0x1f;

	/* SATA, xHCI, MEI */
	n = blank(0, rc->root_bus, 0x11 << 3 | 5, -1, 0x8086, 0xa1d2, 0x010601);
	n.driver = "ahci";
	add_node(&n);
	n = blank(0, rc->root_bus, 0x14 << 3, -1, 0x8086, 0xa1af, 0x0c0330);
	n.driver = "xhci_hcd";
	n.reset_method = "pm";
	add_node(&n);
	n = blank(0, rc->root_bus, 0x16 << 3, -1, 0x8086, 0xa1ba, 0x078000);
	n.driver = "mei_me";
	add_node(&n);
	n = blank(0, rc->root_bus, 0x17 << 3, -1, 0x8086, 0xa182, 0x010601);
	n.driver = "ahci";
	add_node(&n);
	used += 4;

	/* PCH root ports 1c.0 and 1c.5: one multifunction device without ACS */
	n = blank(0, rc->root_bus, 0x1c << 3, -1, 0x8086, 0xa190, 0x060400);
	n.pcie = FX_PCIE_ROOT_PORT;
	n.mf = true;
	n.driver = "pcieport";
	n.secondary = take_bus(rc);
	rp0 = add_node(&n);
	n.devfn = 0x1c << 3 | 5;
	n.device = 0xa195;
	n.secondary = take_bus(rc);
	rp1 = add_node(&n);
	used += 2;

	/* LPC, SMBus, SPI: multifunction without ACS */
	n = blank(0, rc->root_bus, 0x1f << 3, -1, 0x8086, 0xa1c1, 0x060100);
	n.mf = true;
	add_node(&n);
	n.devfn = 0x1f << 3 | 4;
	n.device = 0xa1a3;
	n.class = 0x0c0500;
	n.driver = "i801_smbus";
	add_node(&n);
	n.devfn = 0x1f << 3 | 5;
	n.device = 0xa1a4;
	n.class = 0x0c8000;
	n.driver = NULL;
	add_node(&n);
	used += 3;

	/* the management NIC behind 1c.0 */
	n = endpoint(&nodes[rp0], 0, 0x8086, 0x1533, 0x020000);
	n.subvendor = 0x15d9;
	n.subdevice = 0x1533;
	n.driver = "igb";
	n.native = "igb";
	n.reset_method = "flr bus";
	snprintf(n.ifname, sizeof(n.ifname), "eno1");
	n.if_up = true;
	add_node(&n);
	used++;

	/* the BMC's display behind the AST1150 bridge behind 1c.5: the boot VGA */
	n = endpoint(&nodes[rp1], 0, 0x1a03, 0x1150, 0x060400);
	n.pcie = FX_PCIE_PCI_BRIDGE;
	n.flr = false;
	n.reset_method = NULL;
	n.secondary = take_bus(rc);
	br = add_node(&n);
	n = endpoint(&nodes[br], 0, 0x1a03, 0x2000, 0x030000);
	n.pcie = 0;
	n.flr = false;
	n.subvendor = 0x15d9;
	n.subdevice = 0x1b95;
	n.driver = "ast";
	n.boot_vga = true;
	n.reset_method = "bus";
	add_node(&n);
	used += 2;
	return used;
}

/* Fill a root complex with blocks until its quota is used (or it runs out of buses or slots). */
static void fill_rc(struct rc *rc)
{
	while (rc->quota > 0) {
		int q = rc->quota, b = buses_left(rc), pick;
		bool free_slot = rc->used_slots != 0xffffffffu;
		bool port = b >= 1 && (free_slot || (rc->port_slot > 0 && rc->port_fn < 8));

		if (!port && !free_slot)
			break;
		if (q < 2 || !port) {
			rc->quota -= block_rciep(rc, q);
			continue;
		}
		if (q < 4) {
			rc->quota -= block_nvme(rc, false); /* 2 */
			continue;
		}
		pick = rnd(100);
		/* scarce buses: NICs with many VFs */
		if (q / b > 24 && pick < 70) {
			rc->quota -= block_nic(rc, q, q / b > 60 ? 126 : q / b);
			continue;
		}
		if (pick < 15)
			rc->quota -= block_gpu(rc);
		else if (pick < 45)
			rc->quota -= block_nic(rc, q, 0);
		else if (pick < 60)
			rc->quota -= block_nvme(rc, false);
		else if (pick < 72 && b >= 4 && q >= 6) {
			int k = 2 + rnd(7);

			if (2 + 2 * k > q)
				k = (q - 2) / 2;
			if (k + 2 > b)
				k = b - 2;
			rc->quota -= block_switch(rc, k);
		} else if (pick < 80)
			rc->quota -= block_qat(rc, q);
		else if (pick < 86 && b >= 2)
			rc->quota -= block_legacy(rc);
		else if (free_slot && pick < 92)
			rc->quota -= block_rciep(rc, q);
		else
			rc->quota -= block_nvme(rc, false);
	}
}

/* ---- IOMMU groups as the kernel computes them ----------------------------- */

/* pci_acs_enabled() for the flags the IOMMU core requires (SV, RR, CR, UF). */
static bool acs_enabled(const struct node *n)
{
	bool acs = n->acs && (n->acs_ctrl & FX_ACS_ALL) == FX_ACS_ALL;

	switch (n->pcie) {
	case 0:
		return false; /* conventional PCI */
	case FX_PCIE_PCI_BRIDGE:
		return false;
	case FX_PCIE_ROOT_PORT:
	case FX_PCIE_DOWNSTREAM:
		return acs;
	default: /* endpoints, upstream ports, RCiEPs: only multifunction ones need ACS */
		return n->mf ? acs : true;
	}
}

/* pci_acs_path_enabled(): n and every bridge above it. */
static bool acs_path(int i)
{
	for (; i >= 0; i = nodes[i].parent)
		if (!acs_enabled(&nodes[i]))
			return false;
	return true;
}

static int next_group;

static void assign_group(int i)
{
	struct node *n = &nodes[i];

	/* the upstream bridge cannot isolate us: its group (it was added first) */
	if (n->parent >= 0 && !acs_path(n->parent)) {
		n->group = nodes[n->parent].group;
		return;
	}
	/* a function of a multifunction device without ACS: another such function's group */
	if (n->physfn < 0 && n->mf && !acs_enabled(n)) {
		for (size_t j = 0; j < nnodes; j++) {
			const struct node *o = &nodes[j];

			if ((int)j != i && o->group >= 0 && o->domain == n->domain && o->bus == n->bus &&
			    (o->devfn >> 3) == (n->devfn >> 3) && o->physfn < 0 && !acs_enabled(o)) {
				n->group = o->group;
				return;
			}
		}
	}
	n->group = next_group++;
}

/* The kernel's add order: a bus's devices, then the buses below its bridges; VFs last. */
static int *order;
static size_t norder;

static int cmp_addr(const void *pa, const void *pb)
{
	const struct node *a = &nodes[*(const int *)pa], *b = &nodes[*(const int *)pb];

	if (a->domain != b->domain)
		return a->domain - b->domain;
	if (a->bus != b->bus)
		return a->bus - b->bus;
	return a->devfn - b->devfn;
}

static void add_bus(int domain, int bus, const int *sorted, size_t n)
{
	size_t start = norder;

	for (size_t i = 0; i < n; i++) {
		const struct node *d = &nodes[sorted[i]];

		if (d->domain == domain && d->bus == bus && d->physfn < 0)
			order[norder++] = sorted[i];
	}
	for (size_t i = start, end = norder; i < end; i++)
		if (nodes[order[i]].secondary >= 0)
			add_bus(domain, nodes[order[i]].secondary, sorted, n);
}

static void compute_order(const struct rc *rcs, int nrc)
{
	int *sorted = xrealloc(NULL, nnodes * sizeof(*sorted));

	for (size_t i = 0; i < nnodes; i++)
		sorted[i] = (int)i;
	qsort(sorted, nnodes, sizeof(*sorted), cmp_addr);
	order = xrealloc(NULL, nnodes * sizeof(*order));
	for (int r = 0; r < nrc; r++)
		add_bus(rcs[r].domain, rcs[r].root_bus, sorted, nnodes);
	for (size_t i = 0; i < nnodes; i++)
		if (nodes[sorted[i]].physfn >= 0)
			order[norder++] = sorted[i];
	free(sorted);
	if (norder != nnodes) {
		fprintf(stderr, "iopass-bench-gen: internal error: %zu of %zu devices reachable\n",
			norder, nnodes);
		exit(1);
	}
}

/* ---- writing the tree ----------------------------------------------------- */

static void xasprintf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xasprintf(char **s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(s, fmt, ap);
	va_end(ap);
	if (r < 0)
		exit(1);
}

static void put_attr(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put_attr(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
{
	char *path, *s;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		exit(1);
	xasprintf(&path, "%s/%s", dir, name);
	fx_write(fx, path, s, (size_t)r);
	free(path);
	free(s);
}

/* What a real device directory has besides what the fixture writes: what lspci reads. */
static void write_extras(struct fx *fx, const struct node *n, int irq)
{
	static const char *cpus[2][2] = { { "00000000,00ffffff", "0-23" },
					  { "0000ffff,ff000000", "24-47" } };
	char res[17 * 60], *rel, *link;
	size_t len = 0;
	bool bridge = n->secondary >= 0;

	for (int i = 0; i < 17; i++) {
		unsigned long long start = 0, end = 0, flags = 0;

		if (!bridge && i == 0) {
			start = 0xc0000000ull + ((unsigned long long)(n - nodes) << 20);
			end = start + 0xfffff;
			flags = 0x40200;
		}
		len += (size_t)snprintf(res + len, sizeof(res) - len,
					"0x%016llx 0x%016llx 0x%016llx\n", start, end, flags);
	}
	put_attr(fx, n->dir, "resource", "%s", res);
	put_attr(fx, n->dir, "irq", "%d\n", irq);
	put_attr(fx, n->dir, "numa_node", "%d\n", n->numa);
	put_attr(fx, n->dir, "local_cpus", "%s\n", cpus[n->numa & 1][0]);
	put_attr(fx, n->dir, "local_cpulist", "%s\n", cpus[n->numa & 1][1]);
	put_attr(fx, n->dir, "enable", "%d\n", n->driver ? 1 : 0);
	put_attr(fx, n->dir, "modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", n->vendor,
		 n->device, n->subvendor, n->subdevice, n->class >> 16, (n->class >> 8) & 0xff,
		 n->class & 0xff);
	rel = fx_relpath(n->dir, "sys/bus/pci");
	xasprintf(&link, "%s/subsystem", n->dir);
	fx_symlink(fx, link, rel);
	free(link);
	free(rel);
}

static void write_node(struct fx *fx, struct node *n)
{
	struct fx_dev d = FX_DEV(.bdf = n->bdf);
	char *dir;

	d.vendor = n->vendor;
	d.device = n->device;
	d.subvendor = n->subvendor;
	d.subdevice = n->subdevice;
	d.class = n->class;
	d.parent = n->parent >= 0 ? nodes[n->parent].bdf : NULL;
	d.driver = n->driver;
	d.group = n->group;
	d.totalvfs = n->totalvfs;
	d.numvfs = n->numvfs;
	d.physfn = n->physfn >= 0 ? nodes[n->physfn].bdf : NULL;
	d.boot_vga = n->boot_vga;
	d.vfio_dev = n->vfio_dev;
	d.multifunction = n->mf;
	d.pcie = n->pcie;
	d.acs = n->acs;
	d.acs_ctrl = n->acs_ctrl;
	d.flr = n->flr;
	d.reset_method = n->reset_method;
	d.native = n->native;
	d.vf_device = n->vf_device;
	d.vf_native = n->vf_native;
	fx_add(fx, &d);

	/* the fixture's layout: under the parent's directory, or under pciDDDD:BB */
	if (n->parent >= 0)
		xasprintf(&dir, "%s/%s", nodes[n->parent].dir, n->bdf);
	else
		xasprintf(&dir, "sys/devices/pci%04x:%02x/%s", n->domain, n->bus, n->bdf);
	n->dir = dir;
}

static void write_host(struct fx *fx, int nrc, int vfio_group, const char *bootdisk)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	/* a ready Intel host: IOMMU on, interrupt remapping, vfio loaded */
	for (int i = 0; i < nrc; i++) {
		char path[64];

		snprintf(path, sizeof(path), "sys/class/iommu/dmar%d", i);
		fx_mkdir(fx, path);
	}
	fx_printf(fx, "proc/cmdline",
		  "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=4f1c2a9e ro intel_iommu=on iommu=pt quiet\n");
	fx_printf(fx, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n");
	fx_printf(fx, "proc/sys/kernel/osrelease", "6.1.0-28-amd64\n");
	f = open_memstream(&s, &len);
	if (!f)
		exit(1);
	fprintf(f, "            CPU0       CPU1\n");
	fprintf(f, "  0:         28          0  IR-IO-APIC    2-edge      timer\n");
	for (int i = 0; i < nrc; i++)
		fprintf(f, "%3d:          0          0  DMAR-MSI    %d-edge      dmar%d\n", 24 + i, i, i);
	fprintf(f, "%3d:       1234          0  IR-PCI-MSI-%s    0-edge      nvme0q0\n", 24 + nrc,
		bootdisk ? bootdisk : "0000:00:17.0");
	fclose(f);
	fx_write(fx, "proc/interrupts", s, len);
	free(s);
	fx_printf(fx, "sys/module/vfio/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_pci/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_iommu_type1/initstate", "live\n");
	fx_printf(fx, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n");
	fx_printf(fx, "dev/vfio/vfio", "%s", "");
	fx_printf(fx, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
		  "eno1\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
		  "ens1f0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n");
	fx_printf(fx, "proc/net/ipv6_route", "%s", "");
	if (bootdisk)
		fx_printf(fx, "proc/self/mountinfo",
			  "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
			  "23 22 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw\n");
	else
		fx_printf(fx, "proc/self/mountinfo", "%s", "");
	fx_printf(fx, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	/* a VM holding the group of a device on vfio-pci */
	if (vfio_group >= 0) {
		char target[64];

		fx_printf(fx, "proc/4242/comm", "qemu-system-x86\n");
		fx_symlink(fx, "proc/4242/fd/0", "/dev/null");
		snprintf(target, sizeof(target), "/dev/vfio/%d", vfio_group);
		fx_symlink(fx, "proc/4242/fd/31", target);
	}
}

static void usage(FILE *out)
{
	fputs("Usage: iopass-bench-gen [-n N] [-s SEED] [-q] OUTDIR\n"
	      "       iopass-bench-gen [-n N] [-s SEED] -d\n"
	      "\nWrite a synthetic sysfs/procfs tree of a server with N PCI functions to\n"
	      "OUTDIR (which must not exist), deterministic from SEED. Use it with\n"
	      "iopass --sysroot OUTDIR, or lspci -A linux-sysfs -O sysfs.path=OUTDIR/sys/bus/pci.\n"
	      "\n  -n N      number of PCI functions (default 1024, 32 to 65536)\n"
	      "  -s SEED   seed (default 1)\n"
	      "  -q        no summary on stdout\n"
	      "  -d        dry run: build the model and print the summary, write nothing\n",
	      out);
}

int main(int argc, char *argv[])
{
	long n_target = 1024;
	unsigned long long seed = 1;
	bool quiet = false, dry = false;
	int c, ndom, nrc_per, nrc, irq = 30, vfio_group = -1, ngroups_multi = 0, ngroups;
	struct rc *rcs;
	const char *out;
	char *parent, *tmp;
	struct fx *fx;
	int *gsize;
	const char *bootdisk = NULL;

	while ((c = getopt(argc, argv, "n:s:qdh")) != -1) {
		switch (c) {
		case 'n':
			n_target = strtol(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'q':
			quiet = true;
			break;
		case 'd':
			dry = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + (dry ? 0 : 1) != argc || n_target < 32 || n_target > 65536) {
		usage(stderr);
		return 2;
	}
	out = dry ? NULL : argv[optind];
	if (out && access(out, F_OK) == 0) {
		fprintf(stderr, "iopass-bench-gen: %s exists; remove it first\n", out);
		return 1;
	}
	rng_state = seed * 0x2545f4914f6cdd1dull + (unsigned long long)n_target;

	/* domains and root complexes grow with the size, ~700 functions per root complex */
	ndom = n_target < 512 ? 1 : (int)((n_target + 4095) / 4096);
	if (n_target >= 512 && ndom < 2)
		ndom = 2;
	nrc_per = (int)((n_target + ndom * 700 - 1) / (ndom * 700));
	if (nrc_per > 8)
		nrc_per = 8;
	nrc = ndom * nrc_per;
	rcs = calloc((size_t)nrc, sizeof(*rcs));
	if (!rcs)
		return 1;
	for (int d = 0, i = 0; d < ndom; d++) {
		for (int r = 0; r < nrc_per; r++, i++) {
			int span = 256 / nrc_per;

			rcs[i].domain = d;
			rcs[i].root_bus = r * span;
			rcs[i].next_bus = rcs[i].root_bus + 1;
			rcs[i].bus_limit = rcs[i].root_bus + span - 1;
			rcs[i].numa = (i * 2) / nrc;
			rcs[i].first = i == 0;
		}
	}

	/* place the functions: the base of every root complex, the chipset, then blocks */
	{
		long left = n_target;

		for (int i = 0; i < nrc; i++)
			left -= rc_base(&rcs[i]);
		left -= chipset(&rcs[0]);
		/* the boot disk: an NVMe on a CPU root port of the first root complex */
		left -= block_nvme(&rcs[0], true);
		if (left < 0) {
			fprintf(stderr, "iopass-bench-gen: N=%ld is too small\n", n_target);
			return 1;
		}
		for (int i = 0; i < nrc; i++) {
			rcs[i].quota = (int)(left / (nrc - i));
			left -= rcs[i].quota;
			fill_rc(&rcs[i]);
			/* what did not fit moves on to the next root complex */
			left += rcs[i].quota;
			rcs[i].quota = 0;
		}
		/* still some left: into any root complex with room, then more VFs on the NICs */
		for (int i = 0; i < nrc && left > 0; i++) {
			rcs[i].quota = (int)left;
			fill_rc(&rcs[i]);
			left = rcs[i].quota;
			rcs[i].quota = 0;
		}
		for (size_t i = 0; i < nnodes && left > 0; i++) {
			struct node *p = &nodes[i];
			int room = (p->totalvfs < 126 ? p->totalvfs : 126) - p->numvfs;

			if (p->class != 0x020000 || !p->vf_native || p->vfio_dev || room <= 0)
				continue;
			if (room > left)
				room = (int)left;
			p->numvfs += room;
			left -= room;
		}
		if (left > 0) {
			fprintf(stderr, "iopass-bench-gen: N=%ld does not fit\n", n_target);
			return 1;
		}
	}

	/* VFs of the PFs that have them, after all (appended after their PF's siblings) */
	for (size_t i = 0, n = nnodes; i < n; i++) {
		if (nodes[i].numvfs > 0 && nodes[i].vf_native && nodes[i].class == 0x020000) {
			char base[24];

			snprintf(base, sizeof(base), "%s", nodes[i].ifname);
			if (strlen(base) > 3 && strcmp(base + strlen(base) - 3, "np0") == 0)
				base[strlen(base) - 3] = '\0';
			/* PF 0's VFs from devfn 2 on, PF 1's after the larger of the two sets */
			int first = 2;

			if ((nodes[i].devfn & 7) == 1)
				first += nodes[i].numvfs > nodes[i - 1].numvfs ? nodes[i].numvfs
									  : nodes[i - 1].numvfs;
			add_vfs((int)i, first, nodes[i].numvfs, nodes[i].vf_native, base);
		}
	}
	if ((long)nnodes != n_target) {
		fprintf(stderr, "iopass-bench-gen: internal error: %zu functions, not %ld\n", nnodes,
			n_target);
		return 1;
	}

	compute_order(rcs, nrc);
	for (size_t i = 0; i < norder; i++)
		assign_group(order[i]);
	ngroups = next_group;
	if (dry) {
		if (!quiet)
			printf("functions %zu\nseed %llu\ndomains %d\nroot_complexes %d\ngroups %d\n"
			       "gpus %d\nnics %d\nvfs %d\nnvme %d\nswitches %d\n",
			       nnodes, seed, ndom, nrc, ngroups, gpu_count, nic_count, vf_count,
			       nvme_dev_count, switch_count);
		return 0;
	}

	/* the tree: fx_new makes it next to OUTDIR, renamed into place when complete */
	tmp = strdup(out);
	if (!tmp)
		return 1;
	parent = dirname(tmp);
	setenv("TMPDIR", parent, 1);
	fx = fx_new();
	fx_iommu_enable(fx);
	for (size_t i = 0; i < norder; i++) {
		struct node *n = &nodes[order[i]];

		write_node(fx, n);
		write_extras(fx, n, irq++);
		if (n->ifname[0])
			fx_add_net(fx, n->bdf, n->ifname, n->if_up);
		if (n->nvme >= 0) {
			char sub[32], name[32], devt[32];

			snprintf(sub, sizeof(sub), "nvme/nvme%d", n->nvme);
			snprintf(name, sizeof(name), "nvme%dn1", n->nvme);
			snprintf(devt, sizeof(devt), "259:%d", n->nvme * 4);
			fx_add_block(fx, n->bdf, sub, NULL, name, devt, NULL);
			if (n->nvme == 0) {
				bootdisk = n->bdf;
				fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p1", "259:1", NULL);
				fx_add_block(fx, NULL, NULL, "nvme0n1", "nvme0n1p2", "259:2", NULL);
			}
		}
		if (n->boot_vga)
			fx_add_fb(fx, n->bdf, "fb0");
		if (vfio_group < 0 && n->vfio_dev && (n->class >> 16) == 0x03)
			vfio_group = n->group;
	}
	write_host(fx, nrc, vfio_group, bootdisk);

	gsize = calloc((size_t)ngroups + 1, sizeof(*gsize));
	if (!gsize)
		return 1;
	for (size_t i = 0; i < nnodes; i++)
		gsize[nodes[i].group]++;
	for (int g = 0; g < ngroups; g++)
		ngroups_multi += gsize[g] > 1;
	{
		char *info;

		xasprintf(&info,
			  "functions %zu\nseed %llu\ndomains %d\nroot_complexes %d\ngroups %d\n"
			  "multi_device_groups %d\ngpus %d\nnics %d\nvfs %d\nnvme %d\nswitches %d\n"
			  "qat %d\nlegacy_bridges %d\nrciep_blocks %d\n",
			  nnodes, seed, ndom, nrc, ngroups, ngroups_multi, gpu_count, nic_count,
			  vf_count, nvme_dev_count, switch_count, qat_count, legacy_count, rciep_count);
		fx_printf(fx, "bench-tree.txt", "%s", info);
		if (!quiet)
			fputs(info, stdout);
		free(info);
	}
	if (chmod(fx_root(fx), 0755) < 0 || rename(fx_root(fx), out) < 0) {
		fprintf(stderr, "iopass-bench-gen: %s -> %s: %s\n", fx_root(fx), out, strerror(errno));
		return 1;
	}
	fx_close(fx);
	for (size_t i = 0; i < nnodes; i++)
		free(nodes[i].dir);
	free(nodes);
	free(order);
	free(gsize);
	free(rcs);
	free(tmp);
	return 0;
}
