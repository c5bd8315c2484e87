// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which vfio driver a device gets. The kernel's vfio variant drivers
 * (mlx5_vfio_pci, hisi_acc_vfio_pci, pds_vfio_pci, ...) declare their IDs
 * with PCI_DRIVER_OVERRIDE_DEVICE_VFIO(), which file2alias turns into
 * "vfio_pci:v...d...sv*sd*bc*sc*i*" aliases; vfio_pci itself declares the
 * catch-all "vfio_pci:v*d*sv*sd*bc*sc*i*". Their override_only entries make
 * them bind only through driver_override, and driver_override binds any
 * driver it names whatever its table says (pci_match_device() falls back to
 * pci_device_id_any): the aliases are the only word on which variant fits a
 * device. Nothing in the kernel picks among them; libvirt does (virPCIDeviceFindBestVFIOVariant(),
 * src/util/virpci.c): the device's modalias with its "pci:" turned into
 * "vfio_pci:" against every vfio_pci alias of the running kernel's
 * modules.alias, the match with the fewest wildcards winning. So does this.
 *
 * libkmod answers "which modules match this alias" but not "with which
 * pattern", so the ranking reads the text index depmod writes beside
 * modules.alias.bin, once per context, through the sysroot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "iopass-private.h"

/* depmod's text index is about 1.3 MiB on Debian 12: room to grow, a bound on a hostile file */
#define MODULES_ALIAS_MAX ((size_t)16 << 20)
#define VFIO_ALIAS_PREFIX "vfio_pci:"

struct vfio_alias {
	char *pattern; /* "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*" */
	char *module;  /* "mlx5_vfio_pci" */
	int wildcards;
};

struct vfio_index {
	int error; /* 0, or why there is no index (-ENOENT: no modules.alias) */
	char release[128];
	struct vfio_alias *aliases;
	size_t n;
};

/* The running kernel's release: the sysroot's /proc, else uname(2) on the live system. */
int kernel_release(struct iopass_ctx *ctx, char *release, size_t size)
{
	struct utsname u;

	if (sysfs_read(ctx, "/proc/sys/kernel/osrelease", release, size) <= 0) {
		if (*ctx->sysroot || uname(&u) < 0)
			return -ENOENT; /* a fixture without osrelease: no modules to look at */
		snprintf(release, size, "%s", u.release);
	}
	return name_is_safe(release) ? 0 : -EINVAL;
}

static int count_wildcards(const char *pattern)
{
	int n = 0;

	for (const char *p = pattern; *p; p++)
		if (*p == '*' || *p == '?' || *p == '[')
			n++;
	return n;
}

static int index_add(struct vfio_index *x, const char *pattern, size_t plen, const char *module,
		     size_t mlen)
{
	struct vfio_alias *a;

	if (x->n % 16 == 0) {
		a = reallocarray(x->aliases, x->n + 16, sizeof(*a));
		if (!a)
			return -ENOMEM;
		x->aliases = a;
	}
	a = &x->aliases[x->n];
	a->pattern = strndup(pattern, plen);
	a->module = strndup(module, mlen);
	if (!a->pattern || !a->module) {
		free(a->pattern);
		free(a->module);
		return -ENOMEM;
	}
	a->wildcards = count_wildcards(a->pattern);
	x->n++;
	return 0;
}

/* A module name as depmod writes it: letters, digits, '_' and '-' (never a path). */
static bool module_name_ok(const char *mod, size_t len)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

	for (size_t i = 0; i < len; i++)
		if (!strchr(ok, mod[i]) || !mod[i])
			return false;
	return true;
}

/* Only "alias vfio_pci:PATTERN MODULE" lines matter; anything else in the file is skipped. */
static int index_parse(struct vfio_index *x, const char *text)
{
	static const char key[] = "alias " VFIO_ALIAS_PREFIX;

	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n'), *pat, *mod;
		size_t plen, mlen;
		int r;

		if ((size_t)(end - line) > sizeof(key) - 1 && strncmp(line, key, sizeof(key) - 1) == 0) {
			pat = line + strlen("alias ");
			plen = strcspn(pat, " \t\n");
			mod = pat + plen + strspn(pat + plen, " \t");
			mlen = strcspn(mod, " \t\r\n");
			if (mlen > 0 && mlen < 72 && mod + mlen <= end && module_name_ok(mod, mlen)) {
				r = index_add(x, pat, plen, mod, mlen);
				if (r < 0)
					return r;
			}
		}
		line = *end ? end + 1 : NULL;
	}
	return 0;
}

void vfio_index_free(struct vfio_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++) {
		free(x->aliases[i].pattern);
		free(x->aliases[i].module);
	}
	free(x->aliases);
	free(x);
}

