// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the host uses a device for: the guards that keep iopass from taking
 * away the management NIC, the boot disk or the console.
 *
 *  - network: an interface of the device (or a bond, bridge or VLAN stacked
 *    on it) is up or carries an IPv4/IPv6 route (link-local and multicast
 *    routes, which every up interface has, do not count);
 *  - storage: a block device of the device, a partition, or anything stacked
 *    on it (dm, LVM, md, multipath) is mounted, used as swap or held open by
 *    a stacked device;
 *  - display: the firmware's boot VGA device, or the device behind a
 *    framebuffer (the console).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iopass-private.h"

#define MAX_STACK 8 /* bonds of VLANs of bridges ... deeper is a loop in a broken tree */

struct strbuf {
	char buf[1024];
	size_t len;
};

_printf_(2, 3) static void sb_add(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->len >= sizeof(sb->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sizeof(sb->buf) - sb->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->len += (size_t)n;
	if (sb->len >= sizeof(sb->buf))
		sb->len = sizeof(sb->buf) - 1;
}

/*
 * The host-wide tables, read once per context: checking thousands of devices
 * must not read /proc/net/route or walk /sys/class/block thousands of times.
 */
struct blockdev {
	char name[64];
	char *path;                  /* "devices/pci0000:00/.../nvme0n1" */
	char owner[IOPASS_BDF_MAX];  /* the deepest PCI device on the path, "" for none */
};

struct hostuse_cache {
	bool routes_read, block_read, net_read, mounts_read;
	char *v4, *v6; /* /proc/net/route and /proc/net/ipv6_route, or NULL */
	char *mountinfo, *swaps;
	struct blockdev *blocks; /* /sys/class/block */
	size_t nblocks;
	struct blockdev *nets;   /* /sys/class/net, same shape */
	size_t nnets;
};

void hostuse_cache_free(struct hostuse_cache *hu)
{
	if (!hu)
		return;
	free(hu->v4);
	free(hu->v6);
	free(hu->mountinfo);
	free(hu->swaps);
	for (size_t i = 0; i < hu->nblocks; i++)
		free(hu->blocks[i].path);
	free(hu->blocks);
	for (size_t i = 0; i < hu->nnets; i++)
		free(hu->nets[i].path);
	free(hu->nets);
	free(hu);
}

static struct hostuse_cache *cache(struct iopass_ctx *ctx)
{
	if (!ctx->hu)
		ctx->hu = calloc(1, sizeof(*ctx->hu));
	return ctx->hu;
}

/* The deepest component of a device-tree path that is a PCI address. */
static void owner_of(const char *path, char owner[IOPASS_BDF_MAX])
{
	const char *p = path;

	owner[0] = '\0';
	while (*p) {
		size_t len = strcspn(p, "/");
		char comp[IOPASS_BDF_MAX];
		struct iopass_addr a;

		if (len < sizeof(comp)) {
			memcpy(comp, p, len);
			comp[len] = '\0';
			if (iopass_addr_parse(comp, &a) == 0)
				iopass_addr_format(&a, owner);
		}
		p += len;
		if (*p == '/')
			p++;
	}
}

static int owner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blockdev *)a)->owner, ((const struct blockdev *)b)->owner);
}

/*
 * Every entry of a class directory (/sys/class/block, /sys/class/net) with
 * where it sits in the device tree, once: a device's disks and interfaces are
 * those below its directory, however deep (virtio puts them under virtioN/).
 */
static void class_index(struct iopass_ctx *ctx, const char *classdir, struct blockdev **out,
			size_t *nout)
{
	struct dirent *de;
	DIR *dir;

	if (sysfs_opendir(ctx, classdir, &dir) < 0)
		return;
	while ((de = readdir(dir))) {
		char path[320], target[4096];
		struct blockdev *nb;
		const char *t;

		if (de->d_name[0] == '.' || !name_is_safe(de->d_name) || strlen(de->d_name) >= 64)
			continue;
		snprintf(path, sizeof(path), "%s/%s", classdir, de->d_name);
		if (sysfs_readlink(ctx, path, target, sizeof(target)) < 0)
			continue;
		t = target;
		while (strncmp(t, "../", 3) == 0)
			t += 3;
		nb = reallocarray(*out, *nout + 1, sizeof(*nb));
		if (!nb)
			break;
		*out = nb;
		nb = &nb[*nout];
		snprintf(nb->name, sizeof(nb->name), "%.63s", de->d_name);
		nb->path = strdup(t);
		if (!nb->path)
			continue;
		owner_of(t, nb->owner);
		(*nout)++;
	}
	closedir(dir);
	/* by owner: a device's entries are one run, found by binary search */
	if (*nout)
		qsort(*out, *nout, sizeof(**out), owner_cmp);
}

