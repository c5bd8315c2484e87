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
	int major, minor;            /* block devices: its dev attribute, -1 unread, -2 none */
};

/* One line of a mountinfo file, its escapes (\040 ...) decoded. */
struct mount {
	unsigned major, minor;
	char *mp, *fstype, *source, *super;
};

/* A block device the host uses by itself (not through a holder), and how. */
struct diskuse {
	char name[64];
	char *why;    /* "mounted on /, holding the active swap file /swapfile", ... */
	bool mounted; /* why names a mount already: one is enough (btrfs subvolumes) */
};

struct hostuse_cache {
	bool routes_read, block_read, net_read, mounts_read, uses_read;
	char *v4, *v6; /* /proc/net/route and /proc/net/ipv6_route, or NULL */
	struct mount *mounts; /* PID 1's mount namespace, then this process's */
	size_t nmounts;
	char *swaps;
	struct blockdev *blocks; /* /sys/class/block */
	size_t nblocks;
	struct blockdev *nets;   /* /sys/class/net, same shape */
	size_t nnets;
	struct diskuse *uses;
	size_t nuses;
	/* the classes whose entries are device files (drm, sound, ...), indexed by owner */
	bool nodes_read;
	struct blockdev *nodes[16];
	size_t nnodes[16];
};

void hostuse_cache_free(struct hostuse_cache *hu)
{
	if (!hu)
		return;
	free(hu->v4);
	free(hu->v6);
	for (size_t i = 0; i < hu->nmounts; i++) {
		free(hu->mounts[i].mp);
		free(hu->mounts[i].fstype);
		free(hu->mounts[i].source);
		free(hu->mounts[i].super);
	}
	free(hu->mounts);
	for (size_t i = 0; i < hu->nuses; i++)
		free(hu->uses[i].why);
	free(hu->uses);
	for (size_t c = 0; c < ARRAY_SIZE(hu->nodes); c++) {
		for (size_t i = 0; i < hu->nnodes[c]; i++)
			free(hu->nodes[c][i].path);
		free(hu->nodes[c]);
	}
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

/* by owner, then by name: a device's entries are one run, in a stable order */
static int owner_cmp(const void *a, const void *b)
{
	const struct blockdev *x = a, *y = b;
	int c = strcmp(x->owner, y->owner);

	return c ? c : strcmp(x->name, y->name);
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
		char target[4096];
		struct blockdev *nb;
		const char *t;

		if (de->d_name[0] == '.' || !name_is_safe(de->d_name) || strlen(de->d_name) >= 64)
			continue;
		/* one readlinkat per entry, in the directory already open (thousands of VF netdevs) */
		if (sysfs_readlink_at(dirfd(dir), de->d_name, target, sizeof(target)) < 0)
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
		nb->major = nb->minor = -1;
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

/* A mountinfo field with the kernel's octal escapes (\040 for a blank) undone. */
static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The n-th blank-separated field of line (0-based) as [start, len), or false. */
static bool field(const char *line, const char *end, int n, const char **ret, size_t *ret_len)
{
	const char *p = line;

	for (int i = 0;; i++) {
		const char *f;

		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			return false;
		f = p;
		while (p < end && *p != ' ')
			p++;
		if (i == n) {
			*ret = f;
			*ret_len = (size_t)(p - f);
			return true;
		}
	}
}

/* The same mount already listed (PID 1 and this process share a namespace, usually). */
static bool mount_seen(const struct hostuse_cache *hu, const struct mount *m)
{
	for (size_t i = 0; i < hu->nmounts; i++) {
		const struct mount *o = &hu->mounts[i];

		if (o->major == m->major && o->minor == m->minor && streq(o->mp, m->mp) &&
		    streq(o->fstype, m->fstype) && streq(o->source, m->source))
			return true;
	}
	return false;
}

/* "id parent MAJ:MIN root mountpoint options [tags] - fstype source superoptions" */
static void mountinfo_parse(struct hostuse_cache *hu, const char *text)
{
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n'), *sep, *f;
		struct mount m = { 0, 0, NULL, NULL, NULL, NULL }, *nm;
		size_t len;

		if (!eol)
			eol = line + strlen(line);
		sep = strstr(line, " - ");
		if (sep && sep < eol && sscanf(line, "%*s %*s %u:%u", &m.major, &m.minor) == 2) {
			if (field(line, sep, 4, &f, &len))
				m.mp = unescape(f, len);
			if (field(sep + 3, eol, 0, &f, &len))
				m.fstype = unescape(f, len);
			if (field(sep + 3, eol, 1, &f, &len))
				m.source = unescape(f, len);
			m.super = field(sep + 3, eol, 2, &f, &len) ? unescape(f, len) : strdup("");
		}
		if (m.mp && m.fstype && m.source && m.super && !mount_seen(hu, &m)) {
			nm = reallocarray(hu->mounts, hu->nmounts + 1, sizeof(*nm));
			if (nm) {
				hu->mounts = nm;
				hu->mounts[hu->nmounts++] = m;
				m.mp = m.fstype = m.source = m.super = NULL;
			}
		}
		free(m.mp);
		free(m.fstype);
		free(m.source);
		free(m.super);
		line = *eol ? eol + 1 : NULL;
	}
}

/*
 * The mounts of PID 1's namespace (the host's: iopass may run in a private one, from
 * a unit or udev) and of this process's, and the active swap areas.
 */
static void mounts_read(struct iopass_ctx *ctx, struct hostuse_cache *hu)
{
	static const char *const files[] = { "/proc/1/mountinfo", "/proc/self/mountinfo" };

	if (hu->mounts_read)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *text = NULL;

		if (sysfs_read_file(ctx, files[i], 64 << 20, &text) == 0)
			mountinfo_parse(hu, text);
	}
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

/*
 * The interface the kernel routes an IPv4 address through, as /proc/net/route
 * says (fib lookup, without policy rules): the longest matching prefix, the
 * lowest metric among equals. Destination and Mask are the raw __be32 printed
 * with %08X, so they compare with an in_addr's s_addr as they are.
 */
static bool route_iface_v4(const char *table, const char *addr, char *ifname, size_t size)
{
	unsigned a[4] = { 0 }, best_len = 0, best_metric = UINT_MAX;
	const char *line = table;
	uint32_t ip;
	bool found = false;
	char tail;

	if (!table || sscanf(addr, "%u.%u.%u.%u%c", &a[0], &a[1], &a[2], &a[3], &tail) != 4 ||
	    a[0] > 255 || a[1] > 255 || a[2] > 255 || a[3] > 255)
		return false;
	{
		uint8_t b[4] = { (uint8_t)a[0], (uint8_t)a[1], (uint8_t)a[2], (uint8_t)a[3] };

		memcpy(&ip, b, 4); /* network order in memory, as s_addr */
	}
	while (line && *line) {
		char iface[64];
		unsigned dest = 0, mask = 0, metric = 0, len;
		const char *next = strchr(line, '\n');

		if (sscanf(line, "%63s %x %*s %*s %*s %*s %u %x", iface, &dest, &metric, &mask) == 4 &&
		    (ip & mask) == dest) {
			len = (unsigned)__builtin_popcount(mask);
			if (!found || len > best_len || (len == best_len && metric < best_metric)) {
				snprintf(ifname, size, "%s", iface);
				best_len = len;
				best_metric = metric;
				found = true;
			}
		}
		line = next ? next + 1 : NULL;
	}
	return found;
}

/* ifname, or an interface stacked on it (bond, bridge, VLAN), is target? */
static bool net_stack_has(struct iopass_ctx *ctx, const char *ifname, const char *target, int depth)
{
	char path[320];
	struct dirent *de;
	bool found = streq(ifname, target);
	DIR *dir;

	if (found || depth >= MAX_STACK)
		return found;
	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return false;
	while (!found && (de = readdir(dir)))
		found = strncmp(de->d_name, "upper_", 6) == 0 && name_is_safe(de->d_name + 6) &&
			net_stack_has(ctx, de->d_name + 6, target, depth + 1);
	closedir(dir);
	return found;
}

/* ifname is one of the NIC's interfaces, or stacked on one */
static bool nic_has(struct iopass_ctx *ctx, const struct blockdev *nets, size_t nnet,
		    const char *ifname)
{
	for (size_t i = 0; i < nnet; i++)
		if (net_stack_has(ctx, nets[i].name, ifname, 0))
			return true;
	return false;
}

/* "addr=A" in a mount's super options (nfs, cifs), into buf */
static bool mount_server(const struct mount *m, char *buf, size_t size)
{
	const char *o = m->super;

	if (!o || !(streq(m->fstype, "nfs") || streq(m->fstype, "nfs4") || streq(m->fstype, "cifs") ||
		    streq(m->fstype, "smb3")))
		return false;
	while ((o = strstr(o, "addr=")) && o != m->super && o[-1] != ',')
		o += 5; /* "clientaddr=" is the client's own */
	if (!o)
		return false;
	o += 5;
	snprintf(buf, size, "%.*s", (int)strcspn(o, ","), o);
	return true;
}

/*
 * Storage the host reaches through one of nets' interfaces: network file
 * systems (their server addr=), iSCSI connections, NVMe over TCP or RDMA
 * controllers. Taking the NIC takes them, the root file system of a
 * diskless host included.
 */
static void net_storage_check(struct iopass_ctx *ctx, struct hostuse_cache *hu,
			      const struct blockdev *nets, size_t nnet, struct strbuf *sb)
{
	char ifname[64], server[64], path[320], buf[256];
	struct dirent *de;
	DIR *dir;

#define CARRIED_BY_NIC()                                                                   \
	(route_iface_v4(hu->v4, server, ifname, sizeof(ifname)) && nic_has(ctx, nets, nnet, ifname))
	mounts_read(ctx, hu);
	for (size_t i = 0; i < hu->nmounts; i++) {
		const struct mount *m = &hu->mounts[i];

		if (mount_server(m, server, sizeof(server)) && CARRIED_BY_NIC())
			sb_add(sb, "%s%s carries the %s file system mounted on %s (server %s)",
			       sb->len ? "; " : "", ifname, m->fstype, m->mp, server);
	}
	if (sysfs_opendir(ctx, "/sys/class/iscsi_connection", &dir) == 0) {
		while ((de = readdir(dir))) {
			if (!name_is_safe(de->d_name))
				continue;
			snprintf(path, sizeof(path), "/sys/class/iscsi_connection/%s/persistent_address",
				 de->d_name);
			if (sysfs_read(ctx, path, server, sizeof(server)) > 0 && CARRIED_BY_NIC())
				sb_add(sb, "%s%s carries the iSCSI connection %s to %s", sb->len ? "; " : "",
				       ifname, de->d_name, server);
		}
		closedir(dir);
	}
	if (sysfs_opendir(ctx, "/sys/class/nvme", &dir) == 0) {
		while ((de = readdir(dir))) {
			const char *t;

			if (!name_is_safe(de->d_name))
				continue;
			snprintf(path, sizeof(path), "/sys/class/nvme/%s/transport", de->d_name);
			if (sysfs_read(ctx, path, buf, sizeof(buf)) <= 0 ||
			    !(streq(buf, "tcp") || streq(buf, "rdma")))
				continue;
			snprintf(path, sizeof(path), "/sys/class/nvme/%s/address", de->d_name);
			if (sysfs_read(ctx, path, buf, sizeof(buf)) <= 0)
				continue;
			t = strstr(buf, "traddr=");
			if (!t)
				continue;
			t += 7;
			snprintf(server, sizeof(server), "%.*s", (int)strcspn(t, ","), t);
			if (CARRIED_BY_NIC())
				sb_add(sb, "%s%s carries the NVMe over fabrics controller %s (%s)",
				       sb->len ? "; " : "", ifname, de->d_name, server);
		}
		closedir(dir);
	}
#undef CARRIED_BY_NIC
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
		report_hint(r, "take the interface down and move its addresses and routes first");
	}
	sb.len = 0;
	sb.buf[0] = '\0';
	net_storage_check(ctx, hu, nets, nnet, &sb);
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "nic-carries-storage", "%s%s", who, sb.buf);
		report_hint(r, "unmount it, log out of the iSCSI session or disconnect the NVMe "
			       "controller first (a root file system on it cannot be)");
	}
}

