// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * attach and detach: driver rebinding as a transaction.
 *
 * The kernel's sequence, per device (as libvirt's virPCIDeviceBindWithDriverOverride):
 *   1. write the driver to driver_override (only that driver may bind now),
 *   2. write the address to the current driver's unbind,
 *   3. write the address to /sys/bus/pci/drivers_probe,
 *   4. verify the driver link and the VFIO device node.
 * Never new_id: it grabs every device with the same IDs.
 *
 * Before the first write, a journal with every device's driver and override
 * goes to <sysroot>/run/iopass/journal. A failure restores each device from
 * it; so does the next run, when a run was killed half way. Afterwards the
 * record (run/iopass/state) keeps the original drivers for detach. One flock
 * serialises all writing runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#include "iopass-private.h"

#define JOURNAL_FILE "journal"
#define LOCK_FILE "lock"
#define STATE_MAX (4u << 20)




/* ---- the transaction record ------------------------------------------------ */

struct iopass_txn *txn_new(void)
{
	return calloc(1, sizeof(struct iopass_txn));
}

struct iopass_txn *iopass_txn_free(struct iopass_txn *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->nsteps; i++) {
		free(t->steps[i].path);
		free(t->steps[i].value);
	}
	for (size_t i = 0; i < t->ndevs; i++) {
		free(t->devs[i].from);
		free(t->devs[i].to);
		free(t->devs[i].override);
	}
	for (size_t i = 0; i < t->nrecovered; i++)
		free(t->recovered[i]);
	free(t->recovered);
	free(t->steps);
	free(t->devs);
	free(t->error);
	iopass_report_free(t->guards);
	free(t);
	return NULL;
}

char *xstrdup_or_null(struct iopass_txn *t, const char *s)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		t->oom = true;
	return r;
}

struct step *txn_step(struct iopass_txn *t, const char *path, const char *value, bool rollback)
{
	struct step *ns = reallocarray(t->steps, t->nsteps + 1, sizeof(*ns));

	if (!ns) {
		t->oom = true;
		return NULL;
	}
	t->steps = ns;
	ns = &t->steps[t->nsteps++];
	*ns = (struct step){ .path = xstrdup_or_null(t, path), .value = xstrdup_or_null(t, value),
			     .rollback = rollback };
	return ns;
}

struct txdev *txn_dev(struct iopass_txn *t, const char *bdf)
{
	struct txdev *nd = reallocarray(t->devs, t->ndevs + 1, sizeof(*nd));

	if (!nd) {
		t->oom = true;
		return NULL;
	}
	t->devs = nd;
	nd = &t->devs[t->ndevs++];
	*nd = (struct txdev){ .status = "planned" };
	snprintf(nd->bdf, sizeof(nd->bdf), "%s", bdf);
	return nd;
}

void txn_error(struct iopass_txn *t, const char *fmt, ...)
{
	va_list ap;

	if (t->error)
		return; /* the first failure is the one to tell */
	va_start(ap, fmt);
	if (vasprintf(&t->error, fmt, ap) < 0) {
		t->error = NULL;
		t->oom = true;
	}
	va_end(ap);
}

/* ---- reading and writing one device ------------------------------------------- */

static void dev_path(char *buf, size_t size, const char *bdf, const char *attr)
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

/* vfio-pci and its variant drivers (mlx5_vfio_pci, ...) */
static bool is_vfio_name(const char *name)
{
	return strstr(name, "vfio") != NULL;
}

/* On vfio-pci or a vfio variant now (vfio-dev/ marks the variants)? */
static bool current_is_vfio(struct iopass_ctx *ctx, const char *bdf, const char *cur)
{
	char path[256];

	if (!*cur)
		return false;
	if (streq(cur, "vfio-pci"))
		return true;
	dev_path(path, sizeof(path), bdf, "vfio-dev");
	return sysfs_exists(ctx, path) == 0;
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

static bool driver_loaded(struct iopass_ctx *ctx, const char *driver)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", driver);
	return sysfs_exists(ctx, path) == 0;
}

