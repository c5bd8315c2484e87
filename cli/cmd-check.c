// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass check: is the host ready for VFIO, and can these devices be passed
 * through? Exit 0 when everything asked about is ready, 3 when it is not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

static const char CMD[] = "check";

static void usage(void)
{
	fputs("Usage: iopass check [options] [DEVICE... | --group N | --all]\n"
	      "\nWithout devices: is the host ready for VFIO (IOMMU, interrupt remapping, vfio\n"
	      "modules)? With devices: can they be passed through, attached together?\n"
	      "Without devices it also says how the host differs from " IOPASS_DESIRED_FILE ",\n"
	      "when there is one (the plan of 'iopass apply --check').\n"
	      "DEVICE is a PCI address (DDDD:BB:SS.F or BB:SS.F), a slot (DDDD:BB:SS or BB:SS:\n"
	      "every function of the card, not its VFs), card:DEV (the card function DEV is on)\n"
	      "or group:N.\n"
	      "\nVerdicts: ready, needs-group (attach with the listed group members), unsafe\n"
	      "(the host uses it or a group member), impossible (no IOMMU group, not an endpoint).\n"
	      "\nOptions:\n"
	      "  -g, --group N          check the endpoints of IOMMU group N, together\n"
	      "      --card DEV         every function of the card that DEV is on\n"
	      "  -a, --all              check every endpoint device, each on its own\n"
	      "  -J, --json             JSON output, with a stable code for every finding\n"
	      "      --sysroot DIR      read sysfs and procfs below DIR\n"
	      "  -v, --verbose          show every finding and hint, not only problems\n"
	      "  -q, --quiet            print nothing; the exit status tells\n"
	      "  -h, --help             show this help\n"
	      "\nExit status: 0 ready, 3 checked and not ready, 1 error, 2 usage error.\n",
	      stdout);
}

static enum cli_color level_color(enum iopass_level lv)
{
	return lv == IOPASS_LEVEL_FAIL ? COLOR_RED : lv == IOPASS_LEVEL_WARN ? COLOR_YELLOW
		: lv == IOPASS_LEVEL_OK ? COLOR_GREEN : COLOR_BOLD;
}

static enum cli_color verdict_color(enum iopass_verdict v)
{
	return v == IOPASS_READY ? COLOR_GREEN : v == IOPASS_NEEDS_GROUP ? COLOR_YELLOW : COLOR_RED;
}

/* Problems always; "ok" lines when show_ok; info lines and every hint with -v. */
static void print_findings(const struct iopass_report *r, bool all, bool show_ok, const char *indent)
{
	for (size_t i = 0; i < iopass_report_count(r); i++) {
		enum iopass_level lv = iopass_report_level(r, i);
		const char *hint = iopass_report_hint(r, i);

		if (!all && (lv == IOPASS_LEVEL_INFO || (lv == IOPASS_LEVEL_OK && !show_ok)))
			continue;
		printf("%s%s%-5s%s ", indent, cli_color_on(level_color(lv)), iopass_level_name(lv),
		       cli_color_off());
		cli_put_safe(iopass_report_message(r, i), stdout);
		putchar('\n');
		if (hint && (all || lv >= IOPASS_LEVEL_WARN)) {
			printf("%s      fix: ", indent);
			cli_put_safe(hint, stdout);
			/* the library says what fixes it; what --force does is the CLI's to say */
			if (lv == IOPASS_LEVEL_FAIL && iopass_effect_forceable(iopass_report_effect(r, i)))
				fputs("; or attach with --force", stdout);
			putchar('\n');
		}
	}
}

