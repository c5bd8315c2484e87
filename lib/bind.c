// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * attach and detach: driver rebinding as a transaction (the driver primitives
 * are in driver.c, the lock, record, journal and recovery in state.c).
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

#include "iopass-private.h"

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
		free(t->devs[i].undo_driver);
		free(t->devs[i].undo_override);
	}
	for (size_t i = 0; i < t->nrecovered; i++) {
		free(t->recovered[i].target);
		free(t->recovered[i].driver);
	}
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
	*nd = (struct txdev){ .status = IOPASS_DEV_PLANNED };
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

/* ---- guards ---------------------------------------------------------------- */

struct iopass_report *txn_guards_new(struct iopass_txn *t)
{
	if (!t->guards)
		t->guards = report_new();
	return t->guards;
}

/* Guards: check the set; refuse what check would call unsafe, impossible or incomplete. */
int guard(struct iopass_ctx *ctx, const struct iopass_devlist *list, struct iopass_dev *const *devs,
	  size_t n, unsigned flags, struct iopass_txn *t, const char *why)
{
	struct iopass_report *g = txn_guards_new(t);
	bool refuse = false;

	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct iopass_report *r;
		int rc = iopass_check_dev(ctx, list, devs[i], devs, n, &r);

		if (rc < 0)
			return rc;
		for (size_t k = 0; k < iopass_report_count(r); k++) {
			enum iopass_effect e = iopass_report_effect(r, k);

			if (e == IOPASS_EFFECT_INFORMS)
				continue;
			/* nothing forces what cannot be */
			refuse |= e == IOPASS_EFFECT_BLOCKS || !(flags & IOPASS_BIND_FORCE);
			report_add(g, iopass_report_level(r, k), iopass_report_code(r, k), "%s%s: %s",
				   why ? why : "", devs[i]->bdf, iopass_report_message(r, k));
			report_effect(g, e);
			if (iopass_report_hint(r, k))
				report_hint(g, "%s", iopass_report_hint(r, k));
		}
		iopass_report_free(r);
	}
	if (report_oom(g))
		return -ENOMEM;
	return refuse ? -ECANCELED : 0;
}

/* A running VM holds the group of a device on vfio: refuse, unless forced. */
int guard_group_open(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
		     unsigned flags, struct iopass_txn *t, const char *why)
{
	struct iopass_report *g = txn_guards_new(t);
	bool refuse = false;

	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char users[256];

		if (!iopass_dev_is_vfio(devs[i]) || devs[i]->group < 0)
			continue;
		if (vfio_group_users(ctx, devs[i]->group, users, sizeof(users))) {
			report_add(g, IOPASS_LEVEL_FAIL, "group-open",
				   "%s%s: group %d is open by %s: a VM is using it", why ? why : "",
				   devs[i]->bdf, devs[i]->group, users);
			report_hint(g, "shut the VM down first, or pass --force");
			refuse |= !(flags & IOPASS_BIND_FORCE);
		}
	}
	if (report_oom(g))
		return -ENOMEM;
	return refuse ? -ECANCELED : 0;
}

/* ---- the plan: one list of writes, printed by --dry-run, executed otherwise ---- */

enum step_kind { STEP_OVERRIDE, STEP_UNBIND, STEP_PROBE };

struct planned {
	enum step_kind kind;
	char path[256];
	char value[80];
};

/*
 * The writes that move d to driver (attach) or back to what the record says
 * (detach: driver "", ovr the override to give back). At most three.
 */
static size_t plan_dev(const struct txdev *d, const char *override, bool probe,
		       struct planned out[3])
{
	size_t n = 0;

	out[n].kind = STEP_OVERRIDE;
	dev_path(out[n].path, sizeof(out[n].path), d->bdf, "driver_override");
	snprintf(out[n++].value, sizeof(out[0].value), "%s", override);
	if (d->from) {
		out[n].kind = STEP_UNBIND;
		snprintf(out[n].path, sizeof(out[n].path), "/sys/bus/pci/drivers/%s/unbind", d->from);
		snprintf(out[n++].value, sizeof(out[0].value), "%s", d->bdf);
	}
	if (probe) {
		out[n].kind = STEP_PROBE;
		snprintf(out[n].path, sizeof(out[n].path), "/sys/bus/pci/drivers_probe");
		snprintf(out[n++].value, sizeof(out[0].value), "%s", d->bdf);
	}
	return n;
}