/* vfio-pci and its variants give a group node /dev/vfio/<group>, or a cdev (vfio-dev/vfioN). */
static bool vfio_node_present(struct iopass_ctx *ctx, const char *bdf, int group)
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

/*
 * Put a device back as it was: its override, then its driver. Used for
 * rollback, recovery and (with the recorded driver) detach.
 */
static int restore_dev(struct iopass_ctx *ctx, struct iopass_txn *t, const char *bdf,
		       const char *driver, const char *override, bool rollback)
{
	char path[256], cur[128], ovr[128];
	int r;

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
static int load_driver(struct iopass_ctx *ctx, const char *driver)
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

/* ---- state: lock, record, journal -------------------------------------------- */



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

static int records_add(struct records *rs, const char *bdf, const char *driver, const char *override)
{
	struct record *nr = records_find(rs, bdf);

	if (!nr) {
		nr = reallocarray(rs->r, rs->n + 1, sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		rs->r = nr;
		nr = &rs->r[rs->n++];
	}
	snprintf(nr->bdf, sizeof(nr->bdf), "%s", bdf);
	snprintf(nr->driver, sizeof(nr->driver), "%s", driver ? driver : "");
	snprintf(nr->override, sizeof(nr->override), "%s", override ? override : "");
	return 0;
}

void records_remove(struct records *rs, const char *bdf)
{
	struct record *r = records_find(rs, bdf);

	if (!r)
		return;
	*r = rs->r[--rs->n];
}

/*
 * Text, strictly parsed:
 *   iopass-<kind> 1
 *   [op <name> <driver>]            (journal only)
 *   <bdf> <driver|-> <override|->
 * Anything else, and the file is reported corrupt and not trusted.
 */
int records_parse(const char *text, const char *kind, struct records *rs, char *op,
			 size_t opsize)
{
	char header[32];
	const char *line = text;
	int lineno = 0;

	snprintf(header, sizeof(header), "iopass-%s 1", kind);
	rs->r = NULL;
	rs->n = 0;
	if (op)
		op[0] = '\0';
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256], f1[64], f2[80], f3[80], extra[2];
		struct iopass_addr a;
		int n;

		if (!nl || len >= sizeof(buf))
			goto corrupt; /* every line ends with a newline */
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		if (lineno++ == 0) {
			if (!streq(buf, header))
				goto corrupt;
			continue;
		}
		n = sscanf(buf, "%63s %79s %79s %1s", f1, f2, f3, extra);
		if (op && lineno == 2 && n == 3 && streq(f1, "op")) {
			if (!(streq(f2, "attach") || streq(f2, "detach")) || !iopass_driver_name_valid(f3))
				goto corrupt;
			snprintf(op, opsize, "%s %s", f2, f3);
			continue;
		}
		if (n != 3 || iopass_addr_parse(f1, &a) < 0 ||
		    (!streq(f2, "-") && !iopass_driver_name_valid(f2)) ||
		    (!streq(f3, "-") && !iopass_driver_name_valid(f3)))
			goto corrupt;
		iopass_addr_format(&a, f1);
		if (records_add(rs, f1, streq(f2, "-") ? NULL : f2, streq(f3, "-") ? NULL : f3) < 0) {
			records_free(rs);
			return -ENOMEM;
		}
	}
	if (lineno == 0)
		goto corrupt;
	return 0;
corrupt:
	records_free(rs);
	return -EBADMSG;
}

static char *records_format(const struct records *rs, const char *kind, const char *op)
{
	size_t size = 64 + (op ? strlen(op) : 0) + rs->n * (IOPASS_BDF_MAX + 2 * 72 + 4), len;
	char *buf = malloc(size);

	if (!buf)
		return NULL;
	len = (size_t)snprintf(buf, size, "iopass-%s 1\n", kind);
	if (op)
		len += (size_t)snprintf(buf + len, size - len, "op %s\n", op);
	for (size_t i = 0; i < rs->n; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s %s %s\n", rs->r[i].bdf,
					*rs->r[i].driver ? rs->r[i].driver : "-",
					*rs->r[i].override ? rs->r[i].override : "-");
	return buf;
}

