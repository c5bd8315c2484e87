/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Dumps of what iopass reads on a real kernel (dump.c), and their replay as a sysroot. */
#pragma once

#include <stdio.h>

/* strace -y output of iopass commands -> the manifest; facts (or NULL): lines kept as "# " comments */
int dump_capture(FILE *strace_log, FILE *facts, FILE *out);
/* The manifest -> a tree below dir; *ret_facts (if not NULL): the "# fact " lines, without the prefix. */
int dump_replay(FILE *in, const char *dir, char **ret_facts);