static int run_plan(struct iopass_ctx *ctx, struct iopass_txn *t, const struct txdev *d,
		    const struct planned *p, size_t n, const char *target, bool dry_run)
{
	for (size_t i = 0; i < n; i++) {
		int r;

		if (dry_run) {
			txn_step(t, p[i].path, p[i].value, false);
			continue;
		}
		r = do_write(ctx, t, p[i].path, p[i].value, false);
		if (r == 0)
			continue;
		if (p[i].kind == STEP_OVERRIDE && streq(p[i].value, "\n"))
			txn_error(t, "%s: clearing driver_override failed: %s", d->bdf, strerror(-r));
		else if (p[i].kind == STEP_OVERRIDE)
			txn_error(t, "%s: writing %s to driver_override failed: %s", d->bdf, p[i].value,
				  strerror(-r));
		else if (p[i].kind == STEP_UNBIND)
			txn_error(t, "%s: unbinding from %s failed: %s", d->bdf, d->from, strerror(-r));
		else
			txn_error(t, "%s: probing %s failed: %s", d->bdf, target ? target : "its driver",
				  strerror(-r));
		return r;
	}
	return t->oom ? -ENOMEM : 0;
}

static int attach_one(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const char *driver, int group, bool dry_run)
{
	struct planned p[3];
	char cur[128];
	size_t np = plan_dev(d, driver, true, p);
	int r = run_plan(ctx, t, d, p, np, driver, dry_run);

	if (r < 0 || dry_run)
		return r;
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
static enum iopass_dev_status rollback_dev(struct iopass_ctx *ctx, struct iopass_txn *t,
					    struct txdev *d)
{
	int r = restore_dev(ctx, t, d->bdf, d->undo_driver, d->undo_override, true);

	if (r == -ENOENT || r == -ENODEV) {
		char path[256];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", d->bdf);
		if (sysfs_exists(ctx, path) == -ENOENT)
			return IOPASS_DEV_GONE;
	}
	return r < 0 ? IOPASS_DEV_FAILED : IOPASS_DEV_ROLLED_BACK;
}

/*
 * A step failed: put every device touched back, the failed one included,
 * newest first, and say so after the error. A clean rollback drops the
 * journal (unless the caller has more to undo); a failed one keeps it for
 * the next run to retry.
 */
static bool rollback_all(struct iopass_ctx *ctx, struct iopass_txn *t, int dirfd, size_t changed,
			 const char *clean_msg, bool drop_journal)
{
	bool clean = true;
	char *e = NULL;
	int n;

	for (size_t i = changed; i-- > 0;) {
		struct txdev *d = &t->devs[i];

		if (d->status == IOPASS_DEV_UNCHANGED)
			continue;
		d->status = rollback_dev(ctx, t, d);
		clean &= d->status != IOPASS_DEV_FAILED;
	}
	if (clean) {
		if (drop_journal)
			journal_remove(dirfd);
		n = asprintf(&e, "%s; %s%s", t->error ? t->error : "failed", clean_msg,
			     drop_journal ? ", the host is as it was" : "");
	} else {
		n = asprintf(&e, "%s; rollback failed too: the journal in run/iopass is kept and the "
				 "next iopass run retries it", t->error ? t->error : "failed");
	}
	if (n >= 0) {
		free(t->error);
		t->error = e;
	}
	return clean;
}

void txn_finish(struct iopass_txn *t, int r)
{
	if (t->oom && r == 0)
		txn_error(t, "out of memory");
}

/* What each device is bound to now, and whether it needs a change. */
static int plan_attach(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		       struct iopass_dev *const *devs, size_t n, const char *driver)
{
	for (size_t i = 0; i < n; i++) {
		char cur[128] = "", ovr[128] = "";
		struct txdev *d = txn_dev(t, devs[i]->bdf);
		const struct record *was = s ? records_find(&s->inherited, devs[i]->bdf) : NULL;
		const struct record *rec = NULL;
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
		/* a rollback puts back what the device has now, or had before the interrupted run */
		d->undo_driver = xstrdup_or_null(t, was ? (*was->driver ? was->driver : NULL) : d->from);
		d->undo_override = xstrdup_or_null(t, was ? (*was->override ? was->override : NULL)
						      : (*ovr ? ovr : NULL));
		/*
		 * An override naming a vfio driver is ours (the persistence rule sets it
		 * before __udev-bind runs, or an earlier attach): not a user's setting to
		 * give back, or detach would hand the device straight back to vfio-pci.
		 * A device in the record keeps what the record gives back.
		 */
		rec = s ? records_find(&s->state, d->bdf) : NULL;
		if (was || rec)
			d->override = xstrdup_or_null(t, was ? (*was->override ? was->override : NULL)
							     : (*rec->override ? rec->override : NULL));
		else
			d->override = xstrdup_or_null(t, *ovr && !driver_name_is_vfio(ovr) ? ovr : NULL);
		if (was)
			d->adopt = streq(cur, driver); /* left on the driver by the interrupted attach */
		if (streq(cur, driver) && !was)
			d->status = IOPASS_DEV_UNCHANGED;
	}
	return t->oom ? -ENOMEM : 0;
}

/*
 * The host driver the record keeps for d: what it had before an interrupted
 * attach of it, or what the record has already (a device attached again, to a
 * variant driver), or the driver it leaves now.
 */
static const char *origin_driver(struct session *s, const struct txdev *d)
{
	const struct record *was = s ? records_find(&s->inherited, d->bdf) : NULL;

	if (!was && s)
		was = records_find(&s->state, d->bdf);
	if (was)
		return *was->driver ? was->driver : NULL;
	return d->from;
}

/* d's "from", shown to the user, becomes the host driver it had before the interrupted attach. */
static void from_origin(struct iopass_txn *t, struct session *s, struct txdev *d)
{
	const struct record *was = records_find(&s->inherited, d->bdf);

	if (!was)
		return;
	free(d->from);
	d->from = xstrdup_or_null(t, *was->driver ? was->driver : NULL);
}

int session_devs(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		 struct iopass_dev *const *devs, size_t n, struct iopass_dev ***ret)
{
	struct iopass_dev **now = calloc(n ? n : 1, sizeof(*now));
	struct iopass_addr *seeds = calloc(n ? n : 1, sizeof(*seeds));
	int r = -ENOMEM;

	if (now && seeds) {
		for (size_t i = 0; i < n; i++)
			seeds[i] = devs[i]->addr;
		r = session_scan(ctx, t, s, seeds, n);
	}
	free(seeds);
	if (r < 0) {
		free(now);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		now[i] = iopass_devlist_find(s->list, &devs[i]->addr);
		if (!now[i] || now[i]->vendor != devs[i]->vendor || now[i]->device != devs[i]->device) {
			txn_error(t, "%s: %s while this run waited for the lock; nothing was changed",
				  devs[i]->bdf, now[i] ? "another card took its address" : "it went away");
			free(now);
			return -ENODEV;
		}
	}
	*ret = now;
	return 0;
}

/*
 * The attach of devs (of s->list) inside a session: plan, journal, writes,
 * record. j carries the operation (attach, or vf-create with its PF) and gets
 * the devices; with own_journal the journal goes once the record is written
 * or a rollback was clean, else the caller has more to do and drops it.
 */
int attach_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  struct iopass_dev *const *devs, size_t n, const char *driver, struct journal *j,
		  bool own_journal)
{
	size_t changed = 0, first = t->ndevs;
	int r = plan_attach(ctx, t, s, devs, n, driver);

	if (r < 0)
		return r;
	for (size_t i = first; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (d->status != IOPASS_DEV_UNCHANGED &&
		    !journal_add(ctx, j, d->bdf, d->undo_driver, d->undo_override))
			return -ENOMEM;
	}
	if (j->devs.n == 0)
		return 0; /* idempotent: everything is on the driver already */
	if (!driver_loaded(ctx, driver)) {
		r = load_driver(ctx, driver);
		if (r < 0) {
			txn_error(t, "driver %s is not loaded and could not be loaded: %s; nothing was changed",
				  driver, strerror(-r));
			return r;
		}
	}
	r = journal_store(s->dirfd, j);
	if (r < 0) {
		txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
		return r;
	}
	for (size_t i = first; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (d->status == IOPASS_DEV_UNCHANGED)
			continue;
		changed = i + 1;
		if (!d->adopt)
			r = attach_one(ctx, t, d, driver, devs[i - first]->group, false);
		if (r < 0)
			break;
		d->status = IOPASS_DEV_ATTACHED;
	}
	if (r < 0) {
		rollback_all(ctx, t, s->dirfd, changed, "every device is back on its driver", own_journal);
		return r;
	}

	/* done: record the original drivers (the commit), then drop the journal */
	for (size_t i = first; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (d->status == IOPASS_DEV_ATTACHED) {
			char origin[72];

			snprintf(origin, sizeof(origin), "%s", origin_driver(s, d) ? origin_driver(s, d) : "");
			if (!records_add(&s->state, d->bdf, *origin ? origin : NULL, d->override))
				return -ENOMEM;
		}
		from_origin(t, s, d);
	}
	r = records_store(s->dirfd, &s->state);
	if (r < 0) {
		txn_error(t, "the devices are attached, but the record could not be written: %s",
			  strerror(-r));
		return r;
	}
	return own_journal ? journal_remove(s->dirfd) : 0;
}

