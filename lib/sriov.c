// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * SR-IOV virtual functions: create them (optionally straight onto vfio-pci)
 * and remove them. sriov_drivers_autoprobe goes to 0 before sriov_numvfs
 * when the VFs are meant for vfio-pci, so no host driver grabs them first,
 * and back to what it was afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iopass-private.h"

/* The VFs of pf in list, as they are now (all of them: a PF may have thousands). */
static size_t vfs_of(const struct iopass_devlist *list, const struct iopass_dev *pf,
		     struct iopass_dev *const **ret)
{
	return devlist_vfs(list, pf, ret);
}

/* Refuse VFs that a VM or the host uses. */
int guard_vfs(struct iopass_ctx *ctx, struct iopass_dev *const *vfs, size_t n,
		     unsigned flags, struct iopass_txn *t)
{
	bool refuse = false;
	int r = guard_group_open(ctx, vfs, n, flags & ~IOPASS_BIND_FORCE, t, "VF ");

	if (r == -ENOMEM)
		return r;
	refuse = r == -ECANCELED;
	for (size_t i = 0; i < n; i++) {
		size_t before = iopass_report_count(t->guards);
		char who[64];

		snprintf(who, sizeof(who), "VF %s: ", vfs[i]->bdf);
		hostuse_check(vfs[i], t->guards, who);
		refuse |= iopass_report_count(t->guards) > before;
	}
	if (report_oom(t->guards))
		return -ENOMEM;
	return refuse && !(flags & IOPASS_BIND_FORCE) ? -ECANCELED : 0;
}

/* One write to a PF attribute of the plan of vf create. */
struct pf_step {
	const char *attr;
	int value;
};

/*
 * The PF writes that make count VFs, printed by --dry-run and executed by the
 * real run: with attach, sriov_drivers_autoprobe off first (unless it is off
 * already) so that no host driver takes the VFs, and back to autoprobe after.
 */
static size_t vf_create_plan(unsigned count, bool attach, int autoprobe, struct pf_step out[3])
{
	bool off = attach && autoprobe != 0;
	size_t n = 0;

	if (off)
		out[n++] = (struct pf_step){ "sriov_drivers_autoprobe", 0 };
	out[n++] = (struct pf_step){ "sriov_numvfs", (int)count };
	if (off)
		out[n++] = (struct pf_step){ "sriov_drivers_autoprobe", autoprobe };
	return n;
}

/*
 * Make count VFs under the lock; with attach, journaled from the first write
 * (autoprobe off, sriov_numvfs, autoprobe back) to the record of the VFs on
 * vfio-pci, so that recovery can remove VFs a killed run left behind.
 */
