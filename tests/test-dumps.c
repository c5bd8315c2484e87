// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Real kernels, replayed: tests/dumps/NAME.dump is what iopass read in the
 * real-kernel tier's guest (tests/vm scenario 12, captured with
 * tests/dumps/capture.sh), with the kernel's own facts about each device.
 *
 * For each dump: the replayed tree must give the group, driver and IDs the
 * kernel gave (an oracle that is not iopass), and the commands must print what
 * NAME.expected says (reviewed by hand when written: IOPASS_DUMPS_WRITE=1
 * writes it anew, as util-linux's tests do with their expected files).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "testutil.h"

static const char *const commands[][5] = {
	{ "list", "-J", NULL },
	{ "list", NULL },
	{ "list", "-D", "-o", "BDF,GROUP,CLASSID,ID,SUBSYS_ID,DRIVER,FLAGS", NULL },
	{ "check", "--all", "-J", NULL },
	{ "check", "--all", NULL },
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;
	ssize_t k;

	if (!f)
		return NULL;
	k = getdelim(&buf, &n, '\0', f);
	fclose(f);
	if (k < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/* Every device the kernel listed has, in iopass's listing, the group, driver and IDs it said. */
static void assert_facts(const char *name, const char *root, const char *facts)
{
	struct run r;
	size_t nfacts = 0;
	char *copy = strdup(facts), *save = NULL;

	assert_non_null(copy);
	RUN(&r, root, "list", "-D", "-r", "-n", "-o", "BDF,GROUP,DRIVER,ID");
	assert_int_equal(r.status, 0);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char bdf[32], group[16], driver[64], id[16], want[160], *at;

		if (sscanf(line, "%31s %15s %63s %15s", bdf, group, driver, id) != 4)
			continue; /* the "kernel ... state ..." line */
		/* raw output: the cells space-separated, an empty GROUP as nothing */
		assert_true((size_t)snprintf(want, sizeof(want), "%s %s %s %s\n", bdf,
					     strcmp(group, "-") ? group : "", driver, id) < sizeof(want));
		at = strstr(r.out, want);
		if (!at || (at != r.out && at[-1] != '\n'))
			fprintf(stderr, "%s: the kernel said \"%s\"; iopass listed:\n%s", name, line, r.out);
		assert_true(at && (at == r.out || at[-1] == '\n'));
		nfacts++;
	}
	assert_int_equal(nfacts, count_lines(r.out));
	assert_true(nfacts > 0);
	fprintf(stderr, "%s: %zu devices as the kernel said\n", name, nfacts);
	run_free(&r);
	free(copy);
}

/* What the commands print on the replayed tree, in the layout of NAME.expected. */
static char *outputs(const char *root)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	assert_non_null(f);
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		struct run r;

		run_iopass(&r, root, commands[c]);
		fputs("=== iopass", f);
		for (size_t i = 0; commands[c][i]; i++)
			fprintf(f, " %s", commands[c][i]);
		fprintf(f, ": exit status %d\n%s=== stderr\n%s", r.status, r.out, r.err);
		run_free(&r);
	}
	fclose(f);
	return text;
}

static void replay_one(const char *dir, const char *file)
{
	char path[4200], root[] = "/tmp/iopass-dump-XXXXXX", *facts = NULL, *got, *want;
	size_t len = strlen(file) - strlen(".dump");
	FILE *in;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) < sizeof(path));
	in = fopen(path, "re");
	assert_non_null(in);
	assert_non_null(mkdtemp(root));
	assert_int_equal(dump_replay(in, root, &facts), 0);
	fclose(in);
	assert_non_null(facts);
	assert_facts(file, root, facts);

	got = outputs(root);
	assert_true((size_t)snprintf(path, sizeof(path), "%s/%.*s.expected", dir, (int)len, file) <
		    sizeof(path));
	if (getenv("IOPASS_DUMPS_WRITE")) {
		FILE *out = fopen(path, "we");

		assert_non_null(out);
		fputs(got, out);
		assert_int_equal(fclose(out), 0);
		fprintf(stderr, "%s: written\n", path);
	}
	want = read_text(path);
	if (!want)
		fprintf(stderr, "%s: missing (IOPASS_DUMPS_WRITE=1 writes it)\n", path);
	assert_non_null(want);
	assert_text_equal(got, want);
	free(want);
	free(got);
	free(facts);
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_dumps_replay(void **state)
{
	struct dirent **names;
	int n, ndumps = 0;

	(void)state;
	n = scandir(IOPASS_DUMPS_DIR, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 5 && strcmp(names[i]->d_name + len - 5, ".dump") == 0) {
			replay_one(IOPASS_DUMPS_DIR, names[i]->d_name);
			ndumps++;
		}
		free(names[i]);
	}
	free(names);
	/* at least the two states of one kernel: no dump, no test */
	assert_true(ndumps >= 2);
}

/* A manifest cannot lead a replay out of its directory: not through a link it made, not by "..". */
static void test_replay_stays_inside(void **state)
{
	static const char *const evil[] = {
		"iopass-sysfs-dump 1\nl /sys/x OUTSIDE\nf /sys/x/pwned 3\nabc\n",
		"iopass-sysfs-dump 1\nl /sys/y ../../outside\nd /sys/y/madedir\n",
		"iopass-sysfs-dump 1\nd /sys/../../OUTSIDE\n",
		"iopass-sysfs-dump 1\ne /sys/a/..\n",
		"iopass-sysfs-dump 1\nl /sys/z OUTSIDE\ne /sys/z\n",
		"iopass-sysfs-dump 1\ne /sys/a b\n",
	};
	char base[] = "/tmp/iopass-dump-evil-XXXXXX", root[4200], outside[4200], *text;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(outside, sizeof(outside), "%s/outside", base);
	assert_int_equal(mkdir(outside, 0755), 0);
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		FILE *in;

		snprintf(root, sizeof(root), "%s/root%zu", base, i);
		assert_int_equal(mkdir(root, 0755), 0);
		/* the links point at the directory beside the root, by its path or by ".." */
		assert_true(asprintf(&text, "%s", evil[i]) > 0);
		for (char *p; (p = strstr(text, "OUTSIDE"));) {
			char *t;

			*p = '\0';
			assert_true(asprintf(&t, "%s%s%s", text, outside, p + 7) > 0);
			free(text);
			text = t;
		}
		in = fmemopen(text, strlen(text), "r");
		assert_non_null(in);
		assert_true(dump_replay(in, root, NULL) < 0);
		fclose(in);
		free(text);
	}
	/* nothing was made beside the roots */
	{
		DIR *d = opendir(outside);
		struct dirent *de;
		size_t n = 0;

		assert_non_null(d);
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 0);
	}
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dumps_replay),
		cmocka_unit_test(test_replay_stays_inside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
