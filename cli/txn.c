// SPDX-License-Identifier: GPL-2.0-or-later
/* Output shared by attach and detach: the plan, what was done, refusals and failures. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"

static const char *step_result(int r)
{
	return r > 0 ? "done" : r < 0 ? "failed" : "not-run";
}

void cli_json_guards(struct json *j, const char *key, const struct iopass_txn *t)
{
	const struct iopass_report *g = iopass_txn_guards(t);

	json_array_begin(j, key);
	for (size_t i = 0; g && i < iopass_report_count(g); i++) {
		json_object_begin(j, NULL);
		json_string(j, "code", iopass_report_code(g, i));
		json_string(j, "effect", iopass_effect_name(iopass_report_effect(g, i)));
		json_string(j, "message", iopass_report_message(g, i));
		json_string(j, "hint", iopass_report_hint(g, i));
		json_object_end(j);
	}
	json_array_end(j);
}

void cli_json_recovered(struct json *j, const struct iopass_txn *t)
{
	json_array_begin(j, "recovered");
	for (size_t i = 0; i < iopass_txn_recovered_count(t); i++) {
		json_object_begin(j, NULL);
		json_string(j, "op", iopass_txn_recovered_op(t, i));
		json_string(j, "target", iopass_txn_recovered(t, i));
		json_string(j, "action", iopass_txn_recovered_action(t, i));
		json_string(j, "driver", iopass_txn_recovered_driver(t, i));
		json_object_end(j);
	}
	json_array_end(j);
}

static void print_json(const struct iopass_txn *t, int rc, bool dry_run)
{
	struct json j;

	json_document_begin(&j, stdout);
	json_bool(&j, "ok", rc == 0);
	json_bool(&j, "dry_run", dry_run);
	json_string(&j, "error", iopass_txn_error(t));
	json_array_begin(&j, "devices");
	for (size_t i = 0; i < iopass_txn_dev_count(t); i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "bdf", iopass_txn_dev_bdf(t, i));
		json_string(&j, "from", iopass_txn_dev_from(t, i));
		json_string(&j, "to", iopass_txn_dev_to(t, i));
		json_string(&j, "status", iopass_txn_dev_status(t, i));
		json_object_end(&j);
	}
	json_array_end(&j);
	json_array_begin(&j, "steps");
	for (size_t i = 0; i < iopass_txn_step_count(t); i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "path", iopass_txn_step_path(t, i));
		json_string(&j, "value", iopass_txn_step_value(t, i));
		json_string(&j, "result", step_result(iopass_txn_step_result(t, i)));
		json_bool(&j, "rollback", iopass_txn_step_is_rollback(t, i));
		json_object_end(&j);
	}
	json_array_end(&j);
	cli_json_guards(&j, "guards", t);
	cli_json_recovered(&j, t);
	json_document_end(&j);
}

/* "echo VALUE > PATH", as the plan would be typed at a shell, quoted for one */
static void print_step(const char *sysroot, const char *path, const char *value)
{
	fputs("  echo", stdout);
	if (value && !streq(value, "\n")) {
		fputc(' ', stdout);
		cli_shell_quote(stdout, value);
	}
	fputs(" > ", stdout);
	/* two quoted words side by side are one word to a shell */
	if (!streq(sysroot, "/"))
		cli_shell_quote(stdout, sysroot);
	cli_shell_quote(stdout, path);
	fputc('\n', stdout);
}