static int records_load(int dirfd, const char *file, const char *kind, struct records *rs,
			char *op, size_t opsize)
{
	_cleanup_free_ char *text = NULL;
	int r = state_read(dirfd, file, STATE_MAX, &text);

	if (r == -ENOENT) {
		rs->r = NULL;
		rs->n = 0;
		if (op)
			op[0] = '\0';
		return 0;
	}
	if (r < 0)
		return r;
	return records_parse(text, kind, rs, op, opsize);
}

int records_store(int dirfd, const char *file, const char *kind, const struct records *rs,
			 const char *op)
{
	_cleanup_free_ char *text = NULL;

	if (rs->n == 0 && !op)
		return state_remove(dirfd, file);
	text = records_format(rs, kind, op);
	if (!text)
		return -ENOMEM;
	return state_write(dirfd, file, text);
}

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

/*
 * A journal left behind means a run died half way: put every device in it
 * back as it was before that run, then drop the journal. The record of an
 * interrupted attach is undone with it.
 */
static int recover(struct iopass_ctx *ctx, struct iopass_txn *t, int dirfd, struct records *state)
{
	struct records j;
	char op[200];
	int r = records_load(dirfd, JOURNAL_FILE, "journal", &j, op, sizeof(op));

	if (r == -EBADMSG) {
		txn_error(t, "the journal %s/run/iopass/journal is corrupt; inspect and remove it by hand",
			  *ctx->sysroot ? ctx->sysroot : "");
		return r;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < j.n; i++) {
		int rr = restore_dev(ctx, t, j.r[i].bdf, j.r[i].driver, j.r[i].override, true);

		if (rr < 0 && rr != -ENOENT) {
			txn_error(t, "%s: cannot restore it from the journal of an interrupted run: %s",
				  j.r[i].bdf, strerror(-rr));
			records_free(&j);
			return rr;
		}
		if (strncmp(op, "attach", 6) == 0)
			records_remove(state, j.r[i].bdf);
		char **nr = reallocarray(t->recovered, t->nrecovered + 1, sizeof(*nr));

		if (nr) {
			t->recovered = nr;
			/* j.r is set whenever j.n > 0 */
			t->recovered[t->nrecovered] = strdup(j.r[i].bdf); // NOLINT(clang-analyzer-core.NonNullParamChecker)
			if (t->recovered[t->nrecovered])
				t->nrecovered++;
		}
	}
	records_free(&j);
	r = records_store(dirfd, STATE_FILE, "state", state, NULL);
	if (r < 0)
		return r;
	return state_remove(dirfd, JOURNAL_FILE);
}

/* ---- the transaction ------------------------------------------------------- */


void session_end(struct session *s)
{
	records_free(&s->state);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
}

int session_begin(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s)
{
	int r;

	s->dirfd = s->lockfd = -1;
	s->state.r = NULL;
	s->state.n = 0;
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
	r = records_load(s->dirfd, STATE_FILE, "state", &s->state, NULL, 0);
	if (r < 0) {
		txn_error(t, "the record %s/run/iopass/state is %s; inspect and remove it by hand",
			  *ctx->sysroot ? ctx->sysroot : "",
			  r == -EBADMSG ? "corrupt"
			  : r == -EPERM ? "not iopass's own (a symlink, another owner, or open to others)"
					: strerror(-r));
		return r;
	}
	return recover(ctx, t, s->dirfd, &s->state);
}