/* ---- storage ------------------------------------------------------------ */

static struct blockdev *block_named(struct hostuse_cache *hu, const char *name)
{
	for (size_t i = 0; i < hu->nblocks; i++)
		if (streq(hu->blocks[i].name, name))
			return &hu->blocks[i];
	return NULL;
}

/* A block device's dev attribute, read once: false when it has none. */
static bool block_devt(struct iopass_ctx *ctx, struct blockdev *b)
{
	if (b->major == -1) {
		char path[320], devt[32];
		unsigned ma, mi;

		snprintf(path, sizeof(path), "/sys/class/block/%s/dev", b->name);
		b->major = b->minor = -2;
		if (sysfs_read(ctx, path, devt, sizeof(devt)) > 0 && sscanf(devt, "%u:%u", &ma, &mi) == 2 &&
		    ma < INT_MAX && mi < INT_MAX) {
			b->major = (int)ma;
			b->minor = (int)mi;
		}
	}
	return b->major >= 0;
}

/* The block device whose dev attribute is MAJ:MIN, or NULL. */
static const char *block_by_devt(struct iopass_ctx *ctx, struct hostuse_cache *hu, unsigned major,
				 unsigned minor)
{
	for (size_t i = 0; i < hu->nblocks; i++)
		if (block_devt(ctx, &hu->blocks[i]) && hu->blocks[i].major == (int)major &&
		    hu->blocks[i].minor == (int)minor)
			return hu->blocks[i].name;
	return NULL;
}

