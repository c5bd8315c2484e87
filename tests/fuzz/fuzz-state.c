// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the state record and the journal parser; what parses holds only safe names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iopass-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "state", "journal" };
	struct records rs;
	char op[200];
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t k = 0; k < 2; k++) {
		if (records_parse(s, kinds[k], &rs, k ? op : NULL, sizeof(op)) != 0)
			continue;
		for (size_t i = 0; i < rs.n; i++) {
			struct iopass_addr a;

			if (iopass_addr_parse(rs.r[i].bdf, &a) != 0)
				abort();
			if ((rs.r[i].driver[0] && !iopass_driver_name_valid(rs.r[i].driver)) ||
			    (rs.r[i].override[0] && !iopass_driver_name_valid(rs.r[i].override)))
				abort();
		}
		records_free(&rs);
	}
	free(s);
	return 0;
}
