// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass-sysfs-dump capture STRACE_LOG [FACTS] > DUMP
 * iopass-sysfs-dump replay DUMP DIR
 *
 * The real-kernel tier's guest captures what iopass read (tests/vm, scenario
 * dump); tests/dumps/ keeps the dumps, and test-dumps replays them.
 */
#include <stdio.h>
#include <string.h>

#include "dump.h"

int main(int argc, char *argv[])
{
	FILE *in, *facts = NULL;
	int r;

	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "capture") == 0) {
		in = fopen(argv[2], "re");
		if (argc == 4)
			facts = fopen(argv[3], "re");
		if (!in || (argc == 4 && !facts)) {
			perror("iopass-sysfs-dump");
			return 1;
		}
		r = dump_capture(in, facts, stdout);
	} else if (argc == 4 && strcmp(argv[1], "replay") == 0) {
		in = fopen(argv[2], "re");
		if (!in) {
			perror(argv[2]);
			return 1;
		}
		r = dump_replay(in, argv[3], NULL);
	} else {
		fputs("usage: iopass-sysfs-dump capture STRACE_LOG [FACTS] > DUMP\n"
		      "       iopass-sysfs-dump replay DUMP DIR\n", stderr);
		return 2;
	}
	fclose(in);
	if (facts)
		fclose(facts);
	if (r < 0)
		fprintf(stderr, "iopass-sysfs-dump: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