/* A device's findings also say what they do to attach (its "effect"). */
static void json_findings(struct json *j, const struct iopass_report *r, bool device)
{
	json_array_begin(j, "findings");
	for (size_t i = 0; i < iopass_report_count(r); i++) {
		json_object_begin(j, NULL);
		json_string(j, "code", iopass_report_code(r, i));
		json_string(j, "level", iopass_level_name(iopass_report_level(r, i)));
		if (device)
			json_string(j, "effect", iopass_effect_name(iopass_report_effect(r, i)));
		json_string(j, "message", iopass_report_message(r, i));
		json_string(j, "hint", iopass_report_hint(r, i));
		json_object_end(j);
	}
	json_array_end(j);
}

static void print_device(struct iopass_dev *dev, const struct iopass_report *r, bool all)
{
	const char *vn = iopass_dev_get_vendor_name(dev), *dn = iopass_dev_get_device_name(dev);
	const char *drv = iopass_dev_get_driver(dev);
	int g = iopass_dev_get_iommu_group(dev);
	size_t nneeds = iopass_report_needs_count(r);

	/* names come from pci.ids and drivers from sysfs: escaped, as list does */
	printf("%s %s%s%s: ", iopass_dev_get_bdf(dev),
	       cli_color_on(verdict_color(iopass_report_verdict(r))),
	       iopass_verdict_name(iopass_report_verdict(r)), cli_color_off());
	if (vn) {
		cli_put_safe(vn, stdout);
		putchar(' ');
	}
	cli_put_safe(dn ? dn : "Device", stdout);
	if (g >= 0)
		printf(", group %d", g);
	fputs(", ", stdout);
	cli_put_safe(drv ? drv : "no driver", stdout);
	putchar('\n');
	if (nneeds) {
		printf("    needs:");
		for (size_t i = 0; i < nneeds; i++) {
			putchar(' ');
			cli_put_safe(iopass_report_needs(r, i), stdout);
		}
		putchar('\n');
	}
	print_findings(r, all, false, "    ");
}

/*
 * The host against its desired state (/etc/iopass/desired, when there is one):
 * the plan of 'apply --check', each field that differs a warning. Drift changes
 * no verdict and no exit status: 'apply --check' exits 4 on it, for scripts.
 */
struct desired_check {
	bool present;            /* the file is there */
	char *error;             /* it could not be read or applied: why */
	struct iopass_apply *plan;
};

static void desired_check(struct iopass_ctx *ctx, struct desired_check *dc)
{
	struct iopass_desired *d = NULL;
	char *perr = NULL;
	int r = iopass_desired_load(ctx, &d, &perr);

	/* absent; or unreadable to a user, as root's files may be: root's check says it */
	if (r == -ENOENT || (r == -EACCES && geteuid() != 0))
		return;
	dc->present = true;
	if (r == 0 && iopass_desired_count(d) == 0) {
		if (asprintf(&dc->error, "names no device (apply refuses it: an empty desired state "
				       "would change nothing)") < 0)
			dc->error = NULL;
	} else if (r == 0) {
		r = iopass_apply(ctx, d, IOPASS_BIND_DRY_RUN, &dc->plan);
		if (r < 0 && dc->plan && iopass_txn_error(iopass_apply_txn(dc->plan))) {
			const struct iopass_report *g = iopass_txn_guards(iopass_apply_txn(dc->plan));

			/* the first finding that refused it says the most */
			if (asprintf(&dc->error, "apply would be refused: %s",
				     g && iopass_report_count(g) ? iopass_report_message(g, 0)
								 : iopass_txn_error(iopass_apply_txn(dc->plan))) < 0)
				dc->error = NULL;
		} else if (r < 0 && asprintf(&dc->error, "cannot plan it: %s", strerror(-r)) < 0) {
			dc->error = NULL;
		}
	} else if (asprintf(&dc->error, "%s", perr ? perr : r == -EPERM ? "not root's, or writable "
			    "by others" : strerror(-r)) < 0) {
		dc->error = NULL;
	}
	free(perr);
	iopass_desired_free(d);
}

