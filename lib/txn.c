// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The transaction object every writing command fills and the CLI reads: the
 * writes made (steps), the devices and what became of them, the guards'
 * findings, what recovery did, the first error. A leaf: no module below it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iopass-private.h"

/* ---- building it ------------------------------------------------------------- */

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
		free(t->devs[i].undo_reset);
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

struct iopass_report *txn_guards_new(struct iopass_txn *t)
{
	if (!t->guards)
		t->guards = report_new();
	return t->guards;
}

void txn_finish(struct iopass_txn *t, int r)
{
	if (t->oom && r == 0)
		txn_error(t, "out of memory");
}

const char *iopass_recovery_action_name(enum iopass_recovery_action a)
{
	static const char *const names[] = {
		[IOPASS_RECOVERY_ROLLED_BACK] = "rolled-back",
		[IOPASS_RECOVERY_ROLLED_FORWARD] = "rolled-forward",
		[IOPASS_RECOVERY_CONTINUED] = "continued",
		[IOPASS_RECOVERY_LEFT_ALONE] = "left-alone",
		[IOPASS_RECOVERY_GONE] = "gone",
	};

	return (size_t)a < ARRAY_SIZE(names) ? names[a] : NULL;
}

void txn_recovered(struct iopass_txn *t, const char *op, const char *target,
		   enum iopass_recovery_action action, const char *driver)
{
	struct recovered *nr = reallocarray(t->recovered, t->nrecovered + 1, sizeof(*nr));

	if (!nr) {
		t->oom = true;
		return;
	}
	t->recovered = nr;
	nr = &t->recovered[t->nrecovered++];
	*nr = (struct recovered){ .op = op, .action = action,
				  .target = xstrdup_or_null(t, target),
				  .driver = xstrdup_or_null(t, driver && *driver ? driver : NULL) };
}

void txn_merge(struct iopass_txn *t, const struct iopass_txn *sub)
{
	if (t == sub)
		return; /* nothing nested */
	/* out of memory: stop at the first failed append (t->oom says so) */
	for (size_t i = 0; i < sub->nsteps; i++) {
		struct step *s = txn_step(t, sub->steps[i].path, sub->steps[i].value,
					  sub->steps[i].rollback);

		if (!s)
			return;
		s->result = sub->steps[i].result;
	}
	for (size_t i = 0; i < sub->ndevs; i++) {
		struct txdev *d = txn_dev(t, sub->devs[i].bdf);

		if (!d)
			return;
		d->from = xstrdup_or_null(t, sub->devs[i].from);
		d->to = xstrdup_or_null(t, sub->devs[i].to);
		d->status = sub->devs[i].status;
	}
	for (size_t i = 0; i < sub->nrecovered && !t->oom; i++)
		txn_recovered(t, sub->recovered[i].op, sub->recovered[i].target, sub->recovered[i].action,
			      sub->recovered[i].driver);
	if (sub->error)
		txn_error(t, "%s", sub->error);
	if (sub->guards && !t->guards)
		t->guards = report_new();
	for (size_t i = 0; sub->guards && t->guards && i < iopass_report_count(sub->guards); i++) {
		report_add(t->guards, iopass_report_level(sub->guards, i),
			   iopass_report_code(sub->guards, i), "%s", iopass_report_message(sub->guards, i));
		report_effect(t->guards, iopass_report_effect(sub->guards, i));
		if (iopass_report_hint(sub->guards, i))
			report_hint(t->guards, "%s", iopass_report_hint(sub->guards, i));
	}
}

/* ---- reading it (iopass.h) --------------------------------------------------- */

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
