// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict parsing of everything users type: addresses, IDs, classes, groups. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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


/* ---- the desired state (lib/desired.c) ---- */

static struct iopass_desired *desired_ok(const char *text)
{
	struct iopass_desired *d = NULL;
	char *err = NULL;
	int r = iopass_desired_parse(text, strlen(text), &d, &err);

	if (r != 0)
		fail_msg("'%s': %d %s", text, r, err ? err : "(no message)");
	assert_null(err);
	return d;
}

static void test_desired_valid(void **state)
{
	static const char text[] =
		"# ADDRESS     IDS        DRIVER    OPTIONS\n"
		"\n"
		"0000:03:00.0  8086:10d3  vfio-pci  boot   # the second NIC\n"
		"05:00.0\t8086:1528/8086:0001 host vfs=4 vf-driver=vfio-pci\n"
		"*             10de:1eb8  vfio-pci  nth=2 optional\n"
		"   * 15b3:1018 mlx5_vfio_pci pf=0000:03:00.0 nth=1\n"
		"0000:07:00.0 15b3:101e mlx5_vfio_pci boot\n" /* held on a variant from boot on */
		"0000:06:00.0 1af4:1041 host vfs=0";
	struct iopass_desired *d = desired_ok(text);
	const struct iopass_desired_entry *e;
	char bdf[IOPASS_BDF_MAX];

	(void)state;
	assert_int_equal(iopass_desired_count(d), 6);
	assert_true(iopass_desired_get(d, 4)->boot);
	assert_string_equal(iopass_desired_get(d, 4)->driver, "mlx5_vfio_pci");
	e = iopass_desired_get(d, 0);
	assert_int_equal(e->line, 3);
	assert_true(e->by_address);
	iopass_addr_format(&e->addr, bdf);
	assert_string_equal(bdf, "0000:03:00.0");
	assert_int_equal(e->vendor, 0x8086);
	assert_int_equal(e->device, 0x10d3);
	assert_false(e->has_subsystem);
	assert_string_equal(e->driver, "vfio-pci");
	assert_true(e->boot);
	assert_false(e->optional);
	assert_int_equal(e->vfs, -1);
	assert_string_equal(e->vf_driver, "");

	e = iopass_desired_get(d, 1);
	assert_int_equal(e->line, 4);
	iopass_addr_format(&e->addr, bdf);
	assert_string_equal(bdf, "0000:05:00.0"); /* the short form, canonical */
	assert_true(e->has_subsystem);
	assert_int_equal(e->subsystem_vendor, 0x8086);
	assert_int_equal(e->subsystem_device, 0x0001);
	assert_string_equal(e->driver, "host");
	assert_int_equal(e->vfs, 4);
	assert_string_equal(e->vf_driver, "vfio-pci");
	assert_false(e->boot);

	e = iopass_desired_get(d, 2);
	assert_false(e->by_address);
	assert_int_equal(e->nth, 2);
	assert_true(e->optional);
	assert_false(e->has_pf);

	e = iopass_desired_get(d, 3);
	assert_int_equal(e->line, 6);
	assert_true(e->has_pf);
	iopass_addr_format(&e->pf, bdf);
	assert_string_equal(bdf, "0000:03:00.0");
	assert_string_equal(e->driver, "mlx5_vfio_pci");
	assert_int_equal(e->nth, 1);

	e = iopass_desired_get(d, 5);
	assert_int_equal(e->line, 8); /* no newline at the end of the file */
	assert_int_equal(e->vfs, 0);
	assert_null(iopass_desired_get(d, 6));
	iopass_desired_free(d);

	/* empty, blank and comment-only files hold no entries */
	d = desired_ok("");
	assert_int_equal(iopass_desired_count(d), 0);
	iopass_desired_free(d);
	d = desired_ok("\n \t\n# nothing here\n   # nor here\n");
	assert_int_equal(iopass_desired_count(d), 0);
	iopass_desired_free(d);
}