int vf_create_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
			    const struct iopass_dev *pf, unsigned count, unsigned flags)
{
	struct journal j = { .op = JOP_VF_CREATE };
	struct iopass_dev *const *vfs = NULL, *npf;
	bool attach = flags & IOPASS_VF_ATTACH;
	int autoprobe = 1, numvfs = 0, r, rr;
	struct pf_step plan[3];
	size_t n, nplan;

	r = sriov_read(ctx, pf->bdf, "sriov_numvfs", &numvfs);
	if (r == 0 && numvfs > 0) {
		txn_error(t, "%s has %d VFs now (made while this run waited); nothing was changed",
			  pf->bdf, numvfs);
		return -EBUSY;
	}
	if (attach) {
		r = sriov_read(ctx, pf->bdf, "sriov_drivers_autoprobe", &autoprobe);
		if (r < 0) {
			txn_error(t, "%s: cannot read sriov_drivers_autoprobe: %s", pf->bdf, strerror(-r));
			return r;
		}
		snprintf(j.pf, sizeof(j.pf), "%s", pf->bdf);
		j.pf_autoprobe = autoprobe;
		j.pf_numvfs = 0;
		r = journal_store(s->dirfd, &j);
		if (r < 0) {
			txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
			return r;
		}
	}
	/* a failed write stops the plan, but for autoprobe put back after a failed sriov_numvfs */
	r = 0;
	nplan = vf_create_plan(count, attach, autoprobe, plan);
	for (size_t k = 0; k < nplan; k++) {
		bool back = k > 0 && streq(plan[k].attr, "sriov_drivers_autoprobe");

		if (r < 0 && !back)
			break;
		rr = pf_write(ctx, t, pf->bdf, plan[k].attr, plan[k].value, back && r < 0);
		if (rr >= 0 || r < 0)
			continue;
		r = rr;
		if (back)
			txn_error(t, "%s: the VFs exist, but sriov_drivers_autoprobe could not be set back "
				     "to %d: %s", pf->bdf, autoprobe, strerror(-rr));
		else if (streq(plan[k].attr, "sriov_numvfs"))
			txn_error(t, "%s: writing %u to sriov_numvfs failed: %s%s", pf->bdf, count,
				  strerror(-r), r == -ENOENT ? " (the PF needs its driver bound)" :
				  r == -ERANGE ? " (more than sriov_totalvfs)" : "");
		else
			txn_error(t, "%s: cannot turn sriov_drivers_autoprobe off: %s", pf->bdf,
				  strerror(-r));
	}
	if (r < 0)
		goto fail;

	/* the VFs as the kernel made them */
	r = session_scan(ctx, t, s, &pf->addr, 1);
	if (r < 0)
		goto fail;
	npf = iopass_devlist_find(s->list, &pf->addr);
	n = npf ? vfs_of(s->list, npf, &vfs) : 0;
	if (!attach) {
		for (size_t i = 0; i < n; i++) {
			struct txdev *d = txn_dev(t, vfs[i]->bdf);

			if (d) {
				d->from = xstrdup_or_null(t, vfs[i]->driver);
				d->to = xstrdup_or_null(t, vfs[i]->driver);
				d->status = IOPASS_DEV_CREATED;
			}
		}
		return t->oom ? -ENOMEM : 0;
	}
	r = guard(ctx, s->list, vfs, n, flags, t, NULL);
	if (r == -ECANCELED)
		txn_error(t, "refused");
	if (r == 0)
		r = attach_locked(ctx, t, s, vfs, n, &(struct attach_req){ .driver = "vfio-pci" }, &j, false);
	if (r == 0) {
		journal_free(&j);
		return journal_remove(s->dirfd);
	}
fail:
	if (attach) {
		/* all or nothing: the VFs we made go again, autoprobe as it was */
		char *e = NULL;

		rr = sriov_restore(ctx, t, pf->bdf, "sriov_numvfs", 0);
		if (rr == 0)
			rr = sriov_restore(ctx, t, pf->bdf, "sriov_drivers_autoprobe", autoprobe);
		for (size_t i = 0; i < j.devs.n; i++)
			records_remove(&s->state, j.devs.r[i].bdf);
		if (rr == 0)
			rr = records_store(s->dirfd, &s->state);
		if (rr == 0)
			rr = journal_remove(s->dirfd);
		if (asprintf(&e, "%s; %s", t->error ? t->error : strerror(-r),
			     rr == 0 ? "the VFs were removed again, the host is as it was"
				     : "removing the VFs failed too: the journal in run/iopass is kept and "
				       "the next iopass run retries it") >= 0) {
			free(t->error);
			t->error = e;
		}
		for (size_t i = 0; i < t->ndevs; i++)
			if (rr == 0)
				t->devs[i].status = IOPASS_DEV_REMOVED;
	}
	journal_free(&j);
	return r;
}

