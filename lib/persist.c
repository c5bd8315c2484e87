// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Persistence: devices on vfio-pci from boot, keyed by address and checked
 * against their IDs (never by ID alone: that takes every identical card).
 *
 * At boot, a udev rule ordered before the driver-loading rules (80-drivers)
 * sets driver_override while the host driver is not loaded yet; softdep
 * makes modprobe load vfio-pci before the host driver. When the host driver
 * is already there (hotplug, remove+rescan, built-in drivers) the kernel binds
 * it before udev runs, so the rule also runs 'iopass __udev-bind BDF', which
 * rebinds the one device. Works with udev alone, no systemd needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include "iopass-private.h"

#ifndef IOPASS_SBINDIR
#define IOPASS_SBINDIR "/usr/sbin"
#endif

#define RECORD_MAX (1u << 20)
#define ETC_DESIRED_MAX DESIRED_MAX_FILE /* as large as 'iopass apply' reads it */
#define ETC_FILE_MAX(i) ((i) == ETC_DESIRED ? ETC_DESIRED_MAX : RECORD_MAX)
#define RULES_NAME "60-iopass.rules"
#define MODPROBE_NAME "iopass.conf"

struct pentry {
	char bdf[IOPASS_BDF_MAX];
	char ids[12];
	char driver[72]; /* the host driver's name, "" when none */
	char target[72]; /* the vfio driver it is held on: vfio-pci, or a variant */
};

struct iopass_persist {
	struct pentry *e;
	size_t n;
};

struct iopass_persist *iopass_persist_free(struct iopass_persist *p)
{
	if (p) {
		free(p->e);
		free(p);
	}
	return NULL;
}

static int persist_add_entry(struct iopass_persist *p, const char *bdf, const char *ids,
			     const char *driver, const char *target)
{
	struct pentry *ne = NULL;

	for (size_t i = 0; i < p->n; i++)
		if (streq(p->e[i].bdf, bdf))
			ne = &p->e[i];
	if (!ne) {
		ne = reallocarray(p->e, p->n + 1, sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		p->e = ne;
		ne = &p->e[p->n++];
		*ne = (struct pentry){ 0 }; /* new: no driver of its own to keep below */
	}
	snprintf(ne->target, sizeof(ne->target), "%s", target);
	/* persisted again with no driver known (after a reboot the device came up on vfio-pci
	 * and /run/iopass/state is gone): the record keeps the driver it knows for that card */
	if ((!driver || !*driver) && streq(ne->bdf, bdf) && streq(ne->ids, ids))
		return 0;
	snprintf(ne->bdf, sizeof(ne->bdf), "%s", bdf);
	snprintf(ne->ids, sizeof(ne->ids), "%s", ids);
	snprintf(ne->driver, sizeof(ne->driver), "%s", driver ? driver : "");
	return 0;
}

/* Drop the entry of bdf from the record: true when there was one. */
static bool persist_drop(struct iopass_persist *p, const char *bdf)
{
	for (size_t k = 0; k < p->n; k++)
		if (streq(p->e[k].bdf, bdf)) {
			p->e[k] = p->e[--p->n];
			return true;
		}
	return false;
}

/*
 * "iopass-persist 1" then "<bdf> <vvvv:dddd> <host driver|->" lines, strictly;
 * version 2 adds the vfio driver the device is held on (1: vfio-pci).
 */
int persist_parse(const char *text, struct iopass_persist *p)
{
	const char *line = text;
	int lineno = 0, version = 0;

	p->e = NULL;
	p->n = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		char buf[256], bdf[32], ids[32], drv[80], target[80] = "vfio-pci", extra[2];
		char canon[IOPASS_BDF_MAX], line_canon[256];
		struct iopass_addr a;
		uint16_t v, d;
		size_t len;

		if (!nl)
			goto corrupt;
		len = (size_t)(nl - line);
		if (len >= sizeof(buf))
			goto corrupt;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		if (lineno++ == 0) {
			version = streq(buf, "iopass-persist 1") ? 1 : streq(buf, "iopass-persist 2") ? 2 : 0;
			if (!version)
				goto corrupt;
			continue;
		}
		if ((version == 1 ? sscanf(buf, "%31s %31s %79s %1s", bdf, ids, drv, extra) != 3
				  : sscanf(buf, "%31s %31s %79s %79s %1s", bdf, ids, drv, target, extra) != 4) ||
		    iopass_addr_parse(bdf, &a) < 0 || iopass_id_parse(ids, &v, &d) < 0 ||
		    (!streq(drv, "-") && !iopass_driver_name_valid(drv)) ||
		    !desired_driver_ok(target) || streq(target, "host"))
			goto corrupt;
		/* exactly as iopass writes it: a hand edit (tabs, short addresses, upper case,
		 * a carriage return) is not taken into a udev rule */
		iopass_addr_format(&a, canon);
		snprintf(line_canon, sizeof(line_canon), "%s %04x:%04x %s%s%s", canon, v, d, drv,
			 version == 1 ? "" : " ", version == 1 ? "" : target);
		if (!streq(buf, line_canon))
			goto corrupt;
		for (size_t k = 0; k < p->n; k++)
			if (streq(p->e[k].bdf, canon))
				goto corrupt; /* two lines for one address: which one holds? */
		snprintf(ids, sizeof(ids), "%04x:%04x", v, d);
		snprintf(bdf, sizeof(bdf), "%s", canon);
		if (persist_add_entry(p, bdf, ids, streq(drv, "-") ? NULL : drv, target) < 0) {
			free(p->e);
			p->e = NULL;
			p->n = 0;
			return -ENOMEM;
		}
	}
	if (lineno == 0)
		goto corrupt;
	return 0;
corrupt:
	free(p->e);
	p->e = NULL;
	p->n = 0;
	return -EBADMSG;
}

static int etc_dir(struct iopass_ctx *ctx, const char *a, const char *b, bool create)
{
	const char *parts[] = { "etc", a, b };

	return sysfs_open_owned_dir(ctx, parts, b ? 3 : 2, create, 0755);
}

int iopass_persist_load(struct iopass_ctx *ctx, struct iopass_persist **ret_persist)
{
	struct iopass_persist *p = calloc(1, sizeof(*p));
	_cleanup_free_ char *text = NULL;
	int dfd, r;

	if (!p)
		return -ENOMEM;
	dfd = etc_dir(ctx, "iopass", NULL, false);
	if (dfd == -ENOENT) {
		*ret_persist = p;
		return 0;
	}
	if (dfd < 0) {
		free(p);
		return dfd;
	}
	r = state_read_mode(dfd, "persist", RECORD_MAX, 022, &text);
	close(dfd);
	if (r == -ENOENT) {
		*ret_persist = p;
		return 0;
	}
	if (r == 0)
		r = persist_parse(text, p);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret_persist = p;
	return 0;
}