/* What recovery did with an interrupted run's journal: said even with -q, it changed the host. */
void cli_txn_recovery(const char *cmd, const struct iopass_txn *t)
{
	for (size_t i = 0; t && i < iopass_txn_recovered_count(t); i++) {
		const char *what = iopass_txn_recovered(t, i), *op = iopass_txn_recovered_op(t, i);
		const char *drv = iopass_txn_recovered_driver(t, i);

		switch (iopass_txn_recovered_state(t, i)) {
		case IOPASS_RECOVERY_ROLLED_BACK:
			cli_err(cmd, "recovery: %s: the interrupted %s was rolled back%s%s%s", what, op,
				drv ? " (on " : "", drv ? drv : "", drv ? " again)" : "");
			break;
		case IOPASS_RECOVERY_ROLLED_FORWARD:
			cli_err(cmd, "recovery: %s: the interrupted %s had completed; its journal is done",
				what, op);
			break;
		case IOPASS_RECOVERY_CONTINUED:
			cli_err(cmd, "recovery: %s: the interrupted %s is finished by this run", what, op);
			break;
		case IOPASS_RECOVERY_LEFT_ALONE:
			cli_err(cmd, "recovery: %s: another card sits there now; the interrupted %s is "
				     "not undone on it", what, op);
			break;
		case IOPASS_RECOVERY_GONE:
			cli_err(cmd, "recovery: %s: gone; nothing of the interrupted %s to undo", what, op);
			break;
		}
	}
}

/* The guards: what refused the run (refused), or what --force takes away. */
void cli_txn_guards(const char *cmd, const struct iopass_txn *t, bool refused)
{
	const struct iopass_report *g = iopass_txn_guards(t);

	for (size_t i = 0; g && i < iopass_report_count(g); i++) {
		if (refused) {
			enum iopass_effect e = iopass_report_effect(g, i);

			/* a line of apply's file names its own fix */
			bool line = !strncmp(iopass_report_code(g, i), "desired-", 8);

			cli_err(cmd, "%s%s", iopass_report_message(g, i),
				line ? "" : iopass_effect_forceable(e) ? "; pass --force to override"
								       : "; it cannot be passed through");
			if (iopass_report_hint(g, i) && !cli.quiet)
				fprintf(stderr, "  fix: %s\n", iopass_report_hint(g, i));
		} else {
			/* forced: say it even with -q, it is what the user is taking away */
			cli_err(cmd, "warning: forced: %s", iopass_report_message(g, i));
		}
	}
}

int cli_txn_report(const char *cmd, struct iopass_ctx *ctx, const struct iopass_txn *t, int rc,
		   bool json, bool dry_run)
{
	const char *root = iopass_ctx_get_sysroot(ctx);

	cli_txn_recovery(cmd, t);
	cli_txn_guards(cmd, t, rc == -ECANCELED);
	if (json) {
		print_json(t, rc, dry_run);
	} else if (dry_run && rc == 0) {
		if (iopass_txn_step_count(t)) {
			printf("would write, in order:\n");
			for (size_t i = 0; i < iopass_txn_step_count(t); i++)
				print_step(root, iopass_txn_step_path(t, i), iopass_txn_step_value(t, i));
		}
		for (size_t i = 0; i < iopass_txn_dev_count(t); i++)
			if (iopass_txn_dev_state(t, i) == IOPASS_DEV_UNCHANGED)
				printf("%s: unchanged\n", iopass_txn_dev_bdf(t, i));
	} else if (rc == 0 && !cli.quiet) {
		for (size_t i = 0; i < iopass_txn_dev_count(t); i++) {
			const char *from = iopass_txn_dev_from(t, i), *to = iopass_txn_dev_to(t, i);
			const char *bdf = iopass_txn_dev_bdf(t, i);

			switch (iopass_txn_dev_state(t, i)) {
			case IOPASS_DEV_UNCHANGED:
				printf("%s: unchanged (%s)\n", bdf, from ? from : "no driver");
				break;
			case IOPASS_DEV_CREATED:
				printf("%s: created (%s)\n", bdf, to ? to : "no driver");
				break;
			case IOPASS_DEV_REMOVED:
				printf("%s: removed\n", bdf);
				break;
			default:
				printf("%s: %s -> %s\n", bdf, from ? from : "no driver", to ? to : "no driver");
				break;
			}
		}
	}
	if (dry_run && rc == 0 && iopass_txn_error(t))
		cli_note(cmd, "note: %s", iopass_txn_error(t));
	if (rc == 0)
		return EXIT_OK;
	if (iopass_txn_error(t))
		cli_err(cmd, "%s", iopass_txn_error(t));
	else
		cli_err(cmd, "%s", strerror(-rc));
	if (rc == -ECANCELED)
		return EXIT_NOT_READY;
	return EXIT_FAIL;
}