int iopass_attach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, const char *driver, unsigned flags,
		  struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct journal j = { .op = JOP_ATTACH };
	struct iopass_dev **now = NULL;
	struct iopass_txn *t;
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
	if (flags & IOPASS_BIND_DRY_RUN) {
		/* the plan the real run would make, on the caller's scan: no lock, no write */
		r = guard(ctx, list, devs, n, flags, t, NULL);
		if (r == -ECANCELED)
			txn_error(t, "refused: nothing was changed");
		if (r == 0)
			r = plan_attach(ctx, t, NULL, devs, n, driver);
		for (size_t i = 0; r == 0 && i < t->ndevs; i++)
			if (t->devs[i].status != IOPASS_DEV_UNCHANGED)
				r = attach_one(ctx, t, &t->devs[i], driver, devs[i]->group, true);
		if (r == 0 && !driver_loaded(ctx, driver))
			txn_error(t, *ctx->sysroot ? "driver %s is not loaded below the sysroot, and "
						     "modules cannot be loaded there"
						   : "driver %s is not loaded; attach loads it first",
				  driver);
		return r;
	}

	r = session_begin(ctx, t, &s,
			  &(struct intent){ .op = JOP_ATTACH, .driver = driver, .devs = devs, .n = n,
					    .flags = flags & IOPASS_BIND_FORCE_RECOVERY });
	/* the guards, on the devices as they are now that this run holds the lock */
	if (r == 0)
		r = session_devs(ctx, t, &s, devs, n, &now);
	if (r == 0)
		r = guard(ctx, s.list, now, n, flags, t, NULL);
	if (r == -ECANCELED && !t->error)
		txn_error(t, "refused: nothing was changed");
	snprintf(j.driver, sizeof(j.driver), "%s", driver);
	if (r == 0)
		r = attach_locked(ctx, t, &s, now, n, driver, &j, true);
	free(now);
	journal_free(&j);
	session_end(&s);
	txn_finish(t, r);
	return r;
}

