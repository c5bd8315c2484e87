// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass __complete WHAT: candidates for the shell completions, one per line,
 * "value<TAB>description". Hidden from --help; its output format is for the
 * completion scripts only.
 *
 *   attach   endpoints not on a vfio driver: "driver"
 *   detach   devices on a vfio driver: "driver"
 *   attach-groups, detach-groups   the same with ", group N" (the scripts
 *            offer group:N from it once the word starts with g)
 *   devices  every device: "class vendor:device driver, group N" (bash reads
 *            the class, ID and driver from it for --id and emit)
 *   groups   IOMMU groups                  pfs      SR-IOV physical functions
 *   drivers  loaded PCI drivers            ids      vendor:device IDs
 *
 * attach and detach are what a TAB after those commands asks for, the
 * commands run most on a big host, so they come from the drivers' directory
 * listings (iopass_scan_candidates): no file per bound device is read, and
 * no group link unless asked for. The rest come from a scan without pci.ids
 * or config space.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CMD[] = "__complete";

/* "driver, group N" ending a description; the scripts read the group from it */
static void describe_driver_group(const char *drv, int g)
{
	fputs(drv ? drv : "unbound", stdout);
	if (g >= 0)
		printf(", group %d", g);
	putchar('\n');
}

/* "class vendor:device driver, group N" */
static void describe(struct iopass_dev *d)
{
	int cls = iopass_dev_get_class(d), g = iopass_dev_get_iommu_group(d);
	const char *name = cls >= 0 ? iopass_class_short_name((uint32_t)cls) : NULL;
	const char *drv = iopass_dev_get_driver(d);

	printf("%s\t%s %04x:%04x ", iopass_dev_get_bdf(d), name ? name : "device",
	       iopass_dev_get_vendor(d) < 0 ? 0 : iopass_dev_get_vendor(d),
	       iopass_dev_get_device(d) < 0 ? 0 : iopass_dev_get_device(d));
	describe_driver_group(drv, g);
}

/* "driver" or "driver, group N": what the quick scan knows */
static void describe_binding(struct iopass_dev *d)
{
	printf("%s\t", iopass_dev_get_bdf(d));
	describe_driver_group(iopass_dev_get_driver(d), iopass_dev_get_iommu_group(d));
}

static int cmd_complete_main(int argc, char *argv[])
{
	static const struct option longopts[] = { CLI_GLOBAL_LONGOPTS, {} };
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	enum iopass_candidates candidates = IOPASS_CANDIDATES_ATTACH;
	bool by_candidates = true;
	const char *what;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, ":" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1)
		if (!cli_global_option(c, optarg))
			return EXIT_USAGE;
	if (optind + 1 != argc)
		return EXIT_USAGE;
	what = argv[optind];
	cli.quiet = true; /* candidates only: never a note in the middle of a completion */
	ret = cli_ctx_new(CMD, &ctx);
	if (ret != EXIT_OK)
		return ret;

	if (streq(what, "drivers")) {
		char **names = NULL;

		if (iopass_drivers(ctx, &names) == 0)
			for (char **d = names; *d; d++)
				printf("%s\tdriver\n", *d);
		free(names);
		goto out;
	}
	if (streq(what, "attach") || streq(what, "attach-groups"))
		candidates = IOPASS_CANDIDATES_ATTACH;
	else if (streq(what, "detach") || streq(what, "detach-groups"))
		candidates = IOPASS_CANDIDATES_DETACH;
	else
		by_candidates = false;
	if (by_candidates)
		r = iopass_scan_candidates(ctx, candidates,
					   strstr(what, "-groups") ? IOPASS_SCAN_GROUPS : 0, &list);
	else
		r = iopass_scan(ctx, &list);
	if (r < 0) {
		ret = EXIT_FAIL;
		goto out;
	}
	size_t n = iopass_devlist_count(list);

	if (streq(what, "groups")) {
		int last = -1, count = 0;

		/* the list is sorted by address, not group: collect and sort the numbers */
		int *groups = calloc(n ? n : 1, sizeof(*groups));
		size_t ng = 0;

		if (!groups) {
			ret = EXIT_FAIL;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			int g = iopass_dev_get_iommu_group(iopass_devlist_get(list, i));

			if (g >= 0)
				groups[ng++] = g;
		}
		qsort(groups, ng, sizeof(*groups), cli_int_cmp);
		for (size_t i = 0; i <= ng; i++) {
			if (i < ng && groups[i] == last) {
				count++;
				continue;
			}
			if (last >= 0)
				printf("%d\t%d device%s\n", last, count, count == 1 ? "" : "s");
			if (i < ng) {
				last = groups[i];
				count = 1;
			}
		}
		free(groups);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct iopass_dev *d = iopass_devlist_get(list, i);

		if (streq(what, "devices"))
			describe(d);
		else if (by_candidates)
			describe_binding(d); /* the scan kept only the candidates */
		else if (streq(what, "pfs") && iopass_dev_get_sriov_totalvfs(d) > 0)
			printf("%s\t%d of %d VFs\n", iopass_dev_get_bdf(d),
			       iopass_dev_get_sriov_numvfs(d) < 0 ? 0 : iopass_dev_get_sriov_numvfs(d),
			       iopass_dev_get_sriov_totalvfs(d));
		else if (streq(what, "ids") && iopass_dev_get_vendor(d) >= 0 && iopass_dev_get_device(d) >= 0)
			printf("%04x:%04x\t%s\n", iopass_dev_get_vendor(d), iopass_dev_get_device(d),
			       iopass_dev_get_bdf(d));
	}
out:
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_complete = {
	.name = "__complete",
	.fn = cmd_complete_main,
	.help = NULL, /* hidden */
};
