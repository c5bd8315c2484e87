// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The device model: one struct iopass_dev per PCI function, read from
 * /sys/bus/pci/devices. A scan reads only what listing needs: uevent (IDs,
 * class), the driver, iommu_group and physfn links, SR-IOV counts where the
 * device has them and boot_vga for display devices. Odd entries are kept
 * with what could be read and one warning line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopass-private.h"

#define PCI_DEVICES "/sys/bus/pci/devices"

static void dev_free(struct iopass_dev *dev)
{
	if (!dev)
		return;
	free(dev->driver);
	free(dev->physfn);
	free(dev->warning);
	free(dev->caps);
	free(dev->sysfs_dir);
	free(dev);
}

/* Append "what" to the device's warning line ("vendor: invalid; driver: dangling link"). */
_printf_(2, 3) static void dev_warn(struct iopass_dev *dev, const char *fmt, ...)
{
	char *msg = NULL, *joined = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (!dev->warning) {
		dev->warning = msg;
		return;
	}
	if (asprintf(&joined, "%s; %s", dev->warning, msg) >= 0) {
		free(dev->warning);
		dev->warning = joined;
	}
	free(msg);
}

static void describe_errno(int r, const char *what, struct iopass_dev *dev)
{
	if (r == -EINVAL)
		dev_warn(dev, "%s: invalid value", what);
	else if (r == -ENOENT)
		dev_warn(dev, "%s: missing", what);
	else
		dev_warn(dev, "%s: %s", what, strerror(-r));
}

/* Fallback when uevent lacks a field: the individual attribute ("0x8086"). */
static int read_hex_attr(int dfd, const char *name, unsigned digits, uint32_t *ret)
{
	*ret = 0;
	char buf[32];
	ssize_t n = sysfs_read_at(dfd, name, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return parse_hex(buf, digits, true, ret);
}


/*
 * uevent holds PCI_CLASS, PCI_ID and PCI_SUBSYS_ID in one read, which is
 * what makes scanning thousands of functions cheap. Fields that are missing
 * or malformed are read from their own attribute files instead.
 */
/* PCI_CLASS, PCI_ID and PCI_SUBSYS_ID from a uevent's text (modified in place); the rest is ignored. */
void dev_parse_uevent(struct iopass_dev *dev, char *buf)
{
	char *save = NULL;
	uint32_t v;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "PCI_CLASS=", 10) == 0) {
			if (parse_hex(line + 10, 6, false, &v) == 0) {
				dev->class = v;
				dev->flags |= DEV_HAVE_CLASS;
			}
		} else if (strncmp(line, "PCI_ID=", 7) == 0) {
			if (iopass_id_parse(line + 7, &dev->vendor, &dev->device) == 0)
				dev->flags |= DEV_HAVE_VENDOR | DEV_HAVE_DEVICE;
		} else if (strncmp(line, "PCI_SUBSYS_ID=", 14) == 0) {
			if (iopass_id_parse(line + 14, &dev->subvendor, &dev->subdevice) == 0)
				dev->flags |= DEV_HAVE_SUBVENDOR | DEV_HAVE_SUBDEVICE;
		}
	}
}

static void dev_read_ids(struct iopass_dev *dev, int dfd)
{
	char buf[1024];
	ssize_t n = sysfs_read_at(dfd, "uevent", buf, sizeof(buf));
	uint32_t v;
	int r;

	if (n > 0)
		dev_parse_uevent(dev, buf);

	if (!(dev->flags & DEV_HAVE_VENDOR)) {
		r = read_hex_attr(dfd, "vendor", 4, &v);
		if (r < 0)
			describe_errno(r, "vendor", dev);
		else {
			dev->vendor = (uint16_t)v;
			dev->flags |= DEV_HAVE_VENDOR;
		}
	}
	if (!(dev->flags & DEV_HAVE_DEVICE)) {
		r = read_hex_attr(dfd, "device", 4, &v);
		if (r < 0)
			describe_errno(r, "device", dev);
		else {
			dev->device = (uint16_t)v;
			dev->flags |= DEV_HAVE_DEVICE;
		}
	}
	if (!(dev->flags & DEV_HAVE_CLASS)) {
		r = read_hex_attr(dfd, "class", 6, &v);
		if (r < 0)
			describe_errno(r, "class", dev);
		else {
			dev->class = v;
			dev->flags |= DEV_HAVE_CLASS;
		}
	}
	/* Subsystem IDs are nice to have: no warning when absent. */
	if (!(dev->flags & DEV_HAVE_SUBVENDOR) && read_hex_attr(dfd, "subsystem_vendor", 4, &v) == 0) {
		dev->subvendor = (uint16_t)v;
		dev->flags |= DEV_HAVE_SUBVENDOR;
	}
	if (!(dev->flags & DEV_HAVE_SUBDEVICE) && read_hex_attr(dfd, "subsystem_device", 4, &v) == 0) {
		dev->subdevice = (uint16_t)v;
		dev->flags |= DEV_HAVE_SUBDEVICE;
	}
}