int iopass_vf_create(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned count, unsigned flags,
		     struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct iopass_dev *const *vfs = NULL;
	struct iopass_txn *t, *sub = NULL;
	bool attach = flags & IOPASS_VF_ATTACH;
	char path[128], val[16];
	size_t n;
	int r;

	if (!ctx || !list || !pf || !ret_txn)
		return -EINVAL;
	t = txn_new();
	if (!t)
		return -ENOMEM;
	*ret_txn = t;
	if (pf->totalvfs <= 0) {
		txn_error(t, "%s is not an SR-IOV physical function (no sriov_totalvfs)", pf->bdf);
		return -EINVAL;
	}
	if (count == 0 || count > (unsigned)pf->totalvfs) {
		txn_error(t, "%s supports 1 to %d VFs; %u is out of range", pf->bdf, pf->totalvfs, count);
		return -EINVAL;
	}
	if (pf->numvfs > 0 && (unsigned)pf->numvfs != count) {
		txn_error(t, "%s has %d VFs already; remove them first: iopass vf remove %s", pf->bdf,
			  pf->numvfs, pf->bdf);
		return -EBUSY;
	}
	if (!pf->driver) {
		txn_error(t, "%s has no driver; VFs are created by the PF's driver: bind it first", pf->bdf);
		return -ENOENT;
	}
	if (iopass_dev_is_vfio(pf)) {
		char v[8] = "";

		if (sysfs_read(ctx, "/sys/module/vfio_pci/parameters/enable_sriov", v, sizeof(v)) < 0 ||
		    !(streq(v, "Y") || streq(v, "1"))) {
			txn_error(t, "%s is on vfio-pci, which creates VFs only with enable_sriov=1 "
				     "(modprobe vfio-pci enable_sriov=1); the guest then needs vf-token", pf->bdf);
			return -EOPNOTSUPP;
		}
	}
	if (!(flags & IOPASS_BIND_DRY_RUN) && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}

	if (flags & IOPASS_BIND_DRY_RUN) {
		if (pf->numvfs > 0) {
			n = vfs_of(list, pf, &vfs);
			if (attach) {
				/* the VFs exist: the plan is the attach of those not on vfio-pci yet */
				r = iopass_attach(ctx, list, vfs, n, "vfio-pci", NULL,
						  flags & (IOPASS_BIND_FORCE | IOPASS_BIND_DRY_RUN), &sub);
				if (sub)
					txn_merge(t, sub);
				iopass_txn_free(sub);
				return r;
			}
			for (size_t i = 0; i < n; i++) {
				struct txdev *d = txn_dev(t, vfs[i]->bdf);

				if (d)
					d->status = IOPASS_DEV_UNCHANGED;
			}
			return t->oom ? -ENOMEM : 0;
		}
		struct pf_step plan[3];
		int autoprobe = 1;
		size_t nplan;

		/* the plan the real run makes: it reads autoprobe as this does */
		if (attach && sriov_read(ctx, pf->bdf, "sriov_drivers_autoprobe", &autoprobe) < 0) {
			txn_error(t, "%s: cannot read sriov_drivers_autoprobe", pf->bdf);
			return -EIO;
		}
		nplan = vf_create_plan(count, attach, autoprobe, plan);
		for (size_t k = 0; k < nplan; k++) {
			pf_path(path, sizeof(path), pf->bdf, plan[k].attr);
			snprintf(val, sizeof(val), "%d", plan[k].value);
			txn_step(t, path, val, false);
		}
		if (attach)
			txn_error(t, "then each new VF is attached to vfio-pci");
		return t->oom ? -ENOMEM : 0;
	}

	if (pf->numvfs > 0) {
		/* the VFs exist: attach those not on vfio-pci yet, or nothing to do */
		n = vfs_of(list, pf, &vfs);
		if (attach) {
			r = iopass_attach(ctx, list, vfs, n, "vfio-pci", NULL,
					  flags & (IOPASS_BIND_FORCE | IOPASS_BIND_FORCE_RECOVERY), &sub);
			if (sub)
				txn_merge(t, sub);
			iopass_txn_free(sub);
			return r;
		}
		for (size_t i = 0; i < n; i++) {
			struct txdev *d = txn_dev(t, vfs[i]->bdf);

			if (d) {
				d->from = xstrdup_or_null(t, vfs[i]->driver);
				d->to = xstrdup_or_null(t, vfs[i]->driver);
				d->status = IOPASS_DEV_UNCHANGED;
			}
		}
		return t->oom ? -ENOMEM : 0;
	}
	r = session_open(ctx, t, &s,
			  &(struct intent){ .op = JOP_VF_CREATE,
					    .flags = flags & IOPASS_BIND_FORCE_RECOVERY });
	if (r == 0)
		r = vf_create_locked(ctx, t, &s, pf, count, flags);
	session_end(&s);
	txn_finish(t, r);
	return r;
}

