// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass list: PCI devices and their IOMMU groups, as a tree (groups, then
 * their devices), a flat list (--devices), raw or JSON, in the manner of
 * lsblk and lsmem.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include <libsmartcols.h>

#include "cli.h"

static const char CMD[] = "list";

enum {
	COL_NAME,
	COL_BDF,
	COL_GROUP,
	COL_CLASS,
	COL_CLASSID,
	COL_DESCRIPTION,
	COL_VENDOR,
	COL_PRODUCT,
	COL_ID,
	COL_VENDOR_ID,
	COL_DEVICE_ID,
	COL_SUBSYS_ID,
	COL_DRIVER,
	COL_VFIO,
	COL_BRIDGE,
	COL_BOOT_VGA,
	COL_PHYSFN,
	COL_NUMVFS,
	COL_TOTALVFS,
	COL_FLAGS,
	N_COLS,
};

/* The JSON keys are these names in lower case; they are a stable interface. */
static const struct cli_column columns[N_COLS] = {
	[COL_NAME] = { "NAME", 0.1, SCOLS_FL_TREE | SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
		       "IOMMU group or PCI address (tree view)" },
	[COL_BDF] = { "BDF", 0.1, 0, SCOLS_JSON_STRING, "PCI address, domain:bus:slot.function" },
	[COL_GROUP] = { "GROUP", 0.05, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, "IOMMU group number" },
	[COL_CLASS] = { "CLASS", 0.2, SCOLS_FL_TRUNC, SCOLS_JSON_STRING, "class name" },
	[COL_CLASSID] = { "CLASSID", 0.05, 0, SCOLS_JSON_STRING, "class code, 6 hex digits" },
	[COL_DESCRIPTION] = { "DEVICE", 0.4, SCOLS_FL_TRUNC, SCOLS_JSON_STRING,
			      "vendor and device names with [vendor:device] IDs" },
	[COL_VENDOR] = { "VENDOR", 0.2, SCOLS_FL_TRUNC, SCOLS_JSON_STRING, "vendor name" },
	[COL_PRODUCT] = { "PRODUCT", 0.3, SCOLS_FL_TRUNC, SCOLS_JSON_STRING, "device name" },
	[COL_ID] = { "ID", 0.1, 0, SCOLS_JSON_STRING, "vendor:device IDs" },
	[COL_VENDOR_ID] = { "VENDOR_ID", 0.05, 0, SCOLS_JSON_STRING, "vendor ID, 4 hex digits" },
	[COL_DEVICE_ID] = { "DEVICE_ID", 0.05, 0, SCOLS_JSON_STRING, "device ID, 4 hex digits" },
	[COL_SUBSYS_ID] = { "SUBSYS_ID", 0.1, 0, SCOLS_JSON_STRING,
			    "subsystem vendor:device IDs" },
	[COL_DRIVER] = { "DRIVER", 0.1, 0, SCOLS_JSON_STRING, "bound driver, '-' if none" },
	[COL_VFIO] = { "VFIO", 0.03, 0, SCOLS_JSON_BOOLEAN, "bound to vfio-pci or a vfio variant" },
	[COL_BRIDGE] = { "BRIDGE", 0.03, 0, SCOLS_JSON_BOOLEAN, "PCI-to-PCI bridge or port" },
	[COL_BOOT_VGA] = { "BOOT_VGA", 0.03, 0, SCOLS_JSON_BOOLEAN,
			   "the firmware's boot display device" },
	[COL_PHYSFN] = { "PHYSFN", 0.1, 0, SCOLS_JSON_STRING,
			 "SR-IOV: the physical function of this VF" },
	[COL_NUMVFS] = { "NUMVFS", 0.03, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
			 "SR-IOV: VFs enabled on this PF" },
	[COL_TOTALVFS] = { "TOTALVFS", 0.03, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
			   "SR-IOV: VFs this PF supports" },
	[COL_FLAGS] = { "FLAGS", 0.1, 0, SCOLS_JSON_STRING,
			"bridge, vfio, boot-vga, pf:N/M (VFs), vf-of:PF" },
};

static const int tree_default[] = { COL_NAME, COL_CLASS, COL_DESCRIPTION, COL_DRIVER, COL_FLAGS };
static const int flat_default[] = { COL_BDF,	     COL_GROUP,	 COL_CLASS,
				    COL_DESCRIPTION, COL_DRIVER, COL_FLAGS };
