// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A simulated kernel for the write side, preloaded into iopass by the tests
 * (LD_PRELOAD), after libvirt's tests/virpcimock.c: writes to the PCI
 * control files of a fixture tree below $IOPASS_SIM_ROOT act as the
 * kernel's do, at write(2) time:
 *
 *   <dev>/driver_override   set or clear ("\n") the override
 *   <dev>/reset_method      as reset_method_store() (Linux 6.1): "" disables every
 *                           method, "default" restores <dev>/.sim-reset-default (the
 *                           boot list, also what the device supports), else each
 *                           blank-separated name must be one the device supports,
 *                           or EINVAL and nothing changes
 *   drivers/<drv>/unbind    ENODEV unless bound to drv; drops the links
 *   drivers/<drv>/bind      EBUSY if bound; ENODEV unless drv may take it
 *                           (the override names it, or no override and drv
 *                           is the device's native driver)
 *   drivers_probe           binds the override's driver, or the native one,
 *                           if that driver is loaded; nothing if bound
 *
 * Binding vfio-pci (or a variant: vfio-*, *_vfio_pci) adds vfio-dev/vfio0 and the group's
 * /dev/vfio/<group>, unbinding the last one removes it. A device's native
 * driver is in <dev>/.sim-native.
 *
 * Faults, IOPASS_SIM_FAIL="op:bdf:effect,...": op override|unbind|bind|probe|reset
 * (bind=DRV, unbind=DRV: only for that driver),
 * bdf or *, effect an errno name (EBUSY, ENODEV, EACCES, EIO, EINVAL: the
 * write fails, nothing happens), or for probe "none" (binds nothing),
 * "wrong=<drv>" (binds drv), "vanish" (the device disappears).
 * IOPASS_SIM_KILL_AFTER=N: SIGKILL after the Nth kernel write.
 * IOPASS_SIM_KILL_AFTER_OP=N: SIGKILL after the Nth durable step of any kind: a
 * kernel write, or a state file put in place or removed (renameat, unlinkat of
 * a name not starting with '.', i.e. not a temporary file), anywhere.
 * IOPASS_SIM_LOG=file: one line per kernel write, "op bdf value result".
 * IOPASS_SIM_DELAY_MS=N: each kernel write takes N ms (for the lock tests).
 * IOPASS_SIM_OPENAT2_EAGAIN=N: each openat2 fails with EAGAIN N times before it
 * is let through, as when renames elsewhere race with its ".." lookups.
 *
 * SR-IOV: <pf>/sriov_numvfs N creates N VFs (devfn PF + 2 + i, own groups,
 * native driver from <pf>/.sim-vf-native, probed only when
 * sriov_drivers_autoprobe is 1); EBUSY if VFs exist, ERANGE above
 * sriov_totalvfs, ENOENT without a PF driver; 0 removes them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "fixture.h"

enum kind { K_NONE, K_OVERRIDE, K_UNBIND, K_BIND, K_PROBE, K_NUMVFS, K_AUTOPROBE, K_RESET };

struct tracked {
	enum kind kind;
	char bdf[32];  /* override: the device */
	char drv[128]; /* bind/unbind: the driver */
};

#define MAX_FD 4096
static struct tracked fds[MAX_FD];
static char root[PATH_MAX];
static size_t rootlen;
static int writes;
static bool acting; /* the simulated kernel's own file writes are not kernel writes */

static int (*real_openat)(int, const char *, int, ...);
static int (*real_open)(const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);

static void init(void)
{
	const char *r;

	if (real_write)
		return;
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_open = dlsym(RTLD_NEXT, "open");
	real_write = dlsym(RTLD_NEXT, "write");
	real_close = dlsym(RTLD_NEXT, "close");
	r = getenv("IOPASS_SIM_ROOT");
	if (r && realpath(r, root))
		rootlen = strlen(root);
}

/* ---- the fixture as the kernel's state ---------------------------------------- */

static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, PATH_MAX, "%s/", root);

	va_start(ap, fmt);
	vsnprintf(buf + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
}