/* Is /sys/bus/pci/drivers/<name> there? Asked once per driver name and scan. */
static bool driver_present(struct iopass_ctx *ctx, const char *name)
{
	char path[320];
	bool present;

	for (size_t i = 0; i < ctx->ndrivers_seen; i++)
		if (streq(ctx->drivers_seen[i].name, name))
			return ctx->drivers_seen[i].present;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", name);
	present = sysfs_exists(ctx, path) == 0;
	if (ctx->ndrivers_seen < ARRAY_SIZE(ctx->drivers_seen)) {
		snprintf(ctx->drivers_seen[ctx->ndrivers_seen].name,
			 sizeof(ctx->drivers_seen[0].name), "%.71s", name);
		ctx->drivers_seen[ctx->ndrivers_seen++].present = present;
	}
	return present;
}

static void dev_read_driver(struct iopass_dev *dev, int dfd)
{
	char name[256], target[4096], path[320];
	ssize_t n = readlinkat(dfd, "driver", target, sizeof(target) - 1);
	const char *base;

	if (n < 0 && errno == ENOENT)
		return; /* unbound */
	if (n > 0)
		target[n] = '\0';
	base = n > 0 ? strrchr(target, '/') : NULL;
	snprintf(name, sizeof(name), "%.255s", base ? base + 1 : n > 0 ? target : "");
	if (n <= 0 || !iopass_driver_name_valid(name)) {
		dev_warn(dev, "driver: unreadable link");
		return;
	}
	/*
	 * The kernel's link is relative and ends in bus/pci/drivers/<name>. Look
	 * the driver up below the sysroot, never through the link: a planted
	 * absolute link would lead out of the tree.
	 */
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", name);
	if (target[0] == '/' || !strstr(target, "/bus/pci/drivers/") || !driver_present(dev->ctx, name)) {
		dev_warn(dev, "driver: link to '%s' is dangling", name);
		return;
	}
	dev->driver = strdup(name);
	if (dev->driver && driver_bound_is_vfio(name, dfd, "vfio-dev"))
		dev->flags |= DEV_VFIO;
}

/* The iommu_group link at path, relative to dfd. */
static void dev_read_group(struct iopass_dev *dev, int dfd, const char *path)
{
	char name[64];
	unsigned g;
	int r = sysfs_link_name_at(dfd, path, name, sizeof(name));

	dev->group = -ENOENT;
	if (r == -ENOENT)
		return;
	if (r < 0 || parse_uint(name, INT32_MAX, &g) < 0) {
		dev_warn(dev, "iommu_group: unreadable link");
		return;
	}
	dev->group = (int)g;
}

static void dev_read_sriov(struct iopass_dev *dev, int dfd)
{
	char name[64];
	struct iopass_addr pf;
	int r;

	dev->numvfs = dev->totalvfs = -ENOENT;
	r = sysfs_link_name_at(dfd, "physfn", name, sizeof(name));
	if (r == 0) {
		if (iopass_addr_parse(name, &pf) < 0) {
			dev_warn(dev, "physfn: unreadable link");
			return;
		}
		dev->physfn = malloc(IOPASS_BDF_MAX);
		if (dev->physfn)
			iopass_addr_format(&pf, dev->physfn);
		return; /* a VF has no VFs of its own: no sriov_* files to look for */
	}
	if (r != -ENOENT)
		dev_warn(dev, "physfn: unreadable link");
	if (iopass_dev_is_bridge(dev))
		return; /* nor does a bridge */
	r = sysfs_read_count_at(dfd, "sriov_totalvfs", &dev->totalvfs);
	if (r == 0) {
		r = sysfs_read_count_at(dfd, "sriov_numvfs", &dev->numvfs);
		if (r < 0) {
			dev->numvfs = -ENOENT;
			describe_errno(r, "sriov_numvfs", dev);
		}
	} else if (r != -ENOENT) {
		dev->totalvfs = -ENOENT;
		describe_errno(r, "sriov_totalvfs", dev);
	}
}

static void dev_read_boot_vga(struct iopass_dev *dev, int dfd)
{
	char buf[8];

	/* Only display devices have boot_vga; don't pay for a failed open on the rest. */
	if (!(dev->flags & DEV_HAVE_CLASS) || (dev->class >> 16) != 0x03)
		return;
	if (sysfs_read_at(dfd, "boot_vga", buf, sizeof(buf)) > 0 && streq(buf, "1"))
		dev->flags |= DEV_BOOT_VGA;
}

/* A device with nothing read yet. */
static struct iopass_dev *dev_new(struct iopass_ctx *ctx, const struct iopass_addr *addr)
{
	struct iopass_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->ctx = ctx;
	dev->addr = *addr;
	iopass_addr_format(addr, dev->bdf);
	dev->group = dev->numvfs = dev->totalvfs = -ENOENT;
	return dev;
}

static int dev_read(struct iopass_ctx *ctx, const struct iopass_addr *addr,
		    struct iopass_dev **ret_dev)
{
	char path[sizeof(PCI_DEVICES) + IOPASS_BDF_MAX + 1];
	_cleanup_close_ int dfd = -1;
	struct iopass_dev *dev;