static const int json_default[] = {
	COL_BDF,	 COL_GROUP,	COL_CLASS,  COL_CLASSID, COL_VENDOR,   COL_PRODUCT,
	COL_VENDOR_ID,	 COL_DEVICE_ID, COL_SUBSYS_ID, COL_DRIVER, COL_VFIO,   COL_BRIDGE,
	COL_BOOT_VGA,	 COL_PHYSFN,	COL_NUMVFS, COL_TOTALVFS,
};

struct list_opts {
	bool devices, json, raw, noheadings;
	int cols[N_COLS * 2];
	size_t ncols;
	bool have_group;
	int group;
	bool have_class;
	uint32_t class_value, class_mask;
	bool have_id;
	uint16_t vendor, device;
	const char *driver;
	struct iopass_addr *addrs;
	size_t naddrs;
};

static void usage(void)
{
	fputs("Usage: iopass list [options] [DEVICE...]\n"
	      "\nList PCI devices and their IOMMU groups: a tree of groups by default.\n"
	      "DEVICE is a PCI address, DDDD:BB:SS.F or BB:SS.F (domain 0000).\n"
	      "\nOptions:\n"
	      "  -D, --devices          flat list, one line per device\n"
	      "  -o, --output COLS      columns to show, comma-separated (+COLS adds to the default)\n"
	      "      --output-all       show all columns\n"
	      "  -J, --json             JSON output (a flat list of devices)\n"
	      "  -r, --raw              raw output, one line per device, no alignment\n"
	      "  -n, --noheadings       do not print a header line\n"
	      "  -g, --group N          only devices in IOMMU group N\n"
	      "  -c, --class CLASS      only devices of CLASS: a name or a hex class prefix (02, 0c03)\n"
	      "  -d, --id VVVV:DDDD     only devices with these vendor and device IDs\n"
	      "      --driver NAME      only devices bound to driver NAME ('none': unbound)\n"
	      "      --sysroot DIR      read sysfs below DIR\n"
	      "  -v, --verbose          more detail\n"
	      "  -q, --quiet            no warnings on stderr\n"
	      "  -h, --help             show this help\n"
	      "\nClass names:",
	      stdout);
	for (const char *const *n = iopass_class_names(); *n; n++)
		printf(" %s", *n);
	putchar('\n');
	cli_columns_help(stdout, columns, N_COLS);
	fputs("\nDefault columns: NAME,CLASS,DEVICE,DRIVER,FLAGS (tree);"
	      " BDF,GROUP,CLASS,DEVICE,DRIVER,FLAGS (--devices);\n"
	      "all but NAME, DEVICE, ID and FLAGS with --json. Scripts should name columns with -o.\n",
	      stdout);
}

static bool dev_matches(const struct list_opts *o, const struct iopass_dev *dev)
{
	if (o->naddrs) {
		bool found = false;

		for (size_t i = 0; i < o->naddrs && !found; i++)
			found = iopass_addr_cmp(&o->addrs[i], iopass_dev_get_addr(dev)) == 0;
		if (!found)
			return false;
	}
	if (o->have_group && iopass_dev_get_iommu_group(dev) != o->group)
		return false;
	if (o->have_class) {
		int cls = iopass_dev_get_class(dev);

		if (cls < 0 || ((uint32_t)cls & o->class_mask) != o->class_value)
			return false;
	}
	if (o->have_id && (iopass_dev_get_vendor(dev) != o->vendor ||
			   iopass_dev_get_device(dev) != o->device))
		return false;
	if (o->driver) {
		const char *drv = iopass_dev_get_driver(dev);

		if (streq(o->driver, "none") ? drv != NULL : !streq(o->driver, drv))
			return false;
	}
	return true;
}

/*
 * Cell text, written into buf or owned by the device; NULL for an empty cell
 * (null in JSON). buf holds CELL_MAX bytes: pci.ids names are far shorter.
 */
#define CELL_MAX 1024

/* "vvvv:dddd", with ???? for a half that could not be read; NULL when neither could */
static const char *id_pair(int a, int b, char *buf)
{
	char ha[12] = "????", hb[12] = "????";

	if (a < 0 && b < 0)
		return NULL;
	if (a >= 0)
		snprintf(ha, sizeof(ha), "%04x", a);
	if (b >= 0)
		snprintf(hb, sizeof(hb), "%04x", b);
	snprintf(buf, CELL_MAX, "%s:%s", ha, hb);
	return buf;
}