/* The real device directory of bdf, or false when the device is gone. */
static bool devdir(const char *bdf, char *out)
{
	char p[PATH_MAX];

	pathf(p, "sys/bus/pci/devices/%s", bdf);
	return realpath(p, out) != NULL;
}

static void read_small(const char *path, char *buf, size_t size)
{
	int fd = real_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		real_close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void write_small(const char *path, const char *s)
{
	int fd = real_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return;
	if (real_write(fd, s, strlen(s)) < 0)
		abort();
	real_close(fd);
}

static void driver_of(const char *dir, char *out, size_t size)
{
	char p[PATH_MAX], t[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/driver", dir);
	n = readlink(p, t, sizeof(t) - 1);
	out[0] = '\0';
	if (n > 0) {
		t[n] = '\0';
		snprintf(out, size, "%s", strrchr(t, '/') ? strrchr(t, '/') + 1 : t);
	}
}

static int group_of(const char *dir)
{
	char p[PATH_MAX], t[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/iommu_group", dir);
	n = readlink(p, t, sizeof(t) - 1);
	if (n <= 0)
		return -1;
	t[n] = '\0';
	return atoi(strrchr(t, '/') ? strrchr(t, '/') + 1 : t);
}

static bool is_vfio(const char *drv)
{
	return strstr(drv, "vfio") != NULL; /* vfio-pci and its variants (mlx5_vfio_pci) */
}

/* linkpath -> to, written relative to from_dir as the kernel does; both absolute below root. */
static void link_rel(const char *from_dir, const char *to, const char *linkpath)
{
	char *rel = fx_relpath(from_dir + rootlen + 1, to + rootlen + 1);

	unlink(linkpath);
	if (symlink(rel, linkpath) < 0)
		abort();
	free(rel);
}

static void vfio_node(int group, bool present)
{
	char p[PATH_MAX];

	if (group < 0)
		return;
	pathf(p, "dev/vfio");
	mkdir(p, 0755);
	pathf(p, "dev/vfio/%d", group);
	if (present)
		write_small(p, "");
	else
		unlink(p);
}

/* Is any device of the group still on a vfio driver? */
static bool group_has_vfio(int group)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	bool any = false;

	pathf(p, "sys/kernel/iommu_groups/%d/devices", group);
	d = opendir(p);
	if (!d)
		return false;
	while (!any && (de = readdir(d))) {
		char dir[PATH_MAX], drv[128];

		if (de->d_name[0] == '.' || !devdir(de->d_name, dir))
			continue;
		driver_of(dir, drv, sizeof(drv));
		any = is_vfio(drv);
	}
	closedir(d);
	return any;
}

static int do_bind(const char *drv, const char *bdf)
{
	char dir[PATH_MAX], cur[128], ovr[128], native[128], p[PATH_MAX], drvdir[PATH_MAX];

	if (!devdir(bdf, dir))
		return -ENODEV;
	pathf(drvdir, "sys/bus/pci/drivers/%s", drv);
	if (access(drvdir, F_OK) < 0)
		return -ENODEV;
	driver_of(dir, cur, sizeof(cur));
	if (*cur)
		return -EBUSY;
	snprintf(p, sizeof(p), "%s/driver_override", dir);
	read_small(p, ovr, sizeof(ovr));
	if (strcmp(ovr, "(null)") == 0)
		ovr[0] = '\0';
	snprintf(p, sizeof(p), "%s/.sim-native", dir);
	read_small(p, native, sizeof(native));
	if (*ovr ? strcmp(ovr, drv) != 0 : strcmp(native, drv) != 0)
		return -ENODEV;
	snprintf(p, sizeof(p), "%s/driver", dir);
	link_rel(dir, drvdir, p);
	snprintf(p, sizeof(p), "%s/%s", drvdir, bdf);
	link_rel(drvdir, dir, p);
	if (is_vfio(drv)) {
		snprintf(p, sizeof(p), "%s/vfio-dev", dir);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/vfio-dev/vfio0", dir);
		mkdir(p, 0755);
		vfio_node(group_of(dir), true);
	}
	return 0;
}

static int do_unbind(const char *drv, const char *bdf)
{
	char dir[PATH_MAX], cur[128], p[PATH_MAX];
	int group;

	if (!devdir(bdf, dir))
		return -ENODEV;
	driver_of(dir, cur, sizeof(cur));
	if (strcmp(cur, drv) != 0)
		return -ENODEV;
	snprintf(p, sizeof(p), "%s/driver", dir);
	unlink(p);
	pathf(p, "sys/bus/pci/drivers/%s/%s", drv, bdf);
	unlink(p);
	if (is_vfio(drv)) {
		snprintf(p, sizeof(p), "%s/vfio-dev/vfio0", dir);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/vfio-dev", dir);
		rmdir(p);
		group = group_of(dir);
		if (!group_has_vfio(group))
			vfio_node(group, false);
	}
	return 0;
}

static int do_override(const char *bdf, const char *value)
{
	char dir[PATH_MAX], p[PATH_MAX];

	if (!devdir(bdf, dir))
		return -ENODEV;
	snprintf(p, sizeof(p), "%s/driver_override", dir);
	write_small(p, *value ? value : "(null)");
	return 0;
}

static int do_reset(const char *bdf, const char *value)
{
	char dir[PATH_MAX], p[PATH_MAX], supported[256], copy[256], out[256] = "", *save = NULL;
	size_t len = 0;

	if (!devdir(bdf, dir))
		return -ENODEV;
	snprintf(p, sizeof(p), "%s/.sim-reset-default", dir);
	read_small(p, supported, sizeof(supported));
	if (strcmp(value, "default") == 0) {
		snprintf(out, sizeof(out), "%s", supported);
	} else {
		snprintf(copy, sizeof(copy), "%s", value);
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			char hay[260], needle[80];

			snprintf(hay, sizeof(hay), " %s ", supported);
			snprintf(needle, sizeof(needle), " %s ", w);
			if (!strstr(hay, needle))
				return -EINVAL; /* unknown, or not supported: the old list stays */
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "", w);
		}
	}
	snprintf(p, sizeof(p), "%s/reset_method", dir);
	snprintf(copy, sizeof(copy), "%s\n", out);
	write_small(p, copy);
	return 0;
}