static void desired_print(const struct desired_check *dc)
{
	const struct iopass_apply *a = dc->plan;
	size_t ndrift = 0;

	if (!dc->present)
		return;
	if (dc->error || !a) {
		printf("  %swarn%s  " IOPASS_DESIRED_FILE ": ", cli_color_on(COLOR_YELLOW), cli_color_off());
		cli_put_safe(dc->error ? dc->error : "out of memory", stdout);
		fputs("\n        fix: correct it, then 'iopass apply --check' shows the plan\n", stdout);
		return;
	}
	for (size_t i = 0; i < iopass_apply_count(a); i++) {
		if (iopass_apply_status(a, i) != IOPASS_CHANGE_PLANNED)
			continue;
		ndrift++;
		printf("  %swarn%s  %s: %s is %s, but " IOPASS_DESIRED_FILE " line %u says %s\n",
		       cli_color_on(COLOR_YELLOW), cli_color_off(), iopass_apply_bdf(a, i),
		       iopass_change_field_name(iopass_apply_field(a, i)),
		       iopass_apply_from(a, i) ? iopass_apply_from(a, i) : "none",
		       iopass_apply_line(a, i), iopass_apply_to(a, i) ? iopass_apply_to(a, i) : "none");
	}
	if (ndrift)
		fputs("        fix: 'iopass apply' makes the host match it ('iopass apply --check' shows "
		      "the plan)\n", stdout);
	else
		printf("  %sok%s    the host matches " IOPASS_DESIRED_FILE "\n", cli_color_on(COLOR_GREEN),
		       cli_color_off());
}

