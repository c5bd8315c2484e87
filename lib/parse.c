// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Strict parsers for everything a user or the kernel hands us. Anything that
 * is later used to build a path must pass through here first: a BDF that
 * parses can only contain hex digits, ':' and '.'.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iopass-private.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse exactly one hex number filling the whole string, 1..max_digits digits. */
int parse_hex(const char *s, unsigned max_digits, bool allow_0x, uint32_t *ret)
{
	uint32_t v = 0;
	unsigned n = 0;

	if (!s)
		return -EINVAL;
	if (allow_0x && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++, n++) {
		int h = hexval(*s);

		if (h < 0 || n >= max_digits || n >= 8)
			return -EINVAL;
		v = v << 4 | (uint32_t)h;
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Decimal, digits only, value <= max. */
int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*ret = (unsigned)v;
	return 0;
}

bool name_is_safe(const char *s)
{
	if (!s || !*s || streq(s, ".") || streq(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Copy the field s[0..len) into buf (size > len) and parse it as hex. */
static int hex_field(const char *s, size_t len, unsigned min_digits, unsigned max_digits,
		     uint32_t *ret)
{
	char buf[16];

	if (len < min_digits || len > max_digits || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return parse_hex(buf, max_digits, false, ret);
}

int iopass_addr_parse(const char *s, struct iopass_addr *ret_addr)
{
	const char *colon1, *colon2, *dot, *bus;
	uint32_t domain = 0, b, d, f;

	if (!s || !ret_addr)
		return -EINVAL;
	if (strlen(s) >= IOPASS_BDF_MAX)
		return -EINVAL;
	colon1 = strchr(s, ':');
	if (!colon1)
		return -EINVAL;
	colon2 = strchr(colon1 + 1, ':');
	if (colon2) {
		/* DDDD:BB:SS.F; the kernel prints at least 4 domain digits */
		if (strchr(colon2 + 1, ':') ||
		    hex_field(s, (size_t)(colon1 - s), 4, 8, &domain) < 0)
			return -EINVAL;
		bus = colon1 + 1;
		colon1 = colon2;
	} else {
		bus = s;
	}
	dot = strchr(colon1 + 1, '.');
	if (!dot || strchr(dot + 1, '.'))
		return -EINVAL;
	if (hex_field(bus, (size_t)(colon1 - bus), 2, 2, &b) < 0 ||
	    hex_field(colon1 + 1, (size_t)(dot - colon1 - 1), 2, 2, &d) < 0 ||
	    hex_field(dot + 1, strlen(dot + 1), 1, 1, &f) < 0)
		return -EINVAL;
	if (d > 0x1f || f > 7)
		return -EINVAL;
	ret_addr->domain = domain;
	ret_addr->bus = (uint8_t)b;
	ret_addr->slot = (uint8_t)d;
	ret_addr->func = (uint8_t)f;
	return 0;
}

int iopass_slot_parse(const char *s, struct iopass_addr *ret_addr)
{
	char bdf[IOPASS_BDF_MAX + 2];

	/* a slot is an address without its function: the card at DDDD:BB:SS (or BB:SS) */
	if (!s || !ret_addr || strchr(s, '.') || strlen(s) + 2 >= sizeof(bdf))
		return -EINVAL;
	snprintf(bdf, sizeof(bdf), "%s.0", s);
	return iopass_addr_parse(bdf, ret_addr);
}

/* Hex digits of v, at least min of them, at p; returns the end. */
static char *put_hex(char *p, uint32_t v, int min)
{
	static const char digits[] = "0123456789abcdef";
	int n = min;

	while (n < 8 && (v >> (4 * n)))
		n++;
	for (int i = n - 1; i >= 0; i--)
		*p++ = digits[(v >> (4 * i)) & 0xf];
	return p;
}

/* "%04x:%02x:%02x.%x" without printf: scans format one per device, twice for some. */
void iopass_addr_format(const struct iopass_addr *addr, char buf[IOPASS_BDF_MAX])
{
	char *p = put_hex(buf, addr->domain, 4);

	*p++ = ':';
	p = put_hex(p, addr->bus, 2);
	*p++ = ':';
	p = put_hex(p, addr->slot, 2);
	*p++ = '.';
	p = put_hex(p, addr->func, 1);
	*p = '\0';
}

int iopass_addr_cmp(const struct iopass_addr *a, const struct iopass_addr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->func != b->func)
		return a->func < b->func ? -1 : 1;
	return 0;
}

int iopass_id_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device)
{
	uint32_t v, d;

	if (!s || strlen(s) != 9 || s[4] != ':')
		return -EINVAL;
	if (hex_field(s, 4, 4, 4, &v) < 0 || hex_field(s + 5, 4, 4, 4, &d) < 0)
		return -EINVAL;
	*ret_vendor = (uint16_t)v;
	*ret_device = (uint16_t)d;
	return 0;
}

static const struct {
	const char *name;
	uint32_t value, mask;
} class_names[] = {
	{ "storage", 0x010000, 0xff0000 },  { "nvme", 0x010800, 0xffff00 },
	{ "net", 0x020000, 0xff0000 },      { "display", 0x030000, 0xff0000 },
	{ "gpu", 0x030000, 0xff0000 },      { "multimedia", 0x040000, 0xff0000 },
	{ "audio", 0x040300, 0xffff00 },    { "memory", 0x050000, 0xff0000 },
	{ "bridge", 0x060000, 0xff0000 },   { "communication", 0x070000, 0xff0000 },
	{ "system", 0x080000, 0xff0000 },   { "input", 0x090000, 0xff0000 },
	{ "processor", 0x0b0000, 0xff0000 }, { "serial", 0x0c0000, 0xff0000 },
	{ "usb", 0x0c0300, 0xffff00 },      { "wireless", 0x0d0000, 0xff0000 },
	{ "crypto", 0x100000, 0xff0000 },   { "signal", 0x110000, 0xff0000 },
	{ "accelerator", 0x120000, 0xff0000 }, { "unassigned", 0xff0000, 0xff0000 },
};

const char *const *iopass_class_names(void)
{
	static const char *names[ARRAY_SIZE(class_names) + 1];

	if (!names[0])
		for (size_t i = 0; i < ARRAY_SIZE(class_names); i++)
			names[i] = class_names[i].name;
	return names;
}

int iopass_class_parse(const char *s, uint32_t *ret_value, uint32_t *ret_mask)
{
	uint32_t v;
	size_t len;

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(class_names); i++)
		if (strcasecmp(s, class_names[i].name) == 0) {
			*ret_value = class_names[i].value;
			*ret_mask = class_names[i].mask;
			return 0;
		}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	len = strlen(s);
	if ((len != 2 && len != 4 && len != 6) || parse_hex(s, 6, false, &v) < 0)
		return -EINVAL;
	*ret_value = v << (24 - 4 * len);
	*ret_mask = 0xffffffu << (24 - 4 * len) & 0xffffff;
	return 0;
}

int iopass_group_parse(const char *s, int *ret_group)
{
	unsigned v;
	int r = parse_uint(s, INT_MAX, &v);

	if (r < 0)
		return -EINVAL;
	*ret_group = (int)v;
	return 0;
}

bool iopass_driver_name_valid(const char *name)
{
	return name_is_safe(name) && strlen(name) <= 64;
}

/* The kernel's reset methods, in its order (pci_reset_fn_methods[] in drivers/pci/pci.c). */
static const char *const reset_method_names[] = { "device_specific", "acpi", "flr", "af_flr",
						   "pm", "bus", "cxl_bus" };

int iopass_reset_methods_parse(const char *s, char *buf, size_t size)
{
	char copy[128], *save = NULL;
	bool seen[ARRAY_SIZE(reset_method_names)] = { false };
	size_t len = 0, n = 0;

	if (!s || strlen(s) >= sizeof(copy))
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", s);
	for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		size_t k;

		for (k = 0; k < ARRAY_SIZE(reset_method_names); k++)
			if (streq(w, reset_method_names[k]))
				break;
		if (k == ARRAY_SIZE(reset_method_names) || seen[k])
			return -EINVAL; /* unknown, or named twice */
		seen[k] = true;
		if (len + strlen(w) + 2 > size)
			return -ENOBUFS;
		len += (size_t)snprintf(buf + len, size - len, "%s%s", n++ ? " " : "", w);
	}
	return n ? 0 : -EINVAL;
}

const char *iopass_class_short_name(uint32_t class)
{
	const char *best = NULL;
	uint32_t best_mask = 0;

	/* the most specific selector that matches: nvme before storage, usb before serial */
	for (size_t i = 0; i < ARRAY_SIZE(class_names); i++)
		if ((class & class_names[i].mask) == class_names[i].value && class_names[i].mask > best_mask &&
		    !streq(class_names[i].name, "gpu")) {
			best = class_names[i].name;
			best_mask = class_names[i].mask;
		}
	return best;
}
