// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass __complete WHAT: candidates for the shell completions, one per line,
 * "value<TAB>description", from one quick scan (no pci.ids, no config space).
 * Hidden from --help; its output format is for the completion scripts only.
 *
 *   attach   endpoints not on a vfio driver    detach   devices on a vfio driver
 *   devices  every device                      groups   IOMMU groups
 *   pfs      SR-IOV physical functions         drivers  loaded PCI drivers
 *   ids      vendor:device IDs
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char CMD[] = "__complete";

static void describe(struct iopass_dev *d)
{
	int cls = iopass_dev_get_class(d), g = iopass_dev_get_iommu_group(d);
	const char *name = cls >= 0 ? iopass_class_short_name((uint32_t)cls) : NULL;
	const char *drv = iopass_dev_get_driver(d);

	printf("%s\t%s %04x:%04x %s", iopass_dev_get_bdf(d), name ? name : "device",
	       iopass_dev_get_vendor(d) < 0 ? 0 : iopass_dev_get_vendor(d),
	       iopass_dev_get_device(d) < 0 ? 0 : iopass_dev_get_device(d), drv ? drv : "unbound");
	if (g >= 0)
		printf(", group %d", g);
	putchar('\n');
}

static int cmd_complete_main(int argc, char *argv[])
{
	static const struct option longopts[] = { CLI_GLOBAL_LONGOPTS, {} };
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
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

		if (streq(what, "devices") ||
		    (streq(what, "attach") && !iopass_dev_is_vfio(d) && !iopass_dev_is_bridge(d)) ||
		    (streq(what, "detach") && iopass_dev_is_vfio(d)))
			describe(d);
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