/* The run of entries owned by bdf. */
static size_t owned_by(struct blockdev *v, size_t n, const char *bdf, struct blockdev **ret)
{
	size_t lo = 0, hi = n, start;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].owner, bdf) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < n && streq(v[lo].owner, bdf))
		lo++;
	*ret = v + start;
	return lo - start;
}

static void mounts_read(struct iopass_ctx *ctx, struct hostuse_cache *hu)
{
	if (hu->mounts_read)
		return;
	sysfs_read_file(ctx, "/proc/self/mountinfo", 64 << 20, &hu->mountinfo);
	sysfs_read_file(ctx, "/proc/swaps", 16 << 20, &hu->swaps);
	hu->mounts_read = true;
}

/* ---- network ------------------------------------------------------------ */

struct routes {
	char *v4, *v6; /* /proc/net/route and /proc/net/ipv6_route, or NULL */
};

/* 0: no route, 1: routes, 2: the default route */
static int route_v4(const char *table, const char *ifname)
{
	const char *line = table;
	int best = 0;

	/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (first line is a header) */
	while (line && *line) {
		char iface[64], dest[16], mask[16];
		const char *next = strchr(line, '\n');

		if (sscanf(line, "%63s %15s %*s %*s %*s %*s %*s %15s", iface, dest, mask) == 3 &&
		    streq(iface, ifname)) {
			/* 169.254/16 is link-local, present on any up interface with avahi */
			if (streq(dest, "00000000") && streq(mask, "00000000"))
				return 2;
			if (strcmp(dest + 4, "FEA9") != 0)
				best = 1;
		}
		line = next ? next + 1 : NULL;
	}
	return best;
}

static int route_v6(const char *table, const char *ifname)
{
	const char *line = table;
	int best = 0;

	/* dest destlen src srclen nexthop metric refcnt use flags iface */
	while (line && *line) {
		char dest[40], iface[64];
		unsigned len;
		const char *next = strchr(line, '\n');

		if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %*s %63s", dest, &len, iface) == 3 &&
		    streq(iface, ifname)) {
			if (len == 0)
				return 2;
			if (strncmp(dest, "fe80", 4) != 0 && strncmp(dest, "ff", 2) != 0)
				best = 1;
		}
		line = next ? next + 1 : NULL;
	}
	return best;
}

/* Describe how the host uses ifname (and what is stacked on it); false if not at all. */
static bool net_use(struct iopass_ctx *ctx, const struct routes *rt, const char *ifname,
		    int depth, struct strbuf *sb)
{
	char path[320], flags[32];
	uint32_t f = 0;
	int r4, r6, route;
	bool up, used = false;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", ifname);
	up = sysfs_read(ctx, path, flags, sizeof(flags)) > 0 && parse_hex(flags, 8, true, &f) == 0 &&
	     (f & 0x1); /* IFF_UP */
	r4 = rt->v4 ? route_v4(rt->v4, ifname) : 0;
	r6 = rt->v6 ? route_v6(rt->v6, ifname) : 0;
	route = r4 > r6 ? r4 : r6;
	if (up || route) {
		sb_add(sb, "%s %s%s%s", ifname, up ? "is up" : "",
		       up && route ? " and " : "",
		       route == 2 ? "carries the default route" : route ? "carries routes" : "");
		used = true;
	}
	if (depth >= MAX_STACK)
		return used;

	/* bond, bridge, team, VLAN and macvlan devices on top of this one */
	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return used;
	while ((de = readdir(dir))) {
		const char *upper;
		struct strbuf sub = { .len = 0 };

		if (strncmp(de->d_name, "upper_", 6) != 0)
			continue;
		upper = de->d_name + 6;
		if (!name_is_safe(upper))
			continue;
		if (net_use(ctx, rt, upper, depth + 1, &sub)) {
			sb_add(sb, "%s%s is under %s, and %s", used ? "; " : "", ifname, upper, sub.buf);
			used = true;
		}
	}
	closedir(dir);
	return used;
}

