// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the state record and the journal parser; what parses holds only safe names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iopass-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_records(const struct records *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct iopass_addr a;

		if (iopass_addr_parse(rs->r[i].bdf, &a) != 0)
			abort();
		if ((rs->r[i].driver[0] && !iopass_driver_name_valid(rs->r[i].driver)) ||
		    (rs->r[i].override[0] && !iopass_driver_name_valid(rs->r[i].override)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct records rs;
	struct journal j;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (records_parse(s, &rs) == 0) {
		check_records(&rs);
		records_free(&rs);
	}
	if (journal_parse(s, &j) == 0) {
		check_records(&j.devs);
		if (j.op == JOP_NONE || (j.driver[0] && !iopass_driver_name_valid(j.driver)))
			abort();
		if ((j.op == JOP_VF_CREATE || j.op == JOP_VF_REMOVE) && !j.pf[0])
			abort();
		journal_free(&j);
	}
	free(s);
	return 0;
}
