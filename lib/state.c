// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state of writing runs, in one place: the lock, the record of what
 * iopass attached (run/iopass/state), the undo journal (run/iopass/journal)
 * and recovery from a run that died half way.
 *
 * Every writing run goes: lock, record, a scan made under the lock,
 * recovery, and only then its own guards and plan, on that scan. The journal
 * is written and fsynced before the first write it covers; it names the
 * operation and, for each device, what it had (driver, override) and who it
 * is (vendor, device and subsystem IDs).
 *
 * Recovery is planned like any other operation. An operation whose devices
 * all reached their target (the record says so) rolls forward; any other
 * rolls back, through the guards the opposite operation would pass: putting
 * devices back on their host drivers needs no VM holding their groups,
 * putting them back on vfio-pci needs the host not to use them. A device
 * that the run at hand is about to move the same way is left to it. What
 * blocks a rollback refuses the run (nothing is guessed), and whatever
 * recovery did is reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "iopass-private.h"

#define JOURNAL_FILE "journal"
#define LOCK_FILE "lock"
#define STATE_MAX (4u << 20)

/* ---- records: the state file ---------------------------------------------- */

void records_free(struct records *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = 0;
}

struct record *records_find(struct records *rs, const char *bdf)
{
	for (size_t i = 0; i < rs->n; i++)
		if (streq(rs->r[i].bdf, bdf))
			return &rs->r[i];
	return NULL;
}

struct record *records_add(struct records *rs, const char *bdf, const char *driver,
			   const char *override)
{
	struct record *nr = records_find(rs, bdf);

	if (!nr) {
		nr = reallocarray(rs->r, rs->n + 1, sizeof(*nr));
		if (!nr)
			return NULL;
		rs->r = nr;
		nr = &rs->r[rs->n++];
	}
	*nr = (struct record){ 0 };
	snprintf(nr->bdf, sizeof(nr->bdf), "%s", bdf);
	snprintf(nr->driver, sizeof(nr->driver), "%s", driver ? driver : "");
	snprintf(nr->override, sizeof(nr->override), "%s", override ? override : "");
	return nr;
}

void records_remove(struct records *rs, const char *bdf)
{
	struct record *r = records_find(rs, bdf);

	if (!r)
		return;
	*r = rs->r[--rs->n];
}

/* One line, without its newline, into buf; NULL at the end; -1 in *bad when it does not fit. */
static const char *next_line(const char *line, char *buf, size_t size, bool *bad)
{
	const char *nl;
	size_t len;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	len = nl ? (size_t)(nl - line) : strlen(line);
	if (!nl || len >= size) {
		*bad = true; /* every line ends with a newline */
		return NULL;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	return nl + 1;
}

/*
 * A reset_method value kept to give back, as one field: "reset=flr,bus", or
 * "reset=" when the list was empty. Names are the kernel's: lower case,
 * digits and '_' (a newer kernel may know methods this release does not).
 */
static void reset_field(const struct record *e, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, "reset=%s", e->reset);

	for (size_t i = 6; i < len && i < size; i++)
		if (buf[i] == ' ')
			buf[i] = ',';
}

static int reset_field_parse(const char *f, struct record *e)
{
	const char *v;
	size_t n;

	if (strncmp(f, "reset=", 6) != 0)
		return -EBADMSG;
	v = f + 6;
	n = strlen(v);
	if (n >= sizeof(e->reset) || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_,") != n ||
	    *v == ',' || (n && v[n - 1] == ',') || strstr(v, ",,"))
		return -EBADMSG;
	e->has_reset = true;
	snprintf(e->reset, sizeof(e->reset), "%s", v);
	for (char *c = e->reset; *c; c++)
		if (*c == ',')
			*c = ' ';
	return 0;
}

static bool records_have_reset(const struct records *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].has_reset)
			return true;
	return false;
}

/* "<bdf> <driver|-> <override|->" into rs */
static int record_line(char *const f[3], struct records *rs, struct record **ret)
{
	struct iopass_addr a;
	char bdf[IOPASS_BDF_MAX];

	if (iopass_addr_parse(f[0], &a) < 0 || (!streq(f[1], "-") && !iopass_driver_name_valid(f[1])) ||
	    (!streq(f[2], "-") && !iopass_driver_name_valid(f[2])))
		return -EBADMSG;
	iopass_addr_format(&a, bdf);
	if (records_find(rs, bdf))
		return -EBADMSG; /* a device twice: iopass never writes that, so it was not iopass */
	*ret = records_add(rs, bdf, streq(f[1], "-") ? NULL : f[1], streq(f[2], "-") ? NULL : f[2]);
	return *ret ? 0 : -ENOMEM;
}

