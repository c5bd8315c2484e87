// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The related scan (what attach, detach and vf read) against the full scan, on
 * synthetic servers from the benchmark's generator: switches with and without
 * ACS, PCH ports, PCIe-to-PCI bridges, multifunction cards, SR-IOV PFs with
 * their VFs, RCiEPs. For every device, what check says of it (alone, with its
 * group, as its PF's VFs) must not depend on which scan it was made on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iopass.h"
#include "testutil.h"

static void gen_tree(const char *dir, int n, int seed)
{
	char ns[16], ss[16];
	pid_t pid;
	int status;

	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(ss, sizeof(ss), "%d", seed);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(IOPASS_BENCH_GEN, IOPASS_BENCH_GEN, "-q", "-n", ns, "-s", ss, dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void rm_tree(const char *dir)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_generated_servers(void **state)
{
	/* small servers of several shapes, then one big one (not under valgrind) */
	static const struct { int n, seed; } trees[] = { { 96, 1 }, { 160, 2 }, { 200, 3 }, { 256, 4 },
							 { 320, 5 }, { 1024, 1 } };
	size_t ntrees = getenv("IOPASS_TEST_QUICK") ? 3 : sizeof(trees) / sizeof(trees[0]);

	(void)state;
	for (size_t i = 0; i < ntrees; i++) {
		char dir[] = "/tmp/iopass-related.XXXXXX", root[64];
		size_t compared, most = 0;

		assert_non_null(mkdtemp(dir));
		snprintf(root, sizeof(root), "%s/t", dir);
		gen_tree(root, trees[i].n, trees[i].seed);
		compared = assert_related_scan_agrees(root, &most);
		print_message("tree of %d functions (seed %d): %zu checks agree; a one-device scan "
			      "read at most %zu devices\n", trees[i].n, trees[i].seed, compared, most);
		assert_true(compared >= (size_t)trees[i].n);
		/* on a big host a change reads a small part of it (a PF's VFs, a busy root bus) */
		if (trees[i].n >= 1024)
			assert_true(most <= (size_t)trees[i].n / 3);
		rm_tree(dir);
	}
}

/*
 * apply plans address lines on the related scan of their devices: what it
 * prints (--check --diff, every field of every line, and the guards' words)
 * is what it prints on a full scan, which a '*' line forces.
 */
static void test_apply_related_agrees(void **state)
{
	char dir[] = "/tmp/iopass-related.XXXXXX", root[64], *file, *full;
	struct iopass_devlist *list = NULL;
	struct iopass_ctx *ctx = NULL;
	struct run a, b;
	FILE *f, *g;
	size_t lines = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/t", dir);
	/* under valgrind (IOPASS_TEST_QUICK) a smaller server */
	gen_tree(root, getenv("IOPASS_TEST_QUICK") ? 256 : 1024, 5);
	assert_int_equal(iopass_ctx_new(root, &ctx), 0);
	assert_int_equal(iopass_scan(ctx, &list), 0);
	assert_true(asprintf(&file, "%s/desired", dir) > 0);
	assert_true(asprintf(&full, "%s/desired.full", dir) > 0);
	f = fopen(file, "w");
	g = fopen(full, "w");
	assert_non_null(f);
	assert_non_null(g);
	for (size_t i = 0; i < iopass_devlist_count(list); i += 3) {
		struct iopass_dev *d = iopass_devlist_get(list, i);

		/* bridges and the host bridge: what no --force overrides */
		if (iopass_dev_is_bridge(d) || iopass_dev_get_vendor(d) < 0 ||
		    (iopass_dev_get_class(d) >> 16) == 0x06)
			continue;
		fprintf(f, "%s %04x:%04x %s\n", iopass_dev_get_bdf(d), iopass_dev_get_vendor(d),
			iopass_dev_get_device(d), lines % 2 ? "host" : "vfio-pci");
		fprintf(g, "%s %04x:%04x %s\n", iopass_dev_get_bdf(d), iopass_dev_get_vendor(d),
			iopass_dev_get_device(d), lines % 2 ? "host" : "vfio-pci");
		lines++;
	}
	fprintf(g, "* ffff:fff0 vfio-pci optional\n"); /* no such device: a full scan, nothing else */
	fclose(f);
	fclose(g);
	assert_true(lines > 20);
	/* the guards' refusals, then (forced) every field of every line */
	for (int force = 0; force <= 1; force++) {
		RUN(&a, root, "apply", "--check", "--diff", force ? "--force" : "--wait=1", file);
		RUN(&b, root, "apply", "--check", "--diff", force ? "--force" : "--wait=1", full);
		assert_int_equal(a.status, force ? 4 : 3);
		assert_int_equal(a.status, b.status);
		assert_text_equal(a.out, b.out);
		assert_text_equal(a.err, b.err);
		assert_int_equal(count_lines(a.out), force ? 2 * lines : 0);
		if (!force)
			assert_true(count_lines(a.err) > 1); /* the findings, and "refused" */
		run_free(&a);
		run_free(&b);
	}
	free(file);
	free(full);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_servers),
		cmocka_unit_test(test_apply_related_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