size_t iopass_persist_count(const struct iopass_persist *p)
{
	return p ? p->n : 0;
}

const char *iopass_persist_bdf(const struct iopass_persist *p, size_t i)
{
	return i < p->n ? p->e[i].bdf : NULL;
}

const char *iopass_persist_ids(const struct iopass_persist *p, size_t i)
{
	return i < p->n ? p->e[i].ids : NULL;
}

const char *iopass_persist_host_driver(const struct iopass_persist *p, size_t i)
{
	return i < p->n && p->e[i].driver[0] ? p->e[i].driver : NULL;
}

const char *iopass_persist_driver(const struct iopass_persist *p, size_t i)
{
	return i < p->n ? p->e[i].target : NULL;
}

enum iopass_persist_state iopass_persist_state(const struct iopass_persist *p, size_t i,
					       const struct iopass_devlist *list)
{
	struct iopass_addr a;
	struct iopass_dev *d;
	char ids[12];

	if (i >= p->n || iopass_addr_parse(p->e[i].bdf, &a) < 0)
		return IOPASS_PERSIST_ABSENT;
	d = iopass_devlist_find(list, &a);
	if (!d)
		return IOPASS_PERSIST_ABSENT;
	snprintf(ids, sizeof(ids), "%04x:%04x", d->vendor, d->device);
	if (!(d->flags & DEV_HAVE_VENDOR) || !streq(ids, p->e[i].ids))
		return IOPASS_PERSIST_MOVED;
	return d->driver && streq(d->driver, p->e[i].target) ? IOPASS_PERSIST_ACTIVE
							     : IOPASS_PERSIST_INACTIVE;
}

const char *iopass_persist_state_name(enum iopass_persist_state s)
{
	static const char *const names[] = { "active", "inactive", "moved", "absent" };

	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}

/* ---- the generated files ----------------------------------------------------- */

/* FNV-1a, 64 bit, over n bytes after h: enough to tell a hand edit from our own text. */
#define FNV1A_START 0xcbf29ce484222325ull
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define CHECKSUM_TAG "# iopass-checksum: "

/*
 * A managed file is "<header># iopass-checksum: <hex>\n<body>", the checksum over
 * the header and the body: everything but its own line, so a line added anywhere
 * is an edit. Files written before it covered the header (the body only) are ours
 * when the header is ours word for word. 0: ours and untouched; -EEXIST: edited
 * by hand, or not ours.
 */
static int managed_file_check(int dirfd, const char *name, const char *header)
{
	_cleanup_free_ char *text = NULL;
	const char *tag, *body;
	unsigned long long sum;
	uint64_t h;
	int r = state_read_mode(dirfd, name, RECORD_MAX, 022, &text);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	tag = strstr(text, CHECKSUM_TAG);
	if (!strstr(text, "Managed by iopass") || !tag ||
	    sscanf(tag + strlen(CHECKSUM_TAG), "%16llx", &sum) != 1)
		return -EEXIST;
	body = strchr(tag, '\n');
	if (!body)
		return -EEXIST;
	body++;
	h = fnv1a(fnv1a(FNV1A_START, text, (size_t)(tag - text)), body, strlen(body));
	if (h == (uint64_t)sum)
		return 0;
	/* the earlier format: the body alone, under our own header */
	if ((size_t)(tag - text) == strlen(header) && strncmp(text, header, strlen(header)) == 0 &&
	    fnv1a(FNV1A_START, body, strlen(body)) == (uint64_t)sum)
		return 0;
	return -EEXIST;
}

static char *managed_file(const char *header, const char *body)
{
	uint64_t h = fnv1a(fnv1a(FNV1A_START, header, strlen(header)), body, strlen(body));
	char *text = NULL;

	if (asprintf(&text, "%s" CHECKSUM_TAG "%016llx\n%s", header, (unsigned long long)h, body) < 0)
		return NULL;
	return text;
}

/* The module behind a driver (xhci_hcd -> xhci_pci), or "" when it is built in. */
static void driver_module(struct iopass_ctx *ctx, const char *driver, char *buf, size_t size)
{
	char path[256];
	_cleanup_close_ int fd = -1;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", driver);
	fd = sysfs_open_dir(ctx, path);
	if (fd >= 0 && sysfs_link_name_at(fd, "module", buf, size) == 0 && iopass_driver_name_valid(buf))
		return;
	buf[0] = '\0';
}

int iopass_persist_helper(struct iopass_ctx *ctx, const char **ret_path)
{
	static const char helper[] = IOPASS_SBINDIR "/iopass";
	struct stat st;
	int r;

	*ret_path = helper;
	r = sysfs_stat(ctx, helper, &st);
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
		return -EACCES;
	return 0;
}

int iopass_persist_claims(struct iopass_ctx *ctx, const struct iopass_devlist *list,
			  const struct iopass_dev *dev, char *driver, size_t size)
{
	struct iopass_persist *p = NULL;
	int r = iopass_persist_load(ctx, &p), claimed = 0;

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->e[i].bdf, dev->bdf)) {
			enum iopass_persist_state s = iopass_persist_state(p, i, list);

			claimed = s == IOPASS_PERSIST_ACTIVE || s == IOPASS_PERSIST_INACTIVE;
			if (claimed && driver)
				snprintf(driver, size, "%s", p->e[i].target);
		}
	iopass_persist_free(p);
	return claimed;
}

static int persist_lock(struct iopass_ctx *ctx, struct iopass_txn *t, unsigned flags, char **msg);

static struct iopass_txn *persist_txn(struct iopass_txn **ret_txn);

/* A session of its own, as every writing run: an attach of the device may be under way. */
int iopass_persist_unclaim(struct iopass_ctx *ctx, struct iopass_dev *dev,
			   struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct iopass_txn *t = persist_txn(ret_txn);
	int r;

	if (!t)
		return -ENOMEM;
	r = session_open(ctx, t, &s, &(struct intent){ .op = JOP_NONE });
	if (r == 0)
		r = session_unclaim(ctx, t, &s, dev->bdf);
	session_end(&s);
	txn_finish(t, r);
	if (!ret_txn)
		iopass_txn_free(t);
	return r;
}

