// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

struct fx_entry {
	char bdf[20];
	char *dir;
	int nvfs;
};

struct fx {
	char *root;
	struct fx_entry *devs;
	size_t ndevs;
};

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fixture: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static char *xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		abort();
	return r;
}

static char *full(const struct fx *fx, const char *path)
{
	char *p;

	if (asprintf(&p, "%s/%s", fx->root, path) < 0)
		abort();
	return p;
}

static void mkdir_p(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("mkdir", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die("mkdir", p);
	free(p);
}

static void mkparent(const char *path)
{
	char *p = xstrdup(path);
	char *slash = strrchr(p, '/');

	if (slash && slash != p) {
		*slash = '\0';
		mkdir_p(p);
	}
	free(p);
}

struct fx *fx_new(void)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *fx = calloc(1, sizeof(*fx));
	char *tmpl;

	if (!fx)
		abort();
	if (asprintf(&tmpl, "%s/iopass-fx-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		abort();
	if (!mkdtemp(tmpl))
		die("mkdtemp", tmpl);
	fx->root = tmpl;
	fx_mkdir(fx, "sys/bus/pci/devices");
	fx_mkdir(fx, "sys/bus/pci/drivers");
	fx_mkdir(fx, "sys/devices");
	fx_printf(fx, "sys/bus/pci/drivers_probe", "%s", "");
	return fx;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	/* make unreadable test files removable again */
	chmod(path, 0700);
	return remove(path);
}

void fx_free(struct fx *fx)
{
	if (!fx)
		return;
	nftw(fx->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < fx->ndevs; i++)
		free(fx->devs[i].dir);
	free(fx->devs);
	free(fx->root);
	free(fx);
}

struct fx *fx_open(const char *root)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char *devices;
	DIR *d;
	struct dirent *de;

	if (!fx)
		abort();
	fx->root = xstrdup(root);
	devices = full(fx, "sys/bus/pci/devices");
	d = opendir(devices);
	while (d && (de = readdir(d))) {
		char link[4200], target[4096], *t;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", devices, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		t = target;
		while (strncmp(t, "../", 3) == 0)
			t += 3;
		fx->devs = realloc(fx->devs, (fx->ndevs + 1) * sizeof(*fx->devs));
		if (!fx->devs)
			abort();
		snprintf(fx->devs[fx->ndevs].bdf, sizeof(fx->devs[0].bdf), "%.19s", de->d_name);
		if (asprintf(&fx->devs[fx->ndevs].dir, "sys/%s", t) < 0)
			abort();
		fx->devs[fx->ndevs++].nvfs = 0;
	}
	if (d)
		closedir(d);
	free(devices);
	return fx;
}

void fx_close(struct fx *fx)
{
	if (!fx)
		return;
	for (size_t i = 0; i < fx->ndevs; i++)
		free(fx->devs[i].dir);
	free(fx->devs);
	free(fx->root);
	free(fx);
}

const char *fx_root(const struct fx *fx)
{
	return fx->root;
}

const char *fx_dev_dir(const struct fx *fx, const char *bdf)
{
	for (size_t i = 0; i < fx->ndevs; i++)
		if (strcmp(fx->devs[i].bdf, bdf) == 0)
			return fx->devs[i].dir;
	return NULL;
}

void fx_write(struct fx *fx, const char *path, const void *data, size_t len)
{
	char *p = full(fx, path);
	int fd;

	mkparent(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open", p);
	if (len && write(fd, data, len) != (ssize_t)len)
		die("write", p);
	close(fd);
	free(p);
}

void fx_printf(struct fx *fx, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	fx_write(fx, path, s, (size_t)n);
	free(s);
}

void fx_symlink(struct fx *fx, const char *path, const char *target)
{
	char *p = full(fx, path);

	mkparent(p);
	unlink(p);
	if (symlink(target, p) < 0)
		die("symlink", p);
	free(p);
}

void fx_mkdir(struct fx *fx, const char *path)
{
	char *p = full(fx, path);

	mkdir_p(p);
	free(p);
}

void fx_unlink(struct fx *fx, const char *path)
{
	char *p = full(fx, path);

	if (remove(p) < 0 && errno != ENOENT)
		die("remove", p);
	free(p);
}

/* As the kernel writes its links: up to the common ancestor, then down. */
char *fx_relpath(const char *from_dir, const char *to)
{
	size_t common = 0, depth = 0, len;
	const char *rest;
	char *r, *w;

	/* the longest common prefix that ends at a component boundary */
	for (size_t i = 0;; i++) {
		bool end_from = from_dir[i] == '\0' || from_dir[i] == '/';
		bool end_to = to[i] == '\0' || to[i] == '/';

		if (end_from && end_to)
			common = i;
		if (!from_dir[i] || !to[i] || from_dir[i] != to[i])
			break;
	}
	rest = to + common;
	while (*rest == '/')
		rest++;
	/* one "../" per component of from_dir after the common part (each starts with '/') */
	if (common == 0 && from_dir[0])
		depth = 1;
	for (const char *s = from_dir + common; *s; s++)
		depth += *s == '/';
	len = depth * 3 + strlen(rest) + 1;
	r = w = malloc(len);
	if (!r)
		abort();
	for (size_t i = 0; i < depth; i++, w += 3)
		memcpy(w, "../", 3);
	strcpy(w, rest);
	return r;
}

/* dir/name -> target, with target given relative to the root */
static void link_rel(struct fx *fx, const char *dir, const char *name, const char *target)
{
	char *path, *rel;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	rel = fx_relpath(dir, target);
	fx_symlink(fx, path, rel);
	free(rel);
	free(path);
}

static void attr(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void attr(struct fx *fx, const char *dir, const char *name, const char *fmt, ...)
{
	char *path, *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	fx_write(fx, path, s, (size_t)n);
	free(s);
	free(path);
}

void fx_iommu_enable(struct fx *fx)
{
	fx_mkdir(fx, "sys/kernel/iommu_groups");
}

static void put16(uint8_t *c, int off, uint16_t v)
{
	c[off] = (uint8_t)v;
	c[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *c, int off, uint32_t v)
{
	put16(c, off, (uint16_t)v);
	put16(c, off + 2, (uint16_t)(v >> 16));
}

/* Header type 1: what the class says, unless the fixture says otherwise. */
static bool fx_header_bridge(const struct fx_dev *d)
{
	if (d->header)
		return d->header == FX_HEADER_BRIDGE;
	return (d->class >> 8) == 0x0604 || (d->class >> 8) == 0x0609;
}

/* Config space consistent with the attribute files, with PM, PCIe and ACS capabilities. */
static void write_config(struct fx *fx, const char *dir, const struct fx_dev *d)
{
	static const uint8_t pcie_types[] = { [FX_PCIE_ENDPOINT] = 0x0, [FX_PCIE_ROOT_PORT] = 0x4,
					      [FX_PCIE_UPSTREAM] = 0x5, [FX_PCIE_DOWNSTREAM] = 0x6,
					      [FX_PCIE_PCI_BRIDGE] = 0x7, [FX_PCIE_RCIEP] = 0x9,
					      [FX_PCIE_PCIX_BRIDGE] = 0x8 };
	uint8_t cfg[4096] = { 0 };
	bool bridge = fx_header_bridge(d);
	int len = d->config_len ? d->config_len : d->pcie ? 4096 : 256;
	char *path;

	put16(cfg, 0x00, d->vendor);
	put16(cfg, 0x02, d->device);
	put16(cfg, 0x06, 0x0010); /* status: capability list */
	cfg[0x09] = (uint8_t)d->class;
	cfg[0x0a] = (uint8_t)(d->class >> 8);
	cfg[0x0b] = (uint8_t)(d->class >> 16);
	cfg[0x0e] = (uint8_t)((bridge ? 1 : 0) | (d->multifunction ? 0x80 : 0));
	if (!bridge) {
		put16(cfg, 0x2c, d->subvendor);
		put16(cfg, 0x2e, d->subdevice);
	}
	cfg[0x34] = 0x40;
	/* PM at 0x40 */
	cfg[0x40] = 0x01;
	cfg[0x41] = d->pcie ? 0x50 : 0x00;
	put16(cfg, 0x42, 0x0003);
	put16(cfg, 0x44, d->no_soft_reset ? 0x0008 : 0x0000);
	if (d->pcie) {
		/* PCIe at 0x50 */
		cfg[0x50] = 0x10;
		cfg[0x51] = 0x00;
		put16(cfg, 0x52, (uint16_t)(0x0002 | pcie_types[d->pcie] << 4));
		put32(cfg, 0x54, d->flr ? 0x10000000u : 0);
		if (d->acs) {
			put32(cfg, 0x100, 0x000d | 1u << 16); /* ACS, version 1, last */
			put16(cfg, 0x104, d->acs_cap ? d->acs_cap : FX_ACS_ALL);
			put16(cfg, 0x106, d->acs_ctrl);
			put32(cfg, 0x108, d->acs_ctrl_at8);
		}
	}
	if (asprintf(&path, "%s/config", dir) < 0)
		abort();
	fx_write(fx, path, cfg, (size_t)len);
	free(path);
}

void fx_add(struct fx *fx, const struct fx_dev *d)
{
	const char *parent_dir = NULL;
	char *dir, *link, *s;
	unsigned domain, bus;

	if (sscanf(d->bdf, "%x:%x:", &domain, &bus) != 2)
		abort();
	if (d->parent) {
		parent_dir = fx_dev_dir(fx, d->parent);
		if (!parent_dir)
			abort();
	}
	if (parent_dir) {
		if (asprintf(&dir, "%s/%s", parent_dir, d->bdf) < 0)
			abort();
	} else if (asprintf(&dir, "sys/devices/pci%04x:%02x/%s", domain, bus, d->bdf) < 0) {
		abort();
	}
	fx_mkdir(fx, dir);
	/*
	 * The bus the device is on, below its bridge (or the root bus's host
	 * directory) and linked from /sys/class/pci_bus, as the kernel has it.
	 */
	{
		char *host, *busdir, *name;

		if (asprintf(&host, "sys/devices/pci%04x:%02x", domain, bus) < 0 ||
		    asprintf(&busdir, "%s/pci_bus/%04x:%02x", parent_dir ? parent_dir : host, domain,
			     bus) < 0 ||
		    asprintf(&name, "%04x:%02x", domain, bus) < 0)
			abort();
		fx_mkdir(fx, busdir);
		link_rel(fx, "sys/class/pci_bus", name, busdir);
		free(name);
		free(busdir);
		free(host);
	}

	attr(fx, dir, "vendor", "0x%04x\n", d->vendor);
	attr(fx, dir, "device", "0x%04x\n", d->device);
	attr(fx, dir, "subsystem_vendor", "0x%04x\n", d->subvendor);
	attr(fx, dir, "subsystem_device", "0x%04x\n", d->subdevice);
	attr(fx, dir, "class", "0x%06x\n", d->class);
	attr(fx, dir, "revision", "0x01\n");
	attr(fx, dir, "driver_override", "(null)\n");
	if (fx_header_bridge(d)) /* the kernel shows bus numbers for bridges only */
		attr(fx, dir, "secondary_bus_number", "%u\n", 0x20u);
	attr(fx, dir, "uevent",
	     "%s%s%sPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n"
	     "MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
	     d->driver ? "DRIVER=" : "", d->driver ? d->driver : "", d->driver ? "\n" : "",
	     d->class, d->vendor, d->device, d->subvendor, d->subdevice, d->bdf, d->vendor,
	     d->device, d->subvendor, d->subdevice, d->class >> 16, (d->class >> 8) & 0xff,
	     d->class & 0xff);
	write_config(fx, dir, d);

	if (asprintf(&link, "sys/bus/pci/devices/%s", d->bdf) < 0)
		abort();
	s = fx_relpath("sys/bus/pci/devices", dir);
	fx_symlink(fx, link, s);
	free(s);
	free(link);

	if (d->driver) {
		char *drvdir;

		fx_add_driver(fx, d->driver);
		if (asprintf(&drvdir, "sys/bus/pci/drivers/%s", d->driver) < 0)
			abort();
		link_rel(fx, drvdir, d->bdf, dir);
		link_rel(fx, dir, "driver", drvdir);
		free(drvdir);
	}
	/* what the simulated kernel binds on a probe without an override */
	if (d->native || (d->driver && strncmp(d->driver, "vfio", 4) != 0))
		attr(fx, dir, ".sim-native", "%s\n", d->native ? d->native : d->driver);
	if (d->vfio_dev) {
		if (asprintf(&link, "%s/vfio-dev/vfio0", dir) < 0)
			abort();
		fx_mkdir(fx, link);
		free(link);
	}
	if (d->group >= 0) {
		char *gdir;

		if (asprintf(&gdir, "sys/kernel/iommu_groups/%d", d->group) < 0)
			abort();
		fx_mkdir(fx, gdir);
		attr(fx, gdir, "type", "DMA\n");
		if (asprintf(&link, "%s/devices", gdir) < 0)
			abort();
		fx_mkdir(fx, link);
		link_rel(fx, link, d->bdf, dir);
		free(link);
		link_rel(fx, dir, "iommu_group", gdir);
		free(gdir);
	}
	if (d->totalvfs > 0) {
		attr(fx, dir, "sriov_totalvfs", "%d\n", d->totalvfs);
		attr(fx, dir, "sriov_numvfs", "%d\n", d->numvfs);
		attr(fx, dir, "sriov_drivers_autoprobe", "1\n");
		attr(fx, dir, "sriov_vf_device", "%04x\n", d->vf_device ? d->vf_device : d->device + 1);
		if (d->vf_native)
			attr(fx, dir, ".sim-vf-native", "%s\n", d->vf_native);
	}
	if (d->physfn) {
		struct fx_entry *pf = NULL;
		char name[32];

		for (size_t i = 0; i < fx->ndevs; i++)
			if (strcmp(fx->devs[i].bdf, d->physfn) == 0)
				pf = &fx->devs[i];
		if (!pf)
			abort();
		link_rel(fx, dir, "physfn", pf->dir);
		snprintf(name, sizeof(name), "virtfn%d", pf->nvfs++);
		link_rel(fx, pf->dir, name, dir);
	}
	if ((d->class >> 16) == 0x03)
		attr(fx, dir, "boot_vga", "%d\n", d->boot_vga ? 1 : 0);
	if (d->reset_method) {
		attr(fx, dir, "reset_method", "%s\n", d->reset_method);
		attr(fx, dir, ".sim-reset-default", "%s\n", d->reset_method); /* simkernel.c */
	}
	/* the kernel shows the link attributes for PCIe functions only (pcie_dev_attrs_are_visible) */
	if (d->pcie)
		attr(fx, dir, "max_link_speed", "%s\n", "8.0 GT/s PCIe");

	fx->devs = realloc(fx->devs, (fx->ndevs + 1) * sizeof(*fx->devs));
	if (!fx->devs)
		abort();
	snprintf(fx->devs[fx->ndevs].bdf, sizeof(fx->devs[0].bdf), "%s", d->bdf);
	fx->devs[fx->ndevs].nvfs = 0;
	fx->devs[fx->ndevs++].dir = dir;
}

static const char *dev_dir_or_die(struct fx *fx, const char *bdf)
{
	const char *dir = fx_dev_dir(fx, bdf);

	if (!dir)
		abort();
	return dir;
}

static void net_dir(struct fx *fx, const char *dir, const char *ifname, bool up)
{
	char *link, *rel;

	attr(fx, dir, "flags", "0x%x\n", up ? 0x1003 : 0x1002);
	attr(fx, dir, "operstate", "%s\n", up ? "up" : "down");
	if (asprintf(&link, "sys/class/net/%s", ifname) < 0)
		abort();
	rel = fx_relpath("sys/class/net", dir);
	fx_symlink(fx, link, rel);
	free(rel);
	free(link);
}

void fx_add_class_node(struct fx *fx, const char *bdf, const char *subdir, const char *cls,
		       const char *name, const char *devname)
{
	char *dir, *classdir, *link, *rel;

	if (asprintf(&dir, "%s/%s/%s", dev_dir_or_die(fx, bdf), subdir, name) < 0 ||
	    asprintf(&classdir, "sys/class/%s", cls) < 0 || asprintf(&link, "%s/%s", classdir, name) < 0)
		abort();
	fx_mkdir(fx, dir);
	fx_mkdir(fx, classdir);
	rel = fx_relpath(classdir, dir);
	fx_symlink(fx, link, rel);
	free(rel);
	free(link);
	free(classdir);
	if (asprintf(&link, "%s/uevent", dir) < 0)
		abort();
	fx_printf(fx, link, "MAJOR=226\nMINOR=0\nDEVNAME=%s\n", devname);
	free(link);
	free(dir);
}

void fx_add_net(struct fx *fx, const char *bdf, const char *ifname, bool up)
{
	char *dir;

	if (asprintf(&dir, "%s/net/%s", dev_dir_or_die(fx, bdf), ifname) < 0)
		abort();
	fx_mkdir(fx, dir);
	net_dir(fx, dir, ifname, up);
	free(dir);
}

void fx_add_net_upper(struct fx *fx, const char *lower, const char *upper, bool up)
{
	char *dir, *lowerdir, *name;

	if (asprintf(&dir, "sys/devices/virtual/net/%s", upper) < 0 ||
	    asprintf(&lowerdir, "sys/class/net/%s", lower) < 0 ||
	    asprintf(&name, "upper_%s", upper) < 0)
		abort();
	fx_mkdir(fx, dir);
	net_dir(fx, dir, upper, up);
	/* sys/class/net/<lower> is a link; the kernel's upper_ link lives in the real dir */
	link_rel(fx, lowerdir, name, dir);
	free(name);
	free(lowerdir);
	free(dir);
}

void fx_add_block(struct fx *fx, const char *bdf, const char *subdir, const char *parent_block,
		  const char *name, const char *devt, const char *dmname)
{
	char *dir, *link, *rel;

	if (bdf) {
		if (asprintf(&dir, "%s/%s/%s", dev_dir_or_die(fx, bdf), subdir, name) < 0)
			abort();
	} else if (parent_block) {
		char target[4096], *parent;
		char *lpath;
		ssize_t n;

		if (asprintf(&lpath, "%s/sys/class/block/%s", fx->root, parent_block) < 0)
			abort();
		n = readlink(lpath, target, sizeof(target) - 1);
		if (n < 0)
			die("readlink", lpath);
		target[n] = '\0';
		free(lpath);
		parent = target;
		while (strncmp(parent, "../", 3) == 0)
			parent += 3;
		if (asprintf(&dir, "sys/%s/%s", parent, name) < 0)
			abort();
	} else if (asprintf(&dir, "sys/devices/virtual/block/%s", name) < 0) {
		abort();
	}
	fx_mkdir(fx, dir);
	attr(fx, dir, "dev", "%s\n", devt);
	if (asprintf(&link, "%s/holders", dir) < 0)
		abort();
	fx_mkdir(fx, link);
	free(link);
	if (dmname)
		attr(fx, dir, "dm/name", "%s\n", dmname);
	if (asprintf(&link, "sys/class/block/%s", name) < 0)
		abort();
	rel = fx_relpath("sys/class/block", dir);
	fx_symlink(fx, link, rel);
	free(rel);
	free(link);
	free(dir);
}

void fx_add_holder(struct fx *fx, const char *lower, const char *upper)
{
	char *path, target[4096];
	ssize_t n;

	if (asprintf(&path, "%s/sys/class/block/%s/holders/%s", fx->root, lower, upper) < 0)
		abort();
	/* the holder link points at the upper device's directory */
	char *ulink;

	if (asprintf(&ulink, "%s/sys/class/block/%s", fx->root, upper) < 0)
		abort();
	n = readlink(ulink, target, sizeof(target) - 1);
	if (n < 0)
		die("readlink", ulink);
	target[n] = '\0';
	free(ulink);
	unlink(path);
	if (symlink(target, path) < 0) /* not exact depth; only the name is read */
		die("symlink", path);
	free(path);
}

void fx_add_fb(struct fx *fx, const char *bdf, const char *fbname)
{
	char *dir;

	if (asprintf(&dir, "sys/class/graphics/%s", fbname) < 0)
		abort();
	fx_mkdir(fx, dir);
	link_rel(fx, dir, "device", dev_dir_or_die(fx, bdf));
	free(dir);
}

void fx_add_driver(struct fx *fx, const char *name)
{
	char *drvdir;

	if (asprintf(&drvdir, "sys/bus/pci/drivers/%s", name) < 0)
		abort();
	fx_mkdir(fx, drvdir);
	attr(fx, drvdir, "bind", "%s", "");
	attr(fx, drvdir, "unbind", "%s", "");
	attr(fx, drvdir, "new_id", "%s", "");
	free(drvdir);
}