static int do_probe(const char *bdf)
{
	char dir[PATH_MAX], cur[128], ovr[128], native[128], p[PATH_MAX];

	if (!devdir(bdf, dir))
		return -ENODEV;
	driver_of(dir, cur, sizeof(cur));
	if (*cur)
		return 0;
	snprintf(p, sizeof(p), "%s/driver_override", dir);
	read_small(p, ovr, sizeof(ovr));
	if (strcmp(ovr, "(null)") == 0)
		ovr[0] = '\0';
	snprintf(p, sizeof(p), "%s/.sim-native", dir);
	read_small(p, native, sizeof(native));
	if (*ovr && strcmp(ovr, "none") != 0)
		do_bind(ovr, bdf);
	else if (!*ovr && *native)
		do_bind(native, bdf);
	return 0; /* the kernel reports success whether or not a driver took it */
}

/* ---- SR-IOV ----------------------------------------------------------------------- */

static int read_int(const char *path)
{
	char buf[32];

	read_small(path, buf, sizeof(buf));
	return atoi(buf);
}

static int next_group(void)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int max = -1;

	pathf(p, "sys/kernel/iommu_groups");
	d = opendir(p);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) > max)
			max = atoi(de->d_name);
	if (d)
		closedir(d);
	return max + 1;
}

