// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The desired state: which devices belong to which driver, how many VFs a PF
 * has, what holds from boot on. One line per device, in the shape of the
 * persist record it extends ("BDF IDS DRIVER"):
 *
 *   # ADDRESS     IDS                  DRIVER     OPTIONS
 *   0000:03:00.0  8086:10d3            vfio-pci   boot
 *   0000:05:00.0  8086:1528/8086:0001  host       vfs=4 vf-driver=vfio-pci
 *   *             10de:1eb8            vfio-pci   nth=2 optional
 *
 * Strict: every error names its line and what to write instead, and a file
 * with one error yields nothing. The resolver below matches lines to a scan
 * the caller made; the one file read here is the default desired state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopass-private.h"

#define DESIRED_MAX_ENTRIES 65536
#define DESIRED_MAX_LINE 1024
#define DESIRED_MAX_FIELDS 16

struct iopass_desired {
	struct iopass_desired_entry *e;
	size_t n, cap;
};

static int fail(char **ret_error, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, unsigned line, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		msg = NULL; /* undefined after a failure */
		return -ENOMEM;
	}
	if (ret_error && asprintf(ret_error, "line %u: %s", line, msg) < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

/* "vvvv:dddd" or "vvvv:dddd/ssss:ssss" */
static int parse_ids(const char *s, struct iopass_desired_entry *e)
{
	char buf[24];
	const char *slash = strchr(s, '/');

	if (!slash)
		return iopass_id_parse(s, &e->vendor, &e->device);
	if ((size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (iopass_id_parse(buf, &e->vendor, &e->device) < 0 ||
	    iopass_id_parse(slash + 1, &e->subsystem_vendor, &e->subsystem_device) < 0)
		return -EINVAL;
	e->has_subsystem = true;
	return 0;
}

/*
 * A target driver: "host" (the kernel's choice), vfio-pci, or a vfio variant
 * driver: the kernel's are named <device>_vfio_pci (mlx5_vfio_pci,
 * hisi_acc_vfio_pci, nvgrace_gpu_vfio_pci, ...), so a name that only holds
 * "vfio" somewhere (vfio_iommu_type1) is not one. It goes into a udev rule's
 * quotes as the driver_override of a device at boot.
 */
bool desired_driver_ok(const char *s)
{
	static const char suffix[] = "_vfio_pci";
	size_t n = strlen(s);

	if (streq(s, "host") || streq(s, "vfio-pci"))
		return true;
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != n || n <= strlen(suffix))
		return false;
	return iopass_driver_name_valid(s) && streq(s + n - strlen(suffix), suffix);
}

static int parse_option(char *opt, unsigned line, struct iopass_desired_entry *e,
			unsigned *seen, char **ret_error)
{
	static const char *const names[] = { "boot", "optional", "vfs", "vf-driver", "nth", "pf" };
	char *val = strchr(opt, '=');
	size_t k;
	unsigned v;

	if (val)
		*val++ = '\0';
	for (k = 0; k < ARRAY_SIZE(names); k++)
		if (streq(opt, names[k]))
			break;
	if (k == ARRAY_SIZE(names))
		return fail(ret_error, line,
			    "unknown option '%s'; the options are boot, optional, vfs=N, "
			    "vf-driver=DRIVER, nth=K and pf=ADDRESS", opt);
	if (*seen & (1u << k))
		return fail(ret_error, line, "'%s' is given twice; give each option once", opt);
	*seen |= 1u << k;
	if (k <= 1 && val)
		return fail(ret_error, line, "'%s' takes no value; write it alone", opt);
	if (k >= 2 && (!val || !*val))
		return fail(ret_error, line, "'%s' needs a value: %s=...", opt, opt);
	switch (k) {
	case 0:
		e->boot = true;
		return 0;
	case 1:
		e->optional = true;
		return 0;
	case 2:
		if (parse_uint(val, 65535, &v) < 0)
			return fail(ret_error, line, "vfs=%s: not a count; write vfs=N, N from 0 to 65535",
				    val);
		e->vfs = (int)v;
		return 0;
	case 3:
		if (!desired_driver_ok(val))
			return fail(ret_error, line,
				    "vf-driver=%s: not a target driver; write vf-driver=vfio-pci, a vfio "
				    "variant driver, or vf-driver=host", val);
		snprintf(e->vf_driver, sizeof(e->vf_driver), "%s", val);
		return 0;
	case 4:
		if (parse_uint(val, DESIRED_MAX_ENTRIES, &v) < 0 || v == 0)
			return fail(ret_error, line, "nth=%s: not an ordinal; write nth=K, K from 1", val);
		e->nth = v;
		return 0;
	default:
		if (iopass_addr_parse(val, &e->pf) < 0)
			return fail(ret_error, line, "pf=%s: not a PCI address; write pf=DDDD:BB:SS.F", val);
		e->has_pf = true;
		return 0;
	}
}

/* Rules between the fields of one line. */
static int entry_check(const struct iopass_desired_entry *e, unsigned line, char **ret_error)
{
	if (e->by_address && (e->nth || e->has_pf))
		return fail(ret_error, line,
			    "nth= and pf= select a device by its IDs; write '*' as the address to use them");
	if (e->vf_driver[0] && e->vfs < 0)
		return fail(ret_error, line, "vf-driver= needs vfs=N on the same line (the PF's VF count)");
	if (e->vf_driver[0] && e->vfs == 0)
		return fail(ret_error, line, "vf-driver= with vfs=0: there are no VFs to bind; drop one of them");
	if (e->vfs >= 0 && e->has_pf)
		return fail(ret_error, line, "vfs= on a VF (pf=): a VF has no VFs of its own");
	if (e->boot && streq(e->driver, "host"))
		return fail(ret_error, line,
			    "'boot' holds a device on a vfio driver from boot on; a 'host' entry has "
			    "nothing to hold: drop 'boot'");
	/* moving the PF unbinds the driver that made its VFs: they would go with it */
	if (e->vfs > 0 && !streq(e->driver, "host"))
		return fail(ret_error, line,
			    "vfs=%d: a PF's VFs are made by its host driver, and moving the PF to %s "
			    "takes them away; write host as the PF's driver, or vfs=0", e->vfs, e->driver);
	return 0;
}

#define CMP(x, y)                                                                              \
	do {                                                                                   \
		if ((x) != (y))                                                                \
			return (x) < (y) ? -1 : 1;                                             \
	} while (0)

/* The device a line means: 0 when two lines mean the same one. */
static int key_cmp(const struct iopass_desired_entry *a, const struct iopass_desired_entry *b)
{
	int r;

	CMP(a->by_address, b->by_address);
	if (a->by_address) {
		r = iopass_addr_cmp(&a->addr, &b->addr);
		if (r)
			return r;
	} else {
		CMP(a->vendor, b->vendor);
		CMP(a->device, b->device);
		CMP(a->has_subsystem, b->has_subsystem);
		if (a->has_subsystem) {
			CMP(a->subsystem_vendor, b->subsystem_vendor);
			CMP(a->subsystem_device, b->subsystem_device);
		}
		CMP(a->nth, b->nth);
		CMP(a->has_pf, b->has_pf);
		if (a->has_pf) {
			r = iopass_addr_cmp(&a->pf, &b->pf);
			if (r)
				return r;
		}
	}
	return 0;
}

/* qsort: by the device, then by line, so two lines for one device end up side by side */
static int target_cmp(const void *pa, const void *pb)
{
	const struct iopass_desired_entry *a = *(const struct iopass_desired_entry *const *)pa;
	const struct iopass_desired_entry *b = *(const struct iopass_desired_entry *const *)pb;
	int r = key_cmp(a, b);

	if (r)
		return r;
	CMP(a->line, b->line);
	return 0;
}

/*
 * Two lines for the same device (the second would silently win): the one that
 * comes first in the file is named. Sorted, not pairwise: files may be long.
 */
static int check_duplicates(const struct iopass_desired *d, char **ret_error)
{
	_cleanup_free_ const struct iopass_desired_entry **sorted = NULL;
	unsigned dup_line = 0, first_line = 0;

	if (d->n < 2)
		return 0;
	sorted = calloc(d->n, sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		sorted[i] = &d->e[i];
	qsort(sorted, d->n, sizeof(*sorted), target_cmp);
	for (size_t i = 1; i < d->n; i++) {
		const struct iopass_desired_entry *a = sorted[i - 1], *b = sorted[i];

		if (key_cmp(a, b) != 0)
			continue;
		if (!dup_line || b->line < dup_line) {
			dup_line = b->line;
			first_line = a->line;
		}
	}
	if (!dup_line)
		return 0;
	return fail(ret_error, dup_line, "the same device as line %u; one line per device", first_line);
}

static int parse_line(char *s, unsigned line, struct iopass_desired_entry *e, char **ret_error)
{
	char *f[DESIRED_MAX_FIELDS], *save = NULL;
	size_t nf = 0;
	unsigned seen = 0;
	int r;

	for (char *p = s; *p; p++) {
		if (*p == '\r')
			return fail(ret_error, line, "a carriage return (DOS line ends); convert the "
				    "file with dos2unix");
		if ((unsigned char)*p < ' ' && *p != '\t')
			return fail(ret_error, line, "a control character (0x%02x); the file is text",
				    (unsigned char)*p);
	}
	for (char *tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (*tok == '#')
			break; /* a comment to the end of the line */
		if (nf == DESIRED_MAX_FIELDS)
			return fail(ret_error, line, "more than %d fields; one device per line",
				    DESIRED_MAX_FIELDS);
		for (const char *p = tok; *p; p++)
			if ((unsigned char)*p >= 0x7f) /* not echoed: it may be a terminal's escape */
				return fail(ret_error, line, "field %zu holds a byte that is not printable ASCII "
					    "(0x%02x); only a comment may", nf + 1, (unsigned char)*p);
		f[nf++] = tok;
	}
	if (nf == 0)
		return 0;
	if (nf < 3)
		return fail(ret_error, line,
			    "%zu field%s; a line is ADDRESS VVVV:DDDD DRIVER [OPTION...]", nf,
			    nf == 1 ? "" : "s");
	*e = (struct iopass_desired_entry){ .line = line, .vfs = -1 };
	if (streq(f[0], "*"))
		e->by_address = false;
	else if (iopass_addr_parse(f[0], &e->addr) == 0)
		e->by_address = true;
	else
		return fail(ret_error, line,
			    "'%s': not a PCI address; write DDDD:BB:SS.F, or '*' to select by IDs", f[0]);
	if (parse_ids(f[1], e) < 0)
		return fail(ret_error, line,
			    "'%s': not device IDs; write VVVV:DDDD or VVVV:DDDD/SSSS:SSSS (subsystem), hex",
			    f[1]);
	if (!desired_driver_ok(f[2]))
		return fail(ret_error, line,
			    "'%s': not a target driver; write vfio-pci, a vfio variant driver "
			    "(e.g. mlx5_vfio_pci), or host", f[2]);
	snprintf(e->driver, sizeof(e->driver), "%s", f[2]);
	for (size_t i = 3; i < nf; i++) {
		r = parse_option(f[i], line, e, &seen, ret_error);
		if (r < 0)
			return r;
	}
	r = entry_check(e, line, ret_error);
	return r < 0 ? r : 1;
}

int iopass_desired_parse(const char *text, size_t len, struct iopass_desired **ret_desired,
			 char **ret_error)
{
	struct iopass_desired *d;
	const char *nul;
	unsigned line = 0;
	int r = 0;

	if (ret_error)
		*ret_error = NULL;
	if (!text || !ret_desired)
		return -EINVAL;
	*ret_desired = NULL;
	nul = memchr(text, '\0', len);
	if (nul) {
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		return fail(ret_error, line + 1, "a NUL byte; the file is text");
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t off = 0; off < len && r >= 0;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char buf[DESIRED_MAX_LINE + 1];
		struct iopass_desired_entry e;

		line++;
		if (n > DESIRED_MAX_LINE) {
			r = fail(ret_error, line, "longer than %d bytes; one device per line",
				 DESIRED_MAX_LINE);
			break;
		}
		memcpy(buf, text + off, n);
		buf[n] = '\0';
		off += n + 1;
		r = parse_line(buf, line, &e, ret_error);
		if (r <= 0)
			continue;
		if (d->n == DESIRED_MAX_ENTRIES) {
			r = fail(ret_error, line, "more than %d entries; no host has that many devices: "
				 "check how the file was made", DESIRED_MAX_ENTRIES);
			break;
		}
		if (d->n == d->cap) {
			size_t cap = d->cap ? 2 * d->cap : 16;
			struct iopass_desired_entry *ne = reallocarray(d->e, cap, sizeof(*ne));

			if (!ne) {
				r = -ENOMEM;
				break;
			}
			d->e = ne;
			d->cap = cap;
		}
		d->e[d->n++] = e;
	}
	if (r >= 0)
		r = check_duplicates(d, ret_error);
	if (r < 0) {
		iopass_desired_free(d);
		return r;
	}
	*ret_desired = d;
	return 0;
}

/* ---- which device an entry means, on this host ---------------------------------- */

static bool ids_match(const struct iopass_desired_entry *e, const struct iopass_dev *dev)
{
	if (iopass_dev_get_vendor(dev) != e->vendor || iopass_dev_get_device(dev) != e->device)
		return false;
	return !e->has_subsystem || (iopass_dev_get_subsystem_vendor(dev) == e->subsystem_vendor &&
				     iopass_dev_get_subsystem_device(dev) == e->subsystem_device);
}

/*
 * A VF only through pf=: VFs come and go (and may carry their PF's IDs), so a
 * count over PFs and VFs together would change its answer after vfs=.
 */
static bool pf_match(const struct iopass_desired_entry *e, const struct iopass_dev *dev)
{
	const char *physfn = iopass_dev_get_physfn(dev);
	struct iopass_addr a;

	if (!e->has_pf)
		return !physfn;
	return physfn && iopass_addr_parse(physfn, &a) == 0 && iopass_addr_cmp(&a, &e->pf) == 0;
}

/* What the line asks for, as a user would write it back ("8086:10d3/8086:0001 (nth=2)"). */
static void describe(const struct iopass_desired_entry *e, char *buf, size_t size)
{
	char pf[IOPASS_BDF_MAX] = "";
	int n = snprintf(buf, size, "%04x:%04x", e->vendor, e->device);

	if (n > 0 && (size_t)n < size && e->has_subsystem)
		n += snprintf(buf + n, size - (size_t)n, "/%04x:%04x", e->subsystem_vendor,
			      e->subsystem_device);
	if (e->has_pf)
		iopass_addr_format(&e->pf, pf);
	if (n > 0 && (size_t)n < size && (e->nth || e->has_pf))
		snprintf(buf + n, size - (size_t)n, " (%s%.0u%s%s)", e->nth ? "nth=" : "", e->nth,
			 e->nth && e->has_pf ? " " : "", e->has_pf ? pf : "");
}

/* fail(), keeping -ENOMEM over the error the caller meant */
#define refuse(err, ...) ({ int r_ = fail(__VA_ARGS__); r_ == -ENOMEM ? r_ : (err); })

/* vfs= is for an SR-IOV PF: say so before anything is planned for another device. */
static int pf_check(const struct iopass_desired_entry *e, struct iopass_dev *dev,
		    struct iopass_dev **ret_dev, char **ret_error)
{
	if (e->vfs >= 0 && iopass_dev_get_sriov_totalvfs(dev) <= 0)
		return refuse(-EOPNOTSUPP, ret_error, e->line, "vfs=%d: %s is not an SR-IOV physical "
			      "function (no sriov_totalvfs); drop vfs= from the line", e->vfs,
			      iopass_dev_get_bdf(dev));
	*ret_dev = dev;
	return 0;
}

int iopass_desired_resolve(const struct iopass_desired *d, size_t i,
			   const struct iopass_devlist *list, struct iopass_dev **ret_dev,
			   char **ret_error)
{
	const struct iopass_desired_entry *e = iopass_desired_get(d, i);
	struct iopass_dev *dev, *found = NULL;
	char want[64], bdf[IOPASS_BDF_MAX];
	bool vfs_seen = false;
	unsigned k = 0;

	if (ret_error)
		*ret_error = NULL;
	if (!e || !list || !ret_dev)
		return -EINVAL;
	*ret_dev = NULL;
	describe(e, want, sizeof(want));
	if (e->by_address) {
		iopass_addr_format(&e->addr, bdf);
		dev = iopass_devlist_find(list, &e->addr);
		if (!dev) {
			if (e->optional)
				return 0;
			return refuse(-ENODEV, ret_error, e->line, "no device at %s (the line is for %s); "
				      "mark the line 'optional' if the card may be absent", bdf, want);
		}
		if (!ids_match(e, dev)) {
			/* another card: never applied to it, optional or not */
			return refuse(-ESTALE, ret_error, e->line, "another card sits at %s: "
				      "%04x:%04x/%04x:%04x, not %s; correct the line for this host", bdf,
				      iopass_dev_get_vendor(dev), iopass_dev_get_device(dev),
				      iopass_dev_get_subsystem_vendor(dev),
				      iopass_dev_get_subsystem_device(dev), want);
		}
		return pf_check(e, dev, ret_dev, ret_error);
	}
	for (size_t j = 0; j < iopass_devlist_count(list); j++) {
		dev = iopass_devlist_get(list, j);
		if (!ids_match(e, dev))
			continue;
		if (!pf_match(e, dev)) {
			vfs_seen |= iopass_dev_get_physfn(dev) != NULL;
			continue;
		}
		k++;
		if (e->nth ? k == e->nth : !found)
			found = dev;
	}
	if (e->nth && k < e->nth) {
		if (e->optional)
			return 0;
		return refuse(-ENODEV, ret_error, e->line, "%s: %u such device%s on this host, no "
			      "number %u; mark the line 'optional' if the card may be absent", want, k,
			      k == 1 ? "" : "s", e->nth);
	}
	if (k == 0) {
		if (e->optional)
			return 0;
		return refuse(-ENODEV, ret_error, e->line, "no %s on this host%s; mark the line "
			      "'optional' if the card may be absent", want,
			      vfs_seen && !e->has_pf ? " but VFs (select those with pf=ADDRESS)" : "");
	}
	if (!e->nth && k > 1) {
		return refuse(-EEXIST, ret_error, e->line, "%u devices are %s; name one by address, "
			      "or add nth=K", k, want);
	}
	return pf_check(e, found, ret_dev, ret_error);
}

int iopass_desired_resolve_all(const struct iopass_desired *d, const struct iopass_devlist *list,
			       struct iopass_dev **devs, char **ret_error)
{
	size_t n = iopass_desired_count(d);

	if (ret_error)
		*ret_error = NULL;
	if (!d || !list || (n && !devs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int r = iopass_desired_resolve(d, i, list, &devs[i], ret_error);

		if (r < 0)
			return r;
		for (size_t j = 0; devs[i] && j < i; j++)
			if (devs[j] == devs[i]) {
				/* by address on one line and by IDs on another: which one wins? */
				return refuse(-EEXIST, ret_error, d->e[i].line, "the same device as "
					      "line %u (%s); one line per device", d->e[j].line,
					      iopass_dev_get_bdf(devs[i]));
			}
	}
	return 0;
}

int iopass_desired_load(struct iopass_ctx *ctx, struct iopass_desired **ret_desired,
			char **ret_error)
{
	static const char *const parts[] = { "etc", "iopass" };
	_cleanup_close_ int dfd = -1;
	_cleanup_free_ char *text = NULL;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!ctx || !ret_desired)
		return -EINVAL;
	*ret_desired = NULL;
	/* root acts on it: root's, and nobody else may write it (nor the directory) */
	dfd = sysfs_open_owned_dir(ctx, parts, ARRAY_SIZE(parts), false, 0755);
	if (dfd < 0)
		return dfd;
	r = state_read_mode(dfd, "desired", DESIRED_MAX_FILE, 022, &text);
	if (r < 0)
		return r;
	return iopass_desired_parse(text, strlen(text), ret_desired, ret_error);
}

size_t iopass_desired_count(const struct iopass_desired *d)
{
	return d ? d->n : 0;
}

const struct iopass_desired_entry *iopass_desired_get(const struct iopass_desired *d, size_t i)
{
	return d && i < d->n ? &d->e[i] : NULL;
}

struct iopass_desired *iopass_desired_free(struct iopass_desired *d)
{
	if (!d)
		return NULL;
	free(d->e);
	free(d);
	return NULL;
}

/* ---- editing: what attach --persist, detach --persist, persist remove and apply write -- */

int desired_format(const struct iopass_desired_entry *e, char *buf, size_t size)
{
	char addr[IOPASS_BDF_MAX] = "*", pf[IOPASS_BDF_MAX] = "";
	FILE *f = fmemopen(buf, size, "w");

	if (!f)
		return -errno;
	if (e->by_address)
		iopass_addr_format(&e->addr, addr);
	if (e->has_pf)
		iopass_addr_format(&e->pf, pf);
	fprintf(f, "%s %04x:%04x", addr, e->vendor, e->device);
	if (e->has_subsystem)
		fprintf(f, "/%04x:%04x", e->subsystem_vendor, e->subsystem_device);
	fprintf(f, " %s", e->driver);
	if (e->boot)
		fputs(" boot", f);
	if (e->optional)
		fputs(" optional", f);
	if (e->nth)
		fprintf(f, " nth=%u", e->nth);
	if (e->has_pf)
		fprintf(f, " pf=%s", pf);
	if (e->vfs >= 0)
		fprintf(f, " vfs=%d", e->vfs);
	if (e->vf_driver[0])
		fprintf(f, " vf-driver=%s", e->vf_driver);
	fputc('\0', f);
	if (fclose(f) != 0 || !memchr(buf, '\0', size))
		return -ENAMETOOLONG;
	return 0;
}

bool desired_entry_equal(const struct iopass_desired_entry *a, const struct iopass_desired_entry *b)
{
	return key_cmp(a, b) == 0 && a->vendor == b->vendor && a->device == b->device &&
	       a->has_subsystem == b->has_subsystem &&
	       (!a->has_subsystem || (a->subsystem_vendor == b->subsystem_vendor &&
				      a->subsystem_device == b->subsystem_device)) &&
	       streq(a->driver, b->driver) && a->boot == b->boot && a->optional == b->optional &&
	       a->vfs == b->vfs && streq(a->vf_driver, b->vf_driver);
}

int desired_resolve_ids(const struct iopass_desired *d, const struct iopass_devlist *list,
			struct iopass_dev ***ret)
{
	struct iopass_dev **named = calloc(d->n ? d->n : 1, sizeof(*named));

	if (!named)
		return -ENOMEM;
	for (size_t i = 0; list && i < d->n; i++)
		if (!d->e[i].by_address && iopass_desired_resolve(d, i, list, &named[i], NULL) < 0)
			named[i] = NULL; /* an unresolvable line names nothing */
	*ret = named;
	return 0;
}

ssize_t desired_find(const struct iopass_desired *d, struct iopass_dev *const *named,
		     const struct iopass_addr *addr)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->e[i].by_address ? iopass_addr_cmp(&d->e[i].addr, addr) == 0
				       : named[i] && iopass_addr_cmp(&named[i]->addr, addr) == 0)
			return (ssize_t)i;
	return -1;
}

ssize_t desired_find_absent(const struct iopass_desired *d, struct iopass_dev *const *named,
			    uint16_t vendor, uint16_t device)
{
	ssize_t found = -1;

	for (size_t i = 0; i < d->n; i++) {
		const struct iopass_desired_entry *e = &d->e[i];

		/* a line that names a device that is here is that device's */
		if (e->by_address || !e->boot || e->has_pf || e->vendor != vendor ||
		    e->device != device || named[i])
			continue;
		if (found >= 0)
			return -1; /* two of them: which one was it? */
		found = (ssize_t)i;
	}
	return found;
}

/* The comment that ends a line ("# ..." after a blank), or "". */
static const char *line_comment(const char *s, size_t n, size_t *ret_len)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
			*ret_len = n - i;
			return s + i;
		}
	*ret_len = 0;
	return "";
}