static const char *description(struct iopass_dev *dev, char *buf)
{
	const char *vn = iopass_dev_get_vendor_name(dev);
	const char *dn = iopass_dev_get_device_name(dev);
	char ids[CELL_MAX];

	if (!id_pair(iopass_dev_get_vendor(dev), iopass_dev_get_device(dev), ids))
		strcpy(ids, "????:????");
	snprintf(buf, CELL_MAX, "%.400s%s%.400s [%s]", vn ? vn : "", vn ? " " : "", dn ? dn : "Device",
		 ids);
	return buf;
}

/* Comma-separated, also in JSON: libsmartcols cannot print an empty JSON array. */
static const char *flags(const struct iopass_dev *dev, char *buf)
{
	size_t len = 0;
	int total = iopass_dev_get_sriov_totalvfs(dev);

	buf[0] = '\0';
#define ADD(...)                                                                               \
	do {                                                                                   \
		if (len && len < CELL_MAX - 1)                                                 \
			buf[len++] = ',';                                                      \
		len += (size_t)snprintf(buf + len, CELL_MAX - len, __VA_ARGS__);               \
		if (len >= CELL_MAX)                                                           \
			len = CELL_MAX - 1;                                                    \
	} while (0)
	if (iopass_dev_is_bridge(dev))
		ADD("bridge");
	if (iopass_dev_is_vfio(dev))
		ADD("vfio");
	if (iopass_dev_is_boot_vga(dev))
		ADD("boot-vga");
	if (total >= 0)
		ADD("pf:%d/%d", iopass_dev_get_sriov_numvfs(dev) < 0 ? 0 : iopass_dev_get_sriov_numvfs(dev),
		    total);
	if (iopass_dev_get_physfn(dev))
		ADD("vf-of:%s", iopass_dev_get_physfn(dev));
#undef ADD
	return len ? buf : NULL;
}

/* decimal, or hex with this many digits; NULL for a value that could not be read */
static const char *number(int v, int hex_digits, char *buf)
{
	if (v < 0)
		return NULL;
	if (hex_digits)
		snprintf(buf, CELL_MAX, "%0*x", hex_digits, (unsigned)v);
	else
		snprintf(buf, CELL_MAX, "%d", v);
	return buf;
}

static const char *cell_text(struct iopass_dev *dev, int col, bool json, char *buf)
{
	const char *s;
	int v;

	switch (col) {
	case COL_NAME:
	case COL_BDF:
		return iopass_dev_get_bdf(dev);
	case COL_GROUP:
		return number(iopass_dev_get_iommu_group(dev), 0, buf);
	case COL_CLASS:
		s = iopass_dev_get_class_name(dev);
		if (s)
			return s;
		v = iopass_dev_get_class(dev);
		if (v < 0)
			return NULL;
		snprintf(buf, CELL_MAX, "Class %04x", (unsigned)v >> 8);
		return buf;
	case COL_CLASSID:
		return number(iopass_dev_get_class(dev), 6, buf);
	case COL_DESCRIPTION:
		return description(dev, buf);
	case COL_VENDOR:
		return iopass_dev_get_vendor_name(dev);
	case COL_PRODUCT:
		return iopass_dev_get_device_name(dev);
	case COL_ID:
		return id_pair(iopass_dev_get_vendor(dev), iopass_dev_get_device(dev), buf);
	case COL_VENDOR_ID:
		return number(iopass_dev_get_vendor(dev), 4, buf);
	case COL_DEVICE_ID:
		return number(iopass_dev_get_device(dev), 4, buf);
	case COL_SUBSYS_ID:
		return id_pair(iopass_dev_get_subsystem_vendor(dev), iopass_dev_get_subsystem_device(dev),
			       buf);
	case COL_DRIVER:
		s = iopass_dev_get_driver(dev);
		return s ? s : json ? NULL : "-";
	/* "yes"/"no" read well in a table and are what libsmartcols maps to JSON true/false */
	case COL_VFIO:
		return iopass_dev_is_vfio(dev) ? "yes" : "no";
	case COL_BRIDGE:
		return iopass_dev_is_bridge(dev) ? "yes" : "no";
	case COL_BOOT_VGA:
		return iopass_dev_is_boot_vga(dev) ? "yes" : "no";
	case COL_PHYSFN:
		return iopass_dev_get_physfn(dev);
	case COL_NUMVFS:
		return number(iopass_dev_get_sriov_numvfs(dev), 0, buf);
	case COL_TOTALVFS:
		return number(iopass_dev_get_sriov_totalvfs(dev), 0, buf);
	case COL_FLAGS:
		return flags(dev, buf);
	}
	return NULL;
}