/* Guards: check the set; refuse what check would call unsafe, impossible or incomplete. */
static int guard(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		 struct iopass_dev *const *devs, size_t n, unsigned flags, struct iopass_txn *t)
{
	bool refuse = false;

	t->guards = report_new();
	if (!t->guards)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct iopass_report *r;
		enum iopass_verdict v;
		int rc = iopass_check_dev(ctx, list, devs[i], devs, n, &r);

		if (rc < 0)
			return rc;
		v = iopass_report_verdict(r);
		for (size_t k = 0; k < iopass_report_count(r); k++) {
			const char *code = iopass_report_code(r, k);
			bool blocking = iopass_report_level(r, k) == IOPASS_LEVEL_FAIL ||
					streq(code, "group-not-viable");

			if (!blocking)
				continue;
			report_add(t->guards, iopass_report_level(r, k), code, "%s: %s",
				   devs[i]->bdf, iopass_report_message(r, k));
			if (iopass_report_hint(r, k))
				report_hint(t->guards, "%s", iopass_report_hint(r, k));
		}
		if (v == IOPASS_IMPOSSIBLE || (v != IOPASS_READY && !(flags & IOPASS_BIND_FORCE)))
			refuse = true;
		if (v == IOPASS_IMPOSSIBLE)
			flags &= ~IOPASS_BIND_FORCE; /* nothing forces what cannot be */
		iopass_report_free(r);
	}
	if (report_oom(t->guards))
		return -ENOMEM;
	return refuse ? -ECANCELED : 0;
}

static int attach_one(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const char *driver, int group)
{
	char path[256], cur[128];
	int r;

	dev_path(path, sizeof(path), d->bdf, "driver_override");
	r = do_write(ctx, t, path, driver, false);
	if (r < 0) {
		txn_error(t, "%s: writing %s to driver_override failed: %s", d->bdf, driver, strerror(-r));
		return r;
	}
	if (d->from) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", d->from);
		r = do_write(ctx, t, path, d->bdf, false);
		if (r < 0) {
			txn_error(t, "%s: unbinding from %s failed: %s", d->bdf, d->from, strerror(-r));
			return r;
		}
	}
	r = do_write(ctx, t, "/sys/bus/pci/drivers_probe", d->bdf, false);
	if (r < 0) {
		txn_error(t, "%s: probing %s failed: %s", d->bdf, driver, strerror(-r));
		return r;
	}
	r = current_driver(ctx, d->bdf, cur, sizeof(cur));
	if (r < 0) {
		txn_error(t, "%s: the device went away: %s", d->bdf, strerror(-r));
		return r;
	}
	if (!streq(cur, driver)) {
		txn_error(t, "%s: after the probe the device is %s%s, not on %s", d->bdf,
			  *cur ? "bound to " : "unbound", cur, driver);
		return -EIO;
	}
	if (!vfio_node_present(ctx, d->bdf, group)) {
		txn_error(t, "%s: bound to %s, but neither /dev/vfio/%d nor a vfio-dev cdev appeared",
			  d->bdf, driver, group);
		return -ENODEV;
	}
	return 0;
}

/* Put one device of a failed transaction back; a device that vanished has nothing to restore. */
static const char *rollback_dev(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d)
{
	int r = restore_dev(ctx, t, d->bdf, d->from, d->override, true);

	if (r == -ENOENT || r == -ENODEV) {
		char path[256];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", d->bdf);
		if (sysfs_exists(ctx, path) == -ENOENT)
			return "gone";
	}
	return r < 0 ? "failed" : "rolled-back";
}

/*
 * A step failed: put every device touched back, the failed one included,
 * newest first, and say so after the error. A clean rollback drops the
 * journal; a failed one keeps it for the next run to retry.
 */
static void rollback_all(struct iopass_ctx *ctx, struct iopass_txn *t, int dirfd, size_t changed,
			 const char *clean_msg)
{
	bool clean = true;
	char *e = NULL;
	int n;

	for (size_t i = changed; i-- > 0;) {
		struct txdev *d = &t->devs[i];

		if (streq(d->status, "unchanged"))
			continue;
		d->status = rollback_dev(ctx, t, d);
		clean &= !streq(d->status, "failed");
	}
	if (clean) {
		state_remove(dirfd, JOURNAL_FILE);
		n = asprintf(&e, "%s; %s, the host is as it was", t->error ? t->error : "failed", clean_msg);
	} else {
		n = asprintf(&e, "%s; rollback failed too: the journal in run/iopass is kept and the "
				 "next iopass run retries it", t->error ? t->error : "failed");
	}
	if (n < 0)
		return;
	free(t->error);
	t->error = e;
}

