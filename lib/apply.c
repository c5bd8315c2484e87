// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apply: make the host match a desired state (desired.c), through the
 * transactions of vf, detach, attach and persist, in one writing session.
 *
 * A run: lock and recovery; a full scan under the lock (nth= counts in it);
 * every line resolved to its device (a line that cannot be is a refusal);
 * the plan; every guard of the plan, and the boot files' check, before the
 * first write. Then the VF counts (per PF: remove, then create), a new scan
 * and the plan again for the VFs made; the moves back to the host drivers,
 * the moves onto vfio drivers; the boot configuration last. Each step is
 * journaled as the command of its own would journal it; a failed step rolls
 * itself back, and the driver moves made before it are undone (detached
 * again, attached again), so that the devices are where they were. VF counts
 * changed before a failure stay: the VFs that were removed cannot come back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iopass-private.h"

struct change {
	unsigned line;
	char bdf[IOPASS_BDF_MAX];
	enum iopass_change_field field;
	char *from, *to;
	enum iopass_change_status status;
};

struct iopass_apply {
	struct iopass_txn *t;
	struct change *c;
	size_t n;
	size_t *order;          /* c by line (the plan makes VF counts first) */
	char *boot_note;
	char *undo_error;       /* why undoing a move failed */
	char *note;             /* dry run: what the plan could not say yet */
	const char *initramfs;
	bool boot_changed;
	bool dry_run;           /* the plan only: PLANNED counts as a change when it was not refused */
	int rc;
	bool oom;
};

/* One device's move of the plan: onto driver (a vfio driver), or back (driver NULL). */
struct move {
	struct iopass_dev *dev;
	const char *driver;
	size_t change;       /* its entry in a->c */
	const char *host;    /* back to the host: the recorded driver, NULL: the kernel's choice */
	bool recorded;       /* attach's record had it before this run */
	char override[72];   /* back to the host: its driver_override before this run */
	bool had_reset;      /* back to the host: attach --reset-method set its methods ... */
	char reset[128];     /* ... to these, which undoing the move sets again */
};

struct vfcount {
	struct iopass_dev pf; /* a copy: bdf, addr, IDs, VF counts (scans replace the list) */
	unsigned to;
	bool attach;
	size_t change;
	unsigned line;        /* the vfs= line */
};

struct plan {
	struct iopass_dev **dev; /* per line; NULL: absent and optional, or made by vfs= later */
	struct move *moves;
	size_t nmoves;
	struct vfcount *vf;
	size_t nvf;
	struct persist_change *boot; /* in and out of the boot configuration */
	size_t nboot, nadd;
	bool deferred;           /* lines wait for the VFs that vfs= makes */
	struct wait {            /* ... which VF each of them means: PF, nth (1 for the only one) */
		struct iopass_addr pf;
		unsigned nth, line;
	} *waits;
	size_t nwaits;
	bool deferred_boot;      /* ... and one of them has 'boot' */
};

static void plan_free(struct plan *pl)
{
	free(pl->dev);
	free(pl->moves);
	free(pl->vf);
	free(pl->boot);
	free(pl->waits);
	*pl = (struct plan){ 0 };
}

/* grow *arr (of *n elements of size) by one zeroed element; NULL on ENOMEM */
static void *push(void *arr, size_t *n, size_t size)
{
	char *na = realloc(*(void **)arr, (*n + 1) * size);

	if (!na)
		return NULL;
	*(void **)arr = na;
	memset(na + *n * size, 0, size);
	return na + (*n)++ * size;
}

static size_t change_add(struct iopass_apply *a, unsigned line, const char *bdf,
			 enum iopass_change_field field, const char *from, const char *to)
{
	struct change *c = push(&a->c, &a->n, sizeof(*c));

	if (!c) {
		a->oom = true;
		return SIZE_MAX;
	}
	c->line = line;
	snprintf(c->bdf, sizeof(c->bdf), "%s", bdf);
	c->field = field;
	c->from = from ? strdup(from) : NULL;
	c->to = to ? strdup(to) : NULL;
	a->oom |= (from && !c->from) || (to && !c->to);
	c->status = streq(from ? from : "", to ? to : "") ? IOPASS_CHANGE_UNCHANGED
							   : IOPASS_CHANGE_PLANNED;
	return a->n - 1;
}

static void change_set(struct iopass_apply *a, size_t i, enum iopass_change_status st)
{
	if (i < a->n && a->c[i].status != IOPASS_CHANGE_UNCHANGED)
		a->c[i].status = st;
}

/* The planned changes of one field that a step did not get to. */
static void changes_not_run(struct iopass_apply *a, size_t from)
{
	for (size_t i = from; i < a->n; i++)
		if (a->c[i].status == IOPASS_CHANGE_PLANNED)
			a->c[i].status = IOPASS_CHANGE_NOT_RUN;
}

/* A line that cannot be applied: a finding that blocks, beside the guards'. */
static void refuse_line(struct iopass_txn *t, int r, const char *msg)
{
	struct iopass_report *g = txn_guards_new(t);
	const char *code = r == -ESTALE ? "desired-other-card" : r == -EEXIST ? "desired-ambiguous"
			 : r == -EOPNOTSUPP ? "desired-not-pf" : r == -ERANGE ? "desired-vfs-range"
			 : r == -EXDEV ? "desired-vf-remade" : r == -ENOLINK ? "desired-pf-driver"
			 : "desired-absent";

	if (!g) {
		t->oom = true;
		return;
	}
	report_add(g, IOPASS_LEVEL_FAIL, code, "%s", msg);
	report_effect(g, IOPASS_EFFECT_BLOCKS);
}

