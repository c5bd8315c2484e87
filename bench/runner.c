// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass-bench: time iopass against the tools users would run instead, on
 * synthetic sysfs trees of N PCI functions (made by iopass-bench-gen), and
 * print a table: per tool and N the median wall time over repeated runs, the
 * cost per device, the peak RSS and the ratio to `iopass list`.
 *
 * Tools run side by side: each round runs every tool once, in turn, so that
 * drift (frequency, cache, other load) hits all of them alike. A tool stops
 * collecting runs when it has --reps of them, or --budget seconds of runs
 * (at least --min-reps). The first round is a warm-up whose output is kept to
 * check that the tool worked; it counts as a run only for slow tools.
 *
 * iopass takes --sysroot and lspci takes -A linux-sysfs -O sysfs.path=;
 * the tools that read /sys directly (driverctl, dpdk-devbind.py, the shell
 * loop over /sys/kernel/iommu_groups) run in this process's private mount
 * namespace, where the tree's sys/ is bind-mounted over /sys (needs root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_IOPASS
#define BENCH_IOPASS "iopass"
#endif
#ifndef BENCH_GEN
#define BENCH_GEN "iopass-bench-gen"
#endif
#ifndef BENCH_FLOOR
#define BENCH_FLOOR "iopass-bench-floor"
#endif

#define MAX_RUNS 64
#define MAX_SIZES 16
#define MAX_ARGS 24

/* The common shell loop over the IOMMU groups, one lspci per device. */
static const char LOOP_SCRIPT[] =
	"shopt -s nullglob\n"
	"for g in $(find /sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do\n"
	"  echo \"IOMMU Group ${g##*/}:\"\n"
	"  for d in \"$g\"/devices/*; do\n"
	"    echo -e \"\\t$(lspci -nns \"${d##*/}\")\"\n"
	"  done\n"
	"done\n";

enum mode {
	DIRECT, /* takes the tree as an argument */
	NS,     /* reads /sys: run with the tree bind-mounted over /sys */
};

struct tool {
	const char *name;
	enum mode mode;
	const char *argv[MAX_ARGS]; /* @IOPASS@ @FLOOR@ @ROOT@ @PCI@ @LOOP@ are replaced */
	bool capped;                /* killed after --loop-cap seconds, extrapolated */
	const char *needs;          /* a program that must be installed */
	/* decided at start-up: not installed, not selected, or no root */
	bool skip;
	const char *skip_why;
};

static struct tool tools[] = {
	{ "iopass list", DIRECT, { "@IOPASS@", "--sysroot", "@ROOT@", "list" } },
	{ "iopass list -J", DIRECT, { "@IOPASS@", "--sysroot", "@ROOT@", "list", "-J" } },
	{ "iopass check --all -J", DIRECT,
	  { "@IOPASS@", "--sysroot", "@ROOT@", "check", "--all", "-J" } },
	{ "iopass __complete attach", DIRECT,
	  { "@IOPASS@", "--sysroot", "@ROOT@", "__complete", "attach" } },
	/* what a TAB after "iopass attach g" asks for: the candidates with their groups */
	{ "iopass __complete attach-groups", DIRECT,
	  { "@IOPASS@", "--sysroot", "@ROOT@", "__complete", "attach-groups" } },
	{ "floor (C, no names)", DIRECT, { "@FLOOR@", "@ROOT@" } },
	{ "lspci -nnk", DIRECT, { "lspci", "-A", "linux-sysfs", "-O", "@PCI@", "-nnk" }, .needs = "lspci" },
	{ "lspci -D", DIRECT, { "lspci", "-A", "linux-sysfs", "-O", "@PCI@", "-D" }, .needs = "lspci" },
	{ "driverctl list-devices", NS, { "driverctl", "list-devices" }, .needs = "driverctl" },
	{ "dpdk-devbind.py --status", NS, { "dpdk-devbind.py", "--status" }, .needs = "dpdk-devbind.py" },
	{ "iommu_groups loop + lspci -nns", NS, { "bash", "-c", "@LOOP@" }, .capped = true,
	  .needs = "lspci" },
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))
/* the rows the ratios and targets refer to, in the order of tools[] */
enum { T_LIST, T_LISTJ, T_CHECK, T_COMPLETE, T_COMPLETE_GROUPS, T_FLOOR, T_LSPCI_NNK };