void txn_finish(struct iopass_txn *t, int r)
{
	if (t->oom && r == 0)
		txn_error(t, "out of memory");
}

/* What each device is bound to now, and whether it needs a change. */
static int plan_attach(struct iopass_ctx *ctx, struct iopass_txn *t, struct iopass_dev *const *devs,
		       size_t n, const char *driver)
{
	for (size_t i = 0; i < n; i++) {
		char cur[128], ovr[128];
		struct txdev *d = txn_dev(t, devs[i]->bdf);
		int r;

		if (!d)
			return -ENOMEM;
		r = current_driver(ctx, d->bdf, cur, sizeof(cur));
		if (r == 0)
			r = current_override(ctx, d->bdf, ovr, sizeof(ovr));
		if (r < 0) {
			txn_error(t, "%s: cannot read its driver: %s", d->bdf, strerror(-r));
			return r;
		}
		d->from = xstrdup_or_null(t, *cur ? cur : NULL);
		d->to = xstrdup_or_null(t, driver);
		/*
		 * An override naming a vfio driver is ours (the persistence rule sets it
		 * before __udev-bind runs, or an earlier attach): not a user's setting to
		 * give back, or detach would hand the device straight back to vfio-pci.
		 */
		d->override = xstrdup_or_null(t, *ovr && !is_vfio_name(ovr) ? ovr : NULL);
		if (streq(cur, driver))
			d->status = "unchanged";
	}
	return t->oom ? -ENOMEM : 0;
}