static void test_desired_invalid(void **state)
{
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "0000:03:00.0 8086:10d3\n", "line 1: 2 fields; a line is ADDRESS VVVV:DDDD DRIVER [OPTION...]" },
		{ "\n\n0000:03:00.0\n", "line 3: 1 field; a line is ADDRESS VVVV:DDDD DRIVER [OPTION...]" },
		{ "0000:03:00 8086:10d3 vfio-pci\n",
		  "line 1: '0000:03:00': not a PCI address; write DDDD:BB:SS.F, or '*' to select by IDs" },
		{ "../../x 8086:10d3 vfio-pci\n",
		  "line 1: '../../x': not a PCI address; write DDDD:BB:SS.F, or '*' to select by IDs" },
		{ "0000:03:00.0 8086:10d vfio-pci\n",
		  "line 1: '8086:10d': not device IDs; write VVVV:DDDD or VVVV:DDDD/SSSS:SSSS (subsystem), hex" },
		{ "0000:03:00.0 8086:10d3/ vfio-pci\n",
		  "line 1: '8086:10d3/': not device IDs; write VVVV:DDDD or VVVV:DDDD/SSSS:SSSS (subsystem), hex" },
		{ "0000:03:00.0 8086:10d3/1234:5678/9abc:def0 vfio-pci\n",
		  "line 1: '8086:10d3/1234:5678/9abc:def0': not device IDs; write VVVV:DDDD or VVVV:DDDD/SSSS:SSSS (subsystem), hex" },
		{ "0000:03:00.0 8086:10d3 e1000e\n",
		  "line 1: 'e1000e': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 ../vfio-pci\n",
		  "line 1: '../vfio-pci': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 vfio-pci bot\n",
		  "line 1: unknown option 'bot'; the options are boot, optional, vfs=N, vf-driver=DRIVER, nth=K and pf=ADDRESS" },
		{ "0000:03:00.0 8086:10d3 vfio-pci boot boot\n",
		  "line 1: 'boot' is given twice; give each option once" },
		{ "0000:03:00.0 8086:10d3 vfio-pci boot=yes\n", "line 1: 'boot' takes no value; write it alone" },
		{ "0000:03:00.0 8086:10d3 host vfs\n", "line 1: 'vfs' needs a value: vfs=..." },
		{ "0000:03:00.0 8086:10d3 host vfs=\n", "line 1: 'vfs' needs a value: vfs=..." },
		{ "0000:03:00.0 8086:10d3 host vfs=-1\n",
		  "line 1: vfs=-1: not a count; write vfs=N, N from 0 to 65535" },
		{ "0000:03:00.0 8086:10d3 host vfs=65536\n",
		  "line 1: vfs=65536: not a count; write vfs=N, N from 0 to 65535" },
		{ "0000:03:00.0 8086:10d3 host vfs=2 vf-driver=ixgbevf\n",
		  "line 1: vf-driver=ixgbevf: not a target driver; write vf-driver=vfio-pci, a vfio variant driver, or vf-driver=host" },
		{ "0000:03:00.0 8086:10d3 host vf-driver=vfio-pci\n",
		  "line 1: vf-driver= needs vfs=N on the same line (the PF's VF count)" },
		{ "* 8086:10d3 vfio-pci nth=0\n", "line 1: nth=0: not an ordinal; write nth=K, K from 1" },
		{ "* 8086:10d3 vfio-pci nth=x\n", "line 1: nth=x: not an ordinal; write nth=K, K from 1" },
		{ "* 8086:10d3 vfio-pci pf=03:00\n", "line 1: pf=03:00: not a PCI address; write pf=DDDD:BB:SS.F" },
		{ "0000:03:00.0 8086:10d3 vfio-pci nth=1\n",
		  "line 1: nth= and pf= select a device by its IDs; write '*' as the address to use them" },
		{ "0000:03:00.2 8086:10ed vfio-pci pf=0000:03:00.0\n",
		  "line 1: nth= and pf= select a device by its IDs; write '*' as the address to use them" },
		{ "* 8086:10ed host pf=0000:03:00.0 vfs=2\n",
		  "line 1: vfs= on a VF (pf=): a VF has no VFs of its own" },
		{ "0000:03:00.0 8086:10d3 host boot\n",
		  "line 1: 'boot' holds a device on a vfio driver from boot on; a 'host' entry has nothing to hold: drop 'boot'" },
		/* a target is vfio-pci or a variant (*_vfio_pci), not any name holding "vfio" */
		{ "0000:03:00.0 8086:10d3 vfio_iommu_type1\n",
		  "line 1: 'vfio_iommu_type1': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 MLX5_vfio_pci\n",
		  "line 1: 'MLX5_vfio_pci': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 _vfio_pci boot\n",
		  "line 1: '_vfio_pci': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		/* the PF's VFs go when its host driver is unbound */
		{ "0000:03:00.0 8086:10d3 vfio-pci vfs=2\n",
		  "line 1: vfs=2: a PF's VFs are made by its host driver, and moving the PF to vfio-pci takes them away; write host as the PF's driver, or vfs=0" },
		{ "0000:03:00.0 8086:10d3 vfio-pci\r\n",
		  "line 1: a carriage return (DOS line ends); convert the file with dos2unix" },
		{ "# a comment\r\n", "line 1: a carriage return (DOS line ends); convert the file with dos2unix" },
		{ "0000:03:00.0 8086:10d3 vfio-pci\x01\n", "line 1: a control character (0x01); the file is text" },
		{ "0000:03:00.0 8086:10d3 vfio-pci bo\x9bot\n",
		  "line 1: field 4 holds a byte that is not printable ASCII (0x9b); only a comment may" },
		{ "0000:03:00.0 8086:10d3 vfio-pci\x7f\n",
		  "line 1: field 3 holds a byte that is not printable ASCII (0x7f); only a comment may" },
		/* a driver is a module name: it goes into the udev rule's quotes */
		{ "0000:03:00.0 8086:10d3 vfio-pci\"\n",
		  "line 1: 'vfio-pci\"': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 vfio,x\n",
		  "line 1: 'vfio,x': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 *vfio*\n",
		  "line 1: '*vfio*': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		/* '#' starts a comment only as a field of its own: boot is never lost silently */
		{ "0000:03:00.0 8086:10d3 vfio-pci#boot\n",
		  "line 1: 'vfio-pci#boot': not a target driver; write vfio-pci, a vfio variant driver (e.g. mlx5_vfio_pci), or host" },
		{ "0000:03:00.0 8086:10d3 host vfs=2 vf-driver=vfio=1\n",
		  "line 1: vf-driver=vfio=1: not a target driver; write vf-driver=vfio-pci, a vfio variant driver, or vf-driver=host" },
		{ "0000:03:00.0 8086:10d3 host vfs=0 vf-driver=vfio-pci\n",
		  "line 1: vf-driver= with vfs=0: there are no VFs to bind; drop one of them" },
		/* one address in three spellings */
		{ "0000:0A:00.0 8086:10d3 vfio-pci\n0a:00.0 8086:10d3 host\n",
		  "line 2: the same device as line 1; one line per device" },
		{ "00000000:0a:00.0 8086:10d3 vfio-pci\n0000:0a:00.0 8086:10D3 vfio-pci\n",
		  "line 2: the same device as line 1; one line per device" },
		/* the first duplicate in the file is named, wherever the sort puts it */
		{ "0000:05:00.0 8086:10d3 host\n0000:04:00.0 8086:10d3 host\n0000:04:00.0 8086:10d3 host\n"
		  "0000:05:00.0 8086:10d3 host\n",
		  "line 3: the same device as line 2; one line per device" },
		{ "# ok\n03:00.0 8086:10d3 vfio-pci\n0000:03:00.0 8086:10d3 host\n",
		  "line 3: the same device as line 2; one line per device" },
		{ "* 8086:10d3 vfio-pci nth=2\n* 8086:10d3 host nth=2\n",
		  "line 2: the same device as line 1; one line per device" },
		{ "* 8086:10d3 vfio-pci\n\n* 8086:10d3 host\n",
		  "line 3: the same device as line 1; one line per device" },
		{ "0000:03:00.0 8086:10d3 vfio-pci a b c d e f g h i j k l m n\n",
		  "line 1: more than 16 fields; one device per line" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iopass_desired *d = (struct iopass_desired *)&d; /* must be set to NULL */
		char *err = NULL;

		assert_int_equal(iopass_desired_parse(bad[i].text, strlen(bad[i].text), &d, &err), -EINVAL);
		assert_null(d);
		assert_non_null(err);
		assert_text_equal(err, bad[i].error);
		free(err);
	}
}

static void test_desired_limits(void **state)
{
	char line[1100], *big;
	struct iopass_desired *d = NULL;
	char *err = NULL;
	size_t n;

	(void)state;
	/* a NUL inside the text: named by its line, not read past */
	static const char nul[] = "0000:03:00.0 8086:10d3 vfio-pci\n0000:04:00.0 8086\0:10d3 host\n";
	assert_int_equal(iopass_desired_parse(nul, sizeof(nul) - 1, &d, &err), -EINVAL);
	assert_string_equal(err, "line 2: a NUL byte; the file is text");
	free(err);
	err = NULL;
	/* len is the end, not a NUL: a buffer that is not terminated is read to len only */
	assert_int_equal(iopass_desired_parse("0000:03:00.0 8086:10d3 vfio-pciXX", 31, &d, &err), 0);
	assert_string_equal(iopass_desired_get(d, 0)->driver, "vfio-pci");
	d = iopass_desired_free(d);
	/* a line of 1024 bytes is read, 1025 is refused */
	n = (size_t)snprintf(line, sizeof(line), "0000:03:00.0 8086:10d3 vfio-pci");
	memset(line + n, ' ', 1024 - n);
	line[1024] = '\0';
	assert_int_equal(iopass_desired_parse(line, 1024, &d, &err), 0);
	d = iopass_desired_free(d);
	line[1024] = ' ';
	assert_int_equal(iopass_desired_parse(line, 1025, &d, &err), -EINVAL);
	assert_string_equal(err, "line 1: longer than 1024 bytes; one device per line");
	free(err);
	err = NULL;
	/* the limit: 65536 entries (sorted for duplicates, not compared pairwise), not one more */
	big = malloc(65537 * 40);
	assert_non_null(big);
	n = 0;
	for (unsigned k = 0; k < 65537; k++)
		n += (size_t)sprintf(big + n, "%04x:%02x:00.0 8086:10ed vfio-pci\n", k >> 8, k & 0xff);
	assert_int_equal(iopass_desired_parse(big, n - 32, &d, &err), 0); /* the last line cut */
	assert_int_equal(iopass_desired_count(d), 65536);
	assert_int_equal(iopass_desired_get(d, 65535)->line, 65536);
	assert_int_equal(iopass_desired_get(d, 65535)->addr.domain, 0xff);
	d = iopass_desired_free(d);
	assert_int_equal(iopass_desired_parse(big, n, &d, &err), -EINVAL);
	assert_string_equal(err, "line 65537: more than 65536 entries; no host has that many devices: "
				 "check how the file was made");
	free(err);
	err = NULL;
	free(big);
	/* bad arguments: no message, no entries */
	err = (char *)"unset";
	assert_int_equal(iopass_desired_parse(NULL, 0, &d, &err), -EINVAL);
	assert_null(err);
	assert_int_equal(iopass_desired_parse("", 0, NULL, &err), -EINVAL);
	assert_null(err);
	/* no error string asked for: the error code alone */
	d = (struct iopass_desired *)&d;
	assert_int_equal(iopass_desired_parse("x", 1, &d, NULL), -EINVAL);
	assert_null(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_valid), cmocka_unit_test(test_addr_invalid),
		cmocka_unit_test(test_addr_cmp),   cmocka_unit_test(test_id),
		cmocka_unit_test(test_class),	   cmocka_unit_test(test_group),
		cmocka_unit_test(test_driver_name),
		cmocka_unit_test(test_desired_valid), cmocka_unit_test(test_desired_invalid),
		cmocka_unit_test(test_desired_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