/* The vfio driver the record holds dev on from boot on (its IDs checked), or NULL. */
static const char *persisted_driver(const struct iopass_persist *p, const struct iopass_dev *dev)
{
	char ids[12];

	snprintf(ids, sizeof(ids), "%04x:%04x", dev->vendor, dev->device);
	for (size_t i = 0; i < iopass_persist_count(p); i++)
		if (streq(iopass_persist_bdf(p, i), dev->bdf))
			return streq(iopass_persist_ids(p, i), ids) ? iopass_persist_driver(p, i) : NULL;
	return NULL;
}

/* The VF count this run gives a PF, or NULL when it keeps its count. */
static const struct vfcount *vfcount_for(const struct plan *pl, const struct iopass_addr *pf)
{
	for (size_t i = 0; i < pl->nvf; i++)
		if (iopass_addr_cmp(&pl->vf[i].pf.addr, pf) == 0)
			return &pl->vf[i];
	return NULL;
}

/* A refusal of line e, with its message; -ENOMEM when even that fails. */
static int refuse_fmt(struct iopass_apply *a, int err, const char *fmt, ...) _printf_(3, 4);
static int refuse_fmt(struct iopass_apply *a, int err, const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	refuse_line(a->t, err, m);
	free(m);
	return 0;
}

/*
 * A pf= line whose PF gets a new VF count: its VFs do not exist yet, so what
 * can be known now is checked now, before any write: the VFs' IDs (the PF's
 * vendor, its sriov_vf_device), whether the count leaves the line a VF, and
 * which one. 1 when the line is refused.
 */
static int check_deferred(struct iopass_ctx *ctx, struct iopass_apply *a,
			  const struct iopass_desired_entry *e, const struct vfcount *v)
{
	char path[128], buf[16];
	uint32_t vfdev = 0;
	bool ids_known = false, ids_ok;
	ssize_t len;
	int r = 0;

	dev_path(path, sizeof(path), v->pf.bdf, "sriov_vf_device");
	len = sysfs_read(ctx, path, buf, sizeof(buf));
	if (len > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		ids_known = parse_hex(buf, 4, true, &vfdev) == 0;
	}
	/* a VF has its PF's vendor ID (PCIe SR-IOV 9.3.3.11: VF Device ID, the vendor is the PF's) */
	ids_ok = e->vendor == v->pf.vendor && (!ids_known || e->device == vfdev);
	if (ids_ok && e->has_subsystem && !e->optional) {
		/* a VF's subsystem device ID is its own, known only once it is there */
		r = refuse_fmt(a, -ENODEV, "line %u: the subsystem IDs of VFs that line %u makes cannot "
			       "be checked before they are there; drop /%04x:%04x from the line, or mark "
			       "it 'optional'", e->line, v->line, e->subsystem_vendor, e->subsystem_device);
		return r < 0 ? r : 1;
	}
	if (!ids_ok) {
		if (e->optional)
			return 0; /* no such VF: passed over, as an absent device is */
		if (ids_known)
			r = refuse_fmt(a, -ENODEV, "line %u: the VFs that line %u makes on %s are "
				       "%04x:%04x (sriov_vf_device), not %04x:%04x; correct the IDs, or "
				       "mark the line 'optional'", e->line, v->line, v->pf.bdf,
				       v->pf.vendor, vfdev, e->vendor, e->device);
		else
			r = refuse_fmt(a, -ENODEV, "line %u: the VFs that line %u makes on %s have its "
				       "vendor ID %04x, not %04x; correct the IDs, or mark the line "
				       "'optional'", e->line, v->line, v->pf.bdf, v->pf.vendor, e->vendor);
	} else if (v->to == 0 && !e->optional) {
		r = refuse_fmt(a, -ENODEV, "line %u: line %u gives %s vfs=0: no VF is left for it; drop "
			       "the line, or mark it 'optional'", e->line, v->line, v->pf.bdf);
	} else if (e->nth && e->nth > v->to && !e->optional) {
		r = refuse_fmt(a, -ENODEV, "line %u: nth=%u, but %s gets %u VFs (line %u); correct nth= "
			       "or vfs=", e->line, e->nth, v->pf.bdf, v->to, v->line);
	} else if (!e->nth && v->to > 1) {
		r = refuse_fmt(a, -EEXIST, "line %u: %s gets %u VFs of %04x:%04x (line %u); add nth=K "
			       "to say which", e->line, v->pf.bdf, v->to, e->vendor, e->device, v->line);
	} else {
		return 0;
	}
	return r < 0 ? r : 1;
}

/* The driver field of dev against want ("host" or a vfio driver): a move when they differ. */
static int plan_driver(struct iopass_ctx *ctx, struct iopass_apply *a, struct plan *pl,
		       struct records *state, unsigned line, struct iopass_dev *dev, const char *want)
{
	const char *cur = dev->driver;
	const struct record *rec = records_find(state, dev->bdf);
	struct move *m;
	size_t ci;

	if (streq(want, "host")) {
		bool vfio = iopass_dev_is_vfio(dev) || (cur && driver_name_is_vfio(cur));
		const char *host = rec && *rec->driver ? rec->driver : NULL;

		ci = change_add(a, line, dev->bdf, IOPASS_CHANGE_DRIVER, vfio ? cur : "host",
				vfio ? (host ? host : "host") : "host");
		if (!vfio)
			return a->oom ? -ENOMEM : 0;
		m = push(&pl->moves, &pl->nmoves, sizeof(*m));
		if (!m)
			return -ENOMEM;
		*m = (struct move){ .dev = dev, .driver = NULL, .change = ci, .host = host,
				    .recorded = rec != NULL };
		/* unreadable: "" (undo then clears the override, as detach would have) */
		if (current_override(ctx, dev->bdf, m->override, sizeof(m->override)) < 0)
			m->override[0] = '\0';
		m->had_reset = rec && rec->has_reset &&
			       current_reset_methods(ctx, dev->bdf, m->reset, sizeof(m->reset)) == 0;
		return a->oom ? -ENOMEM : 0;
	}
	ci = change_add(a, line, dev->bdf, IOPASS_CHANGE_DRIVER, cur ? cur : "none", want);
	if (cur && streq(cur, want))
		return a->oom ? -ENOMEM : 0;
	m = push(&pl->moves, &pl->nmoves, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct move){ .dev = dev, .driver = want, .change = ci };
	return a->oom ? -ENOMEM : 0;
}