/*
 * The record, strictly parsed:
 *   iopass-state 1
 *   <bdf> <driver|-> <override|->
 * or, when attach changed a reset_method, version 2, whose lines may end in
 * the value to give back: <bdf> <driver|-> <override|-> [reset=<m,m|>].
 * Anything else, and the file is reported corrupt and not trusted.
 */
int records_parse(const char *text, struct records *rs)
{
	char buf[512];
	const char *line = text;
	bool bad = false, v2 = false;
	int lineno = 0, r = 0;

	rs->r = NULL;
	rs->n = 0;
	while ((line = next_line(line, buf, sizeof(buf), &bad))) {
		char f1[64], f2[80], f3[80], f4[160], extra[2];
		struct record *rec;
		int n;

		if (lineno++ == 0) {
			v2 = streq(buf, "iopass-state 2");
			if (!v2 && !streq(buf, "iopass-state 1"))
				goto corrupt;
			continue;
		}
		n = sscanf(buf, "%63s %79s %79s %159s %1s", f1, f2, f3, f4, extra);
		if (n != 3 && !(v2 && n == 4))
			goto corrupt;
		r = record_line((char *const[]){ f1, f2, f3 }, rs, &rec);
		if (r == 0 && n == 4)
			r = reset_field_parse(f4, rec);
		if (r < 0)
			goto fail;
	}
	if (bad || lineno == 0)
		goto corrupt;
	return 0;
corrupt:
	r = -EBADMSG;
fail:
	records_free(rs);
	return r;
}

static int records_load(int dirfd, struct records *rs)
{
	_cleanup_free_ char *text = NULL;
	int r = state_read(dirfd, STATE_FILE, STATE_MAX, &text);

	rs->r = NULL;
	rs->n = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	return records_parse(text, rs);
}

int records_store(int dirfd, const struct records *rs)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 32 + rs->n * (IOPASS_BDF_MAX + 2 * 72 + 150), len;
	bool v2 = records_have_reset(rs);

	if (rs->n == 0)
		return state_remove(dirfd, STATE_FILE);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	len = (size_t)snprintf(buf, size, "iopass-state %d\n", v2 ? 2 : 1);
	for (size_t i = 0; i < rs->n; i++) {
		char reset[150] = "";

		if (rs->r[i].has_reset) {
			reset[0] = ' ';
			reset_field(&rs->r[i], reset + 1, sizeof(reset) - 1);
		}
		len += (size_t)snprintf(buf + len, size - len, "%s %s %s%s\n", rs->r[i].bdf,
					*rs->r[i].driver ? rs->r[i].driver : "-",
					*rs->r[i].override ? rs->r[i].override : "-", reset);
	}
	return state_write(dirfd, STATE_FILE, buf);
}

/* ---- the journal ------------------------------------------------------------ */

static const char *const jop_names[] = {
	[JOP_NONE] = "none",       [JOP_ATTACH] = "attach",       [JOP_DETACH] = "detach",
	[JOP_VF_CREATE] = "vf-create", [JOP_VF_REMOVE] = "vf-remove",
	[JOP_UNCLAIM] = "unclaim",
};

const char *jop_name(enum jop op)
{
	return (size_t)op < ARRAY_SIZE(jop_names) ? jop_names[op] : "none";
}

static enum jop jop_from_name(const char *s)
{
	for (size_t i = JOP_ATTACH; i < ARRAY_SIZE(jop_names); i++)
		if (streq(s, jop_names[i]))
			return (enum jop)i;
	return JOP_NONE;
}

void journal_free(struct journal *j)
{
	records_free(&j->devs);
	*j = (struct journal){ 0 };
}

/* Who the device at bdf is now: "vvvv:dddd:ssss:ssss", -ENOENT when nothing is there. */
int dev_identity(struct iopass_ctx *ctx, const char *bdf, char *buf, size_t size)
{
	static const char *const attrs[] = { "vendor", "device", "subsystem_vendor", "subsystem_device" };
	uint32_t v[4] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(attrs); i++) {
		char path[256], val[32];
		ssize_t n;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attrs[i]);
		n = sysfs_read(ctx, path, val, sizeof(val));
		if (n == -ENOENT && i >= 2)
			continue; /* no subsystem IDs (old kernels, some bridges): 0 */
		if (n < 0)
			return (int)n;
		if (parse_hex(val, 4, true, &v[i]) < 0)
			return -EINVAL;
	}
	snprintf(buf, size, "%04x:%04x:%04x:%04x", v[0], v[1], v[2], v[3]);
	return 0;
}