/* Remove VF devices: unbind, drop the links, the group and the directory. */
static void remove_vfs(const char *pfdir)
{
	for (int i = 0; i < 256; i++) {
		char link[PATH_MAX], vfdir[PATH_MAX], drv[128], p[PATH_MAX];
		const char *bdf;
		int group;

		snprintf(link, sizeof(link), "%s/virtfn%d", pfdir, i);
		if (!realpath(link, vfdir)) {
			unlink(link);
			continue;
		}
		bdf = strrchr(vfdir, '/') + 1;
		driver_of(vfdir, drv, sizeof(drv));
		if (*drv)
			do_unbind(drv, bdf);
		group = group_of(vfdir);
		pathf(p, "sys/bus/pci/devices/%s", bdf);
		unlink(p);
		if (group >= 0) {
			pathf(p, "sys/kernel/iommu_groups/%d/devices/%s", group, bdf);
			unlink(p);
		}
		unlink(link);
		/* the fixture's rm helper is not here: remove the few files a VF has */
		DIR *d = opendir(vfdir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' && strcmp(de->d_name, ".sim-native") != 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", vfdir, de->d_name);
			unlink(p);
		}
		if (d)
			closedir(d);
		rmdir(vfdir);
		if (group >= 0) {
			pathf(p, "sys/kernel/iommu_groups/%d/devices", group);
			rmdir(p);
			pathf(p, "sys/kernel/iommu_groups/%d/type", group);
			unlink(p);
			pathf(p, "sys/kernel/iommu_groups/%d", group);
			rmdir(p);
		}
	}
}

static int do_numvfs(const char *pfbdf, const char *value)
{
	char dir[PATH_MAX], p[PATH_MAX], drv[128], native[128], vfdev[16], parent[64];
	int n = atoi(value), cur, total;
	unsigned domain, bus, slot, func, devfn;

	if (!devdir(pfbdf, dir))
		return -ENODEV;
	snprintf(p, sizeof(p), "%s/sriov_numvfs", dir);
	cur = read_int(p);
	snprintf(p, sizeof(p), "%s/sriov_totalvfs", dir);
	total = read_int(p);
	if (n == 0) {
		remove_vfs(dir);
		snprintf(p, sizeof(p), "%s/sriov_numvfs", dir);
		write_small(p, "0\n");
		return 0;
	}
	if (cur > 0)
		return -EBUSY;
	if (n > total)
		return -ERANGE;
	driver_of(dir, drv, sizeof(drv));
	if (!*drv)
		return -ENOENT; /* no driver bound: cannot configure SR-IOV */
	snprintf(p, sizeof(p), "%s/sriov_vf_device", dir);
	read_small(p, vfdev, sizeof(vfdev));
	snprintf(p, sizeof(p), "%s/.sim-vf-native", dir);
	read_small(p, native, sizeof(native));
	/* the PF's parent in the device tree, if it is a bridge */
	snprintf(parent, sizeof(parent), "%s", "");
	{
		char copy[PATH_MAX], *slash, *pb;

		snprintf(copy, sizeof(copy), "%s", dir);
		slash = strrchr(copy, '/');
		*slash = '\0';
		pb = strrchr(copy, '/') + 1;
		if (strncmp(pb, "pci", 3) != 0)
			snprintf(parent, sizeof(parent), "%s", pb);
	}
	if (sscanf(pfbdf, "%x:%x:%x.%x", &domain, &bus, &slot, &func) != 4)
		return -EINVAL;
	devfn = slot << 3 | func;

	struct fx *fx = fx_open(root);
	int group = next_group();
	unsigned vendor = 0;
	char vbuf[16];

	snprintf(p, sizeof(p), "%s/vendor", dir);
	read_small(p, vbuf, sizeof(vbuf));
	sscanf(vbuf, "%x", &vendor);
	for (int i = 0; i < n; i++) {
		char vf[32];
		unsigned vdevfn = devfn + 2 + (unsigned)i;
		char pfclass[16];
		unsigned cls = 0;

		snprintf(p, sizeof(p), "%s/class", dir);
		read_small(p, pfclass, sizeof(pfclass));
		sscanf(pfclass, "%x", &cls);
		snprintf(vf, sizeof(vf), "%04x:%02x:%02x.%x", domain, bus, vdevfn >> 3, vdevfn & 7);
		fx_add(fx, &FX_DEV(.bdf = vf, .vendor = (uint16_t)vendor,
				   .device = (uint16_t)strtoul(vfdev, NULL, 16), .class = cls,
				   .parent = *parent ? parent : NULL, .group = group + i, .physfn = pfbdf,
				   .pcie = FX_PCIE_ENDPOINT, .flr = true,
				   .native = *native ? native : NULL));
	}
	fx_close(fx);
	snprintf(p, sizeof(p), "%s/sriov_numvfs", dir);
	snprintf(vbuf, sizeof(vbuf), "%d\n", n);
	write_small(p, vbuf);
	/* new VFs get drivers only when autoprobe is on */
	snprintf(p, sizeof(p), "%s/sriov_drivers_autoprobe", dir);
	if (read_int(p) == 1) {
		for (int i = 0; i < n; i++) {
			char vf[32];
			unsigned vdevfn = devfn + 2 + (unsigned)i;

			snprintf(vf, sizeof(vf), "%04x:%02x:%02x.%x", domain, bus, vdevfn >> 3, vdevfn & 7);
			do_probe(vf);
		}
	}
	return 0;
}

