// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict parsing of everything users type: addresses, IDs, classes, groups. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "iopass.h"

static void test_addr_valid(void **state)
{
	static const struct {
		const char *in, *canon;
	} ok[] = {
		{ "0000:01:00.0", "0000:01:00.0" }, { "01:00.0", "0000:01:00.0" },
		{ "0000:00:1f.7", "0000:00:1f.7" }, { "FFFF:FF:1F.7", "ffff:ff:1f.7" },
		{ "10000:e0:06.0", "10000:e0:06.0" }, /* VMD domain */
		{ "0001:3b:00.1", "0001:3b:00.1" }, { "ab:0c.3", "0000:ab:0c.3" },
		{ "ffffffff:00:00.0", "ffffffff:00:00.0" }, { "12345678:9a:1b.5", "12345678:9a:1b.5" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct iopass_addr a;
		char buf[IOPASS_BDF_MAX];

		assert_int_equal(iopass_addr_parse(ok[i].in, &a), 0);
		iopass_addr_format(&a, buf);
		assert_string_equal(buf, ok[i].canon);
	}
	/* the formatter is printf's "%04x:%02x:%02x.%x", also for every field's extremes */
	for (unsigned i = 0; i < 64; i++) {
		struct iopass_addr a = { .domain = i * 0x4000001u, .bus = (uint8_t)(i * 7),
					 .slot = (uint8_t)(i % 32), .func = (uint8_t)(i % 8) };
		char buf[IOPASS_BDF_MAX], want[IOPASS_BDF_MAX];

		iopass_addr_format(&a, buf);
		snprintf(want, sizeof(want), "%04x:%02x:%02x.%x", a.domain, a.bus, a.slot, a.func);
		assert_string_equal(buf, want);
	}
}

static void test_addr_invalid(void **state)
{
	static const char *const bad[] = {
		"",	       "0",		  "0000:00:00.8",    "0000:00:20.0",  "1:2:3.4.5",
		"../../etc",   "0000:01:00.0/..", "0000:01:00",	     "0000:01:00.",   "000:01:00.0",
		"0000:1:00.0", "0000:01:0.0",	  "0000:001:00.0",   "0000:01:000.0", "0000:01:00.00",
		"-1:00.0",     "0000:-1:00.0",	  "+000:01:00.0",    " 0000:01:00.0", "0000:01:00.0 ",
		"0000:01:00.0\n", "0000:0g:00.0", "0x00:01:00.0",    "123456789:00:00.0",
		"0000::00.0",  ":01:00.0",	  "0000:01:00:0",    "0000.01.00.0", "01:00.0.0",
		"0000:01:00.0:0", "ffffffffff:00:00.0", "0000:01:00.x", "0000:01:00.-1",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iopass_addr a;

		if (iopass_addr_parse(bad[i], &a) != -EINVAL) {
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
			fail();
		}
	}
	/* overlong input */
	char longs[300];
	struct iopass_addr a;

	memset(longs, '0', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(iopass_addr_parse(longs, &a), -EINVAL);
	assert_int_equal(iopass_addr_parse(NULL, &a), -EINVAL);
}

static void test_addr_cmp(void **state)
{
	struct iopass_addr a, b;

	(void)state;
	assert_int_equal(iopass_addr_parse("0000:01:00.1", &a), 0);
	assert_int_equal(iopass_addr_parse("0000:01:00.0", &b), 0);
	assert_true(iopass_addr_cmp(&a, &b) > 0);
	assert_int_equal(iopass_addr_parse("0001:00:00.0", &b), 0);
	assert_true(iopass_addr_cmp(&a, &b) < 0);
	assert_int_equal(iopass_addr_cmp(&a, &a), 0);
}

static void test_id(void **state)
{
	uint16_t v, d;
	static const char *const bad[] = { "10de", "10de:", ":1b80", "10de:1b8", "10de:1b800",
					   "10dex1b80", "g0de:1b80", "10de:1b80:", "0x10de:1b80",
					   "10de 1b80", "" };
	(void)state;
	assert_int_equal(iopass_id_parse("10de:1B80", &v, &d), 0);
	assert_int_equal(v, 0x10de);
	assert_int_equal(d, 0x1b80);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(iopass_id_parse(bad[i], &v, &d), -EINVAL);
}

static void test_class(void **state)
{
	uint32_t v, m;

	(void)state;
	assert_int_equal(iopass_class_parse("net", &v, &m), 0);
	assert_int_equal(v, 0x020000);
	assert_int_equal(m, 0xff0000);
	assert_int_equal(iopass_class_parse("USB", &v, &m), 0);
	assert_int_equal(v, 0x0c0300);
	assert_int_equal(m, 0xffff00);
	assert_int_equal(iopass_class_parse("0c03", &v, &m), 0);
	assert_int_equal(v, 0x0c0300);
	assert_int_equal(m, 0xffff00);
	assert_int_equal(iopass_class_parse("0x010802", &v, &m), 0);
	assert_int_equal(v, 0x010802);
	assert_int_equal(m, 0xffffff);
	assert_int_equal(iopass_class_parse("02", &v, &m), 0);
	assert_int_equal(v, 0x020000);
	assert_int_equal(iopass_class_parse("2", &v, &m), -EINVAL);
	assert_int_equal(iopass_class_parse("020", &v, &m), -EINVAL);
	assert_int_equal(iopass_class_parse("0200000", &v, &m), -EINVAL);
	assert_int_equal(iopass_class_parse("netw", &v, &m), -EINVAL);
	assert_int_equal(iopass_class_parse("", &v, &m), -EINVAL);
	assert_int_equal(iopass_class_parse("zz", &v, &m), -EINVAL);
}

static void test_group(void **state)
{
	int g;

	(void)state;
	assert_int_equal(iopass_group_parse("0", &g), 0);
	assert_int_equal(g, 0);
	assert_int_equal(iopass_group_parse("117", &g), 0);
	assert_int_equal(g, 117);
	assert_int_equal(iopass_group_parse("-1", &g), -EINVAL);
	assert_int_equal(iopass_group_parse("1a", &g), -EINVAL);
	assert_int_equal(iopass_group_parse("", &g), -EINVAL);
	assert_int_equal(iopass_group_parse("99999999999", &g), -EINVAL);
	assert_int_equal(iopass_group_parse(" 1", &g), -EINVAL);
}

static void test_driver_name(void **state)
{
	(void)state;
	assert_true(iopass_driver_name_valid("vfio-pci"));
	assert_true(iopass_driver_name_valid("snd_hda_intel"));
	assert_false(iopass_driver_name_valid(""));
	assert_false(iopass_driver_name_valid(".."));
	assert_false(iopass_driver_name_valid("a/b"));
	assert_false(iopass_driver_name_valid("a b"));
	assert_false(iopass_driver_name_valid("e1000e\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_valid), cmocka_unit_test(test_addr_invalid),
		cmocka_unit_test(test_addr_cmp),   cmocka_unit_test(test_id),
		cmocka_unit_test(test_class),	   cmocka_unit_test(test_group),
		cmocka_unit_test(test_driver_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