static void net_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	const char *devdir = dev_sysfs_dir(dev);
	struct hostuse_cache *hu = cache(ctx);
	struct routes rt = { NULL, NULL };
	struct strbuf sb = { .len = 0 };
	struct blockdev *nets;
	size_t nnet;

	if (!devdir || !hu)
		return;
	if (!hu->net_read) {
		class_index(ctx, "/sys/class/net", &hu->nets, &hu->nnets);
		hu->net_read = true;
	}
	nnet = owned_by(hu->nets, hu->nnets, dev->bdf, &nets);
	if (!nnet)
		return;
	if (!hu->routes_read) {
		sysfs_read_file(ctx, "/proc/net/route", 16 << 20, &hu->v4);
		sysfs_read_file(ctx, "/proc/net/ipv6_route", 16 << 20, &hu->v6);
		hu->routes_read = true;
	}
	rt.v4 = hu->v4;
	rt.v6 = hu->v6;
	for (size_t i = 0; i < nnet; i++) {
		struct strbuf one = { .len = 0 };

		if (net_use(ctx, &rt, nets[i].name, 0, &one))
			sb_add(&sb, "%s%s", sb.len ? "; " : "", one.buf);
	}
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "nic-in-use", "%s%s", who, sb.buf);
		report_hint(r, "take the interface down and move its addresses and routes first, "
			       "or pass --force to take it anyway");
	}
}

/* ---- storage ------------------------------------------------------------ */

struct blockuse {
	char *mountinfo, *swaps;
};

/* Where MAJ:MIN is mounted (the first mount point), or NULL. */
static const char *mounted_at(const char *mountinfo, const char *devt, char *buf, size_t size)
{
	const char *line = mountinfo;

	/* id parent MAJ:MIN root mountpoint options ... */
	while (line && *line) {
		char mm[32], mp[512];
		const char *next = strchr(line, '\n');

		if (sscanf(line, "%*s %*s %31s %*s %511s", mm, mp) == 2 && streq(mm, devt)) {
			snprintf(buf, size, "%s", mp);
			return buf;
		}
		line = next ? next + 1 : NULL;
	}
	return NULL;
}

static bool is_swap(const char *swaps, const char *name, const char *dmname)
{
	const char *line = swaps;

	while (line && *line) {
		char file[512];
		const char *next = strchr(line, '\n'), *base;

		if (sscanf(line, "%511s", file) == 1 && file[0] == '/') {
			base = strrchr(file, '/') + 1;
			if (streq(base, name) || (dmname && streq(base, dmname)))
				return true;
		}
		line = next ? next + 1 : NULL;
	}
	return false;
}

/*
 * Describe how the host uses block device name: "nvme0n1p2 is held by dm-0
 * (vg-root), mounted on /". As a holder (is_holder), only the label and its
 * state are written, the caller wrote the subject. False when unused.
 */
static bool block_use(struct iopass_ctx *ctx, const struct blockuse *bu, const char *name,
		      int depth, bool is_holder, struct strbuf *sb)
{
	char path[320], devt[32], dmname[128], where[512];
	char label[NAME_MAX + sizeof(dmname) + 4]; /* "name (dmname)" */
	const char *state = NULL;
	bool used = false;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/block/%s/dm/name", name);
	if (sysfs_read(ctx, path, dmname, sizeof(dmname)) > 0)
		snprintf(label, sizeof(label), "%s (%s)", name, dmname);
	else
		snprintf(label, sizeof(label), "%s", name);
	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", name);
	if (sysfs_read(ctx, path, devt, sizeof(devt)) > 0 && bu->mountinfo &&
	    mounted_at(bu->mountinfo, devt, where, sizeof(where)))
		state = "mounted on ";
	else if (bu->swaps && is_swap(bu->swaps, name, label[strlen(name)] ? dmname : NULL))
		state = "in use as swap";
	if (is_holder) {
		sb_add(sb, "%s%s%s%s", label, state ? ", " : "", state ? state : "",
		       state && *state == 'm' ? where : "");
		used = true;
	} else if (state) {
		sb_add(sb, "%s is %s%s", label, state, *state == 'm' ? where : "");
		used = true;
	}
	if (depth >= MAX_STACK)
		return used;

	snprintf(path, sizeof(path), "/sys/class/block/%s/holders", name);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return used;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !name_is_safe(de->d_name))
			continue;
		/* a holder (dm, md) means the disk is in use even when nothing is mounted */
		sb_add(sb, "%s%s%s is held by ", used ? (is_holder ? ", " : "; ") : "",
		       is_holder ? "which" : label, "");
		block_use(ctx, bu, de->d_name, depth + 1, true, sb);
		used = true;
	}
	closedir(dir);
	return used;
}

static void block_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct hostuse_cache *hu = cache(ctx);
	const char *devdir = dev_sysfs_dir(dev);
	struct strbuf sb = { .len = 0 };
	struct blockuse bu;
	struct blockdev *blocks;
	size_t nblk;

	if (!devdir || !hu)
		return;
	if (!hu->block_read) {
		class_index(ctx, "/sys/class/block", &hu->blocks, &hu->nblocks);
		hu->block_read = true;
	}
	mounts_read(ctx, hu);
	bu.mountinfo = hu->mountinfo;
	bu.swaps = hu->swaps;
	nblk = owned_by(hu->blocks, hu->nblocks, dev->bdf, &blocks);
	for (size_t i = 0; i < nblk; i++) {
		struct strbuf one = { .len = 0 };

		if (block_use(ctx, &bu, blocks[i].name, 0, false, &one))
			sb_add(&sb, "%s%s", sb.len ? "; " : "", one.buf);
	}
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "disk-in-use", "%s%s", who, sb.buf);
		report_hint(r, "unmount it, deactivate what is stacked on it (swapoff, vgchange -an, "
			       "mdadm --stop), or pass --force if you really mean it");
	}
}

