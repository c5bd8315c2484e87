// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include <wctype.h>

#include "cli.h"

#include <unistd.h>

struct cli_globals cli = { .color = -1 };

static bool color_enabled(void)
{
	static int decided = -1;
	const char *term = getenv("TERM");

	if (cli.color >= 0)
		return cli.color;
	if (decided < 0)
		decided = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && !streq(term, "dumb");
	return decided;
}

const char *cli_color_on(enum cli_color c)
{
	static const char *const seq[] = { "\033[32m", "\033[33m", "\033[31m", "\033[1m" };

	return color_enabled() ? seq[c] : "";
}

const char *cli_color_off(void)
{
	return color_enabled() ? "\033[0m" : "";
}

bool cli_global_option(int c, const char *arg)
{
	switch (c) {
	case OPT_COLOR:
		if (!arg || streq(arg, "always"))
			cli.color = 1;
		else if (streq(arg, "never"))
			cli.color = 0;
		else if (streq(arg, "auto"))
			cli.color = -1;
		else {
			cli_err(NULL, "--color '%s': use auto, always or never", arg);
			exit(EXIT_USAGE);
		}
		return true;
	case OPT_SYSROOT:
		cli.sysroot = arg;
		return true;
	case 'v':
		cli.verbose++;
		return true;
	case 'q':
		cli.quiet = true;
		return true;
	default:
		return false;
	}
}

/*
 * One message, one line: user input echoed in a message (a device argument
 * with a newline, escape sequences) is written with its control bytes escaped.
 */
_printf_(3, 0) static void vmsg(const char *cmd, const char *level, const char *fmt, va_list ap)
{
	char *msg = NULL;

	fputs("iopass: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	if (level)
		fprintf(stderr, "%s: ", level);
	if (vasprintf(&msg, fmt, ap) < 0) {
		fputs("(out of memory)\n", stderr);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p == '\n')
			fputs("\\n", stderr);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
	fputc('\n', stderr);
	free(msg);
}

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(cmd, NULL, fmt, ap);
	va_end(ap);
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cli.quiet)
		return;
	va_start(ap, fmt);
	vmsg(cmd, "warning", fmt, ap);
	va_end(ap);
}

void cli_note(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cli.quiet)
		return;
	va_start(ap, fmt);
	vmsg(cmd, NULL, fmt, ap);
	va_end(ap);
}

/*
 * At exit, as util-linux's close_stdout(): output that did not reach its file is a
 * failure (a full disk, a closed descriptor), said once; a reader that went away
 * (EPIPE, "| head") is not. Registered with atexit() so every return path is covered.
 */
void cli_close_stdout(void)
{
	bool failed = ferror(stdout);
	int err = errno;

	if (fflush(stdout) != 0) {
		failed = true;
		err = errno;
	}
	if (fclose(stdout) != 0 && !failed) {
		failed = true;
		err = errno;
	}
	if (failed && err != EPIPE) {
		if (err)
			cli_err(NULL, "cannot write the output: %s", strerror(err));
		else
			cli_err(NULL, "cannot write the output");
		_exit(EXIT_FAIL);
	}
	if (fflush(stderr) != 0 && errno != EPIPE)
		_exit(EXIT_FAIL);
}

/*
 * Write s as one word for a POSIX shell: as it is when every byte is one no shell
 * gives a meaning to, else in single quotes (a quote inside written '\'').
 */
void cli_shell_quote(FILE *out, const char *s)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_-./:=,+@%";

	if (*s && strspn(s, plain) == strlen(s)) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/*
 * Text from outside (sysfs, pci.ids, process names) as libsmartcols prints a
 * table cell (mbs_safe_encode()): control characters, "\x" and bytes that are no
 * printable character in the locale become \xHH, so no escape sequence reaches a
 * terminal. Written to out unless out is NULL; returns the width on
 * screen.
 */
