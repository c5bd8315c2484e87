// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the uevent parser and the attribute value parsers behind the device model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iopass-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iopass_dev dev;
	char *s;
	uint32_t v;
	unsigned u;

	if (size > 4096)
		return 0; /* sysfs_read_at never hands over more than its buffer */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_hex(s, 8, true, &v) == 0 && strlen(s) > 10)
		abort();
	if (parse_uint(s, 65535, &u) == 0 && u > 65535)
		abort();
	memset(&dev, 0, sizeof(dev));
	dev_parse_uevent(&dev, s);
	if ((dev.flags & DEV_HAVE_CLASS) && dev.class > 0xffffff)
		abort();
	free(s);
	return 0;
}