/*
 * The block device a mount source names: /dev/NAME, a link in /dev to it
 * (/dev/disk/by-uuid/..., /dev/mapper/NAME -> ../dm-0), or /dev/mapper/NAME by
 * the device-mapper name. NULL for anything else (server:/path, a tag).
 */
static const char *block_of_source(struct iopass_ctx *ctx, struct hostuse_cache *hu, const char *src)
{
	char target[512];
	const char *base;

	if (strncmp(src, "/dev/", 5) != 0 || strstr(src, "/../"))
		return NULL;
	base = strrchr(src, '/') + 1;
	if (sysfs_readlink(ctx, src, target, sizeof(target)) > 0)
		base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
	if (block_named(hu, base))
		return block_named(hu, base)->name;
	if (strncmp(src, "/dev/mapper/", 12) == 0)
		for (size_t i = 0; i < hu->nblocks; i++) {
			char path[320], dmname[128];

			snprintf(path, sizeof(path), "/sys/class/block/%s/dm/name", hu->blocks[i].name);
			if (sysfs_read(ctx, path, dmname, sizeof(dmname)) > 0 && streq(dmname, src + 12))
				return hu->blocks[i].name;
		}
	return NULL;
}

/*
 * Add why to the reasons the host uses block device name for, each reason once and
 * one mount at most (a btrfs with twenty subvolumes mounted is said once).
 */
_printf_(4, 5) static void use_add(struct hostuse_cache *hu, const char *name, bool is_mount,
				   const char *fmt, ...)
{
	struct diskuse *nu;
	va_list ap;
	char *why;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	for (size_t i = 0; i < hu->nuses; i++) {
		struct diskuse *u = &hu->uses[i];
		char *joined;

		if (!streq(u->name, name))
			continue;
		if (!(is_mount && u->mounted) && !strstr(u->why, why) &&
		    asprintf(&joined, "%s, %s", u->why, why) >= 0) {
			free(u->why);
			u->why = joined;
			u->mounted |= is_mount;
		}
		free(why);
		return;
	}
	nu = reallocarray(hu->uses, hu->nuses + 1, sizeof(*nu));
	if (!nu) {
		free(why);
		return;
	}
	hu->uses = nu;
	snprintf(nu[hu->nuses].name, sizeof(nu->name), "%s", name);
	nu[hu->nuses].mounted = is_mount;
	nu[hu->nuses++].why = why;
}

static const char *use_of(const struct hostuse_cache *hu, const char *name)
{
	for (size_t i = 0; i < hu->nuses; i++)
		if (streq(hu->uses[i].name, name))
			return hu->uses[i].why;
	return NULL;
}

/* The mount a path lives on: the longest mount point above it. */
static const struct mount *mount_of_path(const struct hostuse_cache *hu, const char *path)
{
	const struct mount *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < hu->nmounts; i++) {
		const char *mp = hu->mounts[i].mp;
		size_t len = strlen(mp);

		if (streq(mp, "/"))
			len = 0;
		else if (strncmp(path, mp, len) != 0 || (path[len] != '/' && path[len] != '\0'))
			continue;
		if (!best || len >= best_len) {
			best = &hu->mounts[i];
			best_len = len;
		}
	}
	return best;
}