/* A device entry, with its identity read now ("" when it cannot be read). */
struct record *journal_add(struct iopass_ctx *ctx, struct journal *j, const char *bdf,
			   const char *driver, const char *override)
{
	struct record *e = records_add(&j->devs, bdf, driver, override);

	if (e && dev_identity(ctx, bdf, e->ids, sizeof(e->ids)) < 0)
		e->ids[0] = '\0';
	return e;
}

static bool ids_valid(const char *s)
{
	if (strlen(s) != 19)
		return false;
	for (size_t i = 0; i < 19; i++)
		if ((i % 5 == 4) ? s[i] != ':' : !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/*
 * Text, strictly parsed:
 *   iopass-journal 2
 *   op <attach|detach|vf-create|vf-remove> <driver|->
 *   [pf <bdf> <autoprobe> <numvfs>]                   (vf-create, vf-remove)
 *   dev <bdf> <driver|-> <override|-> <ids|->
 * Version 3 is written when a device line carries a reset_method to give back,
 * as a last field: reset=<m,m|>. Version 1 (no identities, "op attach|detach
 * <driver>", bare device lines) is still read: a run of the previous release
 * may have left one.
 */
int journal_parse(const char *text, struct journal *j)
{
	char buf[512];
	const char *line = text;
	bool bad = false, v1 = false, v3 = false;
	int lineno = 0, r = -EBADMSG;

	*j = (struct journal){ 0 };
	while ((line = next_line(line, buf, sizeof(buf), &bad))) {
		char f[7][160];
		int n;

		lineno++;
		if (lineno == 1) {
			if (streq(buf, "iopass-journal 1"))
				v1 = true;
			else if (streq(buf, "iopass-journal 3"))
				v3 = true;
			else if (!streq(buf, "iopass-journal 2"))
				goto fail;
			continue;
		}
		n = sscanf(buf, "%159s %159s %159s %159s %159s %159s %1s", f[0], f[1], f[2], f[3], f[4],
			   f[5], f[6]);
		if (lineno == 2) {
			if (n != 3 || !streq(f[0], "op"))
				goto fail;
			j->op = jop_from_name(f[1]);
			if (j->op == JOP_NONE || (v1 && j->op != JOP_ATTACH && j->op != JOP_DETACH))
				goto fail;
			if (!streq(f[2], "-") && !iopass_driver_name_valid(f[2]))
				goto fail;
			snprintf(j->driver, sizeof(j->driver), "%.71s", streq(f[2], "-") ? "" : f[2]);
			continue;
		}
		if (!v1 && n == 4 && streq(f[0], "pf") && !*j->pf &&
		    (j->op == JOP_VF_CREATE || j->op == JOP_VF_REMOVE)) {
			struct iopass_addr a;
			unsigned ap, nv;

			if (iopass_addr_parse(f[1], &a) < 0 || parse_uint(f[2], 1, &ap) < 0 ||
			    parse_uint(f[3], 65535, &nv) < 0)
				goto fail;
			iopass_addr_format(&a, j->pf);
			j->pf_autoprobe = (int)ap;
			j->pf_numvfs = (int)nv;
			continue;
		}
		if (v1 && n == 3) {
			struct record *e;

			r = record_line((char *const[]){ f[0], f[1], f[2] }, &j->devs, &e);
		} else if (!v1 && (n == 5 || (v3 && n == 6)) && streq(f[0], "dev")) {
			struct record *e;

			r = record_line((char *const[]){ f[1], f[2], f[3] }, &j->devs, &e);
			if (r == 0 && !streq(f[4], "-")) {
				if (!ids_valid(f[4]))
					r = -EBADMSG;
				else
					snprintf(e->ids, sizeof(e->ids), "%.19s", f[4]);
			}
			if (r == 0 && n == 6)
				r = reset_field_parse(f[5], e);
		} else {
			r = -EBADMSG;
		}
		if (r < 0)
			goto fail;
		r = -EBADMSG;
	}
	if (bad || lineno < 2 || ((j->op == JOP_VF_CREATE || j->op == JOP_VF_REMOVE) && !*j->pf))
		goto fail;
	return 0;
fail:
	journal_free(j);
	return r;
}

int journal_store(int dirfd, const struct journal *j)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int r;

	if (!f)
		return -ENOMEM;
	fprintf(f, "iopass-journal %d\nop %s %s\n", records_have_reset(&j->devs) ? 3 : 2,
		jop_name(j->op), *j->driver ? j->driver : "-");
	if (*j->pf)
		fprintf(f, "pf %s %d %d\n", j->pf, j->pf_autoprobe, j->pf_numvfs);
	for (size_t i = 0; i < j->devs.n; i++) {
		const struct record *e = &j->devs.r[i];
		char reset[150] = "";

		if (e->has_reset) {
			reset[0] = ' ';
			reset_field(e, reset + 1, sizeof(reset) - 1);
		}
		fprintf(f, "dev %s %s %s %s%s\n", e->bdf, *e->driver ? e->driver : "-",
			*e->override ? e->override : "-", *e->ids ? e->ids : "-", reset);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = state_write(dirfd, JOURNAL_FILE, buf);
	free(buf);
	return r;
}

int journal_remove(int dirfd)
{
	return state_remove(dirfd, JOURNAL_FILE);
}

static int journal_load(int dirfd, struct journal *j)
{
	_cleanup_free_ char *text = NULL;
	int r = state_read(dirfd, JOURNAL_FILE, STATE_MAX, &text);

	*j = (struct journal){ 0 };
	if (r < 0)
		return r;
	return journal_parse(text, j);
}

bool journal_pending(struct iopass_ctx *ctx)
{
	int dfd = sysfs_open_state_dir(ctx, false);
	bool pending = dfd >= 0 && faccessat(dfd, JOURNAL_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;

	if (dfd >= 0)
		close(dfd);
	return pending;
}

/* ---- the lock ------------------------------------------------------------------ */

static int lock_take(struct iopass_ctx *ctx, int dirfd)
{
	int fd = openat(dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct timespec start, now;
	bool told = false;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		long waited;

		if (errno != EWOULDBLOCK && errno != EINTR) {
			int r = -errno;

			close(fd);
			return r;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= ctx->lock_timeout_ms) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (!told) {
			iop_warn(ctx, "another iopass is changing drivers; waiting up to %d s",
				 (ctx->lock_timeout_ms + 999) / 1000);
			told = true;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 20L * 1000 * 1000 }, NULL);
	}
	return fd;
}

/* ---- recovery ----------------------------------------------------------------- */

enum presence { HERE, GONE, OTHER_CARD };

static enum presence entry_presence(struct iopass_ctx *ctx, const struct record *e)
{
	char ids[24];
	int r = dev_identity(ctx, e->bdf, ids, sizeof(ids));

	if (r == -ENOENT || r == -ENODEV)
		return GONE;
	if (*e->ids && (r < 0 || !streq(ids, e->ids)))
		return OTHER_CARD;
	return HERE;
}

/* Did the interrupted run get as far as its record? */
static bool op_completed(struct iopass_ctx *ctx, const struct session *s, const struct journal *j,
			 const enum presence *where)
{
	size_t here = 0;

	for (size_t i = 0; i < j->devs.n; i++) {
		const struct record *e = &j->devs.r[i];
		bool recorded = records_find((struct records *)&s->state, e->bdf) != NULL;
		char cur[128] = "", ovr[128] = "";

		if (where[i] != HERE)
			continue;
		here++;
		if (current_driver(ctx, e->bdf, cur, sizeof(cur)) < 0 ||
		    current_override(ctx, e->bdf, ovr, sizeof(ovr)) < 0)
			return false;
		switch (j->op) {
		case JOP_ATTACH:
			if (!recorded || !streq(cur, j->driver))
				return false;
			break;
		case JOP_VF_CREATE:
			if (!recorded || !streq(cur, "vfio-pci"))
				return false;
			break;
		case JOP_DETACH:
			if (recorded || driver_is_vfio(ctx, e->bdf, cur) || driver_name_is_vfio(ovr))
				return false;
			break;
		default:
			break;
		}
	}
	/* a vf-create that never got to its VFs made none of them its own */
	return j->op == JOP_VF_REMOVE || j->op == JOP_UNCLAIM ||
	       (j->op != JOP_VF_CREATE ? true : here > 0);
}

/* The run at hand moves this device the same way: leave it to that run. */
static bool left_to_intent(const struct journal *j, const struct intent *in, const char *bdf)
{
	if (!in || in->op != j->op || (j->op != JOP_ATTACH && j->op != JOP_DETACH))
		return false;
	if (j->op == JOP_ATTACH && !streq(in->driver ? in->driver : "vfio-pci", j->driver))
		return false;
	for (size_t i = 0; i < in->n; i++)
		if (streq(in->devs[i]->bdf, bdf))
			return true;
	return false;
}

/*
 * The guards of a rollback: what the opposite operation would have to pass.
 * 0, or -ECANCELED with the findings in t->guards.
 */
static int recovery_guards(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
			   const struct journal *j, const bool *act, unsigned flags)
{
	struct iopass_dev **devs = calloc(j->devs.n ? j->devs.n : 1, sizeof(*devs));
	struct iopass_addr *seeds = calloc(j->devs.n + 1, sizeof(*seeds));
	size_t n = 0, nseeds = 0;
	int r;

	if (!devs || !seeds) {
		free(devs);
		free(seeds);
		return -ENOMEM;
	}
	/* the journal's devices and its PF, with what their guards read */
	for (size_t i = 0; i < j->devs.n; i++)
		if (iopass_addr_parse(j->devs.r[i].bdf, &seeds[nseeds]) == 0)
			nseeds++;
	if (j->pf[0] && iopass_addr_parse(j->pf, &seeds[nseeds]) == 0)
		nseeds++;
	r = session_scan(ctx, t, s, seeds, nseeds);
	free(seeds);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < j->devs.n; i++) {
		struct iopass_addr a;
		struct iopass_dev *d;

		if (!act[i] || iopass_addr_parse(j->devs.r[i].bdf, &a) < 0)
			continue;
		d = iopass_devlist_find(s->list, &a);
		if (!d)
			continue;
		/* back on vfio: only what is not there already moves */
		if (j->op == JOP_DETACH && iopass_dev_is_vfio(d))
			continue;
		devs[n++] = d;
	}
	if (j->op == JOP_VF_CREATE) {
		/* the rollback removes every VF of the PF, journaled or not (killed before that) */
		struct iopass_addr pa;
		struct iopass_dev *pf, *const *vfs;
		size_t nvf;

		pf = iopass_addr_parse(j->pf, &pa) == 0 ? iopass_devlist_find(s->list, &pa) : NULL;
		if (pf) {
			nvf = devlist_vfs(s->list, pf, &vfs);
			r = guard_group_open(ctx, vfs, nvf, flags, t, "rolling back the interrupted vf create: ");
		}
		goto out;
	}
	if (n == 0)
		goto out;
	if (j->op == JOP_DETACH)
		r = guard(ctx, s->list, devs, n, flags, t, "rolling back the interrupted detach: ");
	else
		r = guard_group_open(ctx, devs, n, flags, t, "rolling back the interrupted attach: ");
out:
	free(devs);
	return r;
}

/*
 * A device that no iopass run put on vfio-pci, claimed by a udev rule that
 * is stale (udevd reloads rules lazily): clear the rule's override and give
 * the device back to the host unless it is recorded or a process holds its
 * group. The kernel probes after the add uevent (device_add()), so udev can
 * set the override before the probe and vfio-pci takes the device. The same
 * steps finish an interrupted unclaim: each is written only if still needed.
 */
static int unclaim_finish(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
			  const char *bdf)
{
	char path[256], ovr[72] = "", drv[72] = "", grp[16], users[256];
	_cleanup_close_ int dfd = -1;
	unsigned group;
	int r = current_override(ctx, bdf, ovr, sizeof(ovr));

	/* vfio-pci or the variant driver a rule names (mlx5_vfio_pci): the rule's override */
	if (r == 0 && driver_name_is_vfio(ovr)) {
		dev_path(path, sizeof(path), bdf, "driver_override");
		r = do_write(ctx, t, path, "\n", false);
	}
	if (r == 0)
		r = current_driver(ctx, bdf, drv, sizeof(drv));
	if (r < 0)
		return r;
	if (driver_name_is_vfio(drv)) {
		if (records_find(&s->state, bdf))
			return 0;
		dfd = sysfs_open_dir(ctx, "/sys/bus/pci/devices");
		snprintf(path, sizeof(path), "%s/iommu_group", bdf);
		if (dfd >= 0 && sysfs_link_name_at(dfd, path, grp, sizeof(grp)) == 0 &&
		    parse_uint(grp, INT32_MAX, &group) == 0 &&
		    vfio_group_users(ctx, (int)group, users, sizeof(users)))
			return 0;
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", drv);
		r = do_write(ctx, t, path, bdf, false);
		if (r < 0)
			return r;
		drv[0] = '\0';
	}
	return *drv ? 0 : do_write(ctx, t, "/sys/bus/pci/drivers_probe", bdf, false);
}

/*
 * A detach judged complete (off vfio, no override of it, no record) may have been
 * killed between the unbind and the probe: without a driver, the probe is made
 * now. A device that no driver claims stays so, as the probe leaves it.
 */
static int detach_finish(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf)
{
	char drv[72] = "";
	int r = current_driver(ctx, bdf, drv, sizeof(drv));

	if (r < 0 || *drv)
		return r;
	return do_write(ctx, t, "/sys/bus/pci/drivers_probe", bdf, false);
}

int session_unclaim(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		    const char *bdf)
{
	struct journal j = { .op = JOP_UNCLAIM };
	char ovr[72] = "", drv[72] = "";
	int r = current_override(ctx, bdf, ovr, sizeof(ovr));

	if (r == 0)
		r = current_driver(ctx, bdf, drv, sizeof(drv));
	if (r < 0)
		return r;
	if (!driver_name_is_vfio(ovr))
		return 0; /* not the rule's doing: left alone */
	/* three writes: killed between them, the next run finishes the unclaim */
	if (!journal_add(ctx, &j, bdf, drv, ovr)) {
		journal_free(&j);
		return -ENOMEM;
	}
	r = journal_store(s->dirfd, &j);
	journal_free(&j);
	if (r < 0)
		return r;
	r = unclaim_finish(ctx, t, s, bdf);
	return r < 0 ? r : journal_remove(s->dirfd);
}

/*
 * A journal left behind means a run died half way: finish it or undo it, as
 * above. in: what the run at hand means to do (NULL: nothing of the kind).
 */
static int recover(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		   const struct intent *in)
{
	enum presence *where = NULL;
	bool *act = NULL;
	struct journal j, keep = { 0 };
	const char *op;
	char jpath[4200];
	bool forward, dirty = false, force = in && (in->flags & IOPASS_BIND_FORCE_RECOVERY);
	int r = journal_load(s->dirfd, &j);

	snprintf(jpath, sizeof(jpath), "%s/run/iopass/journal", ctx->sysroot);
	if (r == -ENOENT)
		return 0;
	if (r == -EBADMSG) {
		txn_error(t, "the journal %s is corrupt; inspect and remove it by hand", jpath);
		return r;
	}
	if (r < 0) {
		txn_error(t, "cannot read the journal %s: %s", jpath, strerror(-r));
		return r;
	}
	op = jop_name(j.op);
	where = calloc(j.devs.n + 1, sizeof(*where));
	act = calloc(j.devs.n + 1, sizeof(*act));
	if (!where || !act) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < j.devs.n; i++)
		where[i] = entry_presence(ctx, &j.devs.r[i]);
	forward = op_completed(ctx, s, &j, where);

	if (forward) {
		if (j.op == JOP_VF_CREATE)
			r = sriov_restore(ctx, t, j.pf, "sriov_drivers_autoprobe", j.pf_autoprobe);
		for (size_t i = 0; r == 0 && i < j.devs.n; i++) {
			struct record *e = &j.devs.r[i];
			char cur[128] = "";

			if (j.op == JOP_VF_REMOVE) {
				int nv = 0;

				/* the VFs went if sriov_numvfs went to 0; else nothing happened */
				if (sriov_read(ctx, j.pf, "sriov_numvfs", &nv) < 0 || nv == 0)
					records_remove(&s->state, e->bdf);
			}
			bool given_up = false;

			if (j.op == JOP_UNCLAIM && where[i] == HERE)
				r = unclaim_finish(ctx, t, s, e->bdf);
			if (j.op == JOP_DETACH && where[i] == HERE)
				r = detach_finish(ctx, t, e->bdf);
			if (r < 0 && force) {
				/* forced: leave the device as it is rather than block every run */
				given_up = true;
				r = 0;
			}
			if (r < 0) {
				txn_error(t, "%s: cannot finish the interrupted %s of the journal %s: %s; "
					     "the journal is kept; pass --force to leave the device as it is",
					  e->bdf, op, jpath, strerror(-r));
				goto out;
			}
			if (where[i] == HERE)
				current_driver(ctx, e->bdf, cur, sizeof(cur));
			else if (where[i] == OTHER_CARD && records_find(&s->state, e->bdf)) {
				records_remove(&s->state, e->bdf); /* the record was of the old card */
				dirty = true;
			}
			txn_recovered(t, op, e->bdf,
				      given_up ? IOPASS_RECOVERY_LEFT_ALONE :
				      where[i] == HERE ? IOPASS_RECOVERY_ROLLED_FORWARD : where[i] == GONE ? IOPASS_RECOVERY_GONE : IOPASS_RECOVERY_LEFT_ALONE,
				      cur);
		}
		if (j.op == JOP_VF_CREATE && j.devs.n == 0)
			txn_recovered(t, op, j.pf, IOPASS_RECOVERY_ROLLED_FORWARD, NULL);
		if (r == 0 && (j.op == JOP_VF_REMOVE || dirty))
			r = records_store(s->dirfd, &s->state);
		goto done;
	}

	/* roll back: what moves, what is left to the run at hand, what is not ours any more */
	for (size_t i = 0; i < j.devs.n; i++) {
		struct record *e = &j.devs.r[i];

		if (where[i] != HERE)
			continue;
		if (left_to_intent(&j, in, e->bdf)) {
			struct record *k = records_add(&keep.devs, e->bdf, e->driver, e->override);

			if (!k) {
				r = -ENOMEM;
				goto out;
			}
			*k = *e; /* its identity and reset methods too */
			continue;
		}
		act[i] = true;
	}
	r = recovery_guards(ctx, t, s, &j, act, force ? IOPASS_BIND_FORCE : 0);
	if (r == -ECANCELED) {
		if (j.op == JOP_VF_CREATE)
			txn_error(t, "refused: the journal %s of an interrupted vf create cannot be rolled "
				     "back safely (it would remove VFs a VM holds), and it was not completed; "
				     "nothing was changed; shut the VM down first, or pass --force to remove "
				     "the VFs anyway", jpath);
		else
			txn_error(t, "refused: the journal %s of an interrupted %s cannot be rolled back "
				     "safely, and it was not completed; nothing was changed; finish it by "
				     "running that %s again on the same devices, or pass --force to roll it "
				     "back", jpath, op, op);
		goto out;
	}
	if (r < 0)
		goto out;
	if (j.op == JOP_VF_CREATE) {
		/* the VFs go again (and with them whatever they were bound to) */
		r = sriov_restore(ctx, t, j.pf, "sriov_numvfs", j.pf_numvfs);
		if (r == 0)
			r = sriov_restore(ctx, t, j.pf, "sriov_drivers_autoprobe", j.pf_autoprobe);
		if (r < 0) {
			txn_error(t, "%s: cannot remove the VFs of an interrupted vf create: %s; the journal "
				     "%s is kept", j.pf, strerror(-r), jpath);
			goto out;
		}
		txn_recovered(t, op, j.pf, IOPASS_RECOVERY_ROLLED_BACK, NULL);
	}
	for (size_t i = j.devs.n; i-- > 0;) {
		struct record *e = &j.devs.r[i];
		char cur[128] = "";

		if (j.op == JOP_VF_CREATE) {
			records_remove(&s->state, e->bdf);
			continue;
		}
		if (where[i] != HERE) {
			/* another card sits there: the record of the old one is no longer true either */
			if (where[i] == OTHER_CARD)
				records_remove(&s->state, e->bdf);
			txn_recovered(t, op, e->bdf, where[i] == GONE ? IOPASS_RECOVERY_GONE : IOPASS_RECOVERY_LEFT_ALONE, NULL);
			continue;
		}
		if (!act[i]) {
			txn_recovered(t, op, e->bdf, IOPASS_RECOVERY_CONTINUED, NULL);
			continue;
		}
		r = restore_dev(ctx, t, e->bdf, e->driver, e->override, e->has_reset ? e->reset : NULL, true);
		if (r < 0 && r != -ENOENT) {
			txn_error(t, "%s: cannot restore it from the journal %s of an interrupted %s: %s; "
				     "the journal is kept", e->bdf, jpath, op, strerror(-r));
			goto out;
		}
		/* back on its host driver: no longer attached (a re-attach's rollback stays on vfio) */
		if (j.op == JOP_ATTACH && !driver_name_is_vfio(e->driver))
			records_remove(&s->state, e->bdf);
		current_driver(ctx, e->bdf, cur, sizeof(cur));
		txn_recovered(t, op, e->bdf, r == -ENOENT ? IOPASS_RECOVERY_GONE : IOPASS_RECOVERY_ROLLED_BACK, cur);
	}
	r = records_store(s->dirfd, &s->state);
	if (r < 0)
		goto out;
	if (keep.devs.n) {
		/* the devices left to this run keep their entries until its own journal replaces them */
		keep.op = j.op;
		memcpy(keep.driver, j.driver, sizeof(keep.driver));
		r = journal_store(s->dirfd, &keep);
		if (r == 0)
			for (size_t i = 0; i < keep.devs.n && r == 0; i++) {
				struct record *k = records_add(&s->inherited, keep.devs.r[i].bdf,
							       keep.devs.r[i].driver, keep.devs.r[i].override);

				if (k)
					*k = keep.devs.r[i];
				r = k ? 0 : -ENOMEM;
			}
		goto out;
	}
done:
	if (r == 0)
		r = journal_remove(s->dirfd);
out:
	free(where);
	free(act);
	journal_free(&keep);
	journal_free(&j);
	return r;
}