/*
 * The boot field: a vfio line with 'boot' is in the boot configuration (on its
 * driver), any other line is not. The change carries the line: it is what the
 * desired state at IOPASS_DESIRED_FILE says of the device afterwards.
 */
static int plan_boot(struct iopass_apply *a, struct plan *pl, const struct iopass_persist *p,
		     struct records *state, const struct iopass_desired_entry *e,
		     struct iopass_dev *dev)
{
	const char *held = persisted_driver(p, dev);
	const struct record *rec = records_find(state, dev->bdf);
	bool want = e->boot, now = held != NULL;
	/* held from boot on by another vfio driver than the line's: the rule changes */
	bool other = want && now && !streq(held, e->driver);
	struct persist_change *c;

	change_add(a, e->line, dev->bdf, IOPASS_CHANGE_BOOT, other ? held : now ? "yes" : "no",
		   want ? "yes" : "no");
	if (a->oom)
		return -ENOMEM;
	if (now == want && !other)
		return 0;
	c = push(&pl->boot, &pl->nboot, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct persist_change){ .op = want ? PERSIST_ADD : PERSIST_REMOVE, .dev = dev,
				      .bdf = dev->bdf, .driver = e->driver, .line = e };
	if (!want)
		return 0;
	pl->nadd++;
	/* the host driver it has, or the one the record keeps for a device on vfio */
	c->host_driver = rec ? (*rec->driver ? rec->driver : NULL)
			     : dev->driver && !driver_name_is_vfio(dev->driver) ? dev->driver : NULL;
	return 0;
}

static bool line_names(const struct plan *pl, size_t nlines, const struct iopass_dev *dev)
{
	for (size_t i = 0; i < nlines; i++)
		if (pl->dev[i] == dev)
			return true;
	return false;
}

/*
 * The plan of d on list: every line to its device (refusals in t's guards),
 * and what differs. after_vfs: the VF counts are as d says (a scan after the
 * VF step), so the VF counts are not planned again and no line waits.
 */
static int plan_make(struct iopass_ctx *ctx, struct iopass_apply *a, const struct iopass_desired *d,
		     const struct iopass_devlist *list, const struct iopass_persist *p,
		     struct records *state, bool after_vfs, struct plan *pl)
{
	size_t n = iopass_desired_count(d);
	bool refused = false;
	int r;