/*
 * The block devices under a mount, each marked with why: its own device; for
 * btrfs every device of the filesystem (/sys/fs/btrfs/FSID/devices, made at mount
 * time: open_ctree() calls btrfs_sysfs_add_fsid(), fs/btrfs/disk-io.c), since its
 * st_dev is an anonymous 0:N; for other file systems with an anonymous device
 * each /dev path of the source ("/dev/sda:/dev/sdb" for bcachefs).
 */
static void mount_mark(struct iopass_ctx *ctx, struct hostuse_cache *hu, const struct mount *m,
		       const char *why, bool is_mount)
{
	const char *name = m->major ? block_by_devt(ctx, hu, m->major, m->minor) : NULL;
	const char *src = block_of_source(ctx, hu, m->source);

	if (name)
		use_add(hu, name, is_mount, "%s", why);
	if (streq(m->fstype, "btrfs") && src) {
		struct dirent *de;
		DIR *dir;

		if (sysfs_opendir(ctx, "/sys/fs/btrfs", &dir) < 0)
			return;
		while ((de = readdir(dir))) {
			char path[320];

			if (de->d_name[0] == '.' || !name_is_safe(de->d_name) || streq(de->d_name, "features"))
				continue;
			char target[512];

			/* the entry is a link to the device: its name is what counts */
			snprintf(path, sizeof(path), "/sys/fs/btrfs/%s/devices/%s", de->d_name, src);
			if (sysfs_readlink(ctx, path, target, sizeof(target)) <= 0)
				continue;
			snprintf(path, sizeof(path), "/sys/fs/btrfs/%s/devices", de->d_name);
			DIR *devs;
			struct dirent *d;

			if (sysfs_opendir(ctx, path, &devs) < 0)
				continue;
			while ((d = readdir(devs)))
				if (d->d_name[0] != '.' && name_is_safe(d->d_name))
					use_add(hu, d->d_name, is_mount, "%s%s",
						is_mount ? "part of the btrfs file system " : "", why);
			closedir(devs);
		}
		closedir(dir);
	}
	if (m->major == 0 && src) {
		/* each ':'-separated /dev path of a multi-device source */
		char *copy = strdup(m->source);

		for (char *save = NULL, *part = copy ? strtok_r(copy, ":", &save) : NULL; part;
		     part = strtok_r(NULL, ":", &save)) {
			const char *b = block_of_source(ctx, hu, part);

			if (b)
				use_add(hu, b, is_mount, "%s%s%s%s", is_mount ? "part of the " : "",
					is_mount ? m->fstype : "", is_mount ? " file system " : "", why);
		}
		free(copy);
	}
}

/* The block devices of the file system path is on, marked with why. */
static void path_mark(struct iopass_ctx *ctx, struct hostuse_cache *hu, const char *path,
		      const char *why)
{
	const struct mount *m = mount_of_path(hu, path);

	if (m)
		mount_mark(ctx, hu, m, why, false);
}

/* overlayfs: lowerdir=a:b,upperdir=c,workdir=d (\, and \: escape inside a path) */
static void overlay_mark(struct iopass_ctx *ctx, struct hostuse_cache *hu, const struct mount *m)
{
	char *why = NULL, *opts = strdup(m->super), *o = opts;

	if (!opts || asprintf(&why, "holding a layer of the overlay mounted on %s", m->mp) < 0) {
		free(opts);
		return;
	}
	while (*o) {
		char *end = o, *val;

		while (*end && *end != ',') {
			if (*end == '\\' && end[1])
				end++;
			end++;
		}
		if (*end)
			*end++ = '\0';
		if (strncmp(o, "lowerdir=", 9) == 0 || strncmp(o, "upperdir=", 9) == 0 ||
		    strncmp(o, "workdir=", 8) == 0) {
			val = strchr(o, '=') + 1;
			/* split the value at unescaped ':', dropping the escapes */
			for (char *p = val, *d = val;; p++) {
				if (*p == '\\' && p[1]) {
					*d++ = *++p;
					continue;
				}
				if (*p != ':' && *p != '\0') {
					*d++ = *p;
					continue;
				}
				char c = *p;

				*d = '\0';
				if (*val == '/')
					path_mark(ctx, hu, val, why);
				if (!c)
					break;
				val = d = p + 1;
			}
		}
		o = end;
	}
	free(why);
	free(opts);
}

/*
 * File systems the kernel still has mounted, whether or not a mount of them is
 * visible here (another namespace, a lazy unmount that an open file or a swap
 * file keeps alive): ext4, xfs and f2fs keep /sys/fs/TYPE/DEVICE and btrfs
 * /sys/fs/btrfs/FSID/devices/DEVICE for as long as the superblock lives.
 */
static void superblocks_mark(struct iopass_ctx *ctx, struct hostuse_cache *hu)
{
	static const char *const types[] = { "ext4", "xfs", "f2fs", "btrfs" };

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		char dirpath[64];
		struct dirent *de;
		DIR *dir;

		snprintf(dirpath, sizeof(dirpath), "/sys/fs/%s", types[t]);
		if (sysfs_opendir(ctx, dirpath, &dir) < 0)
			continue;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.' || !name_is_safe(de->d_name) || streq(de->d_name, "features"))
				continue;
			if (!streq(types[t], "btrfs")) {
				if (block_named(hu, de->d_name) && !use_of(hu, de->d_name))
					use_add(hu, de->d_name, true, "holding an %s file system that is still mounted "
						"(/sys/fs/%s/%s), though no mount of it is visible here", types[t], types[t], de->d_name);
				continue;
			}
			char path[320];
			struct dirent *d;
			DIR *devs;

			snprintf(path, sizeof(path), "/sys/fs/btrfs/%s/devices", de->d_name);
			if (sysfs_opendir(ctx, path, &devs) < 0)
				continue;
			while ((d = readdir(devs)))
				if (d->d_name[0] != '.' && name_is_safe(d->d_name) && block_named(hu, d->d_name) &&
				    !use_of(hu, d->d_name))
					use_add(hu, d->d_name, true, "part of a btrfs file system that is still "
						"mounted (/sys/fs/btrfs/%s), though no mount of it is visible here", de->d_name);
			closedir(devs);
		}
		closedir(dir);
	}
}