static int do_autoprobe(const char *pfbdf, const char *value)
{
	char dir[PATH_MAX], p[PATH_MAX], v[8];

	if (!devdir(pfbdf, dir))
		return -ENODEV;
	if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
		return -EINVAL;
	snprintf(p, sizeof(p), "%s/sriov_drivers_autoprobe", dir);
	snprintf(v, sizeof(v), "%s\n", value);
	write_small(p, v);
	return 0;
}

/* ---- faults ---------------------------------------------------------------------- */

static const char *const op_names[] = { "", "override", "unbind", "bind", "probe", "numvfs",
					 "autoprobe", "reset" };

/* The effect configured for op on bdf (op may name the driver: "bind=xhci_hcd"), or NULL. */
static const char *fault(enum kind k, const char *bdf, const char *drv, char *buf, size_t size)
{
	const char *spec = getenv("IOPASS_SIM_FAIL");
	char *copy, *save = NULL;
	const char *found = NULL;

	if (!spec || !*spec)
		return NULL;
	copy = strdup(spec);
	for (char *rule = strtok_r(copy, ",", &save); rule && !found; rule = strtok_r(NULL, ",", &save)) {
		char *op = rule, *b = strchr(rule, ':'), *eff;

		if (!b)
			continue;
		*b++ = '\0';
		eff = strrchr(b, ':');
		if (!eff)
			continue;
		*eff++ = '\0';
		char *want_drv = strchr(op, '=');

		if (want_drv)
			*want_drv++ = '\0';
		if (want_drv && strcmp(want_drv, drv) != 0)
			continue;
		if (strcmp(op, op_names[k]) == 0 && (strcmp(b, "*") == 0 || strcmp(b, bdf) == 0)) {
			snprintf(buf, size, "%s", eff);
			found = buf;
		}
	}
	free(copy);
	return found;
}

static int errno_named(const char *s)
{
	static const struct {
		const char *n;
		int e;
	} t[] = { { "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "EACCES", EACCES }, { "EIO", EIO },
		  { "EINVAL", EINVAL }, { "ENOENT", ENOENT }, { "EPERM", EPERM }, { "EINTR", EINTR } };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].e;
	return 0;
}