bool desired_line_commented(const char *text, unsigned line)
{
	const char *s = text;
	size_t clen;

	for (unsigned k = 1; s && k < line; k++) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	if (!s || !line)
		return false;
	line_comment(s, strcspn(s, "\n"), &clen);
	return clen > 0;
}

char *desired_rewrite(const char *text, const struct desired_edit *edits, size_t n)
{
	char *buf = NULL;
	size_t size = 0, len = text ? strlen(text) : 0;
	unsigned line = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t off = 0; off < len;) {
		const char *s = text + off, *nl = memchr(s, '\n', len - off);
		size_t k = nl ? (size_t)(nl - s) : len - off, clen;
		const struct desired_edit *ed = NULL;
		const char *comment;

		line++;
		off += k + 1;
		for (size_t i = 0; i < n && !ed; i++)
			if (edits[i].line == line)
				ed = &edits[i];
		if (!ed) {
			fwrite(s, 1, k, f);
			fputc('\n', f);
			continue;
		}
		if (!ed->text)
			continue; /* the line goes, and its comment with it */
		/* the replaced line keeps its comment: the admin's words about the card */
		comment = line_comment(s, k, &clen);
		fprintf(f, "%s%s%.*s\n", ed->text, clen ? "  " : "", (int)clen, comment);
	}
	for (size_t i = 0; i < n; i++)
		if (!edits[i].line && edits[i].text)
			fprintf(f, "%s\n", edits[i].text);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