	pl->dev = calloc(n ? n : 1, sizeof(*pl->dev));
	if (!pl->dev)
		return -ENOMEM;
	/* pass 1: the lines that do not select a VF by its PF, and the VF counts */
	for (int pass = 1; pass <= 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			const struct iopass_desired_entry *e = iopass_desired_get(d, i);
			_cleanup_free_ char *msg = NULL;
			struct iopass_dev *dev = NULL;
			const struct vfcount *v;

			if (e->has_pf != (pass == 2))
				continue;
			v = e->has_pf && !after_vfs ? vfcount_for(pl, &e->pf) : NULL;
			if (v) {
				/* the VFs of that PF are made in this run: planned after them */
				r = check_deferred(ctx, a, e, v);
				if (r < 0)
					return r;
				refused |= r > 0;
				/* two lines for one VF to be: its PF and number (the only one: 1) */
				if (r == 0 && (e->nth || v->to == 1)) {
					unsigned nth = e->nth ? e->nth : 1;
					struct wait *w = NULL;

					for (size_t k = 0; k < pl->nwaits && !w; k++)
						if (!iopass_addr_cmp(&pl->waits[k].pf, &e->pf) &&
						    pl->waits[k].nth == nth)
							w = &pl->waits[k];
					if (w) {
						r = refuse_fmt(a, -EEXIST, "line %u: the same VF as line %u "
							       "(VF %u of %s); one line per device", e->line,
							       w->line, nth, v->pf.bdf);
						if (r < 0)
							return r;
						refused = true;
					} else {
						w = push(&pl->waits, &pl->nwaits, sizeof(*w));
						if (!w)
							return -ENOMEM;
						*w = (struct wait){ .pf = e->pf, .nth = nth, .line = e->line };
					}
				}
				pl->deferred = true;
				pl->deferred_boot |= e->boot;
				continue;
			}
			r = iopass_desired_resolve(d, i, list, &dev, &msg);
			if (r == -ENOMEM)
				return r;
			if (r == 0 && dev && line_names(pl, n, dev)) {
				free(msg);
				msg = NULL;
				for (size_t k = 0; k < n; k++)
					if (pl->dev[k] == dev && asprintf(&msg, "line %u: the same device as "
						"line %u (%s); one line per device", e->line,
						iopass_desired_get(d, k)->line, dev->bdf) < 0)
						return -ENOMEM;
				r = -EEXIST;
			}
			/* the PF's driver makes its VFs (as iopass vf create checks) */
			if (r == 0 && dev && e->vfs > 0 && e->vfs <= dev->totalvfs && !after_vfs &&
			    (!dev->driver || iopass_dev_is_vfio(dev)) && dev->numvfs != e->vfs) {
				if (asprintf(&msg, "line %u: vfs=%d: %s is %s%s, and VFs are made by a PF's "
						   "host driver; bind it to its host driver first (a line with vfs= "
						   "gives it none)", e->line, e->vfs, dev->bdf,
					     dev->driver ? "on " : "bound to no driver",
					     dev->driver ? dev->driver : "") < 0)
					return -ENOMEM;
				r = -ENOLINK;
			}
			if (r == 0 && dev && e->vfs > 0 && e->vfs > dev->totalvfs) {
				if (asprintf(&msg, "line %u: vfs=%d, but %s supports at most %d VFs "
						   "(sriov_totalvfs); correct vfs=", e->line, e->vfs, dev->bdf,
					     dev->totalvfs) < 0)
					return -ENOMEM;
				r = -ERANGE;
			}
			if (r < 0) {
				refuse_line(a->t, r, msg ? msg : strerror(-r));
				refused = true;
				continue;
			}
			pl->dev[i] = dev;
			if (!dev || e->vfs < 0)
				continue;
			if (!after_vfs) {
				int now = dev->numvfs > 0 ? dev->numvfs : 0;
				char from[16], to[16];
				struct vfcount *nv;
				size_t ci;

				snprintf(from, sizeof(from), "%d", now);
				snprintf(to, sizeof(to), "%d", e->vfs);
				ci = change_add(a, e->line, dev->bdf, IOPASS_CHANGE_VFS, from, to);
				if (now == e->vfs)
					continue;
				nv = push(&pl->vf, &pl->nvf, sizeof(*nv));
				if (!nv)
					return -ENOMEM;
				nv->pf = (struct iopass_dev){ .addr = dev->addr, .numvfs = dev->numvfs,
							      .totalvfs = dev->totalvfs, .vendor = dev->vendor,
							      .device = dev->device };
				snprintf(nv->pf.bdf, sizeof(nv->pf.bdf), "%s", dev->bdf);
				nv->to = (unsigned)e->vfs;
				nv->attach = e->vf_driver[0] && !streq(e->vf_driver, "host");
				nv->change = ci;
				nv->line = e->line;
			}
		}
	}
	/* a VF named by its address, of a PF whose VFs this run makes anew: gone by then */
	for (size_t i = 0; !after_vfs && i < n; i++) {
		const struct iopass_desired_entry *e = iopass_desired_get(d, i);
		const struct vfcount *v;
		struct iopass_addr pfa;

		if (!e->by_address || !pl->dev[i] || !pl->dev[i]->physfn ||
		    iopass_addr_parse(pl->dev[i]->physfn, &pfa) < 0)
			continue;
		v = vfcount_for(pl, &pfa);
		if (!v)
			continue;
		r = refuse_fmt(a, -EXDEV, "line %u: %s is a VF of %s, whose VFs line %u makes anew (vfs=); "
			       "select it as '* %04x:%04x %s pf=%s nth=K'", e->line, pl->dev[i]->bdf,
			       v->pf.bdf, v->line, e->vendor, e->device, e->driver, v->pf.bdf);
		if (r < 0)
			return r;
		refused = true;
	}
	if (refused)
		return -ECANCELED;
	/* what differs: the drivers, and the boot configuration */
	for (size_t i = 0; i < n; i++) {
		const struct iopass_desired_entry *e = iopass_desired_get(d, i);
		struct iopass_dev *dev = pl->dev[i];
		struct iopass_dev *const *vfs;
		size_t nvfs;

		if (!dev)
			continue;
		r = plan_driver(ctx, a, pl, state, e->line, dev, e->driver);
		if (r == 0)
			r = plan_boot(a, pl, p, state, e, dev);
		if (r < 0)
			return r;
		if (!e->vf_driver[0])
			continue;
		if (!after_vfs && vfcount_for(pl, &dev->addr)) {
			pl->deferred = true; /* the VFs that vfs= makes: planned once they are there */
			continue;
		}
		/* the PF's VFs, but for those a line of their own names */
		nvfs = devlist_vfs(list, dev, &vfs);
		for (size_t k = 0; k < nvfs; k++) {
			if (line_names(pl, n, vfs[k]))
				continue;
			r = plan_driver(ctx, a, pl, state, e->line, vfs[k], e->vf_driver);
			if (r < 0)
				return r;
		}
	}
	return a->oom ? -ENOMEM : 0;
}

static bool in_list(struct iopass_dev *const *devs, size_t n, const struct iopass_dev *dev)
{
	for (size_t i = 0; i < n; i++)
		if (devs[i] == dev)
			return true;
	return false;
}