static char *rules_body(const struct iopass_persist *p)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		fprintf(f,
			"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", ATTR{vendor}==\"0x%.4s\", "
			"ATTR{device}==\"0x%.4s\", ATTR{driver_override}=\"%s\", "
			"RUN+=\"" IOPASS_SBINDIR "/iopass __udev-bind %s\"\n",
			p->e[i].bdf, p->e[i].ids, p->e[i].ids + 5, p->e[i].target, p->e[i].bdf);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *modprobe_body(struct iopass_ctx *ctx, const struct iopass_persist *p, char *builtin,
			   size_t bsize)
{
	char *buf = NULL, mods[64][72];
	size_t size = 0, nmods = 0, blen = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	builtin[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		char mod[72];
		bool dup = false;

		/* a variant driver's module needs its host driver's (mlx5_vfio_pci: mlx5_core):
		 * no softdep there, the override alone keeps the host driver off the device */
		if (!p->e[i].driver[0] || driver_name_is_vfio(p->e[i].driver) ||
		    !streq(p->e[i].target, "vfio-pci"))
			continue;
		driver_module(ctx, p->e[i].driver, mod, sizeof(mod));
		if (!*mod) {
			if (blen < bsize && !strstr(builtin, p->e[i].driver))
				blen += (size_t)snprintf(builtin + blen, bsize - blen, "%s%s",
							 blen ? ", " : "", p->e[i].driver);
			continue;
		}
		for (size_t k = 0; k < nmods && !dup; k++)
			dup = streq(mods[k], mod);
		if (dup || nmods == ARRAY_SIZE(mods))
			continue;
		snprintf(mods[nmods++], sizeof(mods[0]), "%s", mod);
		fprintf(f, "softdep %s pre: vfio-pci\n", mod);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

const char *persist_initramfs_command(struct iopass_ctx *ctx)
{
	char osr[4096];
	const char *id;

	if (sysfs_read(ctx, "/etc/os-release", osr, sizeof(osr)) < 0)
		return NULL;
	id = strstr(osr, "\nID=");
	id = id ? id + 4 : strncmp(osr, "ID=", 3) == 0 ? osr + 3 : NULL;
	if (!id)
		return NULL;
	if (*id == '"')
		id++;
	if (!strncmp(id, "debian", 6) || !strncmp(id, "ubuntu", 6) || !strncmp(id, "linuxmint", 9) ||
	    !strncmp(id, "pop", 3))
		return "update-initramfs -u";
	if (!strncmp(id, "fedora", 6) || !strncmp(id, "rhel", 4) || !strncmp(id, "centos", 6) ||
	    !strncmp(id, "rocky", 5) || !strncmp(id, "almalinux", 9) || !strncmp(id, "opensuse", 8))
		return "dracut -f";
	if (!strncmp(id, "arch", 4) || !strncmp(id, "manjaro", 7) || !strncmp(id, "endeavouros", 11))
		return "mkinitcpio -P";
	return NULL;
}

static const char RULES_HEADER[] =
	"# Managed by iopass: generated from /etc/iopass/persist. Do not edit; use\n"
	"# 'iopass attach --persist' and 'iopass detach --persist' (or 'iopass persist').\n"
	"# Each rule sets driver_override for one device, by address and IDs, and rebinds it.\n";
static const char MODPROBE_HEADER[] =
	"# Managed by iopass: generated from /etc/iopass/persist. Do not edit.\n"
	"# vfio-pci loads before the host drivers of the devices iopass passes through.\n";

_printf_(2, 3) static void set_msg(char **msg, const char *fmt, ...)
{
	va_list ap;

	free(*msg);
	va_start(ap, fmt);
	if (vasprintf(msg, fmt, ap) < 0)
		*msg = NULL;
	va_end(ap);
}

/* Write the record and both files from p; refuse to overwrite hand edits unless forced. */
static char *record_text(const struct iopass_persist *p)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool v2 = false;

	if (!f)
		return NULL;
	/* version 1 while every device is held on vfio-pci: what older iopass reads */
	for (size_t i = 0; i < p->n; i++)
		v2 |= !streq(p->e[i].target, "vfio-pci");
	fputs(v2 ? "iopass-persist 2\n" : "iopass-persist 1\n", f);
	for (size_t i = 0; i < p->n; i++) {
		fprintf(f, "%s %s %s", p->e[i].bdf, p->e[i].ids, p->e[i].driver[0] ? p->e[i].driver : "-");
		fprintf(f, "%s%s\n", v2 ? " " : "", v2 ? p->e[i].target : "");
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The /etc journal: before the first of the three files changes, their
 * contents as they were go to /etc/iopass/journal (on the disk, like the files:
 * it outlives a power cut), with a hash of the record as it will be:
 *
 *   iopass-etc-journal 1
 *   after <hex>|-                     (- : the record goes)
 *   desired <hex>|-                   (when the desired state changes: as it will be)
 *   file <n> <length>|-               (n: 0 record, 1 rule, 2 modprobe, 3 the
 *                                      desired state, when it changes; - : absent)
 *   <length bytes>
 *
 * The record is written last: when it (and the desired state, when that
 * changes) is as the journal says it will be, the change completed and the
 * journal just goes; otherwise each file is put back.
 */
#define ETC_JOURNAL "journal"

struct etc_file {
	const char *dir_a, *dir_b, *name, *shown;
};

#define ETC_DESIRED 3
static const struct etc_file etc_files[4] = {
	{ "iopass", NULL, "persist", "/etc/iopass/persist" },
	{ "udev", "rules.d", RULES_NAME, "/etc/udev/rules.d/" RULES_NAME },
	{ "modprobe.d", NULL, MODPROBE_NAME, "/etc/modprobe.d/" MODPROBE_NAME },
	{ "iopass", NULL, "desired", IOPASS_DESIRED_FILE },
};

struct etc_journal {
	bool record_goes; /* the record's line said "-" */
	uint64_t after;
	bool has_desired, desired_goes; /* the desired state's line, and whether it said "-" */
	uint64_t desired_after;
	bool kept[4];    /* in the journal: to be put back on the way back */
	char *before[4]; /* NULL: absent */
};

static void etc_journal_free(struct etc_journal *j)
{
	for (size_t i = 0; i < ARRAY_SIZE(j->before); i++)
		free(j->before[i]);
	*j = (struct etc_journal){ 0 };
}

/* One line of p (without its newline) into buf; the text after it, or NULL. */
static const char *etc_line(const char *p, char *buf, size_t size)
{
	const char *nl = strchr(p, '\n');
	size_t len;

	if (!nl)
		return NULL;
	len = (size_t)(nl - p);
	if (len >= size)
		return NULL;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return nl + 1;
}

/* "KEY <16 hex digits>" (*ret_goes false) or "KEY -" (the file goes): 0, else -EBADMSG. */
static int hash_line_parse(const char *line, const char *key, bool *ret_goes, uint64_t *ret)
{
	size_t klen = strlen(key);
	unsigned long long h;
	char extra;

	*ret_goes = false;
	*ret = 0;
	if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
		return -EBADMSG;
	line += klen + 1;
	if (streq(line, "-")) {
		*ret_goes = true;
		return 0;
	}
	if (strlen(line) != 16 || sscanf(line, "%16llx%c", &h, &extra) != 1)
		return -EBADMSG;
	*ret = (uint64_t)h;
	return 0;
}

/* The line hash_line_parse reads: the FNV-1a of text, or "-" for NULL. */
static void hash_line_put(FILE *f, const char *key, const char *text)
{
	if (text)
		fprintf(f, "%s %016llx\n", key,
			(unsigned long long)fnv1a(FNV1A_START, text, strlen(text)));
	else
		fprintf(f, "%s -\n", key);
}

/* A file as a hash line says it will be: absent for "-", else with that hash. */
static bool hash_matches(const char *text, bool goes, uint64_t hash)
{
	return goes ? !text : text && fnv1a(FNV1A_START, text, strlen(text)) == hash;
}

static int etc_journal_parse(const char *text, struct etc_journal *j)
{
	const char *p = text;
	bool *seen = j->kept;
	char line[64], extra;

	*j = (struct etc_journal){ 0 };
	p = etc_line(p, line, sizeof(line));
	if (!p || !streq(line, "iopass-etc-journal 1"))
		return -EBADMSG;
	p = etc_line(p, line, sizeof(line));
	if (!p)
		return -EBADMSG;
	if (hash_line_parse(line, "after", &j->record_goes, &j->after) < 0)
		return -EBADMSG;
	if (!strncmp(p, "desired ", 8)) {
		p = etc_line(p, line, sizeof(line));
		if (!p || hash_line_parse(line, "desired", &j->desired_goes, &j->desired_after) < 0)
			return -EBADMSG;
		j->has_desired = true;
	}
	while (*p) {
		unsigned idx = 0, len = 0;
		char lenbuf[16] = "";

		/* "file N LEN" or "file N -", then exactly LEN bytes and a newline */
		p = etc_line(p, line, sizeof(line));
		if (!p || sscanf(line, "file %u %15s%c", &idx, lenbuf, &extra) != 2 ||
		    idx >= ARRAY_SIZE(etc_files) || seen[idx] || line[5] != (char)('0' + idx) ||
		    line[6] != ' ')
			goto bad;
		seen[idx] = true;
		if (streq(lenbuf, "-"))
			continue;
		if (parse_uint(lenbuf, ETC_FILE_MAX(idx), &len) < 0 || strnlen(p, len + 1) < (size_t)len + 1 ||
		    p[len] != '\n')
			goto bad;
		j->before[idx] = strndup(p, len);
		if (!j->before[idx]) {
			etc_journal_free(j);
			return -ENOMEM;
		}
		p += len + 1;
	}
	if (!seen[0] || !seen[1] || !seen[2]) /* the desired state is there when it changes */
		goto bad;
	return 0;
bad:
	etc_journal_free(j);
	return -EBADMSG;
}

static int etc_open(struct iopass_ctx *ctx, size_t i, bool create)
{
	return etc_dir(ctx, etc_files[i].dir_a, etc_files[i].dir_b, create);
}

/* Keep the files as they are now (the desired state too when it changes), and what the
 * record will hash to. */
static int etc_journal_write(struct iopass_ctx *ctx, int dfd_rec, const char *record_after,
			     bool with_desired, const char *desired_after)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r = 0;

	if (!f)
		return -ENOMEM;
	fputs("iopass-etc-journal 1\n", f);
	hash_line_put(f, "after", record_after);
	if (with_desired)
		hash_line_put(f, "desired", desired_after);
	for (size_t i = 0; i < (with_desired ? 4u : 3u) && r == 0; i++) {
		_cleanup_free_ char *text = NULL;
		int dfd = etc_open(ctx, i, false);

		r = dfd < 0 ? dfd : state_read_mode(dfd, etc_files[i].name, ETC_FILE_MAX(i), 022, &text);
		if (dfd >= 0)
			close(dfd);
		if (r == -ENOENT) {
			fprintf(f, "file %zu -\n", i);
			r = 0;
		} else if (r == 0) {
			fprintf(f, "file %zu %zu\n%s\n", i, strlen(text), text);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	if (r == 0)
		r = state_write(dfd_rec, ETC_JOURNAL, buf);
	free(buf);
	return r;
}

bool persist_journal_pending(struct iopass_ctx *ctx)
{
	int dfd = etc_dir(ctx, "iopass", NULL, false);
	bool pending = dfd >= 0 && faccessat(dfd, ETC_JOURNAL, F_OK, AT_SYMLINK_NOFOLLOW) == 0;

	if (dfd >= 0)
		close(dfd);
	return pending;
}

int persist_recover(struct iopass_ctx *ctx, struct iopass_txn *t)
{
	_cleanup_free_ char *text = NULL, *record = NULL;
	struct etc_journal j = { 0 };
	bool forward;
	int dfd = etc_dir(ctx, "iopass", NULL, false), r;

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0) {
		txn_error(t, "cannot use /etc/iopass: %s", strerror(-dfd));
		return dfd;
	}
	r = state_read(dfd, ETC_JOURNAL, (size_t)RECORD_MAX * ARRAY_SIZE(etc_files) + ETC_DESIRED_MAX, &text);
	if (r == -ENOENT) {
		close(dfd);
		return 0;
	}
	if (r == 0)
		r = etc_journal_parse(text, &j);
	if (r < 0) {
		txn_error(t, "the journal %s/etc/iopass/journal is %s; inspect and remove it by hand",
			  ctx->sysroot, r == -EBADMSG ? "corrupt" : strerror(-r));
		close(dfd);
		return r;
	}
	r = state_read_mode(dfd, "persist", RECORD_MAX, 022, &record);
	if (r < 0 && r != -ENOENT)
		goto out;
	forward = hash_matches(record, j.record_goes, j.after);
	/* the record may not change when a line of the desired state does: it says too */
	if (forward && j.has_desired) {
		_cleanup_free_ char *desired = NULL;

		r = state_read_mode(dfd, "desired", ETC_DESIRED_MAX, 022, &desired);
		if (r < 0 && r != -ENOENT)
			goto out;
		forward = hash_matches(desired, j.desired_goes, j.desired_after);
	}
	r = 0;
	/* the record last on the way forward, first on the way back: it never claims more than is there */
	for (size_t k = 0; k < ARRAY_SIZE(etc_files) && r == 0; k++) {
		size_t i = forward ? k : ARRAY_SIZE(etc_files) - 1 - k;
		int fd;

		if (!j.kept[i])
			continue;
		if (!forward) {
			fd = etc_open(ctx, i, true);
			if (fd < 0) {
				r = fd;
				break;
			}
			r = j.before[i] ? state_write_mode(fd, etc_files[i].name, j.before[i], 0644)
					: state_remove(fd, etc_files[i].name);
			close(fd);
		}
		if (r == 0)
			txn_recovered(t, "persist", etc_files[i].shown,
				      forward ? IOPASS_RECOVERY_ROLLED_FORWARD : IOPASS_RECOVERY_ROLLED_BACK, NULL);
	}
	if (r == 0)
		r = state_remove(dfd, ETC_JOURNAL);
out:
	if (r < 0)
		txn_error(t, "cannot finish the interrupted change of the boot configuration "
			     "(/etc/iopass/journal): %s", strerror(-r));
	etc_journal_free(&j);
	close(dfd);
	return r;
}

int session_open(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 const struct intent *in)
{
	int r = session_begin(ctx, t, s, in);

	return r < 0 ? r : persist_recover(ctx, t);
}

/* The generated files are iopass's and untouched (or absent): 0, else -EEXIST with *msg. */
static int persist_files_check(int dfd_rules, int dfd_mod, char **msg)
{
	const char *edited = NULL;

	if (dfd_rules >= 0 && managed_file_check(dfd_rules, RULES_NAME, RULES_HEADER) < 0)
		edited = "/etc/udev/rules.d/" RULES_NAME;
	else if (dfd_mod >= 0 && managed_file_check(dfd_mod, MODPROBE_NAME, MODPROBE_HEADER) < 0)
		edited = "/etc/modprobe.d/" MODPROBE_NAME;
	if (!edited)
		return 0;
	set_msg(msg, "%s was edited by hand (or is not iopass's); nothing was changed; move your "
		     "changes to a file of your own, or pass --force to overwrite it", edited);
	return -EEXIST;
}

/* desired: the desired state's new text (NULL: it stays as it is, unless desired_gone) */
static int persist_store(struct iopass_ctx *ctx, const struct iopass_persist *p,
			 const char *desired, bool desired_gone, unsigned flags, bool adding,
			 char **msg)
{
	struct stat st;
	mode_t desired_mode = 0644;
	char *record, *rbody, *mbody, *rules = NULL, *modp = NULL;
	char builtin[256];
	int dfd_rec = -1, dfd_rules = -1, dfd_mod = -1, r = -ENOMEM;

	record = record_text(p);
	rbody = rules_body(p);
	mbody = modprobe_body(ctx, p, builtin, sizeof(builtin));
	if (record && rbody && mbody) {
		rules = managed_file(RULES_HEADER, rbody);
		modp = managed_file(MODPROBE_HEADER, mbody);
	}
	if (!rules || !modp)
		goto out;

	dfd_rec = etc_dir(ctx, "iopass", NULL, true);
	dfd_rules = etc_dir(ctx, "udev", "rules.d", true);
	dfd_mod = etc_dir(ctx, "modprobe.d", NULL, true);
	if (dfd_rec < 0 || dfd_rules < 0 || dfd_mod < 0) {
		r = dfd_rec < 0 ? dfd_rec : dfd_rules < 0 ? dfd_rules : dfd_mod;
		set_msg(msg, "cannot use %s: %s", dfd_rec < 0 ? "/etc/iopass" : dfd_rules < 0 ?
			"/etc/udev/rules.d" : "/etc/modprobe.d", r == -EPERM ?
			"it is not root's, or others can write to it" : strerror(-r));
		goto out;
	}
	if (!(flags & IOPASS_BIND_FORCE)) {
		r = persist_files_check(dfd_rules, dfd_mod, msg);
		if (r < 0)
			goto out;
	}
	/* the undo journal first; then the generated files, the record last: the record never
	 * claims more than is in effect, and it is the commit */
	/* the admin's mode stays (0600 stays 0600), never wider than 0644 */
	if (fstatat(dfd_rec, "desired", &st, AT_SYMLINK_NOFOLLOW) == 0)
		desired_mode = st.st_mode & 0644;
	r = etc_journal_write(ctx, dfd_rec, p->n ? record : NULL, desired || desired_gone, desired);
	if (r == 0 && desired)
		r = state_write_mode(dfd_rec, "desired", desired, desired_mode);
	else if (r == 0 && desired_gone)
		r = state_remove(dfd_rec, "desired");
	if (r == 0)
		r = p->n ? state_write_mode(dfd_rules, RULES_NAME, rules, 0644)
			 : state_remove(dfd_rules, RULES_NAME);
	if (r == 0)
		r = p->n ? state_write_mode(dfd_mod, MODPROBE_NAME, modp, 0644)
			 : state_remove(dfd_mod, MODPROBE_NAME);
	if (r == 0)
		r = p->n ? state_write_mode(dfd_rec, "persist", record, 0644) : state_remove(dfd_rec, "persist");
	if (r == 0)
		r = state_remove(dfd_rec, ETC_JOURNAL);
	if (r < 0) {
		set_msg(msg, "cannot write the persistence files: %s%s", strerror(-r),
			persist_journal_pending(ctx) ? "; the next iopass run puts them back as they were"
						     : "");
		goto out;
	}
	if (!adding) {
		set_msg(msg, "removed from the boot configuration%s", p->n ? "" : " (no device is left in it)");
	} else {
		const char *cmd = persist_initramfs_command(ctx);

		set_msg(msg, "persisted: the udev rule takes effect at the next boot or hotplug%s%s%s; "
			     "if the host drivers are in the initramfs, regenerate it so that vfio-pci "
			     "loads first there too%s%s%s",
			*builtin ? " (built-in drivers: " : "", builtin, *builtin ? ", rebound by the rule)" : "",
			cmd ? " (" : "", cmd ? cmd : "", cmd ? ")" : "");
	}
out:
	free(record);
	free(rbody);
	free(mbody);
	free(rules);
	free(modp);
	if (dfd_rec >= 0)
		close(dfd_rec);
	if (dfd_rules >= 0)
		close(dfd_rules);
	if (dfd_mod >= 0)
		close(dfd_mod);
	return r;
}

/*
 * Serialise with attach/detach: the same lock, and the same recovery of an
 * interrupted run (reported in t) before anything is read.
 */
static int persist_lock(struct iopass_ctx *ctx, struct iopass_txn *t, unsigned flags, char **msg)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	int r, fd;

	r = session_open(ctx, t, &s, &(struct intent){ .op = JOP_NONE,
							.flags = flags & IOPASS_BIND_FORCE_RECOVERY });
	if (r < 0) {
		set_msg(msg, "%s", t->error ? t->error : strerror(-r));
		session_end(&s);
		return r;
	}
	fd = dup(s.lockfd); /* keeps the flock: same open file description */
	session_end(&s);
	return fd < 0 ? -errno : fd;
}

static struct iopass_txn *persist_txn(struct iopass_txn **ret_txn)
{
	struct iopass_txn *t = txn_new();

	if (ret_txn)
		*ret_txn = t;
	return t;
}

int iopass_persist_add(struct iopass_ctx *ctx, struct iopass_dev *const *devs,
		       const char *const *host_drivers, size_t n, const char *driver,
		       unsigned flags, char **ret_msg, struct iopass_txn **ret_txn)
{
	struct iopass_txn *t = persist_txn(ret_txn);
	struct persist_change *c = calloc(n ? n : 1, sizeof(*c));
	int lock, r = -ENOMEM;

	*ret_msg = NULL;
	if (!t || !c)
		goto out;
	for (size_t i = 0; i < n; i++)
		c[i] = (struct persist_change){ .op = PERSIST_ADD, .dev = devs[i], .bdf = devs[i]->bdf,
						.host_driver = host_drivers ? host_drivers[i] : NULL,
						.driver = driver ? driver : "vfio-pci" };
	lock = persist_lock(ctx, t, flags, ret_msg);
	if (lock < 0) {
		r = lock;
		goto out;
	}
	r = persist_set_locked(ctx, c, n, flags, false, ret_msg);
	close(lock);
out:
	free(c);
	if (!ret_txn)
		iopass_txn_free(t);
	return r;
}

int iopass_persist_check(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
			 const char *driver, unsigned flags, char **ret_msg)
{
	struct persist_change *c = calloc(n ? n : 1, sizeof(*c));
	int r;

	*ret_msg = NULL;
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		c[i] = (struct persist_change){ .op = driver ? PERSIST_ADD : PERSIST_RELEASE,
						.dev = devs[i], .bdf = devs[i]->bdf, .driver = driver };
	r = persist_set_locked(ctx, c, n, flags, true, ret_msg);
	free(c);
	return r;
}

int iopass_persist_remove(struct iopass_ctx *ctx, const char *const *bdfs, size_t n,
			  bool release, unsigned flags, char **ret_msg, struct iopass_txn **ret_txn)
{
	struct iopass_txn *t = persist_txn(ret_txn);
	struct persist_change *c = calloc(n ? n : 1, sizeof(*c));
	int lock, r = -ENOMEM;

	*ret_msg = NULL;
	if (!t || !c)
		goto out;
	for (size_t i = 0; i < n; i++)
		c[i] = (struct persist_change){ .op = release ? PERSIST_RELEASE : PERSIST_REMOVE,
						.bdf = bdfs[i] };
	lock = persist_lock(ctx, t, flags, ret_msg);
	if (lock < 0) {
		r = lock;
		goto out;
	}
	r = persist_set_locked(ctx, c, n, flags, false, ret_msg);
	close(lock);
out:
	free(c);
	if (!ret_txn)
		iopass_txn_free(t);
	return r;
}

/* ---- the desired state, edited with the boot configuration ---------------------------- */

#define DESIRED_HEADER                                                                          \
	"# The desired state of this host's PCI passthrough: iopass(8), DESIRED STATE FILE.\n"  \
	"# Edited by hand, or by 'iopass attach --persist', 'detach --persist', 'persist\n"       \
	"# remove' and 'apply'; 'iopass apply' makes the host match it.\n"

/* Its text (NULL when there is none), root's and nobody else's to write. */
static int desired_read(struct iopass_ctx *ctx, char **ret_text, char **msg)
{
	_cleanup_close_ int dfd = etc_dir(ctx, "iopass", NULL, false);
	int r;

	*ret_text = NULL;
	if (dfd == -ENOENT)
		return 0;
	r = dfd < 0 ? dfd : state_read_mode(dfd, "desired", ETC_DESIRED_MAX, 022, ret_text);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		set_msg(msg, "cannot read " IOPASS_DESIRED_FILE ": %s; nothing was changed",
			r == -EPERM ? "it is a symlink, not root's, or others can write to it"
			: r == -EFBIG ? "it is larger than 16 MiB" : strerror(-r));
	return r;
}

static int desired_parse_text(const char *text, struct iopass_desired **ret_d, char **msg)
{
	_cleanup_free_ char *err = NULL;
	int r = iopass_desired_parse(text, strlen(text), ret_d, &err);

	if (r < 0)
		set_msg(msg, IOPASS_DESIRED_FILE " %s; correct it (or move it away), then run again; "
			"nothing was changed", err ? err : strerror(-r));
	return r;
}

int iopass_persist_drift(struct iopass_ctx *ctx, const struct iopass_persist *p,
			 const struct iopass_devlist *list, bool *in_desired,
			 struct iopass_persist_pending **ret_pending, size_t *ret_n, char **ret_msg)
{
	_cleanup_free_ char *text = NULL;
	struct iopass_desired *d = NULL;
	struct iopass_persist_pending *pend = NULL;
	size_t n = 0;
	int r;

	*ret_pending = NULL;
	*ret_n = 0;
	*ret_msg = NULL;
	for (size_t i = 0; i < p->n; i++)
		in_desired[i] = false;
	r = desired_read(ctx, &text, ret_msg);
	if (r < 0)
		return r;
	if (!text)
		return 1; /* a record from before the desired state: nothing to compare with */
	r = desired_parse_text(text, &d, ret_msg);
	if (r < 0)
		return r;
	for (size_t k = 0; k < iopass_desired_count(d); k++) {
		const struct iopass_desired_entry *e = iopass_desired_get(d, k);
		struct iopass_dev *dev = NULL;
		char bdf[IOPASS_BDF_MAX] = "", ids[12];
		bool held = false;

		if (!e->boot)
			continue;
		if (iopass_desired_resolve(d, k, list, &dev, NULL) == 0 && dev)
			snprintf(bdf, sizeof(bdf), "%s", dev->bdf);
		else if (e->by_address)
			iopass_addr_format(&e->addr, bdf); /* absent: the rule waits for it by address */
		snprintf(ids, sizeof(ids), "%04x:%04x", e->vendor, e->device);
		for (size_t i = 0; i < p->n && *bdf; i++)
			if (streq(p->e[i].bdf, bdf) && streq(p->e[i].ids, ids) &&
			    streq(p->e[i].target, e->driver)) {
				in_desired[i] = true;
				held = true;
			}
		if (held)
			continue;
		struct iopass_persist_pending *np = reallocarray(pend, n + 1, sizeof(*np));

		if (!np) {
			r = -ENOMEM;
			break;
		}
		pend = np;
		pend[n] = (struct iopass_persist_pending){ .line = e->line };
		snprintf(pend[n].bdf, sizeof(pend[n].bdf), "%s", bdf);
		snprintf(pend[n].driver, sizeof(pend[n].driver), "%s", e->driver);
		n++;
	}
	iopass_desired_free(d);
	if (r < 0) {
		free(pend);
		return r;
	}
	*ret_pending = pend;
	*ret_n = n;
	return 0;
}

/* A record written before the desired state existed: its devices, as lines with 'boot'. */
static char *desired_seed(const struct iopass_persist *p)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs(DESIRED_HEADER, f);
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%s %s %s boot\n", p->e[i].bdf, p->e[i].ids, p->e[i].target);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* What change c makes of the line e naming its device (NULL: none does) into want;
 * false: the line goes (or stays absent). */
static bool desired_want(const struct persist_change *c, const struct iopass_desired_entry *e,
			 struct iopass_desired_entry *want)
{
	if (c->line) {
		*want = *c->line; /* apply: the line it applied, as written */
		return true;
	}
	if (c->op == PERSIST_ADD) {
		const struct iopass_dev *d = c->dev;

		if (e && (!e->by_address || (e->vendor == d->vendor && e->device == d->device))) {
			*want = *e;
		} else {
			/* a new line, or one for the card that sat at the address before: the
			 * line is for this card now, pinned to it (another one of the same chip
			 * is not this one); the admin's options stay */
			if (e)
				*want = *e;
			else
				*want = (struct iopass_desired_entry){ .by_address = true, .addr = d->addr,
								      .vfs = -1 };
			want->vendor = d->vendor;
			want->device = d->device;
			want->has_subsystem = (d->flags & DEV_HAVE_SUBVENDOR) && (d->flags & DEV_HAVE_SUBDEVICE);
			want->subsystem_vendor = want->has_subsystem ? d->subvendor : 0;
			want->subsystem_device = want->has_subsystem ? d->subdevice : 0;
		}
		snprintf(want->driver, sizeof(want->driver), "%s", c->driver);
		want->boot = true;
		return true;
	}
	if (!e)
		return false;
	*want = *e;
	want->boot = false;
	if (c->op == PERSIST_REMOVE || streq(want->driver, "host"))
		return true;
	/* detach --persist: the device is the host's; a line that says no more than that goes */
	snprintf(want->driver, sizeof(want->driver), "host");
	return want->vfs >= 0 || want->vf_driver[0] || want->optional;
}

/*
 * The desired state's text after changes c (*ret_text NULL: it stays as it is, ""
 * when it goes): each device's line edited in place, a new one appended.
 */
static int desired_edit(struct iopass_ctx *ctx, const struct iopass_persist *p,
			const struct persist_change *c, size_t n, char **ret_text, bool *ret_gone,
			char **msg)
{
	size_t nedits = 0, linelen = 256; /* a line iopass writes: its fields, no comment */
	struct desired_edit *edits = calloc(n ? n : 1, sizeof(*edits));
	char *text = NULL, *out = NULL, *buf = calloc(n ? n : 1, linelen);
	struct iopass_desired *d = NULL, *check = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_dev **named = NULL;
	bool by_ids = false;
	int r = edits && buf ? 0 : -ENOMEM;

	*ret_text = NULL;
	*ret_gone = false;
	if (r == 0)
		r = desired_read(ctx, &text, msg);
	if (r < 0)
		goto out;
	if (!text && p->n) {
		text = desired_seed(p);
	} else if (!text) {
		text = strdup("");
	}
	r = text ? desired_parse_text(text, &d, msg) : -ENOMEM;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < iopass_desired_count(d); i++)
		by_ids |= !iopass_desired_get(d, i)->by_address;
	/* a '*' line names a device through the IDs of all of them (nth=) */
	r = by_ids ? iopass_scan(ctx, &list) : 0;
	if (r < 0) {
		set_msg(msg, "cannot read the devices " IOPASS_DESIRED_FILE " selects by IDs: %s",
			strerror(-r));
		goto out;
	}
	r = desired_resolve_ids(d, list, &named);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct iopass_desired_entry want;
		const struct iopass_desired_entry *e;
		struct iopass_addr a;
		ssize_t k;
		bool keep;

		if (iopass_addr_parse(c[i].bdf, &a) < 0) {
			r = -EINVAL;
			goto out;
		}
		k = desired_find(d, named, &a);
		if (k < 0 && c[i].op != PERSIST_ADD && list && !iopass_devlist_find(list, &a)) {
			/* an absent card selected by IDs: the '*' line its record entry came from */
			for (size_t j = 0; j < p->n; j++) {
				uint16_t v, dv;

				if (streq(p->e[j].bdf, c[i].bdf) && iopass_id_parse(p->e[j].ids, &v, &dv) == 0)
					k = desired_find_absent(d, named, v, dv);
			}
		}
		e = k >= 0 ? iopass_desired_get(d, (size_t)k) : NULL;
		keep = desired_want(&c[i], e, &want);
		/* the admin's words about the card outlive its 'boot': the line stays, as host */
		if (!keep && e && desired_line_commented(text, e->line))
			keep = true;
		if (keep && e && desired_entry_equal(&want, e))
			continue;
		if (!keep && !e)
			continue;
		edits[nedits] = (struct desired_edit){ .line = e ? e->line : 0 };
		if (keep) {
			r = desired_format(&want, buf + i * linelen, linelen);
			if (r < 0)
				goto out;
			edits[nedits].text = buf + i * linelen;
		}
		nedits++;
	}
	/* no line changes: the file stays as it is (or absent: a record from before it is
	 * seeded with the first change, not by a run that changes nothing) */
	if (!nedits)
		goto out;
	out = desired_rewrite(text, edits, nedits);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	/* never a file the next run cannot read: the edits made, it parses as a whole */
	r = desired_parse_text(out, &check, msg);
	if (r < 0)
		goto out;
	if (!*text && iopass_desired_count(check)) {
		char *with_header = NULL;

		if (asprintf(&with_header, DESIRED_HEADER "%s", out) < 0) {
			r = -ENOMEM;
			goto out;
		}
		free(out);
		out = with_header;
	}
	/* nothing but iopass's own header left: the file goes, as the record does (an
	 * admin's file stays, even empty) */
	if (streq(out, DESIRED_HEADER)) {
		*ret_gone = true;
	} else {
		*ret_text = out;
		out = NULL;
	}
out:
	iopass_desired_free(check);
	iopass_desired_free(d);
	free(named);
	iopass_devlist_free(list);
	free(out);
	free(text);
	free(buf);
	free(edits);
	return r;
}