/* The index of ctx's kernel, read on first use; NULL only when out of memory. */
static struct vfio_index *vfio_index(struct iopass_ctx *ctx)
{
	_cleanup_free_ char *text = NULL;
	struct vfio_index *x;
	char path[300];

	if (ctx->vfio_index)
		return ctx->vfio_index;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->error = kernel_release(ctx, x->release, sizeof(x->release));
	if (x->error == 0) {
		snprintf(path, sizeof(path), "/lib/modules/%s/modules.alias", x->release);
		x->error = sysfs_read_file(ctx, path, MODULES_ALIAS_MAX, &text);
		if (x->error > 0)
			x->error = 0;
	}
	if (x->error == 0 && index_parse(x, text) < 0) {
		vfio_index_free(x);
		return NULL;
	}
	iop_dbg(ctx, "modules.alias of %s: %zu vfio_pci aliases%s%s", x->release, x->n,
		x->error ? ", not read: " : "", x->error ? strerror(-x->error) : "");
	ctx->vfio_index = x;
	return x;
}

/* vendor, device and class: unread subsystem IDs stay 0, which only the 'sv*sd*' patterns match */
#define DEV_HAVE_MODALIAS (DEV_HAVE_VENDOR | DEV_HAVE_DEVICE | DEV_HAVE_CLASS)

/* The modalias the kernel gives the device (pci_uevent()), as vfio_pci aliases spell it. */
static void vfio_modalias(const struct iopass_dev *dev, char *buf, size_t size)
{
	snprintf(buf, size, VFIO_ALIAS_PREFIX "v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", dev->vendor,
		 dev->device, dev->subvendor, dev->subdevice, (dev->class >> 16) & 0xff,
		 (dev->class >> 8) & 0xff, dev->class & 0xff);
}

/* A module's PCI driver: the name it registered when loaded, else the module's (KBUILD_MODNAME). */
static void module_driver(struct iopass_ctx *ctx, const char *module, char *buf, size_t size)
{
	char path[160];
	struct dirent *de;
	DIR *dir;

	snprintf(buf, size, "%s", streq(module, "vfio_pci") ? "vfio-pci" : module);
	snprintf(path, sizeof(path), "/sys/module/%s/drivers", module);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return;
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, "pci:", 4) == 0 && iopass_driver_name_valid(de->d_name + 4)) {
			snprintf(buf, size, "%s", de->d_name + 4);
			break;
		}
	closedir(dir);
}

static bool module_is_driver(struct iopass_ctx *ctx, const char *module, const char *driver)
{
	char name[72];

	module_driver(ctx, module, name, sizeof(name));
	return streq(name, driver);
}

int iopass_dev_vfio_driver(const struct iopass_dev *dev, const char *want,
			   struct iopass_vfio_choice *ret)
{
	const struct vfio_alias *best = NULL;
	struct iopass_ctx *ctx;
	struct vfio_index *x;
	char modalias[96];

	if (!dev || !ret || (want && !iopass_driver_name_valid(want)))
		return -EINVAL;
	ctx = dev->ctx;
	*ret = (struct iopass_vfio_choice){ .wildcards = -1 };
	snprintf(ret->driver, sizeof(ret->driver), "%s", want ? want : "vfio-pci");
	x = vfio_index(ctx);
	if (!x)
		return -ENOMEM;
	snprintf(ret->release, sizeof(ret->release), "%s", x->release);
	ret->index_error = x->error;
	/* IDs that could not be read match nothing: the generic driver, which binds anything */
	if ((dev->flags & DEV_HAVE_MODALIAS) != DEV_HAVE_MODALIAS) {
		ret->ids_unread = true;
		return want && !streq(want, "vfio-pci") ? -ENODATA : 0;
	}
	vfio_modalias(dev, modalias, sizeof(modalias));
	for (size_t i = 0; i < x->n; i++) {
		const struct vfio_alias *a = &x->aliases[i];

		if (best && a->wildcards >= best->wildcards)
			continue; /* the first of equally specific matches stays */
		if (fnmatch(a->pattern, modalias, 0) != 0)
			continue;
		if (want && !module_is_driver(ctx, a->module, want))
			continue;
		best = a;
	}
	if (best) {
		module_driver(ctx, best->module, ret->driver, sizeof(ret->driver));
		snprintf(ret->alias, sizeof(ret->alias), "%s", best->pattern);
		snprintf(ret->module, sizeof(ret->module), "%s", best->module);
		ret->wildcards = best->wildcards;
		return 0;
	}
	/* vfio-pci binds any device through driver_override, alias or not */
	if (!want || streq(want, "vfio-pci"))
		return 0;
	if (x->error)
		return -ENODATA;
	for (size_t i = 0; i < x->n; i++)
		if (module_is_driver(ctx, x->aliases[i].module, want))
			return -ENOENT; /* a vfio driver of that name, not for this device */
	return -ESRCH;
}
