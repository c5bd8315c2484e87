// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A device's driver: what it is bound to and overridden with, the one rule
 * for "a vfio driver", the kernel writes (each one recorded in the
 * transaction), putting a device back as it was, and loading a driver's
 * module with libkmod.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libkmod.h>

#include "iopass-private.h"

/* ---- reading and writing one device ------------------------------------------- */

void dev_path(char *buf, size_t size, const char *bdf, const char *attr)
{
	snprintf(buf, size, "/sys/bus/pci/devices/%s/%s", bdf, attr);
}

/* The driver bound now: 0 and *drv (NULL when unbound), or -errno (device gone). */
int current_driver(struct iopass_ctx *ctx, const char *bdf, char *drv, size_t size)
{
	char path[256];
	_cleanup_close_ int dfd = -1;
	int r;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	dfd = sysfs_open_dir(ctx, path);
	if (dfd < 0)
		return dfd;
	r = sysfs_link_name_at(dfd, "driver", drv, size);
	if (r == -ENOENT) {
		drv[0] = '\0';
		return 0;
	}
	if (r < 0 || !iopass_driver_name_valid(drv))
		return r < 0 ? r : -EINVAL;
	return 0;
}

/* driver_override now: "" when unset ("(null)", or empty on old kernels) */
int current_override(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size)
{
	char path[256];
	ssize_t n;

	dev_path(path, sizeof(path), bdf, "driver_override");
	n = sysfs_read(ctx, path, buf, size);
	if (n < 0)
		return (int)n;
	if (streq(buf, "(null)"))
		buf[0] = '\0';
	if (*buf && !iopass_driver_name_valid(buf))
		return -EINVAL;
	return 0;
}

/*
 * The one rule of what a vfio driver is. By name (an override, a record, a
 * journal: no device to look at): vfio-pci and its variants, all named
 * *vfio* (mlx5_vfio_pci, pds_vfio_pci, ...).
 */
bool driver_name_is_vfio(const char *name)
{
	return strstr(name, "vfio") != NULL;
}

/*
 * Bound now: vfio-pci, or a driver of that name whose device has vfio-dev/
 * (at vfio_dev relative to dirfd; Linux 6.1+ gives it to vfio-pci and every
 * variant, through vfio_pci_core_register_device()), so that no other driver
 * with vfio in its name passes.
 */
bool driver_bound_is_vfio(const char *name, int dirfd, const char *vfio_dev)
{
	return streq(name, "vfio-pci") ||
	       (driver_name_is_vfio(name) && sysfs_exists_at(dirfd, vfio_dev) == 0);
}

bool driver_is_vfio(struct iopass_ctx *ctx, const char *bdf, const char *cur)
{
	char path[256];
	_cleanup_close_ int dfd = -1;

	if (!*cur)
		return false;
	if (streq(cur, "vfio-pci"))
		return true;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	dfd = sysfs_open_dir(ctx, path);
	return dfd >= 0 && driver_bound_is_vfio(cur, dfd, "vfio-dev");
}

/* One kernel write, recorded in the transaction. */
int do_write(struct iopass_ctx *ctx, struct iopass_txn *t, const char *path,
		    const char *value, bool rollback)
{
	struct step *s = txn_step(t, path, value, rollback);
	int r = sysfs_write(ctx, path, value);

	iop_dbg(ctx, "write %s < %s: %s", path, value, r < 0 ? strerror(-r) : "ok");
	if (s)
		s->result = r < 0 ? r : 1;
	return r;
}

bool driver_loaded(struct iopass_ctx *ctx, const char *driver)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", driver);
	return sysfs_exists(ctx, path) == 0;
}

/* vfio-pci and its variants give a group node /dev/vfio/<group>, or a cdev (vfio-dev/vfioN). */
bool vfio_node_present(struct iopass_ctx *ctx, const char *bdf, int group)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	if (group >= 0 && sysfs_exists(ctx, path) == 0)
		return true;
	return vfio_cdev_present(ctx, bdf);
}

/* The device's VFIO cdev: vfio-dev/vfioN in sysfs with /dev/vfio/devices/vfioN (not the entry alone). */
bool vfio_cdev_present(struct iopass_ctx *ctx, const char *bdf)
{
	char path[256];
	struct dirent *de;
	DIR *dir;
	bool found = false;

	dev_path(path, sizeof(path), bdf, "vfio-dev");
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return false;
	while (!found && (de = readdir(dir))) {
		char node[300];

		if (strncmp(de->d_name, "vfio", 4) != 0 || !name_is_safe(de->d_name))
			continue;
		snprintf(node, sizeof(node), "/dev/vfio/devices/%s", de->d_name);
		found = sysfs_exists(ctx, node) == 0;
	}
	closedir(dir);
	return found;
}

/* reset_method now, blank-separated ("" when empty): 0, or -errno (-ENOENT: a kernel before 5.15). */
int current_reset_methods(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size)
{
	char path[256];
	ssize_t n;

	dev_path(path, sizeof(path), bdf, "reset_method");
	n = sysfs_read(ctx, path, buf, size);
	return n < 0 ? (int)n : 0;
}

/*
 * Write reset_method (a blank-separated list, "" to disable every method),
 * recorded in the transaction, and read it back: 6.1 refuses a
 * method the device does not support (EINVAL), but the first kernels with the
 * attribute dropped it from the list, so only the read tells. -EBADE when the
 * kernel kept something else (a failed write is the write's -errno).
 */