	dev = dev_new(ctx, addr);
	if (!dev)
		return -ENOMEM;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s", dev->bdf);
	dfd = sysfs_open_dir(ctx, path);
	if (dfd < 0) {
		/* vanished between readdir and here, or not a directory */
		int r = dfd;

		dev_free(dev);
		return r;
	}
	dev_read_ids(dev, dfd);
	/*
	 * A bridge as the kernel counts one (pci_is_bridge(): the header type): the
	 * kernel gives exactly those secondary_bus_number (pci_bridge_attrs_are_visible()
	 * in drivers/pci/pci-sysfs.c). Looked for on class 06 (bridge) devices only.
	 */
	if ((dev->flags & DEV_HAVE_CLASS) && (dev->class >> 16) == 0x06) {
		dev->flags |= DEV_BRIDGE_PROBED;
		if (sysfs_exists_at(dfd, "secondary_bus_number") == 0) {
			dev->flags |= DEV_BRIDGE_HEADER;
			ctx->bridge_attrs_seen = true;
		}
	}
	dev_read_driver(dev, dfd);
	dev_read_group(dev, dfd, "iommu_group");
	dev_read_sriov(dev, dfd);
	dev_read_boot_vga(dev, dfd);
	*ret_dev = dev;
	return 0;
}

static int addr_qsort_cmp(const void *a, const void *b)
{
	return iopass_addr_cmp(a, b);
}

/* The addresses in /sys/bus/pci/devices, sorted; -ENOENT when there is no PCI bus. */
static int scan_addrs(struct iopass_ctx *ctx, struct iopass_addr **ret_addrs, size_t *ret_n)
{
	struct iopass_addr *addrs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir = NULL;
	int r;

	r = sysfs_opendir(ctx, PCI_DEVICES, &dir);
	if (r < 0)
		return r;
	while ((errno = 0, de = readdir(dir))) {
		struct iopass_addr a;

		if (de->d_name[0] == '.')
			continue;
		if (iopass_addr_parse(de->d_name, &a) < 0) {
			iop_warn(ctx, "%s: ignoring '%s': not a PCI address", PCI_DEVICES, de->d_name);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct iopass_addr *na = reallocarray(addrs, ncap, sizeof(*addrs));

			if (!na) {
				r = -ENOMEM;
				goto fail;
			}
			addrs = na;
			cap = ncap;
		}
		addrs[n++] = a;
	}
	if (errno) {
		r = -errno;
		goto fail;
	}
	closedir(dir);
	if (n)
		qsort(addrs, n, sizeof(*addrs), addr_qsort_cmp);
	*ret_addrs = addrs;
	*ret_n = n;
	return 0;
fail:
	closedir(dir);
	free(addrs);
	return r;
}

/*
 * A new list with room for every address of /sys/bus/pci/devices, which are
 * in *ret_addrs, sorted. No PCI bus at all (a container, an empty sysroot):
 * an empty list.
 */
static int devlist_new(struct iopass_ctx *ctx, struct iopass_devlist **ret_list,
		       struct iopass_addr **ret_addrs, size_t *ret_n)
{
	struct iopass_devlist *list = calloc(1, sizeof(*list));
	int r;

	*ret_addrs = NULL;
	*ret_n = 0;
	if (!list)
		return -ENOMEM;
	r = scan_addrs(ctx, ret_addrs, ret_n);
	if (r == -ENOENT) {
		*ret_n = 0;
		r = 0;
	}
	if (r < 0)
		goto fail;
	list->devs = calloc(*ret_n ? *ret_n : 1, sizeof(*list->devs));
	if (!list->devs) {
		r = -ENOMEM;
		goto fail;
	}
	*ret_list = list;
	return 0;
fail:
	free(*ret_addrs);
	*ret_addrs = NULL;
	*ret_n = 0;
	iopass_devlist_free(list);
	return r;
}

int iopass_scan(struct iopass_ctx *ctx, struct iopass_devlist **ret_list)
{
	struct iopass_addr *addrs = NULL;
	struct iopass_devlist *list = NULL;
	size_t n = 0;
	int r;

	if (!ctx || !ret_list)
		return -EINVAL;
	ctx->ndrivers_seen = 0; /* drivers come and go between scans */
	r = devlist_new(ctx, &list, &addrs, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *dev;

		r = dev_read(ctx, &addrs[i], &dev);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0) {
			char bdf[IOPASS_BDF_MAX];

			iopass_addr_format(&addrs[i], bdf);
			iop_warn(ctx, "%s: skipped: %s", bdf, strerror(-r));
			continue;
		}
		list->devs[list->count++] = dev;
	}
	free(addrs);
	*ret_list = list;
	return 0;
fail:
	free(addrs);
	iopass_devlist_free(list);
	return r;
}

/* ---- the scan of what a change touches -------------------------------------- */

/*
 * The devices of /sys/bus/pci/devices (addresses only) and those of them read
 * so far: devs[i] is addrs[i] read, tried[i] that it was looked at.
 */