/* ---- the session of one writing run ----------------------------------------- */

void session_end(struct session *s)
{
	records_free(&s->state);
	records_free(&s->inherited);
	iopass_devlist_free(s->list);
	s->list = NULL;
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->lockfd = s->dirfd = -1;
}

/*
 * The devices a step touches (seeds, with their groups, VFs, buses and the
 * bridges above: iopass_scan_related) as they are now, under the lock, and
 * the host's uses of them read anew. Replaces the session's earlier scan.
 */
int session_scan(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 const struct iopass_addr *seeds, size_t nseeds)
{
	int r;

	iopass_devlist_free(s->list);
	s->list = NULL;
	ctx_forget_host_facts(ctx);
	r = iopass_scan_related(ctx, seeds, nseeds, NULL, 0, &s->list);
	if (r < 0)
		txn_error(t, "cannot read the devices: %s", strerror(-r));
	return r;
}

int session_begin(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  const struct intent *in)
{
	int r;

	*s = (struct session){ .dirfd = -1, .lockfd = -1 };
	if (!*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	s->dirfd = sysfs_open_state_dir(ctx, true);
	if (s->dirfd < 0) {
		r = s->dirfd;
		txn_error(t, "cannot use the state directory %s/run/iopass: %s%s",
			  *ctx->sysroot ? ctx->sysroot : "", strerror(-r),
			  r == -EPERM ? " (it must be a directory owned by root, mode 0700)" : "");
		return r;
	}
	s->lockfd = lock_take(ctx, s->dirfd);
	if (s->lockfd < 0) {
		r = s->lockfd;
		if (r == -ETIMEDOUT)
			txn_error(t, "another iopass kept the lock for %d s; try again when it is done",
				  (ctx->lock_timeout_ms + 999) / 1000);
		else
			txn_error(t, "cannot take the lock: %s", strerror(-r));
		return r;
	}
	r = records_load(s->dirfd, &s->state);
	if (r < 0) {
		txn_error(t, "the record %s/run/iopass/state is %s; inspect and remove it by hand",
			  *ctx->sysroot ? ctx->sysroot : "",
			  r == -EBADMSG ? "corrupt"
			  : r == -EPERM ? "not iopass's own (a symlink, another owner, or open to others)"
					: strerror(-r));
		return r;
	}
	r = recover(ctx, t, s, in);
	/* what recovery scanned is older than what it wrote: the run's own guards scan again */
	iopass_devlist_free(s->list);
	s->list = NULL;
	return r;
}

/* ---- the record, read by others ------------------------------------------------ */

/* The record as readers see it (and a detach in dry-run mode): no lock, nothing written. */
int records_peek(struct iopass_ctx *ctx, struct records *rs)
{
	int dirfd = sysfs_open_state_dir(ctx, false), r;

	rs->r = NULL;
	rs->n = 0;
	if (dirfd < 0)
		return dirfd == -ENOENT ? 0 : dirfd;
	r = records_load(dirfd, rs);
	close(dirfd);
	return r;
}

int iopass_attached(struct iopass_ctx *ctx, struct iopass_addr **ret_addrs, size_t *ret_n)
{
	struct records rs;
	struct iopass_addr *a;
	int r = records_peek(ctx, &rs);

	*ret_addrs = NULL;
	*ret_n = 0;
	if (r < 0)
		return r;
	a = calloc(rs.n ? rs.n : 1, sizeof(*a));
	if (!a) {
		records_free(&rs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs.n; i++)
		iopass_addr_parse(rs.r[i].bdf, &a[i]);
	*ret_addrs = a;
	*ret_n = rs.n;
	records_free(&rs);
	return 0;
}

int iopass_record_get(struct iopass_ctx *ctx, const char *bdf, char **ret_driver)
{
	struct records rs;
	const struct record *rec;
	int r = records_peek(ctx, &rs);

	*ret_driver = NULL;
	if (r < 0)
		return r;
	rec = records_find(&rs, bdf);
	r = -ENOENT;
	if (rec) {
		r = 0;
		if (*rec->driver) {
			*ret_driver = strdup(rec->driver);
			if (!*ret_driver)
				r = -ENOMEM;
		}
	}
	records_free(&rs);
	return r;
}