struct result {
	int nruns;
	double secs[MAX_RUNS];
	double cpu[MAX_RUNS];
	long rss_kb;       /* the largest over the runs */
	long lines;        /* output lines of the warm-up run */
	bool failed;
	char why[256];
	bool capped;       /* killed at the cap: the time is extrapolated */
	double cap_secs, cap_cpu;
	long cap_lines;
	double spent;
};

static struct {
	const char *iopass, *gen, *floor, *workdir;
	long sizes[MAX_SIZES];
	int nsizes;
	unsigned long long seed;
	int reps, min_reps;
	double budget, cap, loop_cap;
	bool markdown, regen, quick;
	const char *only, *locale;
	bool ns_ok;
	bool complete_fallback;
} opt = {
	.iopass = BENCH_IOPASS,
	.gen = BENCH_GEN,
	.floor = BENCH_FLOOR,
	.seed = 1,
	.reps = 9,
	.min_reps = 3,
	.budget = 6,
	.cap = 120,
	.loop_cap = 10,
	.locale = "C",
};

static struct result results[MAX_SIZES][NTOOLS];
static char load_start[64];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("iopass-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("iopass-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is prog on PATH (or an executable path)? */
static bool have_program(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		size_t len = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

struct run {
	double secs;
	double cpu;   /* user + system time of the process and its reaped descendants */
	long rss_kb;
	int status;   /* exit status, 128 + signal */
	bool timeout;
};

/*
 * Run argv with stdout to out_path (or /dev/null) and stderr to err_path ("-":
 * this process's stderr; NULL: /dev/null), in
 * its own process group; kill the group after cap seconds. The time is the
 * wall time from fork to reaping, the RSS the largest of the process and
 * its reaped descendants (wait4's rusage).
 */
static struct run run_once(char *const argv[], const char *out_path, const char *err_path,
			   double cap)
{
	struct run r = { 0 };
	struct rusage ru;
	struct itimerval it = { 0 };
	double t0;
	pid_t pid;
	int st;

	alarmed = 0;
	t0 = now();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		bool inherit = err_path && strcmp(err_path, "-") == 0;
		int err = inherit ? 2
				  : open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
					 0644);
		int in = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (out < 0 || err < 0 || in < 0) {
			perror("iopass-bench: cannot set up the child's stdin, stdout or stderr");
			_exit(126);
		}
		dup2(in, 0);
		dup2(out, 1);
		if (!inherit)
			dup2(err, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	it.it_value.tv_sec = (time_t)cap;
	it.it_value.tv_usec = (suseconds_t)((cap - (double)(time_t)cap) * 1e6);
	setitimer(ITIMER_REAL, &it, NULL);
	for (;;) {
		pid_t w = wait4(pid, &st, 0, &ru);

		if (w == pid)
			break;
		if (w < 0 && errno == EINTR && alarmed) {
			r.timeout = true;
			kill(-pid, SIGKILL);
			alarmed = 0;
			continue;
		}
		if (w < 0 && errno != EINTR)
			die("wait4: %s", strerror(errno));
	}
	r.secs = now() - t0;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	/* a loop killed at the cap leaves lspci children behind in the group */
	kill(-pid, SIGKILL);
	r.rss_kb = ru.ru_maxrss;
	r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}

/* Lines of the file; with tab_only, only those that start with a tab. */
static long count_lines(const char *path, bool tab_only)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c, prev = '\n';

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF) {
		if (prev == '\n' && c != EOF && (!tab_only || c == '\t'))
			n++;
		prev = c;
	}
	fclose(f);
	return n;
}

static void first_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* ---- trees ---------------------------------------------------------------- */

static char *tree_path(long n)
{
	char *p;

	if (asprintf(&p, "%s/tree-%ld-s%llu", opt.workdir, n, opt.seed) < 0)
		die("out of memory");
	return p;
}

static void rm_rf(const char *path)
{
	char *argv[] = { "rm", "-rf", "--", (char *)path, NULL };
	struct run r = run_once(argv, NULL, NULL, 600);

	if (r.status != 0)
		die("rm -rf %s failed", path);
}