/*
 * ZFS: a pool's disks are held by the zfs module, with no holder link, no sysfs
 * entry per pool member and a mount source ("tank/root") that names no device.
 * udev's blkid tags each member (ID_FS_TYPE=zfs_member, ID_FS_LABEL=<pool>) in
 * /run/udev/data/b<MAJ>:<MIN>; the pool is imported while
 * /proc/spl/kstat/zfs/<pool> exists.
 */
static void zfs_mark(struct iopass_ctx *ctx, struct hostuse_cache *hu)
{
	if (sysfs_exists(ctx, "/proc/spl/kstat/zfs") < 0)
		return; /* no ZFS module: no imported pool */
	for (size_t i = 0; i < hu->nblocks; i++) {
		struct blockdev *b = &hu->blocks[i];
		char path[64], data[4096], pool[256] = "", kstat[320];
		bool member = false;

		if (!block_devt(ctx, b))
			continue;
		snprintf(path, sizeof(path), "/run/udev/data/b%d:%d", b->major, b->minor);
		if (sysfs_read(ctx, path, data, sizeof(data)) <= 0)
			continue;
		for (const char *l = data; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			if (strncmp(l, "E:ID_FS_TYPE=zfs_member", 23) == 0 && (l[23] == '\n' || !l[23]))
				member = true;
			else if (strncmp(l, "E:ID_FS_LABEL=", 14) == 0)
				snprintf(pool, sizeof(pool), "%.*s", (int)strcspn(l + 14, "\n"), l + 14);
		}
		if (!member)
			continue;
		snprintf(kstat, sizeof(kstat), "/proc/spl/kstat/zfs/%s", pool);
		if (*pool && name_is_safe(pool) && sysfs_exists(ctx, kstat) == 0)
			use_add(hu, b->name, true, "part of the imported ZFS pool %s", pool);
		else if (!*pool || !name_is_safe(pool))
			use_add(hu, b->name, true, "a ZFS pool member (udev: zfs_member) while pools are imported");
	}
}

/*
 * What the host uses block devices for by themselves, once per context: every
 * mount (in PID 1's namespace and this one), the layers of each overlay, every
 * swap area (partitions by name, swap files by the file system under them), and
 * the files behind loop devices that are in use.
 */
static void uses_read(struct iopass_ctx *ctx, struct hostuse_cache *hu)
{
	if (hu->uses_read)
		return;
	hu->uses_read = true;
	mounts_read(ctx, hu);
	for (size_t i = 0; i < hu->nmounts; i++) {
		const struct mount *m = &hu->mounts[i];
		_cleanup_free_ char *why = NULL;

		if (asprintf(&why, "mounted on %s", m->mp) < 0)
			continue;
		mount_mark(ctx, hu, m, why, true);
		if (streq(m->fstype, "overlay"))
			overlay_mark(ctx, hu, m);
	}
	superblocks_mark(ctx, hu);
	zfs_mark(ctx, hu);
	for (const char *line = hu->swaps; line && *line;) {
		const char *next = strchr(line, '\n');
		char file[512], type[32];

		/* Filename Type Size Used Priority; the name has its blanks as \040 */
		if (sscanf(line, "%511s %31s", file, type) == 2 && file[0] == '/') {
			_cleanup_free_ char *name = unescape(file, strlen(file)), *why = NULL;

			if (name && streq(type, "file")) {
				if (asprintf(&why, "holding the active swap file %s", name) >= 0)
					path_mark(ctx, hu, name, why);
			} else if (name) {
				const char *b = block_of_source(ctx, hu, name);

				/* /dev/dm-1 or /dev/mapper/vg-swap; a name no device has counts by its base */
				use_add(hu, b ? b : strrchr(name, '/') + 1, false, "in use as swap");
			}
		}
		line = next ? next + 1 : NULL;
	}
	/* loop devices in use: the file behind each is on a file system in use too */
	for (size_t i = 0; i < hu->nblocks; i++) {
		char path[320], backing[512], holders[320];
		const char *name = hu->blocks[i].name, *why = use_of(hu, name);
		_cleanup_free_ char *msg = NULL;
		DIR *dir;

		if (strncmp(name, "loop", 4) != 0)
			continue;
		snprintf(holders, sizeof(holders), "/sys/class/block/%s/holders", name);
		if (!why && sysfs_opendir(ctx, holders, &dir) == 0) {
			struct dirent *de;

			while ((de = readdir(dir)))
				if (de->d_name[0] != '.')
					why = "held by another device";
			closedir(dir);
		}
		snprintf(path, sizeof(path), "/sys/class/block/%s/loop/backing_file", name);
		if (!why || sysfs_read(ctx, path, backing, sizeof(backing)) <= 0 || backing[0] != '/')
			continue;
		backing[strcspn(backing, "\n")] = '\0';
		if (asprintf(&msg, "holding %s, the file behind %s (%s)", backing, name, why) >= 0)
			path_mark(ctx, hu, backing, msg);
	}
}