/* The tree's parent line: "group N", or "no group" for devices without one. */
static const char *group_text(int group, char *buf)
{
	if (group < 0)
		return "no group";
	snprintf(buf, CELL_MAX, "group %d", group);
	return buf;
}

static int dev_group_cmp(const void *pa, const void *pb)
{
	const struct iopass_dev *a = *(const struct iopass_dev *const *)pa;
	const struct iopass_dev *b = *(const struct iopass_dev *const *)pb;
	unsigned ga = (unsigned)iopass_dev_get_iommu_group(a); /* -ENOENT sorts last */
	unsigned gb = (unsigned)iopass_dev_get_iommu_group(b);

	if (ga != gb)
		return ga < gb ? -1 : 1;
	return iopass_addr_cmp(iopass_dev_get_addr(a), iopass_dev_get_addr(b));
}

/*
 * Output. libsmartcols aligns a table only once it holds every line, which at
 * tens of thousands of devices costs more memory than lspci uses in all. So
 * the table goes out in blocks of whole groups, each a small libsmartcols table
 * whose column widths are set to those of the whole table (measured first,
 * from the devices, without keeping any text), and JSON is written as it is
 * made, in libsmartcols' own layout. Only a terminal gets the whole table at
 * once: fitting it to the terminal's width needs every line. IOPASS_LIST_ROWS
 * (lines per block; 0: the whole table) lets the tests compare the two.
 */
#define LIST_ROWS_DEFAULT 512

struct printer {
	const struct list_opts *o;
	struct iopass_dev **devs;
	size_t n;
	bool tree;
	bool blocks;               /* printed in blocks, not as one table */
	bool measured;             /* widths holds the whole table's column widths */
	size_t widths[N_COLS * 2]; /* per column of o->cols */
};

/*
 * A cell's width on screen as libsmartcols measures it (its mbs_safe_width):
 * control characters, bytes that are no character in the locale and "\x"
 * count as the four columns of their \xHH escape.
 */
static size_t text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	mbstate_t st;
	size_t width = 0;

	if (!s)
		return 0;
	for (; *p >= 0x20 && *p < 0x7f && !(*p == '\\' && p[1] == 'x'); p++)
		width++; /* the common case: printable ASCII */
	memset(&st, 0, sizeof(st));
	while (*p) {
		wchar_t wc;
		size_t len;

		if ((*p == '\\' && p[1] == 'x') || iscntrl(*p)) {
			width += 4;
			p++;
			continue;
		}
		len = mbrtowc(&wc, (const char *)p, MB_CUR_MAX, &st);
		if (len == 0)
			break;
		if (len == (size_t)-1 || len == (size_t)-2) {
			width += isprint(*p) ? 1 : 4;
			len = 1;
			memset(&st, 0, sizeof(st));
		} else if (!iswprint(wc)) {
			width += len * 4;
		} else {
			int w = wcwidth(wc);

			width += w > 0 ? (size_t)w : 0;
		}
		p += len;
	}
	return width;
}

/* The widths libsmartcols would give the columns of the whole table. */
static void measure(struct printer *pr)
{
	const struct list_opts *o = pr->o;
	char buf[CELL_MAX];
	int last_group = 0;

	for (size_t c = 0; c < o->ncols; c++)
		pr->widths[c] = text_width(columns[o->cols[c]].name);
	for (size_t i = 0; i < pr->n; i++) {
		int g = iopass_dev_get_iommu_group(pr->devs[i]);

		for (size_t c = 0; c < o->ncols; c++) {
			bool namecol = pr->tree && o->cols[c] == COL_NAME;
			/* a device's tree art, "|-" or "`-" (two columns in UTF-8 too) */
			size_t w = text_width(cell_text(pr->devs[i], o->cols[c], false, buf)) + (namecol ? 2 : 0);

			if (namecol && (i == 0 || g != last_group))
				w = MAX(w, text_width(group_text(g, buf)));
			pr->widths[c] = MAX(pr->widths[c], w);
		}
		last_group = g;
	}
}

static struct libscols_table *table_new(const struct printer *pr, bool header)
{
	const struct list_opts *o = pr->o;
	struct libscols_table *tb = scols_new_table();