int iopass_attach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, const char *driver, unsigned flags,
		  struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct records journal = { NULL, 0 };
	struct iopass_txn *t;
	char op[200];
	size_t changed = 0;
	int r;

	if (!ctx || !list || (!devs && n) || !ret_txn)
		return -EINVAL;
	if (!driver)
		driver = "vfio-pci";
	if (!iopass_driver_name_valid(driver))
		return -EINVAL;
	t = txn_new();
	if (!t)
		return -ENOMEM;
	*ret_txn = t;

	if (!(flags & IOPASS_BIND_DRY_RUN) && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	r = guard(ctx, list, devs, n, flags, t);
	if (r < 0) {
		if (r == -ECANCELED)
			txn_error(t, "refused: nothing was changed");
		return r;
	}
	if (flags & IOPASS_BIND_DRY_RUN) {
		r = plan_attach(ctx, t, devs, n, driver);
		if (r < 0)
			return r;
		for (size_t i = 0; i < t->ndevs; i++) {
			struct txdev *d = &t->devs[i];
			char path[256];

			if (streq(d->status, "unchanged"))
				continue;
			dev_path(path, sizeof(path), d->bdf, "driver_override");
			txn_step(t, path, driver, false);
			if (d->from) {
				snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", d->from);
				txn_step(t, path, d->bdf, false);
			}
			txn_step(t, "/sys/bus/pci/drivers_probe", d->bdf, false);
		}
		if (!driver_loaded(ctx, driver))
			txn_error(t, *ctx->sysroot ? "driver %s is not loaded below the sysroot, and "
						     "modules cannot be loaded there"
						   : "driver %s is not loaded; attach loads it first",
				  driver);
		return t->oom ? -ENOMEM : 0;
	}

	r = session_begin(ctx, t, &s);
	if (r < 0)
		goto out;
	/* the plan, read under the lock: another run may have changed the devices */
	r = plan_attach(ctx, t, devs, n, driver);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (!streq(d->status, "unchanged") &&
		    records_add(&journal, d->bdf, d->from, d->override) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (journal.n == 0) {
		r = 0; /* idempotent: everything is on the driver already */
		goto out;
	}
	if (!driver_loaded(ctx, driver)) {
		r = load_driver(ctx, driver);
		if (r < 0) {
			txn_error(t, "driver %s is not loaded and could not be loaded: %s; nothing was changed",
				  driver, strerror(-r));
			goto out;
		}
	}
	snprintf(op, sizeof(op), "attach %s", driver);
	r = records_store(s.dirfd, JOURNAL_FILE, "journal", &journal, op);
	if (r < 0) {
		txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
		goto out;
	}

	for (size_t i = 0; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (streq(d->status, "unchanged"))
			continue;
		changed = i + 1;
		r = attach_one(ctx, t, d, driver, devs[i]->group);
		if (r < 0)
			break;
		d->status = "attached";
	}
	if (r < 0) {
		rollback_all(ctx, t, s.dirfd, changed, "every device is back on its driver");
		goto out;
	}

	/* done: record the original drivers, then drop the journal */
	for (size_t i = 0; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (streq(d->status, "attached") &&
		    records_add(&s.state, d->bdf, d->from, d->override) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = records_store(s.dirfd, STATE_FILE, "state", &s.state, NULL);
	if (r < 0) {
		txn_error(t, "the devices are attached, but the record could not be written: %s",
			  strerror(-r));
		goto out;
	}
	r = state_remove(s.dirfd, JOURNAL_FILE);
out:
	records_free(&journal);
	session_end(&s);
	txn_finish(t, r);
	return r;
}

static int detach_one(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const struct record *rec)
{
	char path[256], cur[128];
	const char *want = rec && *rec->driver ? rec->driver : NULL;
	/* never give back an override that names vfio: that is the state being undone */
	const char *ovr = rec && *rec->override && !is_vfio_name(rec->override) ? rec->override : "\n";
	int r;

	dev_path(path, sizeof(path), d->bdf, "driver_override");
	r = do_write(ctx, t, path, ovr, false);
	if (r < 0) {
		txn_error(t, "%s: clearing driver_override failed: %s", d->bdf, strerror(-r));
		return r;
	}
	if (d->from) {
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", d->from);
		r = do_write(ctx, t, path, d->bdf, false);
		if (r < 0) {
			txn_error(t, "%s: unbinding from %s failed: %s", d->bdf, d->from, strerror(-r));
			return r;
		}
	}
	if (rec && !want)
		return 0; /* it had no driver before attach */
	r = do_write(ctx, t, "/sys/bus/pci/drivers_probe", d->bdf, false);
	if (r < 0) {
		txn_error(t, "%s: probing failed: %s", d->bdf, strerror(-r));
		return r;
	}
	r = current_driver(ctx, d->bdf, cur, sizeof(cur));
	if (r < 0) {
		txn_error(t, "%s: the device went away: %s", d->bdf, strerror(-r));
		return r;
	}
	if (want && !streq(cur, want)) {
		/* the probe chose another driver (or none): bind the recorded one explicitly */
		if (*cur) {
			snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", cur);
			do_write(ctx, t, path, d->bdf, false);
		}
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", want);
		r = do_write(ctx, t, path, d->bdf, false);
		if (r < 0 || current_driver(ctx, d->bdf, cur, sizeof(cur)) < 0 || !streq(cur, want)) {
			txn_error(t, "%s: could not bind it back to %s: %s", d->bdf, want,
				  r < 0 ? strerror(-r) : "the driver did not take it");
			return r < 0 ? r : -EIO;
		}
	}
	free(d->to);
	d->to = xstrdup_or_null(t, *cur ? cur : NULL);
	return 0;
}

/*
 * The record detach goes by: attach's, or else the host driver that the
 * persistence record keeps (a device the udev rule put on vfio-pci at boot has
 * no attach record). Fallback entries live in *fallback.
 */
static const struct record *detach_record(struct iopass_ctx *ctx, struct records *state,
					  struct records *fallback, const char *bdf)
{
	struct iopass_persist *p = NULL;
	const struct record *rec = records_find(state, bdf);

	if (rec)
		return rec;
	rec = records_find(fallback, bdf);
	if (rec)
		return rec;
	if (iopass_persist_load(ctx, &p) < 0)
		return NULL;
	for (size_t i = 0; i < iopass_persist_count(p); i++)
		if (streq(iopass_persist_bdf(p, i), bdf) && iopass_persist_host_driver(p, i) &&
		    records_add(fallback, bdf, iopass_persist_host_driver(p, i), NULL) == 0)
			rec = records_find(fallback, bdf);
	iopass_persist_free(p);
	return rec;
}

int iopass_detach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, unsigned flags,
		  struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct records journal = { NULL, 0 }, fallback = { NULL, 0 };
	struct iopass_txn *t;
	size_t changed = 0;
	int r;

	if (!ctx || !list || (!devs && n) || !ret_txn)
		return -EINVAL;
	t = txn_new();
	if (!t)
		return -ENOMEM;
	*ret_txn = t;
	t->guards = report_new();
	if (!t->guards)
		return -ENOMEM;

	if (!(flags & IOPASS_BIND_DRY_RUN) && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	/* a running VM holds the group: refuse, unless forced */
	bool refuse = false;

	for (size_t i = 0; i < n; i++) {
		char users[256];

		if (!iopass_dev_is_vfio(devs[i]) || devs[i]->group < 0)
			continue;
		if (vfio_group_users(ctx, devs[i]->group, users, sizeof(users))) {
			report_add(t->guards, IOPASS_LEVEL_FAIL, "group-open",
				   "%s: group %d is open by %s: a VM is using it", devs[i]->bdf,
				   devs[i]->group, users);
			report_hint(t->guards, "shut the VM down first, or pass --force");
			refuse |= !(flags & IOPASS_BIND_FORCE);
		}
	}
	if (refuse) {
		txn_error(t, "refused: nothing was changed");
		return -ECANCELED;
	}

	if (n == 0 && !(flags & IOPASS_BIND_DRY_RUN)) {
		/* nothing to detach: only an interrupted run's journal would need the session */
		int dfd = sysfs_open_state_dir(ctx, false);
		bool pending = dfd >= 0 && faccessat(dfd, JOURNAL_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;

		if (dfd >= 0)
			close(dfd);
		if (!pending)
			return 0;
	}
	if (!(flags & IOPASS_BIND_DRY_RUN)) {
		r = session_begin(ctx, t, &s);
		if (r < 0)
			goto out;
	} else {
		s.dirfd = sysfs_open_state_dir(ctx, false);
		if (s.dirfd >= 0 && records_load(s.dirfd, STATE_FILE, "state", &s.state, NULL, 0) < 0)
			s.state.n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		char cur[128], ovr[128];
		struct txdev *d = txn_dev(t, devs[i]->bdf);
		const struct record *rec;

		if (!d) {
			r = -ENOMEM;
			goto out;
		}
		r = current_driver(ctx, d->bdf, cur, sizeof(cur));
		if (r == 0)
			r = current_override(ctx, d->bdf, ovr, sizeof(ovr));
		if (r < 0) {
			txn_error(t, "%s: cannot read its driver: %s", d->bdf, strerror(-r));
			goto out;
		}
		rec = detach_record(ctx, &s.state, &fallback, d->bdf);
		d->from = xstrdup_or_null(t, *cur ? cur : NULL);
		d->override = xstrdup_or_null(t, *ovr ? ovr : NULL);
		d->to = xstrdup_or_null(t, rec && *rec->driver ? rec->driver : NULL);
		/*
		 * Only devices on vfio (or with a record) are ours to give back, judged
		 * as they are now, under the lock: the scan may be older than another
		 * run's detach.
		 */
		if (!current_is_vfio(ctx, d->bdf, cur) && !rec && !*ovr) {
			d->status = "unchanged";
			continue;
		}
		if (records_add(&journal, d->bdf, d->from, d->override) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (t->oom) {
		r = -ENOMEM;
		goto out;
	}
	if (flags & IOPASS_BIND_DRY_RUN) {
		for (size_t i = 0; i < t->ndevs; i++) {
			struct txdev *d = &t->devs[i];
			const struct record *rec = detach_record(ctx, &s.state, &fallback, d->bdf);
			char path[256];

			if (streq(d->status, "unchanged"))
				continue;
			dev_path(path, sizeof(path), d->bdf, "driver_override");
			txn_step(t, path, rec && *rec->override && !is_vfio_name(rec->override) ? rec->override : "\n", false);
			if (d->from) {
				snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", d->from);
				txn_step(t, path, d->bdf, false);
			}
			if (!rec || *rec->driver)
				txn_step(t, "/sys/bus/pci/drivers_probe", d->bdf, false);
		}
		r = 0;
		goto out;
	}
	if (journal.n == 0) {
		r = 0;
		goto out;
	}
	r = records_store(s.dirfd, JOURNAL_FILE, "journal", &journal, "detach vfio-pci");
	if (r < 0) {
		txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (streq(d->status, "unchanged"))
			continue;
		changed = i + 1;
		r = detach_one(ctx, t, d, detach_record(ctx, &s.state, &fallback, d->bdf));
		if (r < 0)
			break;
		d->status = "detached";
	}
	if (r < 0) {
		rollback_all(ctx, t, s.dirfd, changed, "every device is back on the driver it had");
		goto out;
	}
	for (size_t i = 0; i < t->ndevs; i++)
		if (streq(t->devs[i].status, "detached"))
			records_remove(&s.state, t->devs[i].bdf);
	r = records_store(s.dirfd, STATE_FILE, "state", &s.state, NULL);
	if (r == 0)
		r = state_remove(s.dirfd, JOURNAL_FILE);
	else
		txn_error(t, "the devices are detached, but the record could not be updated: %s",
			  strerror(-r));
out:
	records_free(&fallback);
	records_free(&journal);
	session_end(&s);
	txn_finish(t, r);
	return r;
}

int iopass_attached(struct iopass_ctx *ctx, struct iopass_addr **ret_addrs, size_t *ret_n)
{
	struct records rs;
	struct iopass_addr *a;
	int dirfd = sysfs_open_state_dir(ctx, false), r;

	*ret_addrs = NULL;
	*ret_n = 0;
	if (dirfd == -ENOENT)
		return 0;
	if (dirfd < 0)
		return dirfd;
	r = records_load(dirfd, STATE_FILE, "state", &rs, NULL, 0);
	close(dirfd);
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
	int dirfd = sysfs_open_state_dir(ctx, false), r;

	*ret_driver = NULL;
	if (dirfd < 0)
		return dirfd;
	r = records_load(dirfd, STATE_FILE, "state", &rs, NULL, 0);
	close(dirfd);
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

/* ---- accessors ----------------------------------------------------------- */

size_t iopass_txn_step_count(const struct iopass_txn *t)
{
	return t ? t->nsteps : 0;
}

const char *iopass_txn_step_path(const struct iopass_txn *t, size_t i)
{
	return i < t->nsteps ? t->steps[i].path : NULL;
}

const char *iopass_txn_step_value(const struct iopass_txn *t, size_t i)
{
	return i < t->nsteps ? t->steps[i].value : NULL;
}

int iopass_txn_step_result(const struct iopass_txn *t, size_t i)
{
	return i < t->nsteps ? t->steps[i].result : 0;
}

bool iopass_txn_step_is_rollback(const struct iopass_txn *t, size_t i)
{
	return i < t->nsteps && t->steps[i].rollback;
}

size_t iopass_txn_dev_count(const struct iopass_txn *t)
{
	return t ? t->ndevs : 0;
}

const char *iopass_txn_dev_bdf(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? t->devs[i].bdf : NULL;
}

const char *iopass_txn_dev_from(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? t->devs[i].from : NULL;
}

const char *iopass_txn_dev_to(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? t->devs[i].to : NULL;
}

const char *iopass_txn_dev_status(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? t->devs[i].status : NULL;
}

const char *iopass_txn_error(const struct iopass_txn *t)
{
	return t ? t->error : NULL;
}

const struct iopass_report *iopass_txn_guards(const struct iopass_txn *t)
{
	return t ? t->guards : NULL;
}

size_t iopass_txn_recovered_count(const struct iopass_txn *t)
{
	return t ? t->nrecovered : 0;
}

const char *iopass_txn_recovered(const struct iopass_txn *t, size_t i)
{
	return i < t->nrecovered ? t->recovered[i] : NULL;
}