/*
 * Describe how the host uses block device name: "nvme0n1p2 is held by dm-0
 * (vg-root), mounted on /". As a holder (is_holder), only the label and its
 * state are written, the caller wrote the subject. False when unused.
 */
static bool block_use(struct iopass_ctx *ctx, struct hostuse_cache *hu, const char *name,
		      int depth, bool is_holder, struct strbuf *sb)
{
	char path[320], dmname[128];
	char label[NAME_MAX + sizeof(dmname) + 4]; /* "name (dmname)" */
	const char *state = use_of(hu, name);
	bool used = false;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/block/%s/dm/name", name);
	if (sysfs_read(ctx, path, dmname, sizeof(dmname)) > 0) {
		snprintf(label, sizeof(label), "%s (%s)", name, dmname);
		if (!state) {
			char swapname[160];

			snprintf(swapname, sizeof(swapname), "%s", dmname);
			state = use_of(hu, swapname); /* swap named by /dev/mapper/NAME's base */
		}
	} else {
		snprintf(label, sizeof(label), "%s", name);
	}
	if (is_holder) {
		sb_add(sb, "%s%s%s", label, state ? ", " : "", state ? state : "");
		used = true;
	} else if (state) {
		sb_add(sb, "%s is %s", label, state);
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
		block_use(ctx, hu, de->d_name, depth + 1, true, sb);
		used = true;
	}
	closedir(dir);
	return used;
}

/*
 * NVMe native multipath: the path nvmeXcYnZ under a controller stands for the
 * namespace head nvmeXnZ, which sits under the subsystem, not under any PCI
 * function; whatever uses the head uses every controller that leads to it.
 */
static bool nvme_head_of(const char *name, char head[64])
{
	unsigned x, y, z;
	int n = 0;

	if (sscanf(name, "nvme%uc%un%u%n", &x, &y, &z, &n) != 3 || name[n])
		return false;
	snprintf(head, 64, "nvme%un%u", x, z);
	return true;
}

static void block_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct hostuse_cache *hu = cache(ctx);
	const char *devdir = dev_sysfs_dir(dev);
	struct strbuf sb = { .len = 0 };
	struct blockdev *blocks;
	size_t nblk;

	if (!devdir || !hu)
		return;
	if (!hu->block_read) {
		class_index(ctx, "/sys/class/block", &hu->blocks, &hu->nblocks);
		hu->block_read = true;
	}
	nblk = owned_by(hu->blocks, hu->nblocks, dev->bdf, &blocks);
	if (!nblk)
		return;
	uses_read(ctx, hu);
	for (size_t i = 0; i < nblk; i++) {
		struct strbuf one = { .len = 0 };
		char head[64];

		if (nvme_head_of(blocks[i].name, head) && block_named(hu, head)) {
			const char *hpath = block_named(hu, head)->path;
			size_t hlen = strlen(hpath);
			struct strbuf sub = { .len = 0 };

			/* the head and its partitions, which sit below it */
			for (size_t k = 0; k < hu->nblocks; k++) {
				const char *p = hu->blocks[k].path;
				struct strbuf part = { .len = 0 };

				if ((streq(p, hpath) || (strncmp(p, hpath, hlen) == 0 && p[hlen] == '/')) &&
				    block_use(ctx, hu, hu->blocks[k].name, 0, false, &part))
					sb_add(&sub, "%s%s", sub.len ? "; " : "", part.buf);
			}
			if (sub.len)
				sb_add(&one, "%s leads to %s, and %s", blocks[i].name, head, sub.buf);
		} else {
			block_use(ctx, hu, blocks[i].name, 0, false, &one);
		}
		if (one.len)
			sb_add(&sb, "%s%s", sb.len ? "; " : "", one.buf);
	}
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "disk-in-use", "%s%s", who, sb.buf);
		report_hint(r, "unmount it and deactivate what is stacked on it (swapoff, vgchange -an, "
			       "mdadm --stop)");
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

		if (strncmp(de->d_name, "virtio", 6) != 0 || !name_is_safe(de->d_name))
			continue;
		snprintf(attr, sizeof(attr), "/sys/%s/%s/mount_tag", devdir, de->d_name);
		if (sysfs_read(ctx, attr, tag, sizeof(tag)) <= 0) {
			snprintf(attr, sizeof(attr), "/sys/%s/%s/tag", devdir, de->d_name);
			if (sysfs_read(ctx, attr, tag, sizeof(tag)) <= 0)
				continue;
		}
		tag[strcspn(tag, "\n")] = '\0'; /* mount_tag may carry a NUL or newline at the end */
		for (size_t i = 0; i < hu->nmounts; i++) {
			const struct mount *m = &hu->mounts[i];

			if ((streq(m->fstype, "9p") || streq(m->fstype, "virtiofs")) && streq(m->source, tag))
				sb_add(&sb, "%s%s share '%s' is mounted on %s", sb.len ? "; " : "", m->fstype,
				       tag, m->mp);
		}
	}
	closedir(dir);
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "fs-in-use", "%s%s", who, sb.buf);
		report_hint(r, "unmount the share first");
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
		report_hint(r, "give the host another display or run it headless, and stop the console "
			       "on this GPU (video=efifb:off, or unbind the framebuffer)");
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
				       "or echo 0 > /sys/class/vtconsole/vtcon1/bind)");
		}
	}
	closedir(dir);
}

/* ---- device files held open ----------------------------------------------- */

/*
 * The classes whose entries have a device file: a GPU's DRM nodes, a sound card's
 * PCM and control nodes, a disk, a capture card, an RDMA device, the input and HID
 * devices and serial ports behind a USB controller. Each entry's place in the
 * device tree names the PCI function it belongs to; its uevent names the file.
 */