static int detach_one(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const struct record *rec, bool dry_run)
{
	struct planned p[3];
	char path[256], cur[128];
	const char *want = rec && *rec->driver ? rec->driver : NULL;
	/* never give back an override that names vfio: that is the state being undone */
	const char *ovr = rec && *rec->override && !driver_name_is_vfio(rec->override) ? rec->override
											 : "\n";
	/* a device that had no driver before attach stays unbound */
	size_t np = plan_dev(d, ovr, !rec || want, p);
	int r = run_plan(ctx, t, d, p, np, want, dry_run);

	if (r < 0 || dry_run || (rec && !want))
		return r;
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
		    records_add(fallback, bdf, iopass_persist_host_driver(p, i), NULL))
			rec = records_find(fallback, bdf);
	iopass_persist_free(p);
	return rec;
}

int iopass_detach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, unsigned flags,
		  struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct journal j = { .op = JOP_DETACH, .driver = "vfio-pci" };
	struct records fallback = { NULL, 0 };
	struct iopass_dev **now = NULL;
	struct iopass_txn *t;
	bool dry_run = flags & IOPASS_BIND_DRY_RUN, adopted = false;
	size_t changed = 0;
	int r;

	if (!ctx || !list || (!devs && n) || !ret_txn)
		return -EINVAL;
	t = txn_new();
	if (!t)
		return -ENOMEM;
	*ret_txn = t;
	if (!txn_guards_new(t))
		return -ENOMEM;

	if (!dry_run && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	/* nothing to detach: only an interrupted run's journal would need the session */
	if (n == 0 && (dry_run || !journal_pending(ctx)))
		return 0;
	if (dry_run) {
		r = guard_group_open(ctx, devs, n, flags, t, NULL);
		if (r == 0)
			r = records_peek(ctx, &s.state);
		if (r < 0 && r != -ECANCELED)
			r = 0; /* a plan from a record that cannot be read is the plan without one */
	} else {
		r = session_begin(ctx, t, &s,
				  &(struct intent){ .op = JOP_DETACH, .devs = devs, .n = n,
						    .flags = flags & IOPASS_BIND_FORCE_RECOVERY });
		if (r == 0)
			r = session_devs(ctx, t, &s, devs, n, &now);
		/* a running VM holds the group: refuse, unless forced; judged under the lock */
		if (r == 0)
			r = guard_group_open(ctx, now, n, flags, t, NULL);
	}
	if (r == -ECANCELED && !t->error)
		txn_error(t, "refused: nothing was changed");
	for (size_t i = 0; r == 0 && i < n; i++) {
		char cur[128] = "", ovr[128] = "";
		struct txdev *d = txn_dev(t, devs[i]->bdf);
		const struct record *rec, *was;

		if (!d) {
			r = -ENOMEM;
			break;
		}
		r = current_driver(ctx, d->bdf, cur, sizeof(cur));
		if (r == 0)
			r = current_override(ctx, d->bdf, ovr, sizeof(ovr));
		if (r < 0) {
			txn_error(t, "%s: cannot read its driver: %s", d->bdf, strerror(-r));
			break;
		}
		rec = detach_record(ctx, &s.state, &fallback, d->bdf);
		was = records_find(&s.inherited, d->bdf);
		d->from = xstrdup_or_null(t, *cur ? cur : NULL);
		d->override = xstrdup_or_null(t, *ovr ? ovr : NULL);
		/* a rollback puts back what it has now, or had before an interrupted detach of it */
		d->undo_driver = xstrdup_or_null(t, was ? (*was->driver ? was->driver : NULL) : d->from);
		d->undo_override = xstrdup_or_null(t, was ? (*was->override ? was->override : NULL)
						      : d->override);
		d->to = xstrdup_or_null(t, rec && *rec->driver ? rec->driver : NULL);
		/*
		 * Only devices on vfio (or with a record) are ours to give back, judged
		 * as they are now, under the lock: the scan may be older than another
		 * run's detach.
		 */
		if (!driver_is_vfio(ctx, d->bdf, cur) && !rec && !*ovr) {
			d->status = IOPASS_DEV_UNCHANGED;
			continue;
		}
		/* back where the record says already (an interrupted detach): only the record goes */
		if (rec && !driver_is_vfio(ctx, d->bdf, cur) && !driver_name_is_vfio(ovr) &&
		    streq(cur, rec->driver) && records_find(&s.state, d->bdf)) {
			d->adopt = true;
			continue;
		}
		if (!journal_add(ctx, &j, d->bdf, d->undo_driver, d->undo_override))
			r = -ENOMEM;
	}
	if (r == 0 && t->oom)
		r = -ENOMEM;
	for (size_t i = 0; i < t->ndevs; i++)
		adopted |= t->devs[i].adopt;
	if (r < 0 || (j.devs.n == 0 && !adopted && !dry_run))
		goto out; /* nothing of ours among them */
	if (dry_run) {
		for (size_t i = 0; r == 0 && i < t->ndevs; i++)
			if (t->devs[i].status != IOPASS_DEV_UNCHANGED && !t->devs[i].adopt)
				r = detach_one(ctx, t, &t->devs[i],
					       detach_record(ctx, &s.state, &fallback, t->devs[i].bdf), true);
		goto out;
	}
	if (j.devs.n) {
		r = journal_store(s.dirfd, &j);
		if (r < 0) {
			txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (d->status == IOPASS_DEV_UNCHANGED)
			continue;
		changed = i + 1;
		if (!d->adopt)
			r = detach_one(ctx, t, d, detach_record(ctx, &s.state, &fallback, d->bdf), false);
		if (r < 0)
			break;
		d->status = IOPASS_DEV_DETACHED;
	}
	if (r < 0) {
		rollback_all(ctx, t, s.dirfd, changed, "every device is back on the driver it had", true);
		goto out;
	}
	for (size_t i = 0; i < t->ndevs; i++)
		if (t->devs[i].status == IOPASS_DEV_DETACHED)
			records_remove(&s.state, t->devs[i].bdf);
	r = records_store(s.dirfd, &s.state);
	if (r == 0)
		r = journal_remove(s.dirfd);
	else
		txn_error(t, "the devices are detached, but the record could not be updated: %s",
			  strerror(-r));
out:
	free(now);
	records_free(&fallback);
	journal_free(&j);
	session_end(&s);
	txn_finish(t, r);
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

const char *iopass_dev_status_name(enum iopass_dev_status s)
{
	static const char *const names[] = {
		[IOPASS_DEV_PLANNED] = "planned",     [IOPASS_DEV_UNCHANGED] = "unchanged",
		[IOPASS_DEV_ATTACHED] = "attached",   [IOPASS_DEV_DETACHED] = "detached",
		[IOPASS_DEV_ROLLED_BACK] = "rolled-back", [IOPASS_DEV_GONE] = "gone",
		[IOPASS_DEV_FAILED] = "failed",       [IOPASS_DEV_CREATED] = "created",
		[IOPASS_DEV_REMOVED] = "removed",
	};

	return (size_t)s < ARRAY_SIZE(names) ? names[s] : NULL;
}

enum iopass_dev_status iopass_txn_dev_state(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? t->devs[i].status : IOPASS_DEV_PLANNED;
}

const char *iopass_txn_dev_status(const struct iopass_txn *t, size_t i)
{
	return i < t->ndevs ? iopass_dev_status_name(t->devs[i].status) : NULL;
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
	return i < t->nrecovered ? t->recovered[i].target : NULL;
}

const char *iopass_txn_recovered_op(const struct iopass_txn *t, size_t i)
{
	return i < t->nrecovered ? t->recovered[i].op : NULL;
}

const char *iopass_txn_recovered_action(const struct iopass_txn *t, size_t i)
{
	return i < t->nrecovered ? iopass_recovery_action_name(t->recovered[i].action) : NULL;
}

enum iopass_recovery_action iopass_txn_recovered_state(const struct iopass_txn *t, size_t i)
{
	return i < t->nrecovered ? t->recovered[i].action : IOPASS_RECOVERY_GONE;
}

const char *iopass_txn_recovered_driver(const struct iopass_txn *t, size_t i)
{
	return i < t->nrecovered ? t->recovered[i].driver : NULL;
}