/*
 * desired_edit(), but a forced removal goes ahead without the desired state when
 * that cannot be read or edited: un-persisting a device (the emergency: the
 * boot disk held on vfio-pci) is not held up by another line's typo. *skipped
 * gets why it was left as it is.
 */
static int desired_edit_removal(struct iopass_ctx *ctx, const struct iopass_persist *p,
				const struct persist_change *c, size_t n, unsigned flags,
				char **ret_text, bool *ret_gone, char **skipped, char **msg)
{
	int r = desired_edit(ctx, p, c, n, ret_text, ret_gone, msg);
	bool removal = true;

	*skipped = NULL;
	for (size_t i = 0; i < n; i++)
		removal &= c[i].op != PERSIST_ADD;
	if (r >= 0 || r == -ENOMEM || !removal || !(flags & IOPASS_BIND_FORCE))
		return r;
	*skipped = *msg;
	*msg = NULL;
	return 0;
}

/*
 * Every change of the boot configuration, under the caller's lock: the desired
 * state's lines first (the one source of truth), the record and the generated
 * files from the same changes, all in one /etc journal. With check_only nothing
 * is written: 0 when the store would go ahead, else -errno with *msg (a generated
 * file edited by hand, unless IOPASS_BIND_FORCE; a desired state that does not
 * parse). *msg on success: the note.
 */