static const char *const node_classes[] = { "drm",   "sound", "block",  "nvme",   "nvme-generic",
					    "video4linux", "infiniband_verbs", "hidraw", "input",
					    "tty",   "usbmisc" };

/* "/dev/" + the DEVNAME of a class entry's uevent, or false */
static bool node_of(struct iopass_ctx *ctx, const char *cls, const char *name, char *buf, size_t size)
{
	char path[320], uevent[1024];
	const char *p;

	snprintf(path, sizeof(path), "/sys/class/%s/%s/uevent", cls, name);
	if (sysfs_read(ctx, path, uevent, sizeof(uevent)) <= 0)
		return false;
	for (p = uevent; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, "DEVNAME=", 8) == 0) {
			size_t len = strcspn(p + 8, "\n");

			if (!len || memmem(p + 8, len, "..", 2))
				return false;
			snprintf(buf, size, "/dev/%.*s", (int)len, p + 8);
			return true;
		}
	return false;
}

/*
 * Processes that use the device through its host driver: unbinding it would pull
 * the device from under them, or block in the kernel until they let go (a display
 * server on the GPU, a sound server on the HDA function, a program with the disk
 * open raw). NVIDIA's driver keeps its nodes outside sysfs: /dev/nvidiaN, N its
 * "Device Minor" in /proc/driver/nvidia/gpus/BDF/information.
 */
static void nodes_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct hostuse_cache *hu = cache(ctx);
	struct strbuf sb = { .len = 0 };
	char node[320], users[512];

	if (!hu || !dev->driver)
		return;
	if (!hu->nodes_read) {
		for (size_t c = 0; c < ARRAY_SIZE(node_classes); c++) {
			char dir[64];

			snprintf(dir, sizeof(dir), "/sys/class/%s", node_classes[c]);
			class_index(ctx, dir, &hu->nodes[c], &hu->nnodes[c]);
		}
		hu->nodes_read = true;
	}
	for (size_t c = 0; c < ARRAY_SIZE(node_classes); c++) {
		struct blockdev *owned;
		size_t n = owned_by(hu->nodes[c], hu->nnodes[c], dev->bdf, &owned);

		for (size_t i = 0; i < n; i++)
			if (node_of(ctx, node_classes[c], owned[i].name, node, sizeof(node)) &&
			    dev_node_users(ctx, node, users, sizeof(users)))
				sb_add(&sb, "%s%s is open by %s", sb.len ? "; " : "", node, users);
	}
	if (streq(dev->driver, "nvidia")) {
		char path[128], info[4096];
		const char *m;
		unsigned minor;

		snprintf(path, sizeof(path), "/proc/driver/nvidia/gpus/%s/information", dev->bdf);
		m = sysfs_read(ctx, path, info, sizeof(info)) > 0 ? strstr(info, "Device Minor:") : NULL;
		if (m && sscanf(m + 13, "%u", &minor) == 1) {
			snprintf(node, sizeof(node), "/dev/nvidia%u", minor);
			if (dev_node_users(ctx, node, users, sizeof(users)))
				sb_add(&sb, "%s%s is open by %s", sb.len ? "; " : "", node, users);
		}
	}
	if (sb.len) {
		report_add(r, IOPASS_LEVEL_FAIL, "device-open", "%s%s", who, sb.buf);
		report_hint(r, "stop them first (a display server: stop the display manager's unit; a "
			       "sound server: stop it for the user); taken anyway, the unbind waits "
			       "until they let go");
	}
}

/* ---- chipset ------------------------------------------------------------ */

/*
 * The functions of the platform controller hub that the host itself stands on:
 * the LPC/eSPI bridge (TPM, super-I/O, embedded controller), the SMBus controller
 * (memory SPD, sensors, power regulators), the SPI flash controller (the firmware
 * image) and the power management controller. They share the PCH's group with
 * the audio and USB functions that people do pass through; handing them to a
 * guest takes the host's own platform with them.
 */
static void chipset_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	unsigned cls = (dev->flags & DEV_HAVE_CLASS) ? dev->class >> 8 : 0;
	const char *what = NULL;

	if (cls == 0x0601)
		what = "the chipset's ISA/LPC (or eSPI) bridge: the TPM, the super-I/O and the "
		       "embedded controller sit behind it";
	else if (cls == 0x0c05)
		what = "the chipset's SMBus controller: memory SPD, sensors and voltage regulators "
		       "sit on it";
	else if (cls == 0x0c80 && dev->vendor == 0x8086 && dev->addr.bus == 0 && dev->addr.slot == 0x1f)
		what = "the chipset's SPI controller: the firmware's flash is on it";
	else if (cls == 0x0580 && dev->vendor == 0x8086 && dev->addr.bus == 0 && dev->addr.slot == 0x1f)
		what = "the chipset's power management controller";
	if (!what)
		return;
	report_add(r, IOPASS_LEVEL_FAIL, "chipset-core", "%sis %s; the host needs it", who, what);
	report_hint(r, "pass through the other functions of the group one by one if the kernel "
		       "groups them apart");
}

void hostuse_check(struct iopass_dev *dev, struct iopass_report *r, const char *who)
{
	if (iopass_dev_is_vfio(dev))
		return; /* already given away: the host uses none of it */
	chipset_check(dev, r, who);
	nodes_check(dev, r, who);
	net_check(dev, r, who);
	block_check(dev, r, who);
	sharedfs_check(dev, r, who);
	if ((dev->flags & DEV_HAVE_CLASS) && (dev->class >> 16) == 0x03)
		display_check(dev, r, who);
}