	if (!tb)
		return NULL;
	scols_table_enable_json(tb, o->json);
	scols_table_set_name(tb, "devices");
	scols_table_enable_raw(tb, o->raw);
	scols_table_enable_noheadings(tb, o->noheadings || !header);

	for (size_t i = 0; i < o->ncols; i++) {
		const struct cli_column *c = &columns[o->cols[i]];
		double whint = c->whint;
		int fl = c->flags;
		struct libscols_column *cl;

		if (!pr->tree)
			fl &= ~SCOLS_FL_TREE;
		if (o->json || o->raw)
			fl &= ~SCOLS_FL_TRUNC;
		/*
		 * A width wider than the header: as an absolute hint, and strict so
		 * that a block with narrower cells is not shrunk to the header's
		 * width first (libsmartcols' count_column_width()).
		 */
		if (pr->measured && pr->widths[i] > text_width(c->name)) {
			whint = (double)pr->widths[i];
			fl |= SCOLS_FL_STRICTWIDTH;
		}
		cl = scols_table_new_column(tb, c->name, whint, fl);
		if (!cl)
			return scols_unref_table(tb), NULL;
		if (o->json)
			scols_column_set_json_type(cl, c->json_type);
	}
	if (pr->blocks) /* widths are the whole table's: never fitted to a terminal */
		scols_table_set_termforce(tb, SCOLS_TERMFORCE_NEVER);
	return tb;
}