int persist_set_locked(struct iopass_ctx *ctx, const struct persist_change *c, size_t n,
		       unsigned flags, bool check_only, char **msg)
{
	struct iopass_persist *p = NULL;
	_cleanup_free_ char *desired = NULL, *skipped = NULL;
	bool adding = false, dropped = false, desired_gone = false;
	int r;

	*msg = NULL;
	r = iopass_persist_load(ctx, &p);
	if (r < 0) {
		set_msg(msg, "the record /etc/iopass/persist is %s; inspect and remove it by hand",
			r == -EBADMSG ? "corrupt" : strerror(-r));
		return r;
	}
	if (check_only) {
		/* what persist_store will open: absent is fine (it makes them), not ours is not */
		_cleanup_close_ int dfd_rec = etc_dir(ctx, "iopass", NULL, false);
		_cleanup_close_ int dfd_rules = etc_dir(ctx, "udev", "rules.d", false);
		_cleanup_close_ int dfd_mod = etc_dir(ctx, "modprobe.d", NULL, false);
		const char *bad = dfd_rec < 0 && dfd_rec != -ENOENT ? "/etc/iopass"
				: dfd_rules < 0 && dfd_rules != -ENOENT ? "/etc/udev/rules.d"
				: dfd_mod < 0 && dfd_mod != -ENOENT ? "/etc/modprobe.d" : NULL;
		_cleanup_free_ char *text = NULL;
		bool gone;

		if (bad) {
			r = dfd_rec < 0 && dfd_rec != -ENOENT ? dfd_rec
			    : dfd_rules < 0 && dfd_rules != -ENOENT ? dfd_rules : dfd_mod;
			set_msg(msg, "cannot use %s: %s; nothing was changed", bad, r == -EPERM ?
				"it is not root's, or others can write to it" : strerror(-r));
		} else {
			/* the desired state is edited with the files: it must read and parse, and
			 * so must the edit of it (a line the change would make invalid) */
			r = desired_edit_removal(ctx, p, c, n, flags, &text, &gone, &skipped, msg);
			if (r == 0 && !(flags & IOPASS_BIND_FORCE))
				r = persist_files_check(dfd_rules, dfd_mod, msg);
		}
		iopass_persist_free(p);
		return r;
	}
	r = desired_edit_removal(ctx, p, c, n, flags, &desired, &desired_gone, &skipped, msg);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct iopass_dev *d = c[i].dev;
		char ids[12];

		if (c[i].op != PERSIST_ADD) {
			dropped |= persist_drop(p, c[i].bdf);
			continue;
		}
		if (!(d->flags & DEV_HAVE_VENDOR) || !(d->flags & DEV_HAVE_DEVICE)) {
			set_msg(msg, "%s: its IDs cannot be read, and a record needs them", d->bdf);
			r = -ENODATA;
			break;
		}
		adding = true;
		snprintf(ids, sizeof(ids), "%04x:%04x", d->vendor, d->device);
		r = persist_add_entry(p, d->bdf, ids, c[i].host_driver,
				      c[i].line ? c[i].line->driver : c[i].driver);
	}
	/* nothing to take out (nor a line to edit): nothing is written, hand-edited files or not */
	if (r == 0 && !adding && !dropped && !desired && !desired_gone)
		set_msg(msg, "not persisted: nothing to remove");
	else if (r == 0)
		r = persist_store(ctx, p, desired, desired_gone, flags, adding, msg);
	if (r == 0 && skipped) {
		_cleanup_free_ char *done = *msg;

		*msg = NULL;
		set_msg(msg, "%s; forced past the desired state, left as it is: %s", done ? done : "done",
			skipped);
	}
	iopass_persist_free(p);
	return r;
}