/* ---- processes holding device files open (VMs on /dev/vfio, consoles on DRM) ---- */

/* A device file a process holds open: one line of the walk of /proc/<pid>/fd. */
struct fd_user {
	unsigned pid;
	char comm[64];
	char target[160]; /* "/dev/vfio/6", "/dev/dri/card0", ... */
};

/*
 * The IOMMU group of what an open /dev/vfio path reaches: /dev/vfio/N is group N;
 * /dev/vfio/devices/vfioN, the device cdev of the iommufd backend (what
 * 'emit --iommufd' configures), is the group of the device behind it
 * (/sys/class/vfio-dev/vfioN/device). -1 for anything else (/dev/vfio/vfio).
 */
static int vfio_path_group(struct iopass_ctx *ctx, const char *target)
{
	char path[256], name[64];
	unsigned g;

	if (strncmp(target, "/dev/vfio/devices/", 18) == 0) {
		if (!name_is_safe(target + 18))
			return -1;
		snprintf(path, sizeof(path), "/sys/class/vfio-dev/%s/device/iommu_group", target + 18);
		if (sysfs_readlink(ctx, path, name, sizeof(name)) <= 0)
			return -1;
		const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;

		return parse_uint(base, INT32_MAX, &g) == 0 ? (int)g : -1;
	}
	if (strncmp(target, "/dev/vfio/", 10) == 0 && parse_uint(target + 10, INT32_MAX, &g) == 0)
		return (int)g;
	return -1;
}

/* Files every process has open that say nothing about a device's user. */
static bool fd_target_is_noise(const char *t)
{
	static const char *const noise[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
					     "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/console",
					     "/dev/kmsg", "/dev/fuse", "/dev/vfio/vfio" };

	if (strncmp(t, "/dev/", 5) != 0 || strncmp(t, "/dev/pts/", 9) == 0 ||
	    strncmp(t, "/dev/shm/", 9) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(noise); i++)
		if (streq(t, noise[i]))
			return true;
	return false;
}

static int fd_user_cmp(const void *a, const void *b)
{
	const struct fd_user *x = a, *y = b;

	return x->pid != y->pid ? (x->pid < y->pid ? -1 : 1) : strcmp(x->target, y->target);
}

/*
 * Every device file a process holds open, from one walk of /proc per context: who
 * holds a group (a running VM), a GPU's DRM nodes (the display server), a sound
 * card, a disk opened raw.
 */
static void fd_users_scan(struct iopass_ctx *ctx)
{
	struct fd_user *users = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *proc;

	ctx->fd_users_read = true;
	if (sysfs_opendir(ctx, "/proc", &proc) < 0)
		return;
	while ((de = readdir(proc))) {
		char path[300], target[160], comm[64];
		struct dirent *fe;
		unsigned pid;
		DIR *fds;

		if (parse_uint(de->d_name, INT32_MAX, &pid) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%u/fd", pid);
		if (sysfs_opendir(ctx, path, &fds) < 0)
			continue;
		comm[0] = '\0';
		while ((fe = readdir(fds))) {
			struct fd_user *nu;
			bool seen = false;

			snprintf(path, sizeof(path), "/proc/%u/fd/%s", pid, fe->d_name);
			if (sysfs_readlink(ctx, path, target, sizeof(target)) <= 0 || fd_target_is_noise(target))
				continue;
			if (!comm[0]) {
				snprintf(path, sizeof(path), "/proc/%u/comm", pid);
				if (sysfs_read(ctx, path, comm, sizeof(comm)) <= 0)
					snprintf(comm, sizeof(comm), "?");
			}
			for (size_t i = n; i > 0 && !seen && users[i - 1].pid == pid; i--)
				seen = streq(users[i - 1].target, target);
			if (seen)
				continue;
			nu = reallocarray(users, n + 1, sizeof(*nu));
			if (!nu)
				break;
			users = nu;
			users[n].pid = pid;
			snprintf(users[n].comm, sizeof(users[n].comm), "%s", comm);
			snprintf(users[n].target, sizeof(users[n].target), "%s", target);
			n++;
		}
		closedir(fds);
	}
	closedir(proc);
	/* by pid: messages in one order, whatever order /proc lists processes in */
	if (n)
		qsort(users, n, sizeof(*users), fd_user_cmp);
	ctx->fd_users = users;
	ctx->nfd_users = n;
}

_printf_(4, 5) static size_t list_add(char *buf, size_t size, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= size)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : len + (size_t)n >= size ? size - 1 : len + (size_t)n;
}

/* Processes holding /dev/vfio/<group> or a member's cdev open (a running VM). */
size_t vfio_group_users(struct iopass_ctx *ctx, int group, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!ctx->fd_users_read)
		fd_users_scan(ctx);
	for (size_t i = 0; i < ctx->nfd_users; i++) {
		const struct fd_user *u = &ctx->fd_users[i];

		if (strncmp(u->target, "/dev/vfio/", 10) == 0 && vfio_path_group(ctx, u->target) == group)
			len = list_add(buf, size, len, "%s%s (pid %u, %s)", len ? ", " : "", u->comm, u->pid,
				       u->target);
	}
	return len;
}

/* Processes holding the device file node ("/dev/dri/card0") open: "Xorg (pid 812), ..." */
size_t dev_node_users(struct iopass_ctx *ctx, const char *node, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!ctx->fd_users_read)
		fd_users_scan(ctx);
	for (size_t i = 0; i < ctx->nfd_users; i++)
		if (streq(ctx->fd_users[i].target, node))
			len = list_add(buf, size, len, "%s%s (pid %u)", len ? ", " : "",
				       ctx->fd_users[i].comm, ctx->fd_users[i].pid);
	return len;
}