/* Every guard of the plan, on list, before anything is written. */
static int plan_guards(struct iopass_ctx *ctx, struct iopass_apply *a, const struct plan *pl,
		       const struct iopass_devlist *list, unsigned flags)
{
	/* one array: the moves onto vfio from its start, those back from the middle */
	struct iopass_dev **onto = calloc(2 * (pl->nmoves + 1), sizeof(*onto));
	struct iopass_dev **back = onto ? onto + pl->nmoves + 1 : NULL;
	size_t nonto = 0, nback = 0;
	bool refused = false;
	int r = -ENOMEM;

	if (!onto || !txn_guards_new(a->t))
		goto out;
	for (size_t i = 0; i < pl->nmoves; i++) {
		if (pl->moves[i].driver)
			onto[nonto++] = pl->moves[i].dev;
		else
			back[nback++] = pl->moves[i].dev;
	}
	/* onto vfio: attach's guards, the set being every device this run puts there */
	r = nonto ? guard(ctx, list, onto, nonto, flags, a->t, NULL) : 0;
	refused |= r == -ECANCELED;
	if (r < 0 && r != -ECANCELED)
		goto out;
	r = nback ? guard_group_open(ctx, back, nback, flags, a->t, NULL) : 0;
	refused |= r == -ECANCELED;
	if (r < 0 && r != -ECANCELED)
		goto out;
	/*
	 * attach's guards count a member on vfio as one that keeps the group viable:
	 * not one that this run gives back to the host. A device given back while
	 * an endpoint of its group stays on vfio (or goes there) splits the group.
	 */
	for (size_t i = 0; i < nback; i++) {
		struct iopass_dev *const *members;
		size_t nm = back[i]->group < 0 ? 0 : devlist_group(list, back[i]->group, &members);

		for (size_t k = 0; k < nm; k++) {
			struct iopass_dev *m = members[k];

			if (m == back[i] || !iopass_dev_is_endpoint(m) || in_list(back, nback, m) ||
			    !(in_list(onto, nonto, m) || iopass_dev_is_vfio(m)))
				continue;
			report_add(a->t->guards, IOPASS_LEVEL_FAIL, "group-not-viable",
				   "%s: goes back to the host in this run while %s of its group %d is on "
				   "a vfio driver: VFIO will not open the group", back[i]->bdf, m->bdf,
				   back[i]->group);
			report_effect(a->t->guards, IOPASS_EFFECT_NOT_VIABLE);
			report_hint(a->t->guards, "give every endpoint of group %d the same side in the "
				    "file: all on vfio, or all with the host", back[i]->group);
			refused |= !(flags & IOPASS_BIND_FORCE);
			break;
		}
	}
	r = -ENOMEM;
	if (report_oom(a->t->guards))
		goto out;
	for (size_t i = 0; i < pl->nvf; i++) {
		struct iopass_dev *pf = iopass_devlist_find(list, &pl->vf[i].pf.addr);
		struct iopass_dev *const *vfs;
		size_t nvfs = pf ? devlist_vfs(list, pf, &vfs) : 0;

		r = nvfs ? guard_vfs(ctx, vfs, nvfs, flags, a->t) : 0;
		refused |= r == -ECANCELED;
		if (r < 0 && r != -ECANCELED)
			goto out;
	}
	r = refused ? -ECANCELED : 0;
out:
	free(onto);
	return r;
}

/* The boot files may be written: checked before the first write, so that the last step holds. */
static int boot_check(struct iopass_ctx *ctx, struct iopass_apply *a, const struct plan *pl,
		      unsigned flags)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	if (!pl->nboot && !pl->deferred_boot)
		return 0;
	if (pl->nadd || pl->deferred_boot) {
		const char *helper;

		r = iopass_persist_helper(ctx, &helper);
		if (r < 0) {
			/* the rule would name a program udev cannot run: the rebind would never happen */
			txn_error(a->t, "'boot': the udev rule would run %s, which %s (this build is not "
					"installed); nothing was changed", helper,
				  r == -ENOENT ? "does not exist" : "is not an executable file");
			return r;
		}
	}
	r = persist_set_locked(ctx, pl->boot, pl->nboot, flags, true, &msg);
	if (r < 0)
		txn_error(a->t, "%s", msg ? msg : strerror(-r));
	return r;
}

/* A step of its own transaction, merged into the run's. */
static void step_merge(struct iopass_apply *a, struct iopass_txn *sub)
{
	if (sub)
		txn_merge(a->t, sub);
	iopass_txn_free(sub);
}

static struct iopass_dev *find_now(struct session *s, const struct iopass_dev *dev)
{
	return iopass_devlist_find(s->list, &dev->addr);
}

/*
 * Undo the moves that steps of this run completed (done[i]), newest first:
 * back to the host what went onto vfio, onto its vfio driver what came back.
 * Each is a journaled step of its own. false when one of them failed.
 */
static bool undo_moves(struct iopass_ctx *ctx, struct iopass_apply *a, struct session *s,
		       const struct plan *pl, const bool *done)
{
	bool clean = true;

	for (size_t i = pl->nmoves; i-- > 0;) {
		const struct move *m = &pl->moves[i];
		struct iopass_dev *dev = find_now(s, m->dev);
		struct iopass_txn *sub;
		int r;

		if (!done[i])
			continue;
		sub = txn_new();
		if (!sub || !dev) {
			iopass_txn_free(sub);
			clean = false;
			continue;
		}
		if (m->driver) {
			r = detach_locked(ctx, sub, s, &dev, 1, false);
		} else {
			struct journal j = { .op = JOP_ATTACH };
			const char *was = a->c[m->change].from;

			snprintf(j.driver, sizeof(j.driver), "%s", was);
			/* with the methods it had: the record keeps those the detach gave back */
			r = attach_locked(ctx, sub, s, &dev, 1,
					  &(struct attach_req){ .driver = was,
								.reset = m->had_reset ? m->reset : NULL },
					  &j, true);
			journal_free(&j);
			/* the record as it was: a device on vfio that iopass had not attached has none */
			if (r == 0 && !m->recorded) {
				records_remove(&s->state, dev->bdf);
				r = records_store(s->dirfd, &s->state);
			}
			/* and its override: attach wrote vfio's, where it may have had none */
			if (r == 0 && !streq(m->override, was)) {
				char path[256];

				dev_path(path, sizeof(path), dev->bdf, "driver_override");
				r = do_write(ctx, sub, path, *m->override ? m->override : "\n", true);
			}
		}
		clean &= r == 0;
		change_set(a, m->change, r == 0 ? IOPASS_CHANGE_ROLLED_BACK : IOPASS_CHANGE_FAILED);
		/* the first undo that failed says why, after the run's own error */
		if (r < 0 && !a->undo_error && sub->error)
			a->undo_error = strdup(sub->error);
		iopass_txn_free(sub);
	}
	return clean;
}