/* Make (or reuse) the tree of n functions; a tree older than the generator is made anew. */
static void ensure_tree(long n)
{
	char *root = tree_path(n), *info, nbuf[32], sbuf[32];
	struct stat st_info, st_gen;
	bool ok;

	if (asprintf(&info, "%s/bench-tree.txt", root) < 0)
		die("out of memory");
	ok = stat(info, &st_info) == 0;
	if (ok && stat(opt.gen, &st_gen) == 0 && st_gen.st_mtime > st_info.st_mtime)
		ok = false;
	if (ok && opt.regen)
		ok = false;
	if (!ok) {
		char *argv[] = { (char *)opt.gen, "-q", "-n", nbuf, "-s", sbuf, root, NULL };
		double t0 = now();
		struct run r;

		snprintf(nbuf, sizeof(nbuf), "%ld", n);
		snprintf(sbuf, sizeof(sbuf), "%llu", opt.seed);
		if (access(root, F_OK) == 0)
			rm_rf(root);
		note("generating the tree of %ld functions in %s ...", n, root);
		r = run_once(argv, NULL, "-", 3600);
		if (r.status != 0)
			die("%s failed (status %d)", opt.gen, r.status);
		note("  done in %.1f s", now() - t0);
	}
	free(info);
	free(root);
}

/* ---- running the tools ------------------------------------------------------ */

static char **make_argv(const struct tool *t, const char *root)
{
	static char pci[4200];
	char **argv = calloc(MAX_ARGS + 1, sizeof(*argv));
	size_t i;

	if (!argv)
		die("out of memory");
	snprintf(pci, sizeof(pci), "sysfs.path=%s/sys/bus/pci", root);
	for (i = 0; i < MAX_ARGS && t->argv[i]; i++) {
		const char *a = t->argv[i];

		if (strcmp(a, "@IOPASS@") == 0)
			a = opt.iopass;
		else if (strcmp(a, "@FLOOR@") == 0)
			a = opt.floor;
		else if (strcmp(a, "@ROOT@") == 0)
			a = root;
		else if (strcmp(a, "@PCI@") == 0)
			a = pci;
		else if (strcmp(a, "@LOOP@") == 0)
			a = LOOP_SCRIPT;
		argv[i] = (char *)a;
	}
	/* the completion query is new; without it the listing that stood in for it */
	if (t == &tools[T_COMPLETE] && opt.complete_fallback) {
		static const char *fb[] = { "list", "-D", "-n", "-r", "-o", "BDF,DRIVER", NULL };

		i = 3;
		for (size_t j = 0; fb[j]; j++)
			argv[i++] = (char *)fb[j];
		argv[i] = NULL;
	}
	return argv;
}

static bool status_ok(const struct tool *t, int status)
{
	/* check exits 3 when something is not ready: on this tree something always is */
	if (t == &tools[T_CHECK])
		return status == 0 || status == 3;
	return status == 0;
}