int reset_methods_set(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf,
		      const char *methods, bool rollback)
{
	char path[256], now[128];
	int r;

	dev_path(path, sizeof(path), bdf, "reset_method");
	r = do_write(ctx, t, path, *methods ? methods : "\n", rollback);
	if (r < 0)
		return r;
	r = current_reset_methods(ctx, bdf, now, sizeof(now));
	if (r < 0)
		return r;
	return streq(now, methods) ? 0 : -EBADE;
}

/*
 * Give a device back the reset methods it had. The kernel refusing the old
 * list (a method the device no longer offers, say a bus reset once another
 * device shares its bus) must not keep the device from its driver, nor every
 * later run from its journal: a warning, and the methods stay as they are.
 */
int reset_methods_give_back(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf,
			    const char *reset, bool rollback)
{
	char cur[128];
	int r = current_reset_methods(ctx, bdf, cur, sizeof(cur));

	if (r < 0 || streq(cur, reset))
		return r;
	r = reset_methods_set(ctx, t, bdf, reset, rollback);
	if (r == -EINVAL || r == -EBADE) {
		iop_warn(ctx, "%s: the kernel does not take its reset methods '%s' back (%s); they "
			      "stay '%s'", bdf, reset,
			 r == -EBADE ? "it keeps another list" : strerror(-r), cur);
		r = 0;
	}
	return r;
}

/*
 * Put a device back as it was: its reset methods (reset: NULL leaves them),
 * its override, then its driver. Used for rollback, recovery and (with the
 * recorded driver) detach.
 */
int restore_dev(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *driver,
		const char *override, const char *reset, bool rollback)
{
	char path[256], cur[128], ovr[128];
	int r;

	if (reset) {
		r = reset_methods_give_back(ctx, t, bdf, reset, rollback);
		if (r < 0)
			return r;
	}

	/* write only what differs: a device the failed step never changed needs nothing */
	r = current_override(ctx, bdf, ovr, sizeof(ovr));
	if (r < 0)
		return r;
	if (!streq(ovr, override ? override : "")) {
		dev_path(path, sizeof(path), bdf, "driver_override");
		r = do_write(ctx, t, path, override && *override ? override : "\n", rollback);
		if (r < 0)
			return r;
	}
	r = current_driver(ctx, bdf, cur, sizeof(cur));
	if (r < 0)
		return r;
	if (streq(cur, driver ? driver : ""))
		return 0;
	if (*cur) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", cur);
		r = do_write(ctx, t, path, bdf, rollback);
		if (r < 0)
			return r;
	}
	if (!driver || !*driver)
		return 0; /* it was unbound: leave it so */
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
	r = do_write(ctx, t, path, bdf, rollback);
	if (r < 0) {
		/* the driver may take it through a probe (e.g. bind refused a racing probe) */
		r = do_write(ctx, t, "/sys/bus/pci/drivers_probe", bdf, rollback);
		if (r < 0)
			return r;
	}
	r = current_driver(ctx, bdf, cur, sizeof(cur));
	if (r < 0)
		return r;
	return streq(cur, driver) ? 0 : -EIO;
}

/*
 * Load the module behind a driver (vfio-pci -> vfio_pci) with libkmod, then
 * wait briefly for the driver to register. Only on the live system: a module
 * cannot be loaded into a sysroot.
 */
int load_driver(struct iopass_ctx *ctx, const char *driver)
{
	struct kmod_ctx *kctx;
	struct kmod_list *list = NULL, *it;
	char modname[80];
	int r;

	if (*ctx->sysroot)
		return -EOPNOTSUPP;
	snprintf(modname, sizeof(modname), "%s", driver);
	for (char *p = modname; *p; p++)
		if (*p == '-')
			*p = '_';
	r = kmod_dl_open();
	if (r < 0)
		return r;
	kctx = sym_kmod_new(NULL, NULL);
	if (!kctx)
		return -ENOMEM;
	sym_kmod_set_log_priority(kctx, 0);
	if (sym_kmod_module_new_from_lookup(kctx, modname, &list) < 0 || !list) {
		sym_kmod_unref(kctx);
		return -ENOENT;
	}
	r = -ENOENT;
	for (it = list; it; it = sym_kmod_list_next(list, it)) {
		struct kmod_module *mod = sym_kmod_module_get_module(it);

		r = sym_kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL,
							NULL);
		sym_kmod_module_unref(mod);
		if (r >= 0)
			break;
	}
	sym_kmod_module_unref_list(list);
	sym_kmod_unref(kctx);
	if (r < 0)
		return r;
	for (int i = 0; i < 100 && !driver_loaded(ctx, driver); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10L * 1000 * 1000 }, NULL);
	return driver_loaded(ctx, driver) ? 0 : -ENOENT;
}

/* ---- a PF's SR-IOV attributes (sriov_numvfs, sriov_drivers_autoprobe) ---------- */

void pf_path(char *buf, size_t size, const char *bdf, const char *attr)
{
	snprintf(buf, size, "/sys/bus/pci/devices/%s/%s", bdf, attr);
}

int sriov_read(struct iopass_ctx *ctx, const char *bdf, const char *attr, int *ret)
{
	char path[128];

	pf_path(path, sizeof(path), bdf, attr);
	return sysfs_read_count(ctx, path, ret);
}

int pf_write(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *attr,
		    int value, bool rollback)
{
	char path[128], val[16];

	pf_path(path, sizeof(path), bdf, attr);
	snprintf(val, sizeof(val), "%d", value);
	return do_write(ctx, t, path, val, rollback);
}

/* Set a PF's attribute back to want, writing only when it differs; a PF that is gone has nothing to restore. */
int sriov_restore(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf, const char *attr,
		  int want)
{
	int cur = 0, r = sriov_read(ctx, bdf, attr, &cur);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	return cur == want ? 0 : pf_write(ctx, t, bdf, attr, want, true);
}