/* The moves of the plan: back to the host first, then onto each vfio driver. */
static int run_moves(struct iopass_ctx *ctx, struct iopass_apply *a, struct session *s,
		     const struct plan *pl, bool *done)
{
	int r = 0;

	/* one step per target: back to the host, then each vfio driver in the order of the lines */
	for (size_t i = 0; r == 0 && i <= pl->nmoves; i++) {
		const char *drv = i == 0 ? NULL : pl->moves[i - 1].driver;
		struct iopass_dev **devs;
		struct iopass_txn *sub;
		size_t n = 0, *idx;
		bool seen = false;

		if (i > 0 && !drv)
			continue;
		for (size_t k = 0; drv && k + 1 < i; k++)
			seen |= pl->moves[k].driver && streq(pl->moves[k].driver, drv);
		if (seen)
			continue;
		devs = calloc(pl->nmoves + 1, sizeof(*devs) + sizeof(*idx));
		if (!devs)
			return -ENOMEM;
		idx = (size_t *)(devs + pl->nmoves + 1); /* the second half: pointers and sizes align */
		sub = txn_new();
		if (!sub) {
			free(devs);
			return -ENOMEM;
		}
		for (size_t k = 0; k < pl->nmoves; k++) {
			const char *kd = pl->moves[k].driver;

			if ((drv && kd && streq(kd, drv)) || (!drv && !kd)) {
				idx[n] = k;
				devs[n++] = find_now(s, pl->moves[k].dev);
			}
		}
		if (n == 0) {
			iopass_txn_free(sub);
			free(devs);
			continue;
		}
		if (drv) {
			struct journal j = { .op = JOP_ATTACH };

			snprintf(j.driver, sizeof(j.driver), "%s", drv);
			r = attach_locked(ctx, sub, s, devs, n, &(struct attach_req){ .driver = drv }, &j, true);
			journal_free(&j);
		} else {
			r = detach_locked(ctx, sub, s, devs, n, false);
		}
		for (size_t k = 0; k < n; k++) {
			done[idx[k]] = r == 0;
			change_set(a, pl->moves[idx[k]].change,
				   r == 0 ? IOPASS_CHANGE_DONE : IOPASS_CHANGE_ROLLED_BACK);
		}
		step_merge(a, sub);
		free(devs);
	}
	return r;
}