struct related {
	struct iopass_ctx *ctx;
	struct iopass_addr *addrs;
	size_t n;
	struct iopass_dev **devs;
	bool *tried;
	int *groups; /* groups whose members were added */
	size_t ngroups, capgroups;
	int r; /* the first hard error (-ENOMEM) */
};

static struct iopass_dev *related_add(struct related *rl, const struct iopass_addr *a)
{
	size_t lo = 0, hi = rl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = iopass_addr_cmp(&rl->addrs[mid], a);

		if (c == 0) {
			if (!rl->tried[mid]) {
				int r = dev_read(rl->ctx, a, &rl->devs[mid]);

				rl->tried[mid] = true;
				if (r == -ENOMEM && !rl->r)
					rl->r = r;
				if (r < 0)
					rl->devs[mid] = NULL; /* gone since the listing: as iopass_scan skips it */
			}
			return rl->devs[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL; /* not on the bus (a dangling link) */
}

static void related_add_name(struct related *rl, const char *name)
{
	struct iopass_addr a;

	if (iopass_addr_parse(name, &a) == 0)
		related_add(rl, &a);
}

/* Every member of group g, from /sys/kernel/iommu_groups/g/devices (once per group). */
static void related_add_group(struct related *rl, int g)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	if (g < 0)
		return;
	for (size_t i = 0; i < rl->ngroups; i++)
		if (rl->groups[i] == g)
			return;
	if (rl->ngroups == rl->capgroups) {
		size_t ncap = rl->capgroups ? 2 * rl->capgroups : 8;
		int *ng = reallocarray(rl->groups, ncap, sizeof(*ng));

		if (!ng) {
			rl->r = -ENOMEM;
			return;
		}
		rl->groups = ng;
		rl->capgroups = ncap;
	}
	rl->groups[rl->ngroups++] = g;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", g);
	if (sysfs_opendir(rl->ctx, path, &dir) < 0)
		return;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			related_add_name(rl, de->d_name);
	closedir(dir);
}

/*
 * The functions device links tie to d (a GPU's HDA, USB, UCSI), so that check
 * can say what they are. Not for VFs: the kernel links none, and a PF may have
 * thousands.
 */
static void related_add_links(struct related *rl, const struct iopass_dev *d)
{
	struct iopass_link *links = NULL;
	size_t n = 0;

	if (d->physfn || iopass_dev_links(d, &links, &n) < 0)
		return;
	for (size_t k = 0; k < n; k++)
		related_add(rl, &links[k].addr);
	free(links);
}

/* The VFs of a PF: its virtfnN links. */

static void related_add_vfs(struct related *rl, struct iopass_dev *pf)
{
	char path[sizeof(PCI_DEVICES) + IOPASS_BDF_MAX + 1], name[64];
	struct dirent *de;
	DIR *dir;

	if (pf->totalvfs <= 0)
		return;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s", pf->bdf);
	if (sysfs_opendir(rl->ctx, path, &dir) < 0)
		return;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "virtfn", 6) != 0 ||
		    sysfs_link_name_at(dirfd(dir), de->d_name, name, sizeof(name)) < 0)
			continue;
		related_add_name(rl, name);
	}
	closedir(dir);
}

/* The functions on d's bus (reset, companions, multifunction) and the bridges above it (ACS). */
static void related_add_context(struct related *rl, struct iopass_dev *d)
{
	struct iopass_addr first = { d->addr.domain, d->addr.bus, 0, 0 };
	const char *dir = dev_sysfs_dir(d), *p;
	size_t lo = 0, hi = rl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (iopass_addr_cmp(&rl->addrs[mid], &first) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < rl->n && rl->addrs[lo].domain == d->addr.domain && rl->addrs[lo].bus == d->addr.bus;
	     lo++)
		related_add(rl, &rl->addrs[lo]);
	/* devices/pci0000:00/0000:00:1c.0/0000:03:00.0: every component before our own */
	for (p = dir ? strchr(dir, '/') : NULL; p; p = strchr(p + 1, '/')) {
		char comp[IOPASS_BDF_MAX];
		const char *end = strchr(p + 1, '/');

		if (!end)
			break;
		if ((size_t)(end - p - 1) < sizeof(comp)) {
			memcpy(comp, p + 1, (size_t)(end - p - 1));
			comp[end - p - 1] = '\0';
			related_add_name(rl, comp);
		}
	}
}

/*
 * The subjects, the devices a change may move or check: the seeds and the
 * groups named, closed under "the members of its IOMMU group" and "its VFs".
 * Then what their checks read beside them (iopass_check_dev, the guards):
 * the functions on each one's bus and the bridges above it.
 */
