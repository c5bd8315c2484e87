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

static void pf_path(char *buf, size_t size, const char *bdf, const char *attr)
{
	snprintf(buf, size, "/sys/bus/pci/devices/%s/%s", bdf, attr);
}

static int read_small_int(struct iopass_ctx *ctx, const char *path, int *ret)
{
	char buf[32];
	unsigned v;
	ssize_t n = sysfs_read(ctx, path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	if (parse_uint(buf, 65535, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* The VFs of pf in list, as they are now. */
static size_t vfs_of(const struct iopass_devlist *list, const struct iopass_dev *pf,
		     struct iopass_dev **out, size_t max)
{
	struct iopass_dev *const *vfs;
	size_t n = devlist_vfs(list, pf, &vfs);

	if (n > max)
		n = max;
	memcpy(out, vfs, n * sizeof(*out));
	return n;
}

/* Append what a nested transaction did. */
static void txn_merge(struct iopass_txn *t, const struct iopass_txn *sub)
{
	for (size_t i = 0; i < sub->nsteps; i++) {
		struct step *s = txn_step(t, sub->steps[i].path, sub->steps[i].value,
					  sub->steps[i].rollback);

		if (s)
			s->result = sub->steps[i].result;
	}
	for (size_t i = 0; i < sub->ndevs; i++) {
		struct txdev *d = txn_dev(t, sub->devs[i].bdf);

		if (!d)
			continue;
		d->from = xstrdup_or_null(t, sub->devs[i].from);
		d->to = xstrdup_or_null(t, sub->devs[i].to);
		d->status = sub->devs[i].status;
	}
	if (sub->error)
		txn_error(t, "%s", sub->error);
	if (sub->guards && !t->guards)
		t->guards = report_new();
	for (size_t i = 0; sub->guards && t->guards && i < iopass_report_count(sub->guards); i++) {
		report_add(t->guards, iopass_report_level(sub->guards, i),
			   iopass_report_code(sub->guards, i), "%s", iopass_report_message(sub->guards, i));
		if (iopass_report_hint(sub->guards, i))
			report_hint(t->guards, "%s", iopass_report_hint(sub->guards, i));
	}
}

/* Write sriov_numvfs under the lock; 0 removes the VFs and their records. */
static int set_numvfs(struct iopass_ctx *ctx, struct iopass_txn *t, struct iopass_dev *pf,
		      unsigned count, bool autoprobe_off, struct iopass_dev *const *old_vfs, size_t nold)
{
	struct session s = { .dirfd = -1, .lockfd = -1 };
	char path[128], val[16];
	int autoprobe = 1, r;

	r = session_begin(ctx, t, &s);
	if (r < 0)
		goto out;
	pf_path(path, sizeof(path), pf->bdf, "sriov_drivers_autoprobe");
	if (autoprobe_off) {
		r = read_small_int(ctx, path, &autoprobe);
		if (r == 0 && autoprobe != 0)
			r = do_write(ctx, t, path, "0", false);
		if (r < 0) {
			txn_error(t, "%s: cannot turn sriov_drivers_autoprobe off: %s", pf->bdf, strerror(-r));
			goto out;
		}
	}
	pf_path(path, sizeof(path), pf->bdf, "sriov_numvfs");
	snprintf(val, sizeof(val), "%u", count);
	r = do_write(ctx, t, path, val, false);
	if (r < 0)
		txn_error(t, "%s: writing %u to sriov_numvfs failed: %s%s", pf->bdf, count, strerror(-r),
			  r == -ENOENT ? " (the PF needs its driver bound)" :
			  r == -ERANGE ? " (more than sriov_totalvfs)" : "");
	if (autoprobe_off && autoprobe != 0) {
		int rr;

		pf_path(path, sizeof(path), pf->bdf, "sriov_drivers_autoprobe");
		snprintf(val, sizeof(val), "%d", autoprobe);
		rr = do_write(ctx, t, path, val, r < 0);
		if (rr < 0 && r == 0) {
			txn_error(t, "%s: the VFs exist, but sriov_drivers_autoprobe could not be set back "
				     "to %d: %s", pf->bdf, autoprobe, strerror(-rr));
			r = rr;
		}
	}
	if (r == 0 && count == 0) {
		/* the VFs are gone: so are their records */
		for (size_t i = 0; i < nold; i++)
			records_remove(&s.state, old_vfs[i]->bdf);
		r = records_store(s.dirfd, STATE_FILE, "state", &s.state, NULL);
	}
out:
	session_end(&s);
	return r;
}

/* Refuse VFs that a VM or the host uses. */
static int guard_vfs(struct iopass_ctx *ctx, struct iopass_dev *const *vfs, size_t n,
		     unsigned flags, struct iopass_txn *t)
{
	bool refuse = false;

	t->guards = report_new();
	if (!t->guards)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char users[256], who[64];
		size_t before = iopass_report_count(t->guards);

		snprintf(who, sizeof(who), "VF %s: ", vfs[i]->bdf);
		if (iopass_dev_is_vfio(vfs[i]) && vfs[i]->group >= 0 &&
		    vfio_group_users(ctx, vfs[i]->group, users, sizeof(users))) {
			report_add(t->guards, IOPASS_LEVEL_FAIL, "group-open",
				   "%sgroup %d is open by %s: a VM is using it", who, vfs[i]->group, users);
			report_hint(t->guards, "shut the VM down first, or pass --force");
		}
		hostuse_check(vfs[i], t->guards, who);
		refuse |= iopass_report_count(t->guards) > before;
	}
	if (report_oom(t->guards))
		return -ENOMEM;
	return refuse && !(flags & IOPASS_BIND_FORCE) ? -ECANCELED : 0;
}

int iopass_vf_create(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned count, unsigned flags,
		     struct iopass_txn **ret_txn)
{
	struct iopass_devlist *now = NULL;
	struct iopass_dev *vfs[256];
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
			n = vfs_of(list, pf, vfs, ARRAY_SIZE(vfs));
			if (attach) {
				/* the VFs exist: the plan is the attach of those not on vfio-pci yet */
				r = iopass_attach(ctx, list, vfs, n, "vfio-pci",
						  flags & (IOPASS_BIND_FORCE | IOPASS_BIND_DRY_RUN), &sub);
				if (sub)
					txn_merge(t, sub);
				iopass_txn_free(sub);
				return r;
			}
			for (size_t i = 0; i < n; i++) {
				struct txdev *d = txn_dev(t, vfs[i]->bdf);

				if (d)
					d->status = "unchanged";
			}
			return t->oom ? -ENOMEM : 0;
		}
		if (attach) {
			pf_path(path, sizeof(path), pf->bdf, "sriov_drivers_autoprobe");
			txn_step(t, path, "0", false);
		}
		pf_path(path, sizeof(path), pf->bdf, "sriov_numvfs");
		snprintf(val, sizeof(val), "%u", count);
		txn_step(t, path, val, false);
		if (attach) {
			pf_path(path, sizeof(path), pf->bdf, "sriov_drivers_autoprobe");
			txn_step(t, path, "1", false);
			txn_error(t, "then each new VF is attached to vfio-pci");
		}
		return t->oom ? -ENOMEM : 0;
	}

	if (pf->numvfs <= 0) {
		r = set_numvfs(ctx, t, pf, count, attach, NULL, 0);
		if (r < 0)
			return r;
	}
	/* the VFs as the kernel made them */
	r = iopass_scan(ctx, &now);
	if (r < 0) {
		txn_error(t, "cannot read the new VFs: %s", strerror(-r));
		return r;
	}
	struct iopass_addr pfa = pf->addr;
	struct iopass_dev *npf = iopass_devlist_find(now, &pfa);

	n = npf ? vfs_of(now, npf, vfs, ARRAY_SIZE(vfs)) : 0;
	for (size_t i = 0; i < n && !attach; i++) {
		struct txdev *d = txn_dev(t, vfs[i]->bdf);

		if (d) {
			d->from = xstrdup_or_null(t, vfs[i]->driver);
			d->to = xstrdup_or_null(t, vfs[i]->driver);
			d->status = pf->numvfs > 0 ? "unchanged" : "created";
		}
	}
	if (attach && n) {
		r = iopass_attach(ctx, now, vfs, n, "vfio-pci", flags & IOPASS_BIND_FORCE, &sub);
		if (sub)
			txn_merge(t, sub);
		if (r < 0 && pf->numvfs <= 0) {
			/* all or nothing: the VFs we made go again */
			char *e = NULL;
			int rr = set_numvfs(ctx, t, npf, 0, false, vfs, n);

			if (asprintf(&e, "%s; %s", t->error ? t->error : strerror(-r),
				     rr == 0 ? "the VFs were removed again" : "removing the VFs failed too") >= 0) {
				free(t->error);
				t->error = e;
			}
		}
	}
	iopass_txn_free(sub);
	iopass_devlist_free(now);
	txn_finish(t, r);
	return r;
}

int iopass_vf_remove(struct iopass_ctx *ctx, const struct iopass_devlist *list,
		     struct iopass_dev *pf, unsigned flags, struct iopass_txn **ret_txn)
{
	struct iopass_dev *vfs[256];
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
	n = vfs_of(list, pf, vfs, ARRAY_SIZE(vfs));
	if (pf->numvfs <= 0 && n == 0)
		return 0; /* nothing to remove */
	if (!(flags & IOPASS_BIND_DRY_RUN) && !*ctx->sysroot && geteuid() != 0) {
		txn_error(t, "changing drivers needs root; run it with sudo (or try --dry-run)");
		return -EPERM;
	}
	r = guard_vfs(ctx, vfs, n, flags, t);
	if (r < 0) {
		if (r == -ECANCELED)
			txn_error(t, "refused: nothing was changed");
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct txdev *d = txn_dev(t, vfs[i]->bdf);

		if (d) {
			d->from = xstrdup_or_null(t, vfs[i]->driver);
			d->status = flags & IOPASS_BIND_DRY_RUN ? "planned" : "removed";
		}
	}
	if (flags & IOPASS_BIND_DRY_RUN) {
		pf_path(path, sizeof(path), pf->bdf, "sriov_numvfs");
		txn_step(t, path, "0", false);
		return t->oom ? -ENOMEM : 0;
	}
	r = set_numvfs(ctx, t, pf, 0, false, vfs, n);
	if (r < 0)
		for (size_t i = 0; i < t->ndevs; i++)
			t->devs[i].status = "unchanged";
	txn_finish(t, r);
	return r;
}