size_t cli_put_safe(const char *s, FILE *out)
{
	const unsigned char *p = (const unsigned char *)s, *run;
	mbstate_t st;
	size_t width = 0;

	if (!s)
		return 0;
	memset(&st, 0, sizeof(st));
	while (*p) {
		wchar_t wc;
		size_t len;

		/* the common case: a run of printable ASCII */
		for (run = p; *p >= 0x20 && *p < 0x7f && !(*p == '\\' && p[1] == 'x'); p++)
			;
		if (out && p > run)
			fwrite(run, 1, (size_t)(p - run), out);
		width += (size_t)(p - run);
		if (!*p)
			break;
		if ((*p == '\\' && p[1] == 'x') || iscntrl(*p)) {
			len = 1;
			width += 4;
			if (out)
				fprintf(out, "\\x%02x", *p);
		} else {
			len = mbrtowc(&wc, (const char *)p, MB_CUR_MAX, &st);
			if (len == 0)
				break;
			if (len == (size_t)-1 || len == (size_t)-2) {
				len = 1;
				memset(&st, 0, sizeof(st));
				if (isprint(*p)) {
					width++;
					if (out)
						putc(*p, out);
				} else {
					width += 4;
					if (out)
						fprintf(out, "\\x%02x", *p);
				}
			} else if (!iswprint(wc)) {
				width += 4 * len;
				for (size_t i = 0; out && i < len; i++)
					fprintf(out, "\\x%02x", p[i]);
			} else {
				int w = wcwidth(wc);

				width += w > 0 ? (size_t)w : 0;
				if (out)
					fwrite(p, 1, len, out);
			}
		}
		p += len;
	}
	return width;
}

int cli_usage_error(const char *cmd _unused_)
{
	/* the one-line message naming the input and the fix was printed already */
	return EXIT_USAGE;
}

/* Edit distance, for "did you mean": small strings only. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 64 || lb >= 64)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(*prev));
	}
	return prev[lb];
}

const char *cli_did_you_mean(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */

	for (; *candidates; candidates++) {
		size_t d = edit_distance(word, *candidates);

		if (d < best_d) {
			best = *candidates;
			best_d = d;
		}
	}
	return best;
}

int cli_option_error(const char *cmd, int c, char *argv[], const struct option *longopts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = { '-', (char)optopt, 0 };
	const char *help = cmd ? cmd : "";
	const char *names[64], *guess = NULL;
	size_t n = 0;

	if (c == ':') {
		cli_err(cmd, "option '%s' needs an argument; see 'iopass %s%s--help'", arg, help,
			cmd ? " " : "");
		return EXIT_USAGE;
	}
	if (strncmp(arg, "--", 2) == 0 && longopts) {
		char word[64];

		snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
		for (; longopts->name && n < ARRAY_SIZE(names) - 1; longopts++)
			names[n++] = longopts->name;
		names[n] = NULL;
		guess = cli_did_you_mean(word, names);
	}
	if (guess)
		cli_err(cmd, "unknown option '%s'; did you mean '--%s'? see 'iopass %s%s--help'", arg,
			guess, help, cmd ? " " : "");
	else
		cli_err(cmd, "unknown option '%s'; see 'iopass %s%s--help'",
			optopt && strncmp(arg, "--", 2) != 0 ? shortopt : arg, help, cmd ? " " : "");
	return EXIT_USAGE;
}

_printf_(3, 0) static void log_to_stderr(void *data, int prio, const char *fmt, va_list ap)
{
	const char *cmd = data;

	vmsg(cmd, prio <= IOPASS_LOG_WARNING ? "warning" : NULL, fmt, ap);
}

static int ctx_new(const char *cmd, bool writes, struct iopass_ctx **ret_ctx)
{
	const char *root = cli.sysroot ? cli.sysroot : getenv("IOPASS_SYSROOT");
	const char *ids = getenv("IOPASS_PCI_IDS");
	struct iopass_ctx *ctx;
	int r;

	/* sudo may keep the environment: root's writes go below a sysroot only when the
	 * command line says so */
	if (writes && !cli.sysroot && root && *root && geteuid() == 0) {
		cli_warn(cmd, "IOPASS_SYSROOT=%s is ignored: as root, a command that writes takes "
			      "its root only from --sysroot", root);
		root = NULL;
	}

	r = iopass_ctx_new(root, &ctx);
	if (r == -ENOMEDIUM) {
		cli_err(cmd, "sysroot '%s' has no sys/ directory; pass to --sysroot the directory "
			     "that holds the tree's sys/ (and proc/, dev/)", root);
		return EXIT_USAGE;
	}
	if (r < 0) {
		cli_err(cmd, "sysroot '%s': %s; pass an existing directory to --sysroot",
			root ? root : "/", strerror(-r));
		return EXIT_USAGE;
	}
	iopass_ctx_set_log_fn(ctx, log_to_stderr, (void *)cmd);
	iopass_ctx_set_log_priority(ctx, cli.quiet      ? IOPASS_LOG_ERR
					 : cli.verbose > 1 ? IOPASS_LOG_DEBUG
					 : cli.verbose ? IOPASS_LOG_INFO
						       : IOPASS_LOG_WARNING);
	if (ids && *ids) {
		r = iopass_ctx_set_ids_file(ctx, ids);
		if (r < 0) {
			cli_err(cmd, "IOPASS_PCI_IDS '%s': %s; name a pci.ids file or unset it", ids,
				r == -EINVAL ? "not a regular file" : strerror(-r));
			iopass_ctx_free(ctx);
			return EXIT_USAGE;
		}
	}
	*ret_ctx = ctx;
	return EXIT_OK;
}