int iopass_scan_related(struct iopass_ctx *ctx, const struct iopass_addr *seeds, size_t nseeds,
			const int *groups, size_t ngroups, struct iopass_devlist **ret_list)
{
	struct related rl = { .ctx = ctx };
	struct iopass_devlist *list = NULL;
	size_t *subject = NULL, nsubjects = 0;
	int r;

	if (!ctx || (!seeds && nseeds) || (!groups && ngroups) || !ret_list)
		return -EINVAL;
	ctx->ndrivers_seen = 0;
	r = devlist_new(ctx, &list, &rl.addrs, &rl.n);
	if (r < 0)
		return r;
	rl.devs = calloc(rl.n ? rl.n : 1, sizeof(*rl.devs));
	rl.tried = calloc(rl.n ? rl.n : 1, sizeof(*rl.tried));
	subject = calloc(rl.n ? rl.n : 1, sizeof(*subject));
	if (!rl.devs || !rl.tried || !subject) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nseeds; i++)
		related_add(&rl, &seeds[i]);
	for (size_t i = 0; i < ngroups; i++)
		related_add_group(&rl, groups[i]);
	/* close: every device read so far is a subject; its group and VFs come in as subjects too */
	for (bool grew = true; grew && !rl.r;) {
		grew = false;
		for (size_t i = 0; i < rl.n; i++) {
			struct iopass_dev *d = rl.devs[i];

			if (!d || (d->flags & DEV_RELATED_SUBJECT))
				continue;
			d->flags |= DEV_RELATED_SUBJECT;
			subject[nsubjects++] = i;
			related_add_group(&rl, d->group);
			related_add_vfs(&rl, d);
			related_add_links(&rl, d);
			grew = true;
		}
	}
	for (size_t i = 0; i < nsubjects && !rl.r; i++)
		related_add_context(&rl, rl.devs[subject[i]]);
	r = rl.r;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rl.n; i++)
		if (rl.devs[i]) {
			rl.devs[i]->flags &= ~DEV_RELATED_SUBJECT;
			list->devs[list->count++] = rl.devs[i];
			rl.devs[i] = NULL;
		}
	*ret_list = list;
	list = NULL;
out:
	for (size_t i = 0; rl.devs && i < rl.n; i++)
		dev_free(rl.devs[i]);
	free(rl.devs);
	free(rl.tried);
	free(rl.addrs);
	free(rl.groups);
	free(subject);
	iopass_devlist_free(list);
	return r;
}

/* The device a listing names by its canonical address, or NULL (another name, gone from the bus). */
static struct iopass_dev *listed_dev(const struct iopass_devlist *list, const char *name)
{
	char bdf[IOPASS_BDF_MAX];
	struct iopass_addr a;

	if (iopass_addr_parse(name, &a) < 0)
		return NULL;
	iopass_addr_format(&a, bdf);
	return streq(bdf, name) ? iopass_devlist_find(list, &a) : NULL;
}

/* The devices a driver's directory lists (links named by address) are bound to it. */
static void bind_listed(struct iopass_ctx *ctx, struct iopass_devlist *list, int devfd,
			const char *name)
{
	char path[320];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", name);
	if (sysfs_opendir(ctx, path, &dir) < 0)
		return; /* unloaded since the listing */
	while ((de = readdir(dir))) {
		char vfio_dev[IOPASS_BDF_MAX + 16];
		/* bind, unbind, new_id, module, ...: no device */
		struct iopass_dev *dev = listed_dev(list, de->d_name);

		if (!dev)
			continue;
		if (dev->driver) {
			dev_warn(dev, "driver: listed by both %s and %s", dev->driver, name);
			continue;
		}
		dev->driver = strdup(name);
		snprintf(vfio_dev, sizeof(vfio_dev), "%s/vfio-dev", dev->bdf);
		if (dev->driver && driver_bound_is_vfio(name, devfd, vfio_dev))
			dev->flags |= DEV_VFIO;
		/* the PCI Express port driver binds to nothing but bridges */
		if (streq(name, "pcieport"))
			dev->flags |= DEV_BRIDGE_KNOWN;
	}
	closedir(dir);
}

/*
 * The bridges that /sys/class/pci_bus names: a bus below a bridge is linked
 * there as ".../<bridge>/pci_bus/<bus>" (a root bus below "pci<domain:bus>",
 * no device), so one readlink a bus finds them, where reading each unbound
 * device's class would cost an open, a read and a close a device. -ENOENT
 * when the directory is not there (then the classes are read).
 */
static int mark_bridges(struct iopass_ctx *ctx, struct iopass_devlist *list)
{
	struct dirent *de;
	DIR *dir;
	int r = sysfs_opendir(ctx, "/sys/class/pci_bus", &dir), dfd;

	if (r < 0)
		return r;
	dfd = dirfd(dir);
	if (dfd < 0) {
		r = -errno;
		closedir(dir);
		return r;
	}
	while ((de = readdir(dir))) {
		char target[512], *end, *base;
		struct iopass_dev *dev;
		ssize_t n = readlinkat(dfd, de->d_name, target, sizeof(target) - 1);

		if (n <= 0)
			continue;
		target[n] = '\0';
		end = strstr(target, "/pci_bus/");
		if (!end)
			continue;
		*end = '\0';
		base = strrchr(target, '/');
		base = base ? base + 1 : target;
		dev = listed_dev(list, base); /* none for a root bus */
		if (dev)
			dev->flags |= DEV_BRIDGE_KNOWN;
	}
	closedir(dir);
	return 0;
}