static void desired_json(struct json *j, const struct desired_check *dc)
{
	const struct iopass_apply *a = dc->plan;

	if (!dc->present) {
		json_null(j, "desired");
		return;
	}
	json_object_begin(j, "desired");
	json_string(j, "file", IOPASS_DESIRED_FILE);
	json_bool(j, "matches", !dc->error && a && !iopass_apply_changed(a));
	json_string(j, "error", dc->error ? dc->error : a ? NULL : "out of memory");
	json_array_begin(j, "drift");
	for (size_t i = 0; !dc->error && i < iopass_apply_count(a); i++) {
		if (iopass_apply_status(a, i) != IOPASS_CHANGE_PLANNED)
			continue;
		json_object_begin(j, NULL);
		cli_json_change(j, a, i);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static int cmd_check_main(int argc, char *argv[])
{
	enum { OPT_CARD = OPT_GLOBAL_LAST };
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "card", required_argument, NULL, OPT_CARD },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'J' },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_report *host = NULL, **reports = NULL;
	struct cli_selection sel = { NULL, 0 };
	struct cli_devargs da = { 0 };
	struct desired_check dc = { 0 };
	bool all = false, json = false, have_group = false, not_ready;
	int c, r, group = -1, ret = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, ":g:aJ" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		switch (c) {
		case 'g':
			if (cli_parse_group(CMD, optarg, &group) < 0)
				return EXIT_USAGE;
			have_group = true;
			break;
		case 'a':
			all = true;
			break;
		case 'J':
			json = true;
			break;
		case OPT_CARD:
			if (cli_devargs_add_card(CMD, &da, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (cli_devargs_finish(&da, argv + optind, (size_t)(argc - optind)) < 0) {
		cli_err(CMD, "out of memory");
		ret = EXIT_FAIL;
		goto out;
	}
	if (all && (have_group || da.n > 0)) {
		cli_err(CMD, "--all checks every device; drop the devices or --group");
		ret = EXIT_USAGE;
		goto out;
	}
	/* validate before touching anything */
	if (cli_check_device_args(CMD, da.v, da.n) != EXIT_OK) {
		ret = EXIT_USAGE;
		goto out;
	}

	ret = cli_ctx_new(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	r = iopass_check_host(ctx, &host);
	if (r < 0) {
		cli_err(CMD, "cannot check the host: %s", strerror(-r));
		goto out;
	}
	if (all || have_group || da.n > 0) {
		/* the devices named need only what their checks read, as attach */
		r = all ? cli_scan(CMD, ctx, &list)
			: cli_scan_args(CMD, ctx, da.v, da.n,
					have_group ? &group : NULL, &list);
		if (r < 0)
			goto out;
		ret = cli_select(CMD, list, da.v, da.n,
				 have_group ? &group : NULL, all, &sel);
		if (ret != EXIT_OK)
			goto out;
		ret = EXIT_FAIL;
		reports = calloc(sel.n ? sel.n : 1, sizeof(*reports));
		if (!reports) {
			cli_err(CMD, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < sel.n; i++) {
			/* --all: each on its own; otherwise the devices named are one set */
			r = iopass_check_dev(ctx, list, sel.devs[i], all ? &sel.devs[i] : sel.devs,
					     all ? 1 : sel.n, &reports[i]);
			if (r < 0) {
				cli_err(CMD, "%s: cannot check: %s", iopass_dev_get_bdf(sel.devs[i]),
					strerror(-r));
				goto out;
			}
		}
	}

	/* the host's own check: and its desired state, when it has one */
	if (!have_group && da.n == 0)
		desired_check(ctx, &dc);
	not_ready = iopass_report_worst(host) == IOPASS_LEVEL_FAIL;
	for (size_t i = 0; i < sel.n; i++)
		not_ready |= iopass_report_verdict(reports[i]) != IOPASS_READY;

	if (json) {
		struct json j;

		json_document_begin(&j, stdout);
		json_bool(&j, "ready", !not_ready);
		json_object_begin(&j, "host");
		json_bool(&j, "ready", iopass_report_worst(host) != IOPASS_LEVEL_FAIL);
		json_findings(&j, host, false);
		desired_json(&j, &dc);
		json_object_end(&j);
		json_array_begin(&j, "devices");
		for (size_t i = 0; i < sel.n; i++) {
			struct iopass_dev *d = sel.devs[i];
			int g = iopass_dev_get_iommu_group(d);

			json_object_begin(&j, NULL);
			json_string(&j, "bdf", iopass_dev_get_bdf(d));
			if (g >= 0)
				json_int(&j, "group", g);
			else
				json_null(&j, "group");
			json_string(&j, "driver", iopass_dev_get_driver(d));
			json_string(&j, "verdict", iopass_verdict_name(iopass_report_verdict(reports[i])));
			json_array_begin(&j, "needs");
			for (size_t k = 0; k < iopass_report_needs_count(reports[i]); k++)
				json_string(&j, NULL, iopass_report_needs(reports[i], k));
			json_array_end(&j);
			json_findings(&j, reports[i], true);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_document_end(&j);
	} else if (!cli.quiet) {
		bool verbose = cli.verbose > 0;

		if (!sel.n || iopass_report_worst(host) >= IOPASS_LEVEL_WARN || verbose) {
			bool host_ok = iopass_report_worst(host) != IOPASS_LEVEL_FAIL;

			printf("host: %s%s%s\n", cli_color_on(host_ok ? COLOR_GREEN : COLOR_RED),
			       host_ok ? "ready" : "not ready", cli_color_off());
			print_findings(host, verbose, !sel.n, "  ");
			desired_print(&dc);
		}
		for (size_t i = 0; i < sel.n; i++)
			print_device(sel.devs[i], reports[i], verbose);
	}
	ret = not_ready ? EXIT_NOT_READY : EXIT_OK;
out:
	cli_devargs_free(&da);
	free(dc.error);
	iopass_apply_free(dc.plan);
	for (size_t i = 0; reports && i < sel.n; i++)
		iopass_report_free(reports[i]);
	free(reports);
	cli_selection_free(&sel);
	iopass_report_free(host);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_check = {
	.name = "check",
	.fn = cmd_check_main,
	.help = "check the host and devices for passthrough",
};
