// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
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

char *fx_relpath(const char *from_dir, const char *to)
{
	size_t depth = 1, len;
	char *r, *w;

	for (const char *s = from_dir; *s; s++)
		depth += *s == '/';
	len = depth * 3 + strlen(to) + 1;
	r = w = malloc(len);
	if (!r)
		abort();
	for (size_t i = 0; i < depth; i++, w += 3)
		memcpy(w, "../", 3);
	strcpy(w, to);
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

static void write_config(struct fx *fx, const char *dir, const struct fx_dev *d)
{
	uint8_t cfg[256] = { 0 };
	bool bridge = (d->class >> 8) == 0x0604 || (d->class >> 8) == 0x0609;
	char *path;

	cfg[0x00] = (uint8_t)d->vendor;
	cfg[0x01] = (uint8_t)(d->vendor >> 8);
	cfg[0x02] = (uint8_t)d->device;
	cfg[0x03] = (uint8_t)(d->device >> 8);
	cfg[0x09] = (uint8_t)d->class;
	cfg[0x0a] = (uint8_t)(d->class >> 8);
	cfg[0x0b] = (uint8_t)(d->class >> 16);
	cfg[0x0e] = (uint8_t)((bridge ? 1 : 0) | (d->multifunction ? 0x80 : 0));
	if (!bridge) {
		cfg[0x2c] = (uint8_t)d->subvendor;
		cfg[0x2d] = (uint8_t)(d->subvendor >> 8);
		cfg[0x2e] = (uint8_t)d->subdevice;
		cfg[0x2f] = (uint8_t)(d->subdevice >> 8);
	}
	if (asprintf(&path, "%s/config", dir) < 0)
		abort();
	fx_write(fx, path, cfg, sizeof(cfg));
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

	attr(fx, dir, "vendor", "0x%04x\n", d->vendor);
	attr(fx, dir, "device", "0x%04x\n", d->device);
	attr(fx, dir, "subsystem_vendor", "0x%04x\n", d->subvendor);
	attr(fx, dir, "subsystem_device", "0x%04x\n", d->subdevice);
	attr(fx, dir, "class", "0x%06x\n", d->class);
	attr(fx, dir, "revision", "0x01\n");
	attr(fx, dir, "driver_override", "(null)\n");
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

		if (asprintf(&drvdir, "sys/bus/pci/drivers/%s", d->driver) < 0)
			abort();
		fx_mkdir(fx, drvdir);
		attr(fx, drvdir, "bind", "%s", "");
		attr(fx, drvdir, "unbind", "%s", "");
		attr(fx, drvdir, "new_id", "%s", "");
		link_rel(fx, drvdir, d->bdf, dir);
		link_rel(fx, dir, "driver", drvdir);
		free(drvdir);
	}
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

	fx->devs = realloc(fx->devs, (fx->ndevs + 1) * sizeof(*fx->devs));
	if (!fx->devs)
		abort();
	snprintf(fx->devs[fx->ndevs].bdf, sizeof(fx->devs[0].bdf), "%s", d->bdf);
	fx->devs[fx->ndevs].nvfs = 0;
	fx->devs[fx->ndevs++].dir = dir;
}