int cli_ctx_new(const char *cmd, struct iopass_ctx **ret_ctx)
{
	return ctx_new(cmd, false, ret_ctx);
}

int cli_ctx_new_writer(const char *cmd, struct iopass_ctx **ret_ctx)
{
	return ctx_new(cmd, true, ret_ctx);
}

int cli_persist_check(const char *cmd, struct iopass_ctx *ctx, const struct cli_selection *sel,
		      const char *driver, unsigned flags)
{
	_cleanup_free_ char *msg = NULL;
	int r = iopass_persist_check(ctx, sel->devs, sel->n, driver, flags, &msg);

	/* --persist edits the desired state with the boot files: refused before any write */
	if (r < 0)
		cli_err(cmd, "--persist: %s", msg ? msg : strerror(-r));
	return r;
}

/*
 * A device argument: a function's address, a slot's (every function of the
 * card), or card:ADDRESS (every function of the card that function is on).
 */
enum dev_arg { DEV_ARG_FUNCTION, DEV_ARG_SLOT, DEV_ARG_CARD };

static int parse_device_arg(const char *cmd, const char *arg, struct iopass_addr *ret,
			    enum dev_arg *ret_kind)
{
	*ret_kind = DEV_ARG_FUNCTION;
	if (iopass_addr_parse(arg, ret) == 0)
		return 0;
	if (iopass_slot_parse(arg, ret) == 0) {
		*ret_kind = DEV_ARG_SLOT;
		return 0;
	}
	if (strncmp(arg, "card:", 5) == 0) {
		*ret_kind = DEV_ARG_CARD;
		if (iopass_addr_parse(arg + 5, ret) == 0)
			return 0;
		cli_err(cmd, "'%s' is not a card; use card:DDDD:BB:SS.F or card:BB:SS.F, a function of "
			     "the card, e.g. card:01:00.1", arg + 5);
		return -EINVAL;
	}
	cli_err(cmd, "'%s' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F for a function, "
		     "DDDD:BB:SS or BB:SS for every function of a card, e.g. 0000:01:00.0 or 01:00", arg);
	return -EINVAL;
}

int cli_parse_bdf(const char *cmd, const char *arg, struct iopass_addr *ret)
{
	if (iopass_addr_parse(arg, ret) == 0)
		return 0;
	cli_err(cmd, "'%s' is not a PCI address; use DDDD:BB:SS.F or BB:SS.F, e.g. 0000:01:00.0",
		arg);
	return -EINVAL;
}