/* Lines for devices [from, to), with a parent line for each group in the tree. */
static int table_fill(struct libscols_table *tb, const struct printer *pr, size_t from, size_t to)
{
	const struct list_opts *o = pr->o;
	struct libscols_line *parent = NULL;
	int last_group = -1;
	char buf[CELL_MAX];

	for (size_t i = from; i < to; i++) {
		struct iopass_dev *dev = pr->devs[i];
		struct libscols_line *ln;

		if (pr->tree) {
			int g = iopass_dev_get_iommu_group(dev);

			if (!parent || g != last_group) {
				size_t namecol = 0;

				parent = scols_table_new_line(tb, NULL);
				if (!parent)
					return -ENOMEM;
				while (o->cols[namecol] != COL_NAME)
					namecol++;
				if (scols_line_set_data(parent, namecol, group_text(g, buf)) < 0)
					return -ENOMEM;
				last_group = g;
			}
		}
		ln = scols_table_new_line(tb, pr->tree ? parent : NULL);
		if (!ln)
			return -ENOMEM;
		for (size_t c = 0; c < o->ncols; c++) {
			const char *s = cell_text(dev, o->cols[c], o->json, buf);

			if (s && scols_line_set_data(ln, c, s) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* One libsmartcols table of devices [from, to); the header with the first. */
static int print_block(const struct printer *pr, size_t from, size_t to)
{
	struct libscols_table *tb = table_new(pr, from == 0);
	int r;

	if (!tb)
		return -ENOMEM;
	r = table_fill(tb, pr, from, to);
	if (r == 0)
		r = scols_print_table(tb);
	scols_unref_table(tb);
	return r;
}

/* A JSON string as libsmartcols quotes it; NULL and "" are null. */
static void json_put_string(const char *s)
{
	if (!s || !*s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
		case '\\':
			putchar('\\');
			putchar(*p);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			if (*p < 0x20)
				printf("\\u00%02x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* libsmartcols' JSON for a flat table (three-space indents, "},{" between objects). */
static int print_json(const struct printer *pr)
{
	const struct list_opts *o = pr->o;
	char buf[CELL_MAX], key[32];

	fputs("{\n   \"devices\": [\n", stdout);
	for (size_t i = 0; i < pr->n; i++) {
		fputs(i ? ",{\n" : "      {\n", stdout);
		for (size_t c = 0; c < o->ncols; c++) {
			const struct cli_column *col = &columns[o->cols[c]];
			const char *s = cell_text(pr->devs[i], o->cols[c], true, buf);
			size_t k;

			for (k = 0; col->name[k] && k < sizeof(key) - 1; k++)
				key[k] = (char)tolower((unsigned char)col->name[k]);
			key[k] = '\0';
			printf("%s         \"%s\": ", c ? ",\n" : "", key);
			if (col->json_type == SCOLS_JSON_NUMBER)
				fputs(s && *s ? s : "null", stdout);
			else if (col->json_type == SCOLS_JSON_BOOLEAN)
				fputs(s && *s && *s != '0' && *s != 'n' && *s != 'N' ? "true" : "false", stdout);
			else
				json_put_string(s);
		}
		fputs("\n      }", stdout);
	}
	fputs("\n   ]\n}\n", stdout);
	return ferror(stdout) ? -EIO : 0;
}

/* Lines per block from IOPASS_LIST_ROWS; 0 is the whole table at once. */
static size_t list_rows(bool human)
{
	const char *env = getenv("IOPASS_LIST_ROWS");
	unsigned v;

	if (env && parse_dec_arg(env, &v) == 0)
		return v;
	/* a terminal gets the table fitted to its width, which needs every line */
	return human && isatty(STDOUT_FILENO) ? 0 : LIST_ROWS_DEFAULT;
}

static int print_devices(const struct list_opts *o, struct iopass_dev **devs, size_t n, bool tree)
{
	struct printer pr = { .o = o, .devs = devs, .n = n, .tree = tree };
	size_t rows = list_rows(!o->json && !o->raw);
	size_t from = 0;

	if (rows == 0)
		return print_block(&pr, 0, n);
	if (o->json)
		return print_json(&pr);
	pr.blocks = true;
	if (!o->raw) { /* raw output is not aligned */
		measure(&pr);
		pr.measured = true;
	}
	do {
		size_t to = MIN(from + rows, n);
		int r;

		/* a group's lines stay together: its parent line is in the block */
		while (tree && to < n &&
		       iopass_dev_get_iommu_group(devs[to]) == iopass_dev_get_iommu_group(devs[to - 1]))
			to++;
		r = print_block(&pr, from, to);
		if (r < 0)
			return r;
		from = to;
	} while (from < n);
	return 0;
}

static int set_default_columns(struct list_opts *o, const int *def, size_t n)
{
	memcpy(o->cols, def, n * sizeof(*def));
	o->ncols = n;
	return 0;
}

static int cmd_list_main(int argc, char *argv[])
{
	enum { OPT_OUTPUT_ALL = OPT_GLOBAL_LAST, OPT_DRIVER };
	static const struct option longopts[] = {
		{ "devices", no_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
		{ "json", no_argument, NULL, 'J' },
		{ "raw", no_argument, NULL, 'r' },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "group", required_argument, NULL, 'g' },
		{ "class", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'd' },
		{ "driver", required_argument, NULL, OPT_DRIVER },
		CLI_GLOBAL_LONGOPTS,
		{},
	};
	struct list_opts o = {};
	const char *outarg = NULL;
	bool output_all = false;
	struct iopass_ctx *ctx = NULL;
	struct iopass_devlist *list = NULL;
	struct iopass_dev **devs = NULL;
	size_t n = 0, total;
	int c, r, ret = EXIT_FAIL, ngroups;
	bool tree;

	while ((c = getopt_long(argc, argv, ":Do:Jrng:c:d:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_option(c, optarg))
			continue;
		switch (c) {
		case 'D':
			o.devices = true;
			break;
		case 'o':
			outarg = optarg;
			break;
		case OPT_OUTPUT_ALL:
			output_all = true;
			break;
		case 'J':
			o.json = true;
			break;
		case 'r':
			o.raw = true;
			break;
		case 'n':
			o.noheadings = true;
			break;
		case 'g':
			if (cli_parse_group(CMD, optarg, &o.group) < 0)
				return EXIT_USAGE;
			o.have_group = true;
			break;
		case 'c':
			if (iopass_class_parse(optarg, &o.class_value, &o.class_mask) < 0) {
				cli_err(CMD, "--class '%s': unknown class; use a name (net, storage, display, usb, ...) or a hex prefix (02, 0c03)",
					optarg);
				return cli_usage_error(CMD);
			}
			o.have_class = true;
			break;
		case 'd':
			if (iopass_id_parse(optarg, &o.vendor, &o.device) < 0) {
				cli_err(CMD, "--id '%s': not a vendor:device ID; use four hex digits each, e.g. 10de:1b80",
					optarg);
				return cli_usage_error(CMD);
			}
			o.have_id = true;
			break;
		case OPT_DRIVER:
			if (!streq(optarg, "none") && !iopass_driver_name_valid(optarg)) {
				cli_err(CMD, "--driver '%s': not a driver name", optarg);
				return cli_usage_error(CMD);
			}
			o.driver = optarg;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return cli_option_error(CMD, c, argv, longopts);
		}
	}
	if (o.json && o.raw) {
		cli_err(CMD, "--json and --raw cannot be combined; pick one");
		return cli_usage_error(CMD);
	}

	/* columns: tree needs NAME; JSON and raw are flat */
	tree = !o.devices && !o.json && !o.raw;
	if (o.json)
		set_default_columns(&o, json_default, ARRAY_SIZE(json_default));
	else if (tree)
		set_default_columns(&o, tree_default, ARRAY_SIZE(tree_default));
	else
		set_default_columns(&o, flat_default, ARRAY_SIZE(flat_default));
	if (output_all) {
		o.ncols = 0;
		for (int i = tree ? 0 : 1; i < N_COLS; i++)
			o.cols[o.ncols++] = i;
	}
	if (outarg && cli_columns_parse(CMD, columns, N_COLS, outarg, o.cols, ARRAY_SIZE(o.cols),
					&o.ncols) < 0)
		return cli_usage_error(CMD);
	if (tree) {
		tree = false;
		for (size_t i = 0; i < o.ncols; i++)
			tree |= o.cols[i] == COL_NAME;
	}

	if (optind < argc) {
		o.addrs = calloc((size_t)(argc - optind), sizeof(*o.addrs));
		if (!o.addrs) {
			cli_err(CMD, "out of memory");
			return EXIT_FAIL;
		}
		for (int i = optind; i < argc; i++)
			if (cli_parse_bdf(CMD, argv[i], &o.addrs[o.naddrs++]) < 0) {
				ret = cli_usage_error(CMD);
				goto out;
			}
	}

	ret = cli_ctx_new(CMD, &ctx);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (cli_scan(CMD, ctx, &list) < 0)
		goto out;
	total = iopass_devlist_count(list);

	for (size_t i = 0; i < o.naddrs; i++)
		if (!iopass_devlist_find(list, &o.addrs[i])) {
			char bdf[IOPASS_BDF_MAX];

			iopass_addr_format(&o.addrs[i], bdf);
			cli_err(CMD, "%s: no such PCI device; 'iopass list' shows the devices", bdf);
			ret = EXIT_USAGE;
			goto out;
		}

	/* any device with a group answers "is the IOMMU on?" without reading the groups directory */
	ngroups = 0;
	for (size_t i = 0; i < total && !ngroups; i++)
		ngroups = iopass_dev_get_iommu_group(iopass_devlist_get(list, i)) >= 0;
	if (!ngroups)
		ngroups = iopass_iommu_group_count(ctx);
	if (o.have_group) {
		bool found = false;

		for (size_t i = 0; i < total && !found; i++)
			found = iopass_dev_get_iommu_group(iopass_devlist_get(list, i)) == o.group;
		if (!found) {
			cli_err(CMD, "IOMMU group %d does not exist%s", o.group,
				ngroups > 0 ? "; 'iopass list' shows the groups"
					    : " (this host has no IOMMU groups; see 'iopass check')");
			ret = EXIT_USAGE;
			goto out;
		}
	}

	devs = calloc(total ? total : 1, sizeof(*devs));
	if (!devs) {
		cli_err(CMD, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < total; i++) {
		struct iopass_dev *dev = iopass_devlist_get(list, i);

		if (!dev_matches(&o, dev))
			continue;
		if (iopass_dev_get_warning(dev))
			cli_warn(CMD, "%s: %s; listed with what could be read", iopass_dev_get_bdf(dev),
				 iopass_dev_get_warning(dev));
		devs[n++] = dev;
	}
	if (ngroups == 0 && total > 0)
		cli_note(CMD, "no IOMMU groups: the IOMMU is not enabled or not present, so devices are listed without groups; 'iopass check' explains");
	if (tree)
		qsort(devs, n, sizeof(*devs), dev_group_cmp);
	/* on a host without groups the tree has nothing to hang devices on */
	r = print_devices(&o, devs, n, tree && ngroups > 0);
	if (r < 0) {
		cli_err(CMD, "cannot print the table: %s", strerror(-r));
		goto out;
	}
	ret = EXIT_OK;
out:
	free(devs);
	free(o.addrs);
	iopass_devlist_free(list);
	iopass_ctx_free(ctx);
	return ret;
}

const struct cli_cmd cmd_list = {
	.name = "list",
	.fn = cmd_list_main,
	.help = "list PCI devices and their IOMMU groups",
};