/*
 * File systems that need no block device: 9p and virtiofs shares carried by a
 * virtio device (a VM's root over 9p, a virtiofs mount). The share's tag is in
 * virtioN/mount_tag (9p) or virtioN/tag (virtiofs); mountinfo names it as the
 * source of a 9p or virtiofs mount.
 */
static void sharedfs_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct hostuse_cache *hu = cache(ctx);
	const char *devdir = dev_sysfs_dir(dev);
	struct strbuf sb = { .len = 0 };
	char path[4200];
	struct dirent *de;
	DIR *dir;

	if (!devdir || !hu || !dev->driver || strncmp(dev->driver, "virtio", 6) != 0)
		return;
	snprintf(path, sizeof(path), "/sys/%s", devdir);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return;
	mounts_read(ctx, hu);
	while ((de = readdir(dir))) {
		char tag[256], attr[4400];
		const char *line;

		if (strncmp(de->d_name, "virtio", 6) != 0 || !name_is_safe(de->d_name))
			continue;
		snprintf(attr, sizeof(attr), "/sys/%s/%s/mount_tag", devdir, de->d_name);
		if (sysfs_read(ctx, attr, tag, sizeof(tag)) <= 0) {
			snprintf(attr, sizeof(attr), "/sys/%s/%s/tag", devdir, de->d_name);
			if (sysfs_read(ctx, attr, tag, sizeof(tag)) <= 0)
				continue;
		}
		tag[strcspn(tag, "\n")] = '\0'; /* mount_tag may carry a NUL or newline at the end */
		for (line = hu->mountinfo; line && *line;) {
			const char *next = strchr(line, '\n'), *sep = strstr(line, " - ");
			char mp[512], fstype[32], source[256];

			if (sep && (!next || sep < next) &&
			    sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1 &&
			    sscanf(sep + 3, "%31s %255s", fstype, source) == 2 &&
			    (streq(fstype, "9p") || streq(fstype, "virtiofs")) && streq(source, tag))
				sb_add(&sb, "%s%s share '%s' is mounted on %s", sb.len ? "; " : "", fstype, tag, mp);
			line = next ? next + 1 : NULL;
		}
	}
	closedir(dir);
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "fs-in-use", "%s%s", who, sb.buf);
		report_hint(r, "unmount the share first, or pass --force if you really mean it");
	}
}

/* ---- display ------------------------------------------------------------ */

static void display_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct dirent *de;
	DIR *dir;

	if (iopass_dev_is_boot_vga(dev)) {
		report_add(r, IOPASS_LEVEL_FAIL, "boot-vga",
			   "%sthe firmware's boot display device (boot_vga=1): the host console is on it",
			   who);
		report_hint(r, "give the host another display or run it headless, stop the console "
			       "on this GPU (video=efifb:off, or unbind the framebuffer), then pass --force");
	}
	if (sysfs_opendir(ctx, "/sys/class/graphics", &dir) < 0)
		return;
	while ((de = readdir(dir))) {
		char path[320], name[64];

		if (strncmp(de->d_name, "fb", 2) != 0 || !name_is_safe(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/sys/class/graphics/%s", de->d_name);
		_cleanup_close_ int fd = sysfs_open_dir(ctx, path);
		if (fd < 0 || sysfs_link_name_at(fd, "device", name, sizeof(name)) < 0)
			continue;
		if (streq(name, dev->bdf)) {
			report_add(r, IOPASS_LEVEL_FAIL, "console",
				   "%sdrives framebuffer %s, the host console", who, de->d_name);
			report_hint(r, "unbind the console from it (video=efifb:off, "
				       "or echo 0 > /sys/class/vtconsole/vtcon1/bind) or pass --force");
		}
	}
	closedir(dir);
}

void hostuse_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	if (iopass_dev_is_vfio(dev))
		return; /* already given away: the host uses none of it */
	net_check(dev, r, who);
	block_check(dev, r, who);
	sharedfs_check(dev, r, who);
	if ((dev->flags & DEV_HAVE_CLASS) && (dev->class >> 16) == 0x03)
		display_check(dev, r, who);
}