/* Does a device from the listings belong to the candidates? */
static bool is_candidate(struct iopass_dev *dev, int devfd, enum iopass_candidates which,
			 bool bridges_known)
{
	char path[IOPASS_BDF_MAX + 16];
	uint32_t v;

	if (which == IOPASS_CANDIDATES_DETACH)
		return iopass_dev_is_vfio(dev);
	if (iopass_dev_is_vfio(dev) || iopass_dev_is_bridge(dev))
		return false;
	if (dev->driver || bridges_known)
		return true;
	/* unbound, and no bus index: is it a bridge? (a PCIe-to-PCI bridge has no driver) */
	snprintf(path, sizeof(path), "%s/class", dev->bdf);
	if (read_hex_attr(devfd, path, 6, &v) == 0) {
		dev->class = v;
		dev->flags |= DEV_HAVE_CLASS;
	}
	return !iopass_dev_is_bridge(dev);
}

int iopass_scan_candidates(struct iopass_ctx *ctx, enum iopass_candidates which, unsigned flags,
			   struct iopass_devlist **ret_list)
{
	struct iopass_addr *addrs = NULL;
	struct iopass_devlist *list = NULL;
	_cleanup_close_ int devfd = -1;
	char **drivers = NULL;
	size_t n = 0, kept = 0;
	bool bridges_known;
	int r;

	if (!ctx || !ret_list || (flags & ~IOPASS_SCAN_GROUPS) ||
	    (which != IOPASS_CANDIDATES_ATTACH && which != IOPASS_CANDIDATES_DETACH))
		return -EINVAL;
	r = devlist_new(ctx, &list, &addrs, &n);
	if (r < 0)
		return r;
	if (n == 0) {
		*ret_list = list;
		return 0;
	}
	devfd = sysfs_open_dir(ctx, PCI_DEVICES);
	if (devfd < 0) {
		r = devfd;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *dev = dev_new(ctx, &addrs[i]);

		if (!dev) {
			r = -ENOMEM;
			goto fail;
		}
		list->devs[list->count++] = dev;
	}

	r = iopass_drivers(ctx, &drivers);
	if (r < 0 && r != -ENOENT)
		goto fail;
	for (char **d = drivers; d && *d; d++)
		bind_listed(ctx, list, devfd, *d);
	bridges_known = which == IOPASS_CANDIDATES_ATTACH && mark_bridges(ctx, list) == 0;

	/* only the candidates are looked at further, and kept */
	for (size_t i = 0; i < list->count; i++) {
		struct iopass_dev *dev = list->devs[i];
		char path[IOPASS_BDF_MAX + 16];

		if (!is_candidate(dev, devfd, which, bridges_known)) {
			dev_free(dev);
			continue;
		}
		if (flags & IOPASS_SCAN_GROUPS) {
			snprintf(path, sizeof(path), "%s/iommu_group", dev->bdf);
			dev_read_group(dev, devfd, path);
		}
		list->devs[kept++] = dev;
	}
	list->count = kept;
	free(drivers);
	free(addrs);
	*ret_list = list;
	return 0;
fail:
	free(drivers);
	free(addrs);
	iopass_devlist_free(list);
	return r;
}

size_t iopass_devlist_count(const struct iopass_devlist *list)
{
	return list ? list->count : 0;
}

struct iopass_dev *iopass_devlist_get(const struct iopass_devlist *list, size_t i)
{
	return list && i < list->count ? list->devs[i] : NULL;
}