/* The VFs of pf go, under the lock, guarded on a scan made there; journaled with their records. */
int vf_remove_locked(struct iopass_ctx *ctx, struct iopass_txn *t, struct session *s,
			    const struct iopass_dev *pf, unsigned flags)
{
	struct journal j = { .op = JOP_VF_REMOVE };
	struct iopass_dev *const *vfs = NULL, *npf;
	size_t n;
	int r = session_scan(ctx, t, s, &pf->addr, 1);

	if (r < 0)
		return r;
	npf = iopass_devlist_find(s->list, &pf->addr);
	n = npf ? vfs_of(s->list, npf, &vfs) : 0;
	if (!npf || (npf->numvfs <= 0 && n == 0))
		return 0; /* gone while this run waited */
	r = guard_vfs(ctx, vfs, n, flags, t);
	if (r == -ECANCELED)
		txn_error(t, "refused: nothing was changed");
	if (r < 0)
		return r;
	snprintf(j.pf, sizeof(j.pf), "%s", pf->bdf);
	j.pf_autoprobe = 1; /* not restored by a removal */
	j.pf_numvfs = npf->numvfs > 0 ? npf->numvfs : 0;
	for (size_t i = 0; i < n; i++) {
		struct txdev *d = txn_dev(t, vfs[i]->bdf);

		if (!journal_add(ctx, &j, vfs[i]->bdf, vfs[i]->driver, NULL) || !d) {
			journal_free(&j);
			return -ENOMEM;
		}
		d->from = xstrdup_or_null(t, vfs[i]->driver);
		d->status = IOPASS_DEV_UNCHANGED;
	}
	r = journal_store(s->dirfd, &j);
	if (r < 0) {
		txn_error(t, "cannot write the journal: %s; nothing was changed", strerror(-r));
		goto out;
	}
	r = pf_write(ctx, t, pf->bdf, "sriov_numvfs", 0, false);
	if (r < 0) {
		txn_error(t, "%s: writing 0 to sriov_numvfs failed: %s", pf->bdf, strerror(-r));
		journal_remove(s->dirfd);
		goto out;
	}
	/* the VFs are gone: so are their records */
	for (size_t i = 0; i < n; i++) {
		records_remove(&s->state, vfs[i]->bdf);
		t->devs[t->ndevs - n + i].status = IOPASS_DEV_REMOVED;
	}
	r = records_store(s->dirfd, &s->state);
	if (r == 0)
		r = journal_remove(s->dirfd);
out:
	journal_free(&j);
	return r;
}

int iopass_vf_remove(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned flags, struct iopass_txn **ret_txn)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	struct iopass_dev *const *vfs = NULL;
	struct iopass_txn *t;
	char path[128];
	size_t n;
	int r;

	if (!ctx || !list || !pf || !ret_txn)
		return -EINVAL;
	t = txn_new();
	if (!t)
		return -ENOMEM;
	*ret_txn = t;
	if (pf->totalvfs <= 0) {
		txn_error(t, "%s is not an SR-IOV physical function (no sriov_totalvfs)", pf->bdf);
		return -EINVAL;
	}
	n = vfs_of(list, pf, &vfs);
	if (pf->numvfs <= 0 && n == 0)
		return 0; /* nothing to remove */
	if (!(flags & IOPASS_BIND_DRY_RUN) && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	if (!txn_guards_new(t))
		return -ENOMEM;
	if (flags & IOPASS_BIND_DRY_RUN) {
		r = guard_vfs(ctx, vfs, n, flags, t);
		if (r == -ECANCELED)
			txn_error(t, "refused: nothing was changed");
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct txdev *d = txn_dev(t, vfs[i]->bdf);

			if (d) {
				d->from = xstrdup_or_null(t, vfs[i]->driver);
				d->status = IOPASS_DEV_PLANNED;
			}
		}
		if (r == 0) {
			pf_path(path, sizeof(path), pf->bdf, "sriov_numvfs");
			txn_step(t, path, "0", false);
		}
		return r < 0 ? r : t->oom ? -ENOMEM : 0;
	}
	r = session_open(ctx, t, &s, &(struct intent){ .op = JOP_VF_REMOVE,
							.flags = flags & IOPASS_BIND_FORCE_RECOVERY });
	if (r == 0)
		r = vf_remove_locked(ctx, t, &s, pf, flags);
	session_end(&s);
	txn_finish(t, r);
	return r;
}
