// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * attach and detach: driver rebinding as a transaction (the driver primitives
 * are in driver.c, the lock, record, journal and recovery in state.c, the
 * guards in guard.c, the transaction object in txn.c).
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

/*
 * Give d the reset methods (a blank-separated list) unless it has
 * them: one write, read back, as the first step of its move.
 */
static int set_reset(struct iopass_ctx *ctx, struct iopass_txn *t, const struct txdev *d,
		     const char *methods, bool dry_run)
{
	char path[256], now[128] = "";
	int r = current_reset_methods(ctx, d->bdf, now, sizeof(now));

	if (r == 0 && streq(now, methods))
		return 0;
	if (dry_run) {
		dev_path(path, sizeof(path), d->bdf, "reset_method");
		txn_step(t, path, methods, false);
		return t->oom ? -ENOMEM : 0;
	}
	r = reset_methods_set(ctx, t, d->bdf, methods, false);
	if (r == -EBADE && current_reset_methods(ctx, d->bdf, now, sizeof(now)) == 0)
		txn_error(t, "%s: reset_method reads '%s' after writing '%s': the device does not "
			     "support every method named", d->bdf, now, methods);
	else if (r < 0)
		txn_error(t, "%s: writing '%s' to reset_method failed: %s (a method the device does "
			     "not support?)", d->bdf, methods, strerror(-r));
	return r;
}