/* The VF counts, PF by PF: the VFs there go, then the new count comes. */
static int run_vfs(struct iopass_ctx *ctx, struct iopass_apply *a, struct session *s,
		   const struct plan *pl, unsigned flags)
{
	for (size_t i = 0; i < pl->nvf; i++) {
		const struct vfcount *v = &pl->vf[i];
		struct iopass_txn *sub = txn_new();
		int r = 0;

		if (!sub)
			return -ENOMEM;
		if (v->pf.numvfs > 0)
			r = vf_remove_locked(ctx, sub, s, &v->pf, flags);
		if (r == 0 && v->to > 0)
			r = vf_create_locked(ctx, sub, s, &v->pf, v->to,
					     flags | (v->attach ? IOPASS_VF_ATTACH : 0));
		change_set(a, v->change, r == 0 ? IOPASS_CHANGE_DONE : IOPASS_CHANGE_FAILED);
		step_merge(a, sub);
		if (r < 0 && i > 0) {
			char *e = NULL;

			if (asprintf(&e, "%s; the VF counts this run changed before it stay",
				     a->t->error ? a->t->error : strerror(-r)) >= 0) {
				free(a->t->error);
				a->t->error = e;
			}
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The vfio drivers the plan moves devices to, loaded before the first write
 * (attach loads its driver after its guards, as here): a driver that cannot be
 * is a failure with nothing changed, not one after the VF counts changed.
 */
static int load_drivers(struct iopass_ctx *ctx, struct iopass_apply *a,
			const struct iopass_desired *d, const struct plan *pl)
{
	for (size_t i = 0; i <= pl->nmoves + iopass_desired_count(d); i++) {
		const char *drv;
		int r;

		if (i < pl->nmoves)
			drv = pl->moves[i].driver;
		else if (i < pl->nmoves + iopass_desired_count(d))
			drv = iopass_desired_get(d, i - pl->nmoves)->vf_driver;
		else
			drv = NULL;
		for (size_t k = 0; !drv && i == pl->nmoves + iopass_desired_count(d) && k < pl->nvf; k++)
			if (pl->vf[k].attach)
				drv = "vfio-pci"; /* vf create --attach's */
		if (!drv || !*drv || streq(drv, "host") || driver_loaded(ctx, drv))
			continue;
		r = load_driver(ctx, drv);
		if (r < 0) {
			txn_error(a->t, "driver %s is not loaded and could not be loaded: %s; nothing was "
					"changed", drv, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int run_boot(struct iopass_ctx *ctx, struct iopass_apply *a, const struct plan *pl,
		    unsigned flags)
{
	int r;

	if (!pl->nboot)
		return 0;
	r = persist_set_locked(ctx, pl->boot, pl->nboot, flags, false, &a->boot_note);
	if (r < 0) {
		txn_error(a->t, "%s", a->boot_note ? a->boot_note : strerror(-r));
		return r;
	}
	a->boot_changed = true;
	a->initramfs = pl->nadd ? persist_initramfs_command(ctx) : NULL;
	for (size_t i = 0; i < a->n; i++)
		if (a->c[i].field == IOPASS_CHANGE_BOOT)
			change_set(a, i, IOPASS_CHANGE_DONE);
	return 0;
}

/*
 * What the plan reads: every device when a line selects by IDs ('*': nth= counts
 * over the host), else the devices the lines name with what their guards read
 * (iopass_scan_related: the same findings at a cost that does not grow with the host).
 */
static int scan_for(struct iopass_ctx *ctx, const struct iopass_desired *d,
		    struct iopass_devlist **ret)
{
	size_t n = iopass_desired_count(d);
	struct iopass_addr *seeds;
	int r;

	for (size_t i = 0; i < n; i++)
		if (!iopass_desired_get(d, i)->by_address)
			return iopass_scan(ctx, ret);
	seeds = calloc(n + 1, sizeof(*seeds));
	if (!seeds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		seeds[i] = iopass_desired_get(d, i)->addr;
	r = iopass_scan_related(ctx, seeds, n, NULL, 0, ret);
	free(seeds);
	return r;
}

/* A new scan under the lock, as session_scan does, of what the plan reads. */
static int scan_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
		       const struct iopass_desired *d)
{
	int r;

	iopass_devlist_free(s->list);
	s->list = NULL;
	ctx_forget_host_facts(ctx);
	r = scan_for(ctx, d, &s->list);
	if (r < 0)
		txn_error(t, "cannot read the devices: %s", strerror(-r));
	return r;
}

/* Drop the driver and boot changes of a plan made before the VFs were: the next plan says them. */
static void changes_keep_vfs(struct iopass_apply *a)
{
	size_t w = 0;

	for (size_t i = 0; i < a->n; i++) {
		if (a->c[i].field == IOPASS_CHANGE_VFS) {
			a->c[w++] = a->c[i];
			continue;
		}
		free(a->c[i].from);
		free(a->c[i].to);
	}
	a->n = w;
}

static int apply_locked(struct iopass_ctx *ctx, struct iopass_apply *a, struct session *s,
			const struct iopass_desired *d, unsigned flags)
{
	struct iopass_persist *p = NULL;
	struct plan pl = { 0 };
	bool *done = NULL, vfs_changed;
	int r;

	r = scan_locked(ctx, a->t, s, d);
	if (r < 0)
		return r;
	r = iopass_persist_load(ctx, &p);
	if (r < 0) {
		txn_error(a->t, "the record /etc/iopass/persist is %s; inspect and remove it by hand",
			  r == -EBADMSG ? "corrupt" : strerror(-r));
		return r;
	}
	r = plan_make(ctx, a, d, s->list, p, &s->state, false, &pl);
	if (r == 0)
		r = plan_guards(ctx, a, &pl, s->list, flags);
	if (r == 0)
		r = boot_check(ctx, a, &pl, flags);
	if (r == 0)
		r = load_drivers(ctx, a, d, &pl);
	if (r == -ECANCELED)
		txn_error(a->t, "refused: nothing was changed");
	if (r < 0) {
		changes_not_run(a, 0);
		goto out;
	}

	vfs_changed = pl.nvf > 0;
	r = run_vfs(ctx, a, s, &pl, flags);
	if (r < 0) {
		changes_not_run(a, 0);
		goto out;
	}
	if (vfs_changed) {
		/* the VFs as the kernel made them: the lines about them, and the rest, planned anew */
		plan_free(&pl);
		changes_keep_vfs(a);
		r = scan_locked(ctx, a->t, s, d);
		if (r == 0)
			r = plan_make(ctx, a, d, s->list, p, &s->state, true, &pl);
		if (r == 0)
			r = plan_guards(ctx, a, &pl, s->list, flags);
		if (r == 0)
			r = boot_check(ctx, a, &pl, flags);
		if (r < 0) {
			char *e = NULL;

			/* whatever the step said, the VF counts have changed */
			if (asprintf(&e, "%s%safter the VF counts changed; the VF counts stay as they are now",
				     a->t->error ? a->t->error : r == -ECANCELED ? "refused" : strerror(-r),
				     a->t->error ? "; this was found " : " ") >= 0) {
				free(a->t->error);
				a->t->error = e;
			}
			changes_not_run(a, 0);
			goto out;
		}
	}
	done = calloc(pl.nmoves + 1, sizeof(*done));
	if (!done) {
		r = -ENOMEM;
		goto out;
	}
	r = run_moves(ctx, a, s, &pl, done);
	if (r == 0)
		r = run_boot(ctx, a, &pl, flags);
	if (r < 0) {
		bool undone = false, clean;
		char *e = NULL;

		for (size_t i = 0; i < pl.nmoves; i++)
			undone |= done[i];
		clean = undo_moves(ctx, a, s, &pl, done);
		changes_not_run(a, 0);
		bool why = undone && !clean && a->undo_error;

		if (asprintf(&e, "%s%s%s%s%s%s%s", a->t->error ? a->t->error : strerror(-r),
			     !undone ? "" : clean ? "; the moves this run made before it were undone"
			     : "; undoing the moves this run made before it failed too",
			     why ? " (" : "", why ? a->undo_error : "", why ? ")" : "",
			     !undone || clean ? "" : journal_pending(ctx)
			     ? ": the journal in run/iopass is kept and the next iopass run retries it"
			     : ": each change says where its device is; run apply again",
			     vfs_changed ? "; the VF counts it changed before stay" : "") >= 0) {
			free(a->t->error);
			a->t->error = e;
		}
	}
out:
	free(done);
	plan_free(&pl);
	iopass_persist_free(p);
	return r;
}

/* --check: the plan and its guards on a scan made without the lock; nothing written. */
static int apply_check(struct iopass_ctx *ctx, struct iopass_apply *a, const struct iopass_desired *d,
		       unsigned flags)
{
	struct iopass_devlist *list = NULL;
	struct iopass_persist *p = NULL;
	struct records state = { NULL, 0 };
	struct plan pl = { 0 };
	int r = scan_for(ctx, d, &list);

	if (r < 0) {
		txn_error(a->t, "cannot read the devices: %s", strerror(-r));
		return r;
	}
	r = iopass_persist_load(ctx, &p);
	if (r < 0)
		txn_error(a->t, "the record /etc/iopass/persist is %s; inspect and remove it by hand",
			  r == -EBADMSG ? "corrupt" : strerror(-r));
	if (r == 0 && records_peek(ctx, &state) < 0)
		records_free(&state); /* a plan without the record: detach's choice is the kernel's */
	if (r == 0)
		r = plan_make(ctx, a, d, list, p, &state, false, &pl);
	if (r == 0)
		r = plan_guards(ctx, a, &pl, list, flags);
	if (r == 0)
		r = boot_check(ctx, a, &pl, flags);
	if (r == -ECANCELED)
		txn_error(a->t, "refused: nothing would be changed");
	if (r == 0 && pl.nboot) {
		a->boot_changed = true; /* would be */
		a->initramfs = pl.nadd ? persist_initramfs_command(ctx) : NULL;
	}
	if (r == 0 && pl.deferred) {
		a->note = strdup("the drivers of the VFs that vfs= makes (pf= lines, vf-driver=) are "
				 "planned once the VFs are made");
		if (!a->note)
			r = -ENOMEM;
	}
	for (size_t i = 0; r == 0 && !a->note && i < pl.nmoves; i++) {
		const char *drv = pl.moves[i].driver;

		if (drv && !driver_loaded(ctx, drv) &&
		    asprintf(&a->note, *ctx->sysroot ? "driver %s is not loaded below the sysroot, and "
				       "modules cannot be loaded there" : "driver %s is not loaded; apply "
				       "loads it first", drv) < 0) {
			a->note = NULL;
			r = -ENOMEM;
		}
	}
	plan_free(&pl);
	records_free(&state);
	iopass_persist_free(p);
	iopass_devlist_free(list);
	return r;
}

/* qsort_r: by line, then in the order the plan found them (the fields of a line) */
static int change_cmp(const void *pa, const void *pb, void *data)
{
	const struct iopass_apply *a = data;
	size_t x = *(const size_t *)pa, y = *(const size_t *)pb;

	if (a->c[x].line != a->c[y].line)
		return a->c[x].line < a->c[y].line ? -1 : 1;
	return x < y ? -1 : x > y;
}

int iopass_apply(struct iopass_ctx *ctx, const struct iopass_desired *d, unsigned flags,
		 struct iopass_apply **ret)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct iopass_apply *a;
	int r;

	if (!ctx || !d || !ret)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->t = txn_new();
	if (!a->t) {
		free(a);
		return -ENOMEM;
	}
	*ret = a;
	if (flags & IOPASS_BIND_DRY_RUN) {
		r = apply_check(ctx, a, d, flags);
	} else {
		r = session_open(ctx, a->t, &s, &(struct intent){ .op = JOP_NONE,
							  .flags = flags & IOPASS_BIND_FORCE_RECOVERY });
		if (r == 0)
			r = apply_locked(ctx, a, &s, d, flags);
		session_end(&s);
	}
	a->dry_run = flags & IOPASS_BIND_DRY_RUN;
	a->rc = r;
	a->order = calloc(a->n + 1, sizeof(*a->order));
	if (a->order) {
		for (size_t i = 0; i < a->n; i++)
			a->order[i] = i;
		qsort_r(a->order, a->n, sizeof(*a->order), change_cmp, a);
	}
	if ((a->oom || !a->order) && r == 0)
		r = -ENOMEM;
	txn_finish(a->t, r);
	return r;
}

struct iopass_apply *iopass_apply_free(struct iopass_apply *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		free(a->c[i].from);
		free(a->c[i].to);
	}
	free(a->c);
	free(a->order);
	free(a->boot_note);
	free(a->undo_error);
	free(a->note);
	iopass_txn_free(a->t);
	free(a);
	return NULL;
}

bool iopass_apply_changed(const struct iopass_apply *a)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (a->c[i].status == IOPASS_CHANGE_DONE || a->c[i].status == IOPASS_CHANGE_FAILED ||
		    (a->c[i].status == IOPASS_CHANGE_PLANNED && a->dry_run && a->rc == 0))
			return true;
	return false;
}

const struct iopass_txn *iopass_apply_txn(const struct iopass_apply *a)
{
	return a ? a->t : NULL;
}

size_t iopass_apply_count(const struct iopass_apply *a)
{
	return a ? a->n : 0;
}

/* The i-th change in line order, or NULL. */
static const struct change *nth(const struct iopass_apply *a, size_t i)
{
	return a && a->order && i < a->n ? &a->c[a->order[i]] : NULL;
}

unsigned iopass_apply_line(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->line : 0;
}

const char *iopass_apply_bdf(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->bdf : NULL;
}

enum iopass_change_field iopass_apply_field(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->field : IOPASS_CHANGE_DRIVER;
}

const char *iopass_change_field_name(enum iopass_change_field f)
{
	static const char *const names[] = {
		[IOPASS_CHANGE_DRIVER] = "driver",
		[IOPASS_CHANGE_VFS] = "vfs",
		[IOPASS_CHANGE_BOOT] = "boot",
	};

	return (size_t)f < ARRAY_SIZE(names) ? names[f] : NULL;
}

const char *iopass_apply_from(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->from : NULL;
}

const char *iopass_apply_to(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->to : NULL;
}

enum iopass_change_status iopass_apply_status(const struct iopass_apply *a, size_t i)
{
	return nth(a, i) ? nth(a, i)->status : IOPASS_CHANGE_NOT_RUN;
}

const char *iopass_change_status_name(enum iopass_change_status s)
{
	static const char *const names[] = {
		[IOPASS_CHANGE_UNCHANGED] = "unchanged", [IOPASS_CHANGE_PLANNED] = "planned",
		[IOPASS_CHANGE_DONE] = "done",           [IOPASS_CHANGE_ROLLED_BACK] = "rolled-back",
		[IOPASS_CHANGE_FAILED] = "failed",       [IOPASS_CHANGE_NOT_RUN] = "not-run",
	};

	return (size_t)s < ARRAY_SIZE(names) ? names[s] : NULL;
}

bool iopass_apply_boot_changed(const struct iopass_apply *a)
{
	return a && a->boot_changed;
}

const char *iopass_apply_boot_note(const struct iopass_apply *a)
{
	return a ? a->boot_note : NULL;
}

const char *iopass_apply_initramfs(const struct iopass_apply *a)
{
	return a ? a->initramfs : NULL;
}

const char *iopass_apply_note(const struct iopass_apply *a)
{
	return a ? a->note : NULL;
}
