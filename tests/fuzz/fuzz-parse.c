// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: every user-input parser (BDF, ID, class, group, driver name) and a round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iopass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct iopass_addr a, b;
	uint16_t v, d;
	uint32_t cv, cm;
	int g;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (iopass_addr_parse(s, &a) == 0) {
		char buf[IOPASS_BDF_MAX];

		/* what parses formats to something that parses to the same address */
		iopass_addr_format(&a, buf);
		if (iopass_addr_parse(buf, &b) != 0 || iopass_addr_cmp(&a, &b) != 0)
			abort();
		if (strchr(buf, '/') || strstr(buf, ".."))
			abort(); /* a path component, always */
	}
	if (iopass_id_parse(s, &v, &d) == 0 && strlen(s) != 9)
		abort();
	if (iopass_class_parse(s, &cv, &cm) == 0 && (cv & ~cm))
		abort();
	if (iopass_group_parse(s, &g) == 0 && g < 0)
		abort();
	if (iopass_driver_name_valid(s) && (strchr(s, '/') || strcmp(s, "..") == 0))
		abort();
	free(s);
	return 0;
}