int cli_columns_parse(const char *cmd, const struct cli_column *cols, size_t ncols,
		      const char *list, int *ids, size_t max_ids, size_t *n_ids)
{
	const char *p = list;

	if (*p == '+')
		p++; /* append to what *n_ids already holds */
	else
		*n_ids = 0;
	if (!*p) {
		cli_err(cmd, "--output: empty column list; name columns, e.g. -o BDF,DRIVER");
		return -EINVAL;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < ncols; i++)
			if (strlen(cols[i].name) == len && strncasecmp(cols[i].name, p, len) == 0)
				break;
		if (i == ncols) {
			cli_err(cmd, "unknown column '%.*s'; see 'iopass %s --help' for the columns",
				(int)len, p, cmd);
			return -EINVAL;
		}
		if (*n_ids >= max_ids) {
			cli_err(cmd, "too many columns");
			return -EINVAL;
		}
		ids[(*n_ids)++] = (int)i;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void cli_columns_help(FILE *out, const struct cli_column *cols, size_t ncols)
{
	fputs("\nAvailable output columns:\n", out);
	for (size_t i = 0; i < ncols; i++)
		fprintf(out, " %12s  %s\n", cols[i].name, cols[i].help);
}

static bool sel_has(const struct cli_selection *sel, const struct iopass_dev *d)
{
	for (size_t i = 0; i < sel->n; i++)
		if (sel->devs[i] == d)
			return true;
	return false;
}

static int sel_add(struct cli_selection *sel, struct iopass_dev *d)
{
	struct iopass_dev **nd;

	if (sel_has(sel, d))
		return 0;
	nd = reallocarray(sel->devs, sel->n + 1, sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	sel->devs = nd;
	sel->devs[sel->n++] = d;
	return 0;
}

/* Every endpoint in group g (bridges are never attached); false when the group is absent. */
static int sel_add_group(const char *cmd, const struct iopass_devlist *list, int g,
			 struct cli_selection *sel)
{
	bool found = false;

	for (size_t i = 0; i < iopass_devlist_count(list); i++) {
		struct iopass_dev *d = iopass_devlist_get(list, i);

		if (iopass_dev_get_iommu_group(d) != g)
			continue;
		found = true;
		if (iopass_dev_is_endpoint(d) && sel_add(sel, d) < 0)
			return -ENOMEM;
	}
	if (!found) {
		cli_err(cmd, "IOMMU group %d does not exist; 'iopass list' shows the groups", g);
		return -ENOENT;
	}
	return 0;
}

/*
 * Every function of the card in slot (its function 0's address): endpoints, not
 * the VFs that share the slot number (devices of their own). Device links to
 * other slots are not followed: check names those (linked-function), and
 * nothing on another card is selected unnamed.
 */
static int sel_add_slot(const char *cmd, const struct iopass_devlist *list,
			const struct iopass_addr *slot, struct cli_selection *sel)
{
	bool found = false, bridge = false;

	for (size_t i = 0; i < iopass_devlist_count(list); i++) {
		struct iopass_dev *d = iopass_devlist_get(list, i);
		const struct iopass_addr *a = iopass_dev_get_addr(d);

		if (a->domain != slot->domain || a->bus != slot->bus || a->slot != slot->slot ||
		    iopass_dev_get_physfn(d))
			continue;
		if (!iopass_dev_is_endpoint(d)) {
			bridge = true;
			continue;
		}
		found = true;
		if (sel_add(sel, d) < 0)
			return -ENOMEM;
	}
	if (!found) {
		cli_err(cmd, "%04x:%02x:%02x: %s; 'iopass list' shows the devices", slot->domain,
			slot->bus, slot->slot, bridge ? "only a bridge is in that slot, and bridges are "
			"not passed through: name the devices behind it" : "no PCI card in that slot");
		return -ENOENT;
	}
	return 0;
}

int cli_select(const char *cmd, const struct iopass_devlist *list, char *const *args, size_t nargs,
	       const int *group, bool all, struct cli_selection *sel)
{
	int r;

	sel->devs = NULL;
	sel->n = 0;
	if (all) {
		/* every device once: no duplicate check needed */
		sel->devs = calloc(iopass_devlist_count(list) + 1, sizeof(*sel->devs));
		if (!sel->devs)
			goto oom;
		for (size_t i = 0; i < iopass_devlist_count(list); i++) {
			struct iopass_dev *d = iopass_devlist_get(list, i);

			if (iopass_dev_is_endpoint(d))
				sel->devs[sel->n++] = d;
		}
		return EXIT_OK;
	}
	if (group) {
		r = sel_add_group(cmd, list, *group, sel);
		if (r == -ENOMEM)
			goto oom;
		if (r < 0)
			goto usage;
	}
	for (size_t i = 0; i < nargs; i++) {
		struct iopass_addr a;
		struct iopass_dev *d;
		enum dev_arg kind;
		int g;

		if (strncmp(args[i], "group:", 6) == 0) {
			if (iopass_group_parse(args[i] + 6, &g) < 0) {
				cli_err(cmd, "'%s' is not a group; use group:N with N from 'iopass list'",
					args[i]);
				goto usage;
			}
			r = sel_add_group(cmd, list, g, sel);
			if (r == -ENOMEM)
				goto oom;
			if (r < 0)
				goto usage;
			continue;
		}
		if (parse_device_arg(cmd, args[i], &a, &kind) < 0)
			goto usage;
		d = kind == DEV_ARG_SLOT ? NULL : iopass_devlist_find(list, &a);
		if (kind != DEV_ARG_SLOT && !d) {
			char bdf[IOPASS_BDF_MAX];

			iopass_addr_format(&a, bdf);
			cli_err(cmd, "%s: no such PCI device; 'iopass list' shows the devices", bdf);
			goto usage;
		}
		if (kind == DEV_ARG_CARD && iopass_dev_get_physfn(d)) {
			cli_err(cmd, "card:%s: a virtual function is a device of its own, on no card of "
				     "its own; name it, or its PF's card (card:%s)",
				iopass_dev_get_bdf(d), iopass_dev_get_physfn(d));
			goto usage;
		}
		if (kind != DEV_ARG_FUNCTION) {
			a.func = 0;
			r = sel_add_slot(cmd, list, &a, sel);
			if (r == -ENOMEM)
				goto oom;
			if (r < 0)
				goto usage;
			continue;
		}
		if (sel_add(sel, d) < 0)
			goto oom;
	}
	return EXIT_OK;
oom:
	cli_err(cmd, "out of memory");
	cli_selection_free(sel);
	return EXIT_FAIL;
usage:
	cli_selection_free(sel);
	return EXIT_USAGE;
}

void cli_selection_free(struct cli_selection *sel)
{
	free(sel->devs);
	sel->devs = NULL;
	sel->n = 0;
}

int cli_devargs_add_card(const char *cmd, struct cli_devargs *da, const char *dev)
{
	struct iopass_addr a;

	if (iopass_addr_parse(dev, &a) < 0) {
		cli_err(cmd, "--card '%s': not a PCI address; name a function of the card, "
			     "DDDD:BB:SS.F or BB:SS.F, e.g. 01:00.1", dev);
		return -EINVAL;
	}
	if (da->ncards == ARRAY_SIZE(da->cards)) {
		cli_err(cmd, "--card: at most %zu cards", ARRAY_SIZE(da->cards));
		return -E2BIG;
	}
	da->cards[da->ncards++] = dev;
	return 0;
}

int cli_devargs_finish(struct cli_devargs *da, char *const *args, size_t nargs)
{
	da->v = calloc(nargs + da->ncards + 1, sizeof(*da->v));
	da->owned = calloc(da->ncards + 1, sizeof(*da->owned));
	if (!da->v || !da->owned)
		return -ENOMEM;
	for (size_t i = 0; i < nargs; i++)
		da->v[da->n++] = args[i];
	for (size_t i = 0; i < da->ncards; i++) {
		if (asprintf(&da->owned[i], "card:%s", da->cards[i]) < 0) {
			da->owned[i] = NULL;
			return -ENOMEM;
		}
		da->v[da->n++] = da->owned[i];
	}
	return 0;
}

void cli_devargs_free(struct cli_devargs *da)
{
	for (size_t i = 0; da->owned && i < da->ncards; i++)
		free(da->owned[i]);
	free(da->owned);
	free(da->v);
	*da = (struct cli_devargs){ 0 };
}

int cli_check_device_args(const char *cmd, char *const *args, size_t nargs)
{
	for (size_t i = 0; i < nargs; i++) {
		struct iopass_addr a;
		enum dev_arg kind;
		int g;

		if (strncmp(args[i], "group:", 6) == 0) {
			if (iopass_group_parse(args[i] + 6, &g) < 0) {
				cli_err(cmd, "'%s' is not a group; use group:N with N from 'iopass list'",
					args[i]);
				return EXIT_USAGE;
			}
		} else if (parse_device_arg(cmd, args[i], &a, &kind) < 0) {
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

int cli_check_id(const char *cmd, const char *id)
{
	uint16_t v, d;

	if (iopass_id_parse(id, &v, &d) == 0)
		return 0;
	cli_err(cmd, "--id '%s': not a vendor:device ID; use four hex digits each, e.g. 10de:1b80", id);
	return -EINVAL;
}

int cli_select_id(const char *cmd, const struct iopass_devlist *list, const char *id,
		  struct cli_selection *sel)
{
	struct iopass_dev *match = NULL;
	char names[512] = "";
	size_t len = 0, count = 0;
	uint16_t v, d;

	if (iopass_id_parse(id, &v, &d) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < iopass_devlist_count(list); i++) {
		struct iopass_dev *dev = iopass_devlist_get(list, i);

		if (iopass_dev_get_vendor(dev) != v || iopass_dev_get_device(dev) != d)
			continue;
		match = dev;
		count++;
		if (len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "",
						iopass_dev_get_bdf(dev));
	}
	if (count == 0) {
		cli_err(cmd, "--id %s: no device has these IDs; 'iopass list' shows the devices", id);
		return EXIT_USAGE;
	}
	if (count > 1) {
		/* never "every identical card" by surprise */
		cli_err(cmd, "--id %s matches %zu devices (%s); name the ones you mean by address",
			id, count, names);
		return EXIT_USAGE;
	}
	if (sel_add(sel, match) < 0) {
		cli_err(cmd, "out of memory");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cli_parse_seconds(const char *cmd, const char *opt, const char *arg)
{
	unsigned long v = 0;

	for (const char *p = arg; *p; p++) {
		if (*p < '0' || *p > '9' || v > 3600) {
			v = 3601;
			break;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (!*arg || v > 3600) {
		cli_err(cmd, "%s '%s': not a number of seconds from 0 to 3600", opt, arg);
		return -1;
	}
	return (int)v * 1000;
}

int parse_dec_arg(const char *s, unsigned *ret)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 0xffffff)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = (unsigned)v;
	return 0;
}

int parse_hex_arg(const char *s, uint32_t *ret)
{
	unsigned long v = 0;

	if (strncmp(s, "0x", 2) == 0)
		s += 2;
	if (!*s || strlen(s) > 6)
		return -EINVAL;
	for (; *s; s++) {
		int h = *s >= '0' && *s <= '9' ? *s - '0'
			: *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
			: *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;

		if (h < 0)
			return -EINVAL;
		v = v << 4 | (unsigned long)h;
	}
	*ret = (uint32_t)v;
	return 0;
}

int cli_int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int cli_parse_group(const char *cmd, const char *arg, int *ret)
{
	if (iopass_group_parse(arg, ret) == 0)
		return 0;
	cli_err(cmd, "--group '%s': not a group number; use a number from 'iopass list'", arg);
	return -EINVAL;
}

/* The one message of a scan that failed; r passes through. */
static int scan_error(const char *cmd, struct iopass_ctx *ctx, int r)
{
	if (r < 0)
		cli_err(cmd, "cannot read PCI devices below %s: %s", iopass_ctx_get_sysroot(ctx),
			strerror(-r));
	return r;
}

int cli_scan(const char *cmd, struct iopass_ctx *ctx, struct iopass_devlist **ret)
{
	int r = iopass_scan(ctx, ret);

	return scan_error(cmd, ctx, r);
}

int cli_scan_addrs(const char *cmd, struct iopass_ctx *ctx, const struct iopass_addr *addrs,
		   size_t n, struct iopass_devlist **ret)
{
	int r = iopass_scan_related(ctx, addrs, n, NULL, 0, ret);

	return scan_error(cmd, ctx, r);
}

int cli_scan_args(const char *cmd, struct iopass_ctx *ctx, char *const *args, size_t nargs,
		  const int *group, struct iopass_devlist **ret)
{
	struct iopass_addr *addrs = calloc(nargs ? nargs : 1, sizeof(*addrs));
	int *groups = calloc(nargs + 1, sizeof(*groups));
	size_t naddrs = 0, ngroups = 0;
	int r = -ENOMEM;

	if (addrs && groups) {
		if (group)
			groups[ngroups++] = *group;
		for (size_t i = 0; i < nargs; i++) {
			if (strncmp(args[i], "group:", 6) == 0) {
				if (iopass_group_parse(args[i] + 6, &groups[ngroups]) == 0)
					ngroups++;
			} else if (iopass_addr_parse(args[i], &addrs[naddrs]) == 0 ||
				   iopass_slot_parse(args[i], &addrs[naddrs]) == 0 ||
				   (strncmp(args[i], "card:", 5) == 0 &&
				    iopass_addr_parse(args[i] + 5, &addrs[naddrs]) == 0)) {
				naddrs++; /* a slot or card by a function: the scan takes its bus */
			}
		}
		r = iopass_scan_related(ctx, addrs, naddrs, groups, ngroups, ret);
	}
	free(addrs);
	free(groups);
	return scan_error(cmd, ctx, r);
}

int cli_write_option(const char *cmd, int c, const char *arg, struct cli_write_opts *w)
{
	switch (c) {
	case 'f':
		w->flags |= IOPASS_BIND_FORCE | IOPASS_BIND_FORCE_RECOVERY;
		return 1;
	case 'n':
		w->flags |= IOPASS_BIND_DRY_RUN;
		return 1;
	case 'J':
		w->json = true;
		return 1;
	case 'w':
		w->wait_ms = cli_parse_seconds(cmd, "--wait", arg);
		return w->wait_ms < 0 ? -1 : 1;
	default:
		return 0;
	}
}
