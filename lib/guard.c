// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The guards of every write, the run's own and a recovery's: the findings of
 * iopass_check_dev() with their effects (informs / blocks unless forced /
 * not viable / blocks), and a VM holding a group open. Refusal is -ECANCELED
 * with the findings in the transaction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "iopass-private.h"

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
			refuse |= !iopass_effect_forceable(e) || !(flags & IOPASS_BIND_FORCE);
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
			report_hint(g, "shut the VM down first");
			refuse |= !(flags & IOPASS_BIND_FORCE);
		}
	}
	if (report_oom(g))
		return -ENOMEM;
	return refuse ? -ECANCELED : 0;
}