static void sim_log(const char *op, const char *bdf, const char *value, int r)
{
	const char *log = getenv("IOPASS_SIM_LOG");
	char line[512];
	int fd;

	if (!log)
		return;
	fd = real_openat(AT_FDCWD, log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	snprintf(line, sizeof(line), "%s %s %s %s\n", op, bdf, *value ? value : "\\n",
		 r < 0 ? strerror(-r) : "ok");
	if (real_write(fd, line, strlen(line)) < 0)
		abort();
	real_close(fd);
}

static int act(struct tracked *t, const char *value)
{
	const char *bdf = t->kind == K_OVERRIDE || t->kind == K_NUMVFS || t->kind == K_AUTOPROBE ||
				  t->kind == K_RESET
				  ? t->bdf : value;
	char eff[160];
	const char *f = fault(t->kind, bdf, t->drv, eff, sizeof(eff));
	int e;

	if (f && (e = errno_named(f)))
		return -e;
	if (f && t->kind == K_PROBE) {
		char p[PATH_MAX];

		if (strcmp(f, "none") == 0)
			return 0;
		if (strncmp(f, "wrong=", 6) == 0) {
			char dir[PATH_MAX];

			/* a driver that grabs the device regardless of the override */
			if (devdir(bdf, dir)) {
				snprintf(p, sizeof(p), "%s/.sim-native", dir);
				char saved[128], ovr[128], op[PATH_MAX];

				read_small(p, saved, sizeof(saved));
				snprintf(op, sizeof(op), "%s/driver_override", dir);
				read_small(op, ovr, sizeof(ovr));
				write_small(op, "(null)");
				write_small(p, f + 6);
				do_probe(bdf);
				write_small(p, saved);
				write_small(op, ovr);
			}
			return 0;
		}
		if (strcmp(f, "vanish") == 0) {
			pathf(p, "sys/bus/pci/devices/%s", bdf);
			unlink(p);
			return -ENODEV;
		}
	}
	switch (t->kind) {
	case K_OVERRIDE:
		return do_override(t->bdf, value);
	case K_UNBIND:
		return do_unbind(t->drv, value);
	case K_BIND:
		return do_bind(t->drv, value);
	case K_PROBE:
		return do_probe(value);
	case K_NUMVFS:
		return do_numvfs(t->bdf, value);
	case K_AUTOPROBE:
		return do_autoprobe(t->bdf, value);
	case K_RESET:
		return do_reset(t->bdf, value);
	default:
		return 0;
	}
}

/* ---- interposition -------------------------------------------------------------- */

static void classify(int fd)
{
	char link[64], path[PATH_MAX];
	struct tracked *t;
	const char *rel, *base;
	ssize_t n;

	if (fd < 0 || fd >= MAX_FD || !rootlen)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	if (strncmp(path, root, rootlen) != 0 || path[rootlen] != '/')
		return;
	rel = path + rootlen + 1;
	base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	t = &fds[fd];
	memset(t, 0, sizeof(*t));
	if (strcmp(rel, "sys/bus/pci/drivers_probe") == 0) {
		t->kind = K_PROBE;
	} else if (strncmp(rel, "sys/bus/pci/drivers/", 20) == 0 &&
		   (strcmp(base, "bind") == 0 || strcmp(base, "unbind") == 0)) {
		t->kind = strcmp(base, "bind") == 0 ? K_BIND : K_UNBIND;
		snprintf(t->drv, sizeof(t->drv), "%.*s", (int)(base - rel - 21), rel + 20);
	} else if ((strcmp(base, "driver_override") == 0 || strcmp(base, "sriov_numvfs") == 0 ||
		    strcmp(base, "sriov_drivers_autoprobe") == 0 || strcmp(base, "reset_method") == 0) &&
		   base - rel > 13) {
		const char *b = base - 2;

		while (b > rel && *b != '/')
			b--;
		t->kind = base[0] == 'd' ? K_OVERRIDE : base[0] == 'r' ? K_RESET
			: base[6] == 'n' ? K_NUMVFS : K_AUTOPROBE;
		snprintf(t->bdf, sizeof(t->bdf), "%.*s", (int)(base - b - 2), b + 1);
	}
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	init();
	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	fd = real_openat(dirfd, path, flags, mode);
	if (fd >= 0 && fd < MAX_FD) {
		fds[fd].kind = K_NONE;
		if ((flags & O_ACCMODE) != O_RDONLY && !acting)
			classify(fd);
	}
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* iopass opens below a sysroot with openat2 (RESOLVE_IN_ROOT), through syscall(2) */
long syscall(long number, ...)
{
	static long (*real_syscall)(long, ...);
	long a[6], r;
	va_list ap;

	init();
	if (!real_syscall)
		real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long); /* as the kernel reads six registers, whatever was passed */
	va_end(ap);
	if (number == SYS_openat2 && getenv("IOPASS_SIM_OPENAT2_EAGAIN")) {
		static int failed;

		if (failed < atoi(getenv("IOPASS_SIM_OPENAT2_EAGAIN"))) {
			failed++;
			errno = EAGAIN;
			return -1;
		}
		failed = 0;
	}
	r = real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (number == SYS_openat2 && r >= 0 && r < MAX_FD) {
		const struct open_how *how = (const struct open_how *)a[2];

		fds[r].kind = K_NONE;
		if ((how->flags & O_ACCMODE) != O_RDONLY && !acting)
			classify((int)r);
	}
	return r;
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

static int durable_steps;

/* One more durable step: SIGKILL once IOPASS_SIM_KILL_AFTER_OP of them are done. */
static void durable_step(void)
{
	const char *kill_after = getenv("IOPASS_SIM_KILL_AFTER_OP");

	if (kill_after && ++durable_steps == atoi(kill_after))
		raise(SIGKILL);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	static int (*real_renameat)(int, const char *, int, const char *);
	int r;

	if (!real_renameat)
		real_renameat = dlsym(RTLD_NEXT, "renameat");
	r = real_renameat(olddirfd, oldpath, newdirfd, newpath);
	if (r == 0 && base_name(newpath)[0] != '.')
		durable_step();
	return r;
}

int unlinkat(int dirfd, const char *path, int flags)
{
	static int (*real_unlinkat)(int, const char *, int);
	int r;

	if (!real_unlinkat)
		real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
	r = real_unlinkat(dirfd, path, flags);
	if (r == 0 && base_name(path)[0] != '.' && !acting)
		durable_step();
	return r;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct tracked *t;
	char value[256];
	int r;
	const char *kill_after;

	init();
	if (fd < 0 || fd >= MAX_FD || fds[fd].kind == K_NONE)
		return real_write(fd, buf, len);
	t = &fds[fd];
	snprintf(value, sizeof(value), "%.*s", (int)(len < sizeof(value) ? len : sizeof(value) - 1),
		 (const char *)buf);
	value[strcspn(value, "\n")] = '\0';
	if (getenv("IOPASS_SIM_DELAY_MS"))
		usleep((useconds_t)atoi(getenv("IOPASS_SIM_DELAY_MS")) * 1000);
	acting = true;
	r = act(t, value);
	acting = false;
	{
		bool per_dev = t->kind == K_OVERRIDE || t->kind == K_NUMVFS || t->kind == K_AUTOPROBE ||
			       t->kind == K_RESET;

		sim_log(op_names[t->kind], per_dev ? t->bdf : value,
			per_dev ? value : t->kind == K_PROBE ? "" : t->drv, r);
	}
	kill_after = getenv("IOPASS_SIM_KILL_AFTER");
	if (kill_after && ++writes == atoi(kill_after))
		raise(SIGKILL);
	durable_step();
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return (ssize_t)len;
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd < MAX_FD)
		fds[fd].kind = K_NONE;
	return real_close(fd);
}