struct iopass_dev *iopass_devlist_find(const struct iopass_devlist *list,
				       const struct iopass_addr *addr)
{
	size_t lo = 0, hi = list ? list->count : 0;

	/* the list is sorted by address */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = iopass_addr_cmp(&list->devs[mid]->addr, addr);

		if (c == 0)
			return list->devs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct iopass_devlist *iopass_devlist_free(struct iopass_devlist *list)
{
	if (!list)
		return NULL;
	for (size_t i = 0; list->devs && i < list->count; i++) /* no array: nothing counted */
		dev_free(list->devs[i]);
	free(list->by_group);
	free(list->vfs);
	free(list->devs);
	free(list);
	return NULL;
}

const char *iopass_dev_get_bdf(const struct iopass_dev *dev)
{
	return dev->bdf;
}

const struct iopass_addr *iopass_dev_get_addr(const struct iopass_dev *dev)
{
	return &dev->addr;
}

int iopass_dev_get_vendor(const struct iopass_dev *dev)
{
	return dev->flags & DEV_HAVE_VENDOR ? dev->vendor : -ENODATA;
}

int iopass_dev_get_device(const struct iopass_dev *dev)
{
	return dev->flags & DEV_HAVE_DEVICE ? dev->device : -ENODATA;
}

int iopass_dev_get_subsystem_vendor(const struct iopass_dev *dev)
{
	return dev->flags & DEV_HAVE_SUBVENDOR ? dev->subvendor : -ENODATA;
}

int iopass_dev_get_subsystem_device(const struct iopass_dev *dev)
{
	return dev->flags & DEV_HAVE_SUBDEVICE ? dev->subdevice : -ENODATA;
}

int iopass_dev_get_class(const struct iopass_dev *dev)
{
	return dev->flags & DEV_HAVE_CLASS ? (int)dev->class : -ENODATA;
}

const char *iopass_dev_get_driver(const struct iopass_dev *dev)
{
	return dev->driver;
}

int iopass_dev_get_iommu_group(const struct iopass_dev *dev)
{
	return dev->group;
}

static int link_cmp(const void *a, const void *b)
{
	return iopass_addr_cmp(&((const struct iopass_link *)a)->addr,
			       &((const struct iopass_link *)b)->addr);
}

int iopass_dev_links(const struct iopass_dev *dev, struct iopass_link **ret, size_t *ret_n)
{
	char path[32 + IOPASS_BDF_MAX];
	struct iopass_link *links = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int r;

	*ret = NULL;
	*ret_n = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", dev->bdf);
	r = sysfs_opendir(dev->ctx, path, &dir);
	if (r < 0)
		return r;
	for (errno = 0; (de = readdir(dir)); errno = 0) {
		bool consumer = strncmp(de->d_name, "consumer:pci:", 13) == 0;
		struct iopass_link *nl;
		struct iopass_addr a;

		if ((!consumer && strncmp(de->d_name, "supplier:pci:", 13) != 0) ||
		    iopass_addr_parse(de->d_name + 13, &a) < 0)
			continue;
		nl = reallocarray(links, n + 1, sizeof(*links));
		if (!nl) {
			errno = ENOMEM;
			break;
		}
		links = nl;
		links[n++] = (struct iopass_link){ .addr = a, .consumer = consumer };
	}
	r = -errno;
	closedir(dir);
	if (r < 0) {
		free(links);
		return r;
	}
	/* readdir's order is the filesystem's */
	if (n)
		qsort(links, n, sizeof(*links), link_cmp);
	*ret = links;
	*ret_n = n;
	return 0;
}

const char *iopass_dev_get_physfn(const struct iopass_dev *dev)
{
	return dev->physfn;
}

int iopass_dev_get_sriov_numvfs(const struct iopass_dev *dev)
{
	return dev->numvfs;
}

int iopass_dev_get_sriov_totalvfs(const struct iopass_dev *dev)
{
	return dev->totalvfs;
}

/*
 * One rule for "a bridge", in list and check alike: the header type, as the
 * kernel shows it (secondary_bus_number), or from config space; the class only
 * where neither can be read.
 */
bool iopass_dev_is_bridge(const struct iopass_dev *dev)
{
	uint32_t cls = dev->class >> 8;

	if (dev->flags & (DEV_BRIDGE_KNOWN | DEV_BRIDGE_HEADER))
		return true;
	if ((dev->flags & DEV_BRIDGE_PROBED) && dev->ctx->bridge_attrs_seen)
		return false; /* the kernel shows bus numbers, and none for this one */
	if (dev_header_known(dev))
		return !iopass_dev_is_endpoint(dev);
	/* PCI-to-PCI (incl. root and downstream ports), semi-transparent, CardBus */
	return (dev->flags & DEV_HAVE_CLASS) && (cls == 0x0604 || cls == 0x0609 || cls == 0x0607);
}

bool iopass_dev_is_boot_vga(const struct iopass_dev *dev)
{
	return dev->flags & DEV_BOOT_VGA;
}

bool iopass_dev_is_vfio(const struct iopass_dev *dev)
{
	return dev->flags & DEV_VFIO;
}

const char *iopass_dev_get_warning(const struct iopass_dev *dev)
{
	return dev->warning;
}

int iopass_iommu_group_count(struct iopass_ctx *ctx)
{
	struct dirent *de;
	DIR *dir;
	int n = 0, r;

	r = sysfs_opendir(ctx, "/sys/kernel/iommu_groups", &dir);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	while ((de = readdir(dir))) {
		unsigned g;

		if (parse_uint(de->d_name, INT32_MAX, &g) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* "devices/pci0000:00/0000:00:1c.0/0000:03:00.0": where the device sits in the tree. */
const char *dev_sysfs_dir(struct iopass_dev *dev)
{
	char path[64 + IOPASS_BDF_MAX], target[4096];
	const char *p;
	ssize_t n;

	if (dev->sysfs_dir)
		return dev->sysfs_dir;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s", dev->bdf);
	n = sysfs_readlink(dev->ctx, path, target, sizeof(target));
	if (n < 0)
		return NULL;
	/* the kernel's link is relative: ../../../devices/... */
	p = target;
	while (strncmp(p, "../", 3) == 0)
		p += 3;
	if (strncmp(p, "devices/", 8) != 0)
		return NULL;
	dev->sysfs_dir = strdup(p);
	return dev->sysfs_dir;
}

struct iopass_dev *iopass_dev_get_parent(struct iopass_dev *dev, const struct iopass_devlist *list)
{
	if (!dev->parent_known) {
		const char *dir = dev_sysfs_dir(dev);
		const char *end, *start;
		char comp[IOPASS_BDF_MAX];

		dev->parent_known = true;
		/* the component before our own name is the parent bridge, or pciDDDD:BB */
		end = dir ? strrchr(dir, '/') : NULL;
		if (end) {
			start = end;
			while (start > dir && start[-1] != '/')
				start--;
			if ((size_t)(end - start) < sizeof(comp)) {
				memcpy(comp, start, (size_t)(end - start));
				comp[end - start] = '\0';
				dev->has_parent = iopass_addr_parse(comp, &dev->parent) == 0;
			}
		}
	}
	return dev->has_parent ? iopass_devlist_find(list, &dev->parent) : NULL;
}

static int group_cmp(const void *pa, const void *pb)
{
	const struct iopass_dev *a = *(const struct iopass_dev *const *)pa;
	const struct iopass_dev *b = *(const struct iopass_dev *const *)pb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return iopass_addr_cmp(&a->addr, &b->addr);
}

static int vf_cmp(const void *pa, const void *pb)
{
	const struct iopass_dev *a = *(const struct iopass_dev *const *)pa;
	const struct iopass_dev *b = *(const struct iopass_dev *const *)pb;
	int c = strcmp(a->physfn, b->physfn);

	return c ? c : iopass_addr_cmp(&a->addr, &b->addr);
}

/* Build the indexes once; the list is otherwise read-only, hence the cast. */
static void devlist_index(const struct iopass_devlist *clist)
{
	struct iopass_devlist *list = (struct iopass_devlist *)clist;

	if (list->by_group || list->count == 0)
		return;
	list->by_group = calloc(list->count, sizeof(*list->by_group));
	list->vfs = calloc(list->count, sizeof(*list->vfs));
	if (!list->by_group || !list->vfs) {
		free(list->by_group);
		free(list->vfs);
		list->by_group = list->vfs = NULL;
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (list->devs[i]->group >= 0)
			list->by_group[list->ngrouped++] = list->devs[i];
		if (list->devs[i]->physfn)
			list->vfs[list->nvfs++] = list->devs[i];
	}
	qsort(list->by_group, list->ngrouped, sizeof(*list->by_group), group_cmp);
	if (list->nvfs)
		qsort(list->vfs, list->nvfs, sizeof(*list->vfs), vf_cmp);
}

size_t devlist_group(const struct iopass_devlist *list, int g, struct iopass_dev *const **ret)
{
	size_t lo = 0, hi, start;

	devlist_index(list);
	*ret = NULL;
	if (!list->by_group)
		return 0;
	hi = list->ngrouped;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list->by_group[mid]->group < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < list->ngrouped && list->by_group[lo]->group == g)
		lo++;
	*ret = list->by_group + start;
	return lo - start;
}

size_t devlist_bus(const struct iopass_devlist *list, const struct iopass_dev *dev, bool slot_only,
		   struct iopass_dev *const **ret)
{
	struct iopass_addr first = { dev->addr.domain, dev->addr.bus, slot_only ? dev->addr.slot : 0, 0 };
	size_t lo = 0, hi = list->count, start;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (iopass_addr_cmp(&list->devs[mid]->addr, &first) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < list->count && list->devs[lo]->addr.domain == dev->addr.domain &&
	       list->devs[lo]->addr.bus == dev->addr.bus &&
	       (!slot_only || list->devs[lo]->addr.slot == dev->addr.slot))
		lo++;
	*ret = list->devs + start;
	return lo - start;
}

size_t devlist_vfs(const struct iopass_devlist *list, const struct iopass_dev *pf,
		   struct iopass_dev *const **ret)
{
	size_t lo = 0, hi, start;

	devlist_index(list);
	*ret = NULL;
	if (!list->vfs)
		return 0;
	hi = list->nvfs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(list->vfs[mid]->physfn, pf->bdf) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < list->nvfs && streq(list->vfs[lo]->physfn, pf->bdf))
		lo++;
	*ret = list->vfs + start;
	return lo - start;
}

int iopass_drivers(struct iopass_ctx *ctx, char ***ret_names)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, bytes = 0;
	DIR *dir;
	int r = sysfs_opendir(ctx, "/sys/bus/pci/drivers", &dir);

	if (r < 0)
		return r;
	/* two passes: the names into one block with the pointers, freed by one free() */
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && iopass_driver_name_valid(de->d_name)) {
			n++;
			bytes += strlen(de->d_name) + 1;
		}
	names = malloc((n + 1) * sizeof(*names) + bytes);
	if (!names) {
		closedir(dir);
		return -ENOMEM;
	}
	rewinddir(dir);
	char *p = (char *)(names + n + 1);
	size_t i = 0;

	while ((de = readdir(dir)) && i < n)
		if (de->d_name[0] != '.' && iopass_driver_name_valid(de->d_name)) {
			size_t len = strlen(de->d_name) + 1;

			if ((size_t)(p - (char *)(names + n + 1)) + len > bytes)
				break; /* the directory grew between the passes */
			memcpy(p, de->d_name, len);
			names[i++] = p;
			p += len;
		}
	names[i] = NULL;
	closedir(dir);
	*ret_names = names;
	return 0;
}