static int attach_one(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const char *driver, const char *reset, int group, bool dry_run)
{
	struct planned p[3];
	char cur[128];
	size_t np = plan_dev(d, driver, true, p);
	int r = reset ? set_reset(ctx, t, d, reset, dry_run) : 0;

	if (r == 0)
		r = run_plan(ctx, t, d, p, np, driver, dry_run);
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
	int r = restore_dev(ctx, t, d->bdf, d->undo_driver, d->undo_override, d->undo_reset, true);

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

/*
 * With reset methods asked for: each device moved keeps what it has now to
 * give back (or what it had before an interrupted run). One already on the
 * driver with other methods is refused: its record would not know them.
 */
static int plan_reset(struct iopass_ctx *ctx, struct iopass_txn *t, struct txdev *d,
		      const struct record *was, const char *driver, const char *reset)
{
	char now[128];
	int r = current_reset_methods(ctx, d->bdf, now, sizeof(now));

	if (r == -ENOENT) {
		txn_error(t, "%s has no reset_method attribute: choosing reset methods needs Linux 5.15 "
			     "or newer; nothing was changed", d->bdf);
		return -EOPNOTSUPP;
	}
	if (r < 0) {
		txn_error(t, "%s: cannot read its reset_method: %s", d->bdf, strerror(-r));
		return r;
	}
	if (d->status == IOPASS_DEV_UNCHANGED) {
		if (streq(now, reset))
			return 0;
		txn_error(t, "%s is on %s already, with reset_method '%s': detach it first to attach "
			     "it with '%s'; nothing was changed", d->bdf, d->to ? d->to : driver, now, reset);
		return -EALREADY;
	}
	d->undo_reset = xstrdup_or_null(t, was && was->has_reset ? was->reset : now);
	return t->oom ? -ENOMEM : 0;
}

/* What each device is bound to now, and whether it needs a change. */
static int plan_attach(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		       struct iopass_dev *const *devs, size_t n, const struct attach_req *req)
{
	const char *driver = req->driver, *reset = req->reset;

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
		/* attached before the interrupted run: the record knows what to give back, not was */
		if (was || rec)
			d->override = xstrdup_or_null(t, rec ? (*rec->override ? rec->override : NULL)
							     : (*was->override ? was->override : NULL));
		else
			d->override = xstrdup_or_null(t, *ovr && !driver_name_is_vfio(ovr) ? ovr : NULL);
		if (was)
			d->adopt = streq(cur, driver); /* left on the driver by the interrupted attach */
		if (!was && (streq(cur, driver) || (req->keep_vfio && driver_is_vfio(ctx, d->bdf, cur)))) {
			d->status = IOPASS_DEV_UNCHANGED;
			free(d->to);
			d->to = xstrdup_or_null(t, cur);
		}
		if (reset) {
			r = plan_reset(ctx, t, d, was, driver, reset);
			if (r < 0)
				return r;
		} else if (was && was->has_reset) {
			/* an interrupted attach --reset-method: keep what the device had to give back */
			d->undo_reset = xstrdup_or_null(t, was->reset);
		}
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
	/* the record first: an interrupted re-attach's journal has the vfio driver it left */
	const struct record *was = s ? records_find(&s->state, d->bdf) : NULL;

	if (!was && s)
		was = records_find(&s->inherited, d->bdf);
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
		  struct iopass_dev *const *devs, size_t n, const struct attach_req *req,
		  struct journal *j, bool own_journal)
{
	const char *driver = req->driver, *reset = req->reset;
	size_t changed = 0, first = t->ndevs;
	int r = plan_attach(ctx, t, s, devs, n, req);

	if (r < 0)
		return r;
	for (size_t i = first; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];
		struct record *e;

		if (d->status == IOPASS_DEV_UNCHANGED)
			continue;
		e = journal_add(ctx, j, d->bdf, d->undo_driver, d->undo_override);
		if (!e)
			return -ENOMEM;
		if (d->undo_reset) {
			e->has_reset = true;
			snprintf(e->reset, sizeof(e->reset), "%s", d->undo_reset);
		}
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
			r = attach_one(ctx, t, d, driver, reset, devs[i - first]->group, false);
		else if (reset)
			r = set_reset(ctx, t, d, reset, false);
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
			const struct record *old = records_find(&s->state, d->bdf);
			struct record *k, keep = old ? *old : (struct record){ 0 };
			char origin[72];

			snprintf(origin, sizeof(origin), "%s", origin_driver(s, d) ? origin_driver(s, d) : "");
			k = records_add(&s->state, d->bdf, *origin ? origin : NULL, d->override);
			if (!k)
				return -ENOMEM;
			/* the methods to give back: those before the first change, kept across re-attaches */
			if (keep.has_reset || d->undo_reset) {
				k->has_reset = true;
				snprintf(k->reset, sizeof(k->reset), "%s",
					 keep.has_reset ? keep.reset : d->undo_reset);
			}
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
		  struct iopass_dev *const *devs, size_t n, const char *driver, const char *reset,
		  unsigned flags, struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct journal j = { .op = JOP_ATTACH };
	struct iopass_dev **now = NULL;
	struct iopass_txn *t;
	int r;

	if (!ctx || !list || (!devs && n) || !ret_txn)
		return -EINVAL;
	char reset_buf[128];

	if (!driver)
		driver = "vfio-pci";
	if (!iopass_driver_name_valid(driver) ||
	    (reset && iopass_reset_methods_parse(reset, reset_buf, sizeof(reset_buf)) < 0))
		return -EINVAL;
	if (reset)
		reset = reset_buf;
	const struct attach_req req = { .driver = driver, .reset = reset,
					.keep_vfio = flags & IOPASS_BIND_KEEP_VFIO };

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
			r = plan_attach(ctx, t, NULL, devs, n, &req);
		/* plan_attach made t->devs[i] for devs[i] */
		for (size_t i = 0; r == 0 && i < n && i < t->ndevs; i++)
			if (t->devs[i].status != IOPASS_DEV_UNCHANGED)
				r = attach_one(ctx, t, &t->devs[i], driver, reset, devs[i]->group, true);
		if (r == 0 && !driver_loaded(ctx, driver))
			txn_error(t, *ctx->sysroot ? "driver %s is not loaded below the sysroot, and "
						     "modules cannot be loaded there"
						   : "driver %s is not loaded; attach loads it first",
				  driver);
		return r;
	}

	r = session_open(ctx, t, &s,
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
		r = attach_locked(ctx, t, &s, now, n, &req, &j, true);
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
	/* the reset methods attach changed go back first, while the device is still ours */
	int r = 0;

	if (rec && rec->has_reset) {
		r = dry_run ? set_reset(ctx, t, d, rec->reset, true)
			    : reset_methods_give_back(ctx, t, d->bdf, rec->reset, false);
		if (r < 0)
			txn_error(t, "%s: giving back its reset methods '%s' failed: %s", d->bdf,
				  rec->reset, strerror(-r));
	}

	if (r == 0)
		r = run_plan(ctx, t, d, p, np, want, dry_run);

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

/*
 * The detach of devs (of s->list) inside a session: plan, journal, writes,
 * record. With dry_run, s->state is a peek of the record and nothing is
 * journaled or written: the plan lands in t.
 */
int detach_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		  struct iopass_dev *const *devs, size_t n, bool dry_run)
{
	struct journal j = { .op = JOP_DETACH, .driver = "vfio-pci" };
	struct records fallback = { NULL, 0 };
	size_t changed = 0, first = t->ndevs;
	bool adopted = false;
	int r = 0;

	if (n && !devs)
		return -EINVAL;
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
		rec = detach_record(ctx, &s->state, &fallback, d->bdf);
		was = records_find(&s->inherited, d->bdf);
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
		    streq(cur, rec->driver) && records_find(&s->state, d->bdf)) {
			d->adopt = true;
			continue;
		}
		struct record *e = journal_add(ctx, &j, d->bdf, d->undo_driver, d->undo_override);

		if (!e) {
			r = -ENOMEM;
			break;
		}
		/*
		 * A rollback gives back the reset methods it has now too, or those it had
		 * before an interrupted detach of it (which may have written the originals).
		 */
		if (was && was->has_reset)
			snprintf(cur, sizeof(cur), "%s", was->reset);
		if ((was && was->has_reset) ||
		    (rec && rec->has_reset && current_reset_methods(ctx, d->bdf, cur, sizeof(cur)) == 0)) {
			d->undo_reset = xstrdup_or_null(t, cur);
			e->has_reset = true;
			snprintf(e->reset, sizeof(e->reset), "%s", cur);
		}
	}
	if (r == 0 && t->oom)
		r = -ENOMEM;
	for (size_t i = first; i < t->ndevs; i++)
		adopted |= t->devs[i].adopt;
	if (r < 0 || (j.devs.n == 0 && !adopted && !dry_run))
		goto out; /* nothing of ours among them */
	if (dry_run) {
		for (size_t i = first; r == 0 && i < t->ndevs; i++)
			if (t->devs[i].status != IOPASS_DEV_UNCHANGED && !t->devs[i].adopt)
				r = detach_one(ctx, t, &t->devs[i],
					       detach_record(ctx, &s->state, &fallback, t->devs[i].bdf), true);
		goto out;
	}
	if (j.devs.n) {
		r = journal_store(s->dirfd, &j);
		if (r < 0) {
			txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
			goto out;
		}
	}
	for (size_t i = first; i < t->ndevs; i++) {
		struct txdev *d = &t->devs[i];

		if (d->status == IOPASS_DEV_UNCHANGED)
			continue;
		changed = i + 1;
		if (!d->adopt)
			r = detach_one(ctx, t, d, detach_record(ctx, &s->state, &fallback, d->bdf), false);
		if (r < 0)
			break;
		d->status = IOPASS_DEV_DETACHED;
	}
	if (r < 0) {
		rollback_all(ctx, t, s->dirfd, changed, "every device is back on the driver it had", true);
		goto out;
	}
	for (size_t i = first; i < t->ndevs; i++)
		if (t->devs[i].status == IOPASS_DEV_DETACHED)
			records_remove(&s->state, t->devs[i].bdf);
	r = records_store(s->dirfd, &s->state);
	if (r == 0)
		r = journal_remove(s->dirfd);
	else
		txn_error(t, "the devices are detached, but the record could not be updated: %s",
			  strerror(-r));
out:
	records_free(&fallback);
	journal_free(&j);
	return r;
}

int iopass_detach(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		  struct iopass_dev *const *devs, size_t n, unsigned flags,
		  struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct iopass_dev **now = NULL;
	struct iopass_txn *t;
	bool dry_run = flags & IOPASS_BIND_DRY_RUN;
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
	if (n == 0 && (dry_run || !(journal_pending(ctx) || persist_journal_pending(ctx))))
		return 0;
	if (dry_run) {
		r = guard_group_open(ctx, devs, n, flags, t, NULL);
		if (r == 0)
			r = records_peek(ctx, &s.state);
		if (r < 0 && r != -ECANCELED)
			r = 0; /* a plan from a record that cannot be read is the plan without one */
	} else {
		r = session_open(ctx, t, &s,
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
	if (r == 0)
		r = detach_locked(ctx, t, &s, dry_run ? devs : now, n, dry_run);
	free(now);
	session_end(&s);
	txn_finish(t, r);
	return r;
}
