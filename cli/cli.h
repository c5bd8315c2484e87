/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the iopass command files: the command table, exit codes, output helpers. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "iopass.h"
#include "macro.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_READY = 3, /* checked, and the answer is "not ready" */
	EXIT_CHANGED = 4,   /* apply: the host did not match, and was changed (or would be) */
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
};

extern const struct cli_cmd cmd_list;
extern const struct cli_cmd cmd_check;
extern const struct cli_cmd cmd_attach;
extern const struct cli_cmd cmd_detach;
extern const struct cli_cmd cmd_emit;
extern const struct cli_cmd cmd_vf;
extern const struct cli_cmd cmd_complete;
extern const struct cli_cmd cmd_persist;
extern const struct cli_cmd cmd_apply;
extern const struct cli_cmd cmd_udev_bind;

/* Global options: may stand before the command or among its options. */
struct cli_globals {
	const char *sysroot;
	int verbose;
	bool quiet;
	int color; /* -1 auto (a terminal, no NO_COLOR), 0 never, 1 always */
};
extern struct cli_globals cli;

enum {
	OPT_SYSROOT = 0x1000,
	OPT_COLOR,
	OPT_GLOBAL_LAST,
};

#define CLI_GLOBAL_LONGOPTS                                                                    \
	{ "sysroot", required_argument, NULL, OPT_SYSROOT },                                   \
		{ "color", optional_argument, NULL, OPT_COLOR },                               \
		{ "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' },    \
		{ "help", no_argument, NULL, 'h' }
#define CLI_GLOBAL_SHORTOPTS "vqh"

/* Handle a global option seen by a command's getopt loop; false if c is not one. */
bool cli_global_option(int c, const char *arg);

/* ANSI colour for a word on stdout, when --color says so ("" otherwise). */
enum cli_color { COLOR_GREEN, COLOR_YELLOW, COLOR_RED, COLOR_BOLD };
const char *cli_color_on(enum cli_color c);
const char *cli_color_off(void);

/* Messages: "iopass: CMD: ..." on stderr. */
void cli_err(const char *cmd, const char *fmt, ...) _printf_(2, 3);
void cli_close_stdout(void);
void cli_shell_quote(FILE *out, const char *s);
size_t cli_put_safe(const char *s, FILE *out);
void cli_warn(const char *cmd, const char *fmt, ...) _printf_(2, 3);
void cli_note(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* After a one-line message naming the input and the fix: exit status 2. */
int cli_usage_error(const char *cmd);
/* getopt returned '?' or ':' (optstrings start with ':' and opterr is 0): say which, return 2. */
int cli_option_error(const char *cmd, int c, char *argv[], const struct option *longopts);
/* The candidate within two edits of word, or NULL. */
const char *cli_did_you_mean(const char *word, const char *const *candidates);

/* A context for the sysroot in use, with the library's log going to stderr. */
int cli_ctx_new(const char *cmd, struct iopass_ctx **ret_ctx);
/* The same for a command that writes: as root, IOPASS_SYSROOT is ignored (only --sysroot). */
int cli_ctx_new_writer(const char *cmd, struct iopass_ctx **ret_ctx);


/* --group N; prints the error itself. */
int cli_parse_group(const char *cmd, const char *arg, int *ret);
/* iopass_scan with the error printed. */
int cli_scan(const char *cmd, struct iopass_ctx *ctx, struct iopass_devlist **ret);
/*
 * The scan a write needs (iopass_scan_related): the devices and groups named
 * (args as cli_check_device_args() accepted them, and --group when group is
 * set), or the addresses given, with what their checks read; errors as cli_scan.
 */
int cli_scan_args(const char *cmd, struct iopass_ctx *ctx, char *const *args, size_t nargs,
		  const int *group, struct iopass_devlist **ret);
int cli_scan_addrs(const char *cmd, struct iopass_ctx *ctx, const struct iopass_addr *addrs,
		   size_t n, struct iopass_devlist **ret);

/* Parse a device argument (full or short BDF); prints the error itself. */
int cli_parse_bdf(const char *cmd, const char *arg, struct iopass_addr *ret);

/*
 * The devices a command acts on: positional BDFs (full or short) and group:N,
 * --group N (every endpoint of the group), or --all (every endpoint).
 * Prints a one-line error naming the bad or absent input; returns an exit status.
 */
struct cli_selection {
	struct iopass_dev **devs;
	size_t n;
};
/* --persist of sel would go through (iopass_persist_check; driver NULL: detach's): 0, else
 * an error line and -errno. Before the attach or detach, so that neither goes alone. */
int cli_persist_check(const char *cmd, struct iopass_ctx *ctx, const struct cli_selection *sel,
		      const char *driver, unsigned flags);
int cli_select(const char *cmd, const struct iopass_devlist *list, char *const *args, size_t nargs,
	       const int *group, bool all, struct cli_selection *sel);
void cli_selection_free(struct cli_selection *sel);
/*
 * The device arguments of a command: the positional ones, then one card:DEV
 * per --card DEV (validated as it is added: -EINVAL with the message).
 */
struct cli_devargs {
	char **v;
	size_t n;
	const char *cards[32]; /* the --card values */
	size_t ncards;
	char **owned; /* their "card:DEV" */
};
int cli_devargs_add_card(const char *cmd, struct cli_devargs *da, const char *dev);
int cli_devargs_finish(struct cli_devargs *da, char *const *args, size_t nargs);
void cli_devargs_free(struct cli_devargs *da);
/* Validate device arguments (BDF, slot, card:BDF or group:N) before anything is read. */
int cli_check_device_args(const char *cmd, char *const *args, size_t nargs);
/* "vvvv:dddd": -EINVAL with the message printed. */
int cli_check_id(const char *cmd, const char *id);
/* Add the one device with this ID; several or none is a usage error that names them. */
int cli_select_id(const char *cmd, const struct iopass_devlist *list, const char *id,
		  struct cli_selection *sel);
/* Seconds (0..3600) for OPT, as milliseconds; -1 with the message printed. */
int cli_parse_seconds(const char *cmd, const char *opt, const char *arg);

int cli_int_cmp(const void *a, const void *b); /* qsort of ints */

/* Whole-string numbers: decimal, or hex with an optional 0x (up to 6 digits). */
int parse_dec_arg(const char *s, unsigned *ret);
int parse_hex_arg(const char *s, uint32_t *ret);

/* -f, -n, -J and -w of the writing commands (attach, detach, vf). */
struct cli_write_opts {
	unsigned flags; /* IOPASS_BIND_FORCE, IOPASS_BIND_DRY_RUN, ... */
	bool json;
	int wait_ms;    /* -1: the library's default */
};
/* 1: c was one of them; 0: it was not; -1: a bad value (the message was printed). */
int cli_write_option(const char *cmd, int c, const char *arg, struct cli_write_opts *w);

/* attach/detach output; returns the exit status. */
struct iopass_txn;
int cli_txn_report(const char *cmd, struct iopass_ctx *ctx, const struct iopass_txn *t, int rc,
		   bool json, bool dry_run);
/* What recovery of an interrupted run did, one line each on stderr. */
void cli_txn_recovery(const char *cmd, const struct iopass_txn *t);
/* The guards' findings on stderr: what refused the run (refused), or what --force took. */
void cli_txn_guards(const char *cmd, const struct iopass_txn *t, bool refused);
/* The "guards" (under key) and "recovered" arrays of a writing command's JSON. */
struct json;
void cli_json_guards(struct json *j, const char *key, const struct iopass_txn *t);
void cli_json_recovered(struct json *j, const struct iopass_txn *t);
/* One change of apply's plan: line, bdf, field, from, to (apply's JSON and check's drift). */
void cli_json_change(struct json *j, const struct iopass_apply *a, size_t i);

/* Column tables in the util-linux manner (-o, --output-all, -J, -r, -n). */
struct cli_column {
	const char *name;
	double whint;
	int flags;     /* SCOLS_FL_* */
	int json_type; /* SCOLS_JSON_* */
	const char *help;
};

/*
 * Parse "A,B,C" (or "+A,B" to append to the defaults) into column indexes.
 * Prints an error naming the unknown column and returns -EINVAL.
 */
int cli_columns_parse(const char *cmd, const struct cli_column *cols, size_t ncols,
		      const char *list, int *ids, size_t max_ids, size_t *n_ids);
void cli_columns_help(FILE *out, const struct cli_column *cols, size_t ncols);
