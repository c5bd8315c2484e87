// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the desired-state parser (lib/desired.c), all or nothing, errors named by line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iopass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iopass_desired *d = NULL;
	char *err = NULL;
	unsigned last = 0;
	/* the text is not NUL-terminated: the parser must stop at size */
	int r = iopass_desired_parse((const char *)data, size, &d, &err);

	if (r < 0) {
		if (d)
			abort(); /* nothing on a failure */
		if (r == -EINVAL && (!err || strncmp(err, "line ", 5) != 0 || strchr(err, '\n')))
			abort(); /* one line, naming the line */
		free(err);
		return 0;
	}
	if (err)
		abort();
	for (size_t i = 0; i < iopass_desired_count(d); i++) {
		const struct iopass_desired_entry *e = iopass_desired_get(d, i);

		if (e->line <= last)
			abort(); /* in file order, one per line */
		last = e->line;
		if (strcmp(e->driver, "host") != 0 && !iopass_driver_name_valid(e->driver))
			abort(); /* a path component, always */
		if (e->vf_driver[0] && (e->vfs < 0 || (strcmp(e->vf_driver, "host") != 0 &&
						       !iopass_driver_name_valid(e->vf_driver))))
			abort();
		if (e->by_address && (e->nth || e->has_pf))
			abort();
		if (e->boot && strcmp(e->driver, "host") == 0)
			abort();
		for (size_t j = 0; j < i; j++) {
			const struct iopass_desired_entry *o = iopass_desired_get(d, j);

			if (e->by_address && o->by_address && iopass_addr_cmp(&e->addr, &o->addr) == 0)
				abort(); /* one line per address */
		}
	}
	iopass_desired_free(d);
	return 0;
}