static void ns_mount(const char *root)
{
	char sys[4200];

	snprintf(sys, sizeof(sys), "%s/sys", root);
	if (mount(sys, "/sys", NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind-mount %s over /sys: %s", sys, strerror(errno));
}

static void ns_umount(void)
{
	if (umount2("/sys", MNT_DETACH) < 0)
		die("umount /sys: %s", strerror(errno));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(const struct result *r, const double *vals)
{
	double v[MAX_RUNS];

	if (r->nruns == 0)
		return NAN;
	memcpy(v, vals, sizeof(double) * (size_t)r->nruns);
	qsort(v, (size_t)r->nruns, sizeof(double), cmp_double);
	return r->nruns % 2 ? v[r->nruns / 2] : (v[r->nruns / 2 - 1] + v[r->nruns / 2]) / 2;
}

static double median(const struct result *r)
{
	return median_of(r, r->secs);
}

/* "0.52 0.61 0.70 1/97 29737" -> "0.52 0.61 0.70" */
static void load_avg(char *buf, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char *p = buf;

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	for (int i = 0; i < 3 && p; i++)
		p = strchr(p + (i > 0), ' ');
	if (p)
		*p = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* Half the range of the runs, relative to the median: a rough error bar. */
static double spread(const struct result *r)
{
	double lo = INFINITY, hi = 0, m = median(r);

	if (r->nruns < 2 || !(m > 0))
		return NAN;
	for (int i = 0; i < r->nruns; i++) {
		lo = fmin(lo, r->secs[i]);
		hi = fmax(hi, r->secs[i]);
	}
	return (hi - lo) / 2 / m;
}

static void bench_size(int si)
{
	long n = opt.sizes[si];
	char *root = tree_path(n), out[4200], err[4200];
	bool mounted = false;
	int round;

	snprintf(out, sizeof(out), "%s/out.txt", opt.workdir);
	snprintf(err, sizeof(err), "%s/err.txt", opt.workdir);
	for (size_t ti = 0; ti < NTOOLS; ti++) {
		struct tool *t = &tools[ti];

		if (t->skip)
			continue;
		if (t->mode == NS && !mounted) {
			ns_mount(root);
			mounted = true;
		}
	}

	for (round = 0;; round++) {
		bool any = false;

		for (size_t ti = 0; ti < NTOOLS; ti++) {
			struct tool *t = &tools[ti];
			struct result *res = &results[si][ti];
			double cap = t->capped ? opt.loop_cap : opt.cap;
			char **argv;
			struct run r;

			if (t->skip || res->failed || res->capped)
				continue;
			if (round > 0 && (res->nruns >= opt.reps ||
					  (res->nruns >= opt.min_reps && res->spent >= opt.budget) ||
					  res->nruns >= MAX_RUNS))
				continue;
			/* one slow run is all a slow tool gets once it is over the budget */
			if (round > 0 && res->nruns >= 1 && res->spent >= opt.budget &&
			    res->secs[0] > opt.budget)
				continue;
			any = true;
			argv = make_argv(t, root);
			r = run_once(argv, round == 0 ? out : NULL, err, cap);
			free(argv);
			if (r.rss_kb > res->rss_kb)
				res->rss_kb = r.rss_kb;
			if (round == 0) {
				res->lines = count_lines(out, false);
				if (r.timeout && t->capped) {
					/* extrapolate from the share of the devices it got through */
					res->capped = true;
					res->cap_secs = r.secs;
					res->cap_cpu = r.cpu;
					res->cap_lines = count_lines(out, true);
					continue;
				}
				if (r.timeout || !status_ok(t, r.status)) {
					char line[200];

					first_line(err, line, sizeof(line));
					res->failed = true;
					snprintf(res->why, sizeof(res->why), "%s %d%s%s",
						 r.timeout ? "killed after" : "exit status",
						 r.timeout ? (int)cap : r.status, line[0] ? ": " : "", line);
					note("%s at N=%ld failed: %s", t->name, n, res->why);
					continue;
				}
				/* the warm-up counts only for slow tools */
				if (r.secs < opt.budget / 2)
					continue;
			}
			res->cpu[res->nruns] = r.cpu;
			res->secs[res->nruns++] = r.secs;
			res->spent += r.secs;
		}
		if (!any)
			break;
	}
	if (mounted)
		ns_umount();
	free(root);
}

/* ---- the report ------------------------------------------------------------ */

static void fmt_time(char *buf, size_t size, double s)
{
	if (isnan(s))
		snprintf(buf, size, "-");
	else if (s < 1)
		snprintf(buf, size, "%.1f ms", s * 1e3);
	else
		snprintf(buf, size, "%.2f s", s);
}

static double tool_time_of(int si, int ti, bool *approx, bool cpu)
{
	const struct result *r = &results[si][ti];

	*approx = false;
	if (r->capped) {
		*approx = true;
		/* cap_lines: the device lines (tab-indented) printed by then */
		return r->cap_lines > 0 ? (cpu ? r->cap_cpu : r->cap_secs) * (double)opt.sizes[si] /
						  (double)r->cap_lines
					: NAN;
	}
	return r->failed ? NAN : cpu ? median_of(r, r->cpu) : median(r);
}

/* The median wall time (extrapolated for a capped run). */
static double tool_time(int si, int ti, bool *approx)
{
	return tool_time_of(si, ti, approx, false);
}

/* The median CPU time, user and system, of the tool and its children. */
static double tool_cpu(int si, int ti)
{
	bool approx;

	return tool_time_of(si, ti, &approx, true);
}

static void print_table(void)
{
	const char *sep = opt.markdown ? " | " : "  ";

	if (opt.markdown) {
		printf("| tool | N | runs | median | ± | CPU | per device | peak RSS | vs iopass list | output lines |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	} else {
		printf("%-32s%s%6s%s%4s%s%10s%s%4s%s%10s%s%11s%s%9s%s%9s%s%8s\n", "TOOL", sep, "N", sep,
		       "RUNS", sep, "MEDIAN", sep, "+-", sep, "CPU", sep, "PER DEVICE", sep, "PEAK RSS",
		       sep, "VS LIST", sep, "LINES");
	}
	for (int si = 0; si < opt.nsizes; si++) {
		bool a0;
		double base = tool_time(si, T_LIST, &a0);

		for (size_t ti = 0; ti < NTOOLS; ti++) {
			const struct tool *t = &tools[ti];
			const struct result *r = &results[si][ti];
			char med[32], per[32], rss[32], ratio[32], runs[16], lines[16], name[64], pm[16];
			char cpu[32];
			bool approx;
			double s = tool_time(si, (int)ti, &approx);

			snprintf(name, sizeof(name), "%s", t->name);
			if (ti == T_COMPLETE && opt.complete_fallback)
				snprintf(name, sizeof(name), "list -D -n -r -o BDF,DRIVER");
			if (t->skip) {
				if (opt.markdown)
					printf("| %s | %ld | - | skipped: %s | | | | | | |\n", name,
					       opt.sizes[si], t->skip_why);
				else
					printf("%-32s%s%6ld%s  skipped: %s\n", name, sep, opt.sizes[si], sep,
					       t->skip_why);
				continue;
			}
			if (r->failed) {
				if (opt.markdown)
					printf("| %s | %ld | - | failed: %s | | | | | | |\n", name,
					       opt.sizes[si], r->why);
				else
					printf("%-32s%s%6ld%s  failed: %s\n", name, sep, opt.sizes[si], sep,
					       r->why);
				continue;
			}
			med[0] = cpu[0] = '~';
			fmt_time(med + approx, sizeof(med) - 1, s);
			fmt_time(cpu + approx, sizeof(cpu) - 1, tool_cpu(si, (int)ti));
			if (isnan(s))
				snprintf(per, sizeof(per), "-");
			else
				snprintf(per, sizeof(per), "%s%.1f us", approx ? "~" : "",
					 s * 1e6 / (double)opt.sizes[si]);
			snprintf(rss, sizeof(rss), "%.1f MB", (double)r->rss_kb / 1024);
			if (isnan(spread(r)))
				snprintf(pm, sizeof(pm), "-");
			else
				snprintf(pm, sizeof(pm), "%.0f%%", spread(r) * 100);
			if (isnan(s) || isnan(base))
				snprintf(ratio, sizeof(ratio), "-");
			else
				snprintf(ratio, sizeof(ratio), "%s%.2fx", approx ? "~" : "", s / base);
			if (r->capped)
				snprintf(runs, sizeof(runs), "cap");
			else
				snprintf(runs, sizeof(runs), "%d", r->nruns);
			if (r->capped)
				snprintf(lines, sizeof(lines), "%ld*", r->lines);
			else
				snprintf(lines, sizeof(lines), "%ld", r->lines);
			if (opt.markdown)
				printf("| %s | %ld | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
				       opt.sizes[si], runs, med, pm, cpu, per, rss, ratio, lines);
			else
				printf("%-32s%s%6ld%s%4s%s%10s%s%4s%s%10s%s%11s%s%9s%s%9s%s%8s\n", name,
				       sep, opt.sizes[si], sep, runs, sep, med, sep, pm, sep, cpu, sep, per,
				       sep, rss, sep, ratio, sep, lines);
		}
		if (!opt.markdown && si + 1 < opt.nsizes)
			putchar('\n');
	}
	if (results[0][NTOOLS - 1].capped || results[opt.nsizes - 1][NTOOLS - 1].capped)
		printf("%s~: killed after %.0f s and extrapolated from the devices it got through "
		       "(*: output lines by then)\n",
		       opt.markdown ? "\n" : "\n", opt.loop_cap);
}

/* ---- targets --------------------------------------------------------------- */

static void verdict(const char *what, bool known, bool met, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void verdict(const char *what, bool known, bool met, const char *fmt, ...)
{
	va_list ap;

	printf("%s%-5s %s: ", opt.markdown ? "- " : "  ", !known ? "n/a" : met ? "MET" : "MISS", what);
	if (!known) {
		puts("not measured");
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void print_targets(void)
{
	int big = opt.nsizes - 1, small = -1;
	long nb = opt.sizes[big];
	bool a;
	double list = tool_time(big, T_LIST, &a), listj = tool_time(big, T_LISTJ, &a);
	double check = tool_time(big, T_CHECK, &a), floor_t = tool_time(big, T_FLOOR, &a);
	double lspci = tool_time(big, T_LSPCI_NNK, &a);
	double c_list = tool_cpu(big, T_LIST), c_listj = tool_cpu(big, T_LISTJ);
	double c_check = tool_cpu(big, T_CHECK), c_floor = tool_cpu(big, T_FLOOR);
	double c_lspci = tool_cpu(big, T_LSPCI_NNK);
	long rss_list = results[big][T_LIST].rss_kb, rss_lspci = results[big][T_LSPCI_NNK].rss_kb;

	for (int si = 0; si < opt.nsizes; si++)
		if (opt.sizes[si] >= 1024 && small < 0)
			small = si;
	printf("\n%sTargets at N=%ld%s\n\n", opt.markdown ? "### " : "", nb,
	       nb == 16384 ? "" : " (the targets are stated for N=16384)");
	printf("%sjudged on the median wall time; the same ratio in CPU time (user + system) "
	       "follows in brackets,\n%sas it is less disturbed by other load on the machine\n\n",
	       opt.markdown ? "" : "  ", opt.markdown ? "" : "  ");
	verdict("iopass list within 1.5x of the floor", !isnan(list) && !isnan(floor_t),
		list <= 1.5 * floor_t, "%.2fx (%.1f ms vs %.1f ms) [CPU %.2fx]", list / floor_t,
		list * 1e3, floor_t * 1e3, c_list / c_floor);
	verdict("iopass list at least 2.5x faster than lspci -nnk", !isnan(list) && !isnan(lspci),
		lspci >= 2.5 * list, "%.2fx faster (%.1f ms vs %.1f ms) [CPU %.2fx]", lspci / list,
		list * 1e3, lspci * 1e3, c_lspci / c_list);
	verdict("iopass list -J within 10% of iopass list", !isnan(list) && !isnan(listj),
		listj <= 1.1 * list, "%+.1f%% (%.1f ms vs %.1f ms) [CPU %+.1f%%]",
		(listj / list - 1) * 100, listj * 1e3, list * 1e3, (c_listj / c_list - 1) * 100);
	if (small >= 0 && small != big) {
		double ts = tool_time(small, T_LIST, &a), cs = tool_cpu(small, T_LIST);
		double ps = ts / (double)opt.sizes[small], pb = list / (double)nb;
		double slope = (list - ts) / (double)(nb - opt.sizes[small]);
		double cps = cs / (double)opt.sizes[small], cpb = c_list / (double)nb;

		verdict("iopass list cost per device flat (within 10%)", !isnan(ts) && !isnan(list),
			pb <= 1.1 * ps,
			"%.2f us at N=%ld, %.2f us at N=%ld (%+.1f%%); marginal %.2f us/device, "
			"fixed ~%.1f ms [CPU %+.1f%%]",
			ps * 1e6, opt.sizes[small], pb * 1e6, nb, (pb / ps - 1) * 100, slope * 1e6,
			(ts - slope * (double)opt.sizes[small]) * 1e3, (cpb / cps - 1) * 100);
	} else {
		verdict("iopass list cost per device flat (needs two sizes >= 1024)", false, false, "-");
	}
	verdict("iopass check --all -J under 3x iopass list", !isnan(list) && !isnan(check),
		check < 3 * list, "%.2fx (%.1f ms vs %.1f ms) [CPU %.2fx]", check / list, check * 1e3,
		list * 1e3, c_check / c_list);
	verdict("peak RSS of iopass list under lspci -nnk's", rss_list > 0 && rss_lspci > 0,
		rss_list < rss_lspci, "%.1f MB vs %.1f MB", (double)rss_list / 1024,
		(double)rss_lspci / 1024);

	/* stated for N=4096, whatever the largest size */
	int s4k = -1;
	for (int si = 0; si < opt.nsizes; si++)
		if (opt.sizes[si] == 4096)
			s4k = si;
	double comp = s4k < 0 ? NAN : tool_time(s4k, T_COMPLETE, &a);
	double comp_g = s4k < 0 ? NAN : tool_time(s4k, T_COMPLETE_GROUPS, &a);
	double c_comp = s4k < 0 ? NAN : tool_cpu(s4k, T_COMPLETE);
	verdict("completion candidates for attach at N=4096 under 20 ms", !isnan(comp),
		comp < 0.020, "%.1f ms [CPU %.1f ms]; with their groups (after 'g'): %.1f ms", comp * 1e3,
		c_comp * 1e3, comp_g * 1e3);
}

/* ---- main --------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: iopass-bench [options]\n"
		"\nTime iopass against lspci, driverctl, dpdk-devbind.py, the shell loop over\n"
		"/sys/kernel/iommu_groups and a minimal C reader, on synthetic sysfs trees.\n"
		"\nOptions:\n"
		"      --quick          N=1024 only, 3 runs, short budgets (for CI)\n"
		"      --sizes LIST     comma-separated N (default 64,1024,4096,16384)\n"
		"      --reps R         at most R timed runs per tool and N (default 9)\n"
		"      --min-reps R     at least R runs, budget or not (default 3)\n"
		"      --budget SEC     stop timing a tool after SEC seconds of runs (default 6)\n"
		"      --cap SEC        kill a run after SEC seconds (default 120)\n"
		"      --loop-cap SEC   kill the shell loop after SEC seconds and extrapolate (default 10)\n"
		"      --seed S         seed of the trees (default 1)\n"
		"      --only LIST      only the tools whose names contain one of these (comma-separated)\n"
		"      --workdir DIR    where the trees are made and kept (default /dev/shm/iopass-bench)\n"
		"      --regen          make the trees anew\n"
		"      --markdown       print the table in Markdown\n"
		"      --locale LOC     LC_ALL for every tool (default C)\n"
		"      --iopass PATH    the iopass binary (default %s)\n"
		"      --gen PATH       the tree generator (default %s)\n"
		"      --floor PATH     the floor program (default %s)\n"
		"  -h, --help           show this help\n"
		"\nRun as root: driverctl, dpdk-devbind.py and the shell loop read /sys and see the\n"
		"tree through a bind mount in a private mount namespace. Without root they are skipped.\n",
		BENCH_IOPASS, BENCH_GEN, BENCH_FLOOR);
}

static void parse_sizes(const char *s)
{
	opt.nsizes = 0;
	while (*s) {
		char *end;
		long n = strtol(s, &end, 10);

		if (end == s || n < 32 || n > 65536 || opt.nsizes == MAX_SIZES)
			die("--sizes: bad list '%s'", s);
		opt.sizes[opt.nsizes++] = n;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			die("--sizes: bad list");
	}
}

static bool selected(const struct tool *t)
{
	const char *p = opt.only;

	if (!p || t == &tools[T_LIST])
		return true; /* the ratios need iopass list */
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len && memmem(t->name, strlen(t->name), p, len))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

int main(int argc, char *argv[])
{
	enum { O_SIZES = 256, O_REPS, O_MINREPS, O_BUDGET, O_CAP, O_LOOPCAP, O_SEED, O_WORKDIR,
	       O_REGEN, O_MD, O_IOPASS, O_GEN, O_FLOOR, O_QUICK, O_ONLY, O_LOCALE };
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "reps", required_argument, NULL, O_REPS },
		{ "min-reps", required_argument, NULL, O_MINREPS },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "cap", required_argument, NULL, O_CAP },
		{ "loop-cap", required_argument, NULL, O_LOOPCAP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "only", required_argument, NULL, O_ONLY },
		{ "workdir", required_argument, NULL, O_WORKDIR },
		{ "regen", no_argument, NULL, O_REGEN },
		{ "markdown", no_argument, NULL, O_MD },
		{ "locale", required_argument, NULL, O_LOCALE },
		{ "iopass", required_argument, NULL, O_IOPASS },
		{ "gen", required_argument, NULL, O_GEN },
		{ "floor", required_argument, NULL, O_FLOOR },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *sizes = NULL;
	bool need_ns = false;
	struct sigaction sa = { .sa_handler = on_alarm };
	double t_start = now();
	int c;

	load_avg(load_start, sizeof(load_start));

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_QUICK:
			opt.quick = true;
			break;
		case O_SIZES:
			sizes = optarg;
			break;
		case O_REPS:
			opt.reps = atoi(optarg);
			break;
		case O_MINREPS:
			opt.min_reps = atoi(optarg);
			break;
		case O_BUDGET:
			opt.budget = atof(optarg);
			break;
		case O_CAP:
			opt.cap = atof(optarg);
			break;
		case O_LOOPCAP:
			opt.loop_cap = atof(optarg);
			break;
		case O_SEED:
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case O_ONLY:
			opt.only = optarg;
			break;
		case O_WORKDIR:
			opt.workdir = optarg;
			break;
		case O_REGEN:
			opt.regen = true;
			break;
		case O_MD:
			opt.markdown = true;
			break;
		case O_LOCALE:
			opt.locale = optarg;
			break;
		case O_IOPASS:
			opt.iopass = optarg;
			break;
		case O_GEN:
			opt.gen = optarg;
			break;
		case O_FLOOR:
			opt.floor = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (opt.quick) {
		/* explicit options given after --quick still win: apply only the unset ones */
		parse_sizes("1024");
		opt.reps = opt.reps == 9 ? 3 : opt.reps;
		opt.min_reps = opt.min_reps == 3 ? 2 : opt.min_reps;
		opt.budget = opt.budget == 6 ? 1.5 : opt.budget;
		opt.loop_cap = opt.loop_cap == 10 ? 3 : opt.loop_cap;
	} else {
		parse_sizes("64,1024,4096,16384");
	}
	if (sizes)
		parse_sizes(sizes);
	if (opt.reps < 1 || opt.reps > MAX_RUNS || opt.min_reps < 1 || opt.budget <= 0 ||
	    opt.cap <= 0 || opt.loop_cap <= 0)
		die("bad --reps, --min-reps, --budget or --cap");
	if (opt.min_reps > opt.reps)
		opt.min_reps = opt.reps;
	if (!opt.workdir)
		opt.workdir = access("/dev/shm", W_OK) == 0 ? "/dev/shm/iopass-bench" : "/tmp/iopass-bench";
	if (mkdir(opt.workdir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", opt.workdir, strerror(errno));
	if (!have_program(opt.iopass))
		die("%s: not found; build it first or pass --iopass", opt.iopass);
	if (!have_program(opt.gen))
		die("%s: not found; pass --gen", opt.gen);
	sigaction(SIGALRM, &sa, NULL);

	/* the query the completions will use, or the listing that stands in for it */
	{
		char *qargv[] = { (char *)opt.iopass, "__complete", "attach", NULL };
		struct run r = run_once(qargv, NULL, NULL, 30);

		opt.complete_fallback = r.status != 0;
		if (opt.complete_fallback)
			note("iopass has no '__complete attach'; timing 'list -D -n -r -o BDF,DRIVER' "
			     "in its place");
	}
	/* names from the real pci.ids, as lspci has them */
	unsetenv("IOPASS_PCI_IDS");
	unsetenv("IOPASS_SYSROOT");
	setenv("LC_ALL", opt.locale, 1);

	for (size_t ti = 0; ti < NTOOLS; ti++) {
		struct tool *t = &tools[ti];

		if (!selected(t)) {
			t->skip = true;
			t->skip_why = "not selected (--only)";
		} else if (ti == T_FLOOR && !have_program(opt.floor)) {
			t->skip = true;
			t->skip_why = "iopass-bench-floor not found (--floor)";
		} else if (t->needs && !have_program(t->needs)) {
			t->skip = true;
			t->skip_why = strcmp(t->needs, "dpdk-devbind.py") == 0
					      ? "dpdk-devbind.py not installed (apt-get install --no-install-recommends dpdk)"
				      : strcmp(t->needs, "driverctl") == 0
					      ? "driverctl not installed (apt-get install driverctl)"
					      : "lspci not installed (apt-get install pciutils)";
		}
		if (t->skip && !opt.only)
			note("SKIPPING %s: %s", t->name, t->skip_why);
		need_ns |= !t->skip && t->mode == NS;
	}
	if (need_ns) {
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			note("SKIPPING driverctl, dpdk-devbind.py and the shell loop: they read /sys and "
			     "need a private mount namespace to see the tree (%s; run as root)",
			     strerror(errno));
			for (size_t ti = 0; ti < NTOOLS; ti++)
				if (tools[ti].mode == NS && !tools[ti].skip) {
					tools[ti].skip = true;
					tools[ti].skip_why = "needs root (mount namespace)";
				}
		}
	}

	for (int si = 0; si < opt.nsizes; si++)
		ensure_tree(opt.sizes[si]);
	for (int si = 0; si < opt.nsizes; si++) {
		double t0 = now();

		note("N=%ld ...", opt.sizes[si]);
		bench_size(si);
		note("  N=%ld done in %.1f s", opt.sizes[si], now() - t0);
	}

	{
		char load2[64], ver[128] = "";
		char *vargv[] = { (char *)opt.iopass, "--version", NULL };
		char vout[4200];

		load_avg(load2, sizeof(load2));
		snprintf(vout, sizeof(vout), "%s/version.txt", opt.workdir);
		run_once(vargv, vout, NULL, 30);
		first_line(vout, ver, sizeof(ver));
		printf("iopass benchmark: %s (%s), seed %llu, trees in %s, LC_ALL=%s\n", opt.iopass, ver,
		       opt.seed, opt.workdir, opt.locale);
		printf("%ld CPUs, load average %s at the start, %s at the end\n\n",
		       sysconf(_SC_NPROCESSORS_ONLN), load_start, load2);
	}
	print_table();
	print_targets();
	printf("\n(total %.0f s)\n", now() - t_start);
	return 0;
}
