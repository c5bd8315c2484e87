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
#include <langinfo.h>

#include <libsmartcols.h>

#include "cli.h"
#include "json.h"

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
	COL_VFIO_DRIVER,
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
	[COL_VFIO_DRIVER] = { "VFIO_DRIVER", 0.1, 0, SCOLS_JSON_STRING,
			      "vfio driver it is on, or attach binds: vfio-pci, or the best-matching variant" },
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
	snprintf(buf, CELL_MAX, "%.400s%s%.400s [%.20s]", vn ? vn : "", vn ? " " : "", dn ? dn : "Device",
		 ids);
	return buf;
}

/* Comma-separated, also in JSON: a string, as in the table. */
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

/*
 * The vfio driver the device is on, or attach would bind; nothing for bridges
 * and the host bridge (class 0600), which attach never takes.
 */
static const char *vfio_driver(const struct iopass_dev *dev, bool json, char *buf)
{
	struct iopass_vfio_choice c;

	if (iopass_dev_is_vfio(dev))
		return iopass_dev_get_driver(dev);
	if (!iopass_dev_is_endpoint(dev) || ((unsigned)iopass_dev_get_class(dev) >> 8) == 0x0600 ||
	    iopass_dev_vfio_driver(dev, NULL, &c) < 0)
		return json ? NULL : "-";
	snprintf(buf, CELL_MAX, "%s", c.driver);
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
	/* "yes"/"no" read well in a table; print_json() maps them to true/false */
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
	case COL_VFIO_DRIVER:
		return vfio_driver(dev, json, buf);
	default:
		return NULL;
	}
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
 * Output. libsmartcols lays a table out only once it holds every line: at tens
 * of thousands of devices that costs more memory than lspci uses in all, and
 * most of the time of a listing goes into its measuring of each character. So
 * unless stdout is a terminal, iopass writes the lines itself as it makes
 * them, exactly as libsmartcols would print them: the column widths are
 * measured first, from the devices, without keeping any text, and JSON has
 * libsmartcols' own layout. A terminal gets the whole table from libsmartcols,
 * which fits it to the terminal's width; IOPASS_LIST_WHOLE=1 asks for that
 * anywhere, and the tests hold the two to the same bytes.
 */
struct printer {
	const struct list_opts *o;
	struct iopass_dev **devs;
	size_t n;
	bool tree;
	const char *branch, *last_branch; /* the tree art of a device line */
	size_t art_width;                 /* its width on screen */
	size_t widths[N_COLS * 2];        /* per column of o->cols */
};

/* A raw cell as libsmartcols prints it (fputs_nonblank()): blanks, \ and the unprintable as \xHH. */
static void put_raw(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (isblank(*p) || *p == '\\' || !isprint(*p) || iscntrl(*p))
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
}

static void put_spaces(size_t n)
{
	while (n--)
		putchar(' ');
}

/*
 * One cell of a line: the tree art (or NULL) and the text, aligned to the
 * column's width and followed by the separator, as libsmartcols' print_data()
 * does for a table that is not fitted to a terminal: the last column is not
 * padded on the right.
 */
static void put_cell(const struct printer *pr, size_t c, const char *art, const char *s)
{
	bool last = c + 1 == pr->o->ncols;
	bool right = columns[pr->o->cols[c]].flags & SCOLS_FL_RIGHT;
	size_t width = pr->widths[c], len;

	if (pr->o->raw) {
		put_raw(s);
		if (!last)
			putchar(' ');
		return;
	}
	len = art ? pr->art_width : 0;
	if (right) { /* only a right-aligned cell needs its width before it is written */
		len += cli_put_safe(s, NULL);
		if (len)
			put_spaces(width - MIN(len, width));
		if (art)
			fputs(art, stdout);
		cli_put_safe(s, stdout);
	} else {
		if (art)
			fputs(art, stdout);
		len += cli_put_safe(s, stdout);
	}
	if (last)
		return;
	if (!right || !len)
		put_spaces(width - MIN(len, width));
	putchar(' ');
}

static void put_header(const struct printer *pr)
{
	for (size_t c = 0; c < pr->o->ncols; c++)
		put_cell(pr, c, NULL, columns[pr->o->cols[c]].name);
	putchar('\n');
}

/* A tree's parent line: "group N" in the NAME column, the other cells empty. */
static void put_group_line(const struct printer *pr, int group)
{
	char buf[CELL_MAX];

	for (size_t c = 0; c < pr->o->ncols; c++)
		put_cell(pr, c, NULL, pr->o->cols[c] == COL_NAME ? group_text(group, buf) : NULL);
	putchar('\n');
}

static void put_device_line(const struct printer *pr, size_t i)
{
	struct iopass_dev *dev = pr->devs[i];
	char buf[CELL_MAX];

	for (size_t c = 0; c < pr->o->ncols; c++) {
		const char *art = NULL;

		if (pr->tree && pr->o->cols[c] == COL_NAME) {
			bool last_in_group = i + 1 == pr->n ||
					     iopass_dev_get_iommu_group(pr->devs[i + 1]) !=
						     iopass_dev_get_iommu_group(dev);

			art = last_in_group ? pr->last_branch : pr->branch;
		}
		put_cell(pr, c, art, cell_text(dev, pr->o->cols[c], false, buf));
	}
	putchar('\n');
}

/* Whether device i starts a group in the tree (and needs its parent line first). */
static bool starts_group(const struct printer *pr, size_t i)
{
	return pr->tree && (i == 0 || iopass_dev_get_iommu_group(pr->devs[i]) !=
					      iopass_dev_get_iommu_group(pr->devs[i - 1]));
}

/* The widths libsmartcols would give the columns of the whole table. */
static void measure(struct printer *pr)
{
	const struct list_opts *o = pr->o;
	char buf[CELL_MAX];

	for (size_t c = 0; c < o->ncols; c++)
		pr->widths[c] = cli_put_safe(columns[o->cols[c]].name, NULL);
	for (size_t i = 0; i < pr->n; i++) {
		for (size_t c = 0; c < o->ncols; c++) {
			bool namecol = pr->tree && o->cols[c] == COL_NAME;
			size_t w = cli_put_safe(cell_text(pr->devs[i], o->cols[c], false, buf), NULL) +
				   (namecol ? pr->art_width : 0);

			if (namecol && starts_group(pr, i))
				w = MAX(w, cli_put_safe(group_text(iopass_dev_get_iommu_group(pr->devs[i]), buf),
						    NULL));
			pr->widths[c] = MAX(pr->widths[c], w);
		}
	}
}

/* The table (human or raw) as it is made. */
static int print_stream(struct printer *pr)
{
	/* libsmartcols' tree art: box drawing in a UTF-8 locale */
	bool utf8 = streq(nl_langinfo(CODESET), "UTF-8");

	pr->branch = utf8 ? "\u251c\u2500" : "|-";
	pr->last_branch = utf8 ? "\u2514\u2500" : "`-";
	pr->art_width = cli_put_safe(pr->branch, NULL); /* the same for both */
	if (!pr->n)
		return 0; /* libsmartcols prints no header for a table without lines */
	if (!pr->o->raw)
		measure(pr);
	if (!pr->o->noheadings)
		put_header(pr);
	for (size_t i = 0; i < pr->n; i++) {
		if (starts_group(pr, i))
			put_group_line(pr, iopass_dev_get_iommu_group(pr->devs[i]));
		put_device_line(pr, i);
	}
	return ferror(stdout) ? -EIO : 0;
}

/* The whole table in libsmartcols, laid out at once (a terminal's). */
static int print_whole(const struct printer *pr)
{
	const struct list_opts *o = pr->o;
	struct libscols_table *tb = scols_new_table();
	struct libscols_line *parent = NULL;
	char buf[CELL_MAX];
	int r = -ENOMEM;

	if (!tb)
		return -ENOMEM;
	scols_table_enable_raw(tb, o->raw);
	scols_table_enable_noheadings(tb, o->noheadings);
	for (size_t i = 0; i < o->ncols; i++) {
		const struct cli_column *c = &columns[o->cols[i]];
		int fl = c->flags;
		struct libscols_column *cl;

		if (!pr->tree)
			fl &= ~SCOLS_FL_TREE;
		if (o->raw)
			fl &= ~SCOLS_FL_TRUNC;
		cl = scols_table_new_column(tb, c->name, c->whint, fl);
		if (!cl)
			goto out;
	}
	for (size_t i = 0; i < pr->n; i++) {
		struct iopass_dev *dev = pr->devs[i];
		struct libscols_line *ln;

		if (starts_group(pr, i)) {
			size_t namecol = 0;

			parent = scols_table_new_line(tb, NULL);
			if (!parent)
				goto out;
			while (o->cols[namecol] != COL_NAME)
				namecol++;
			if (scols_line_set_data(parent, namecol,
						group_text(iopass_dev_get_iommu_group(dev), buf)) < 0)
				goto out;
		}
		ln = scols_table_new_line(tb, pr->tree ? parent : NULL);
		if (!ln)
			goto out;
		for (size_t c = 0; c < o->ncols; c++) {
			const char *s = cell_text(dev, o->cols[c], false, buf);

			if (s && scols_line_set_data(ln, c, s) < 0)
				goto out;
		}
	}
	r = scols_print_table(tb);
out:
	scols_unref_table(tb);
	return r;
}

/*
 * The JSON of every iopass command (cli/json.c), written as it is made: the
 * keys are the column names in lower case; an empty cell is null.
 */
static int print_json(const struct printer *pr)
{
	const struct list_opts *o = pr->o;
	char buf[CELL_MAX], keys[N_COLS * 2][32];
	struct json j;

	for (size_t c = 0; c < o->ncols; c++) {
		const char *name = columns[o->cols[c]].name;
		size_t k;

		for (k = 0; k < sizeof(keys[c]) - 1 && name[k]; k++)
			keys[c][k] = (char)tolower((unsigned char)name[k]);
		keys[c][k] = '\0';
	}
	json_document_begin(&j, stdout);
	json_array_begin(&j, "devices");
	for (size_t i = 0; i < pr->n; i++) {
		json_object_begin(&j, NULL);
		for (size_t c = 0; c < o->ncols; c++) {
			const struct cli_column *col = &columns[o->cols[c]];
			const char *s = cell_text(pr->devs[i], o->cols[c], true, buf);

			if (col->json_type == SCOLS_JSON_NUMBER && s && *s)
				json_int(&j, keys[c], strtoll(s, NULL, 10));
			else if (col->json_type == SCOLS_JSON_BOOLEAN)
				json_bool(&j, keys[c], s && *s && *s != '0' && *s != 'n' && *s != 'N');
			else
				json_string(&j, keys[c], s && *s ? s : NULL);
		}
		json_object_end(&j);
	}
	json_array_end(&j);
	json_document_end(&j);
	return ferror(stdout) ? -EIO : 0;
}

static int print_devices(const struct list_opts *o, struct iopass_dev **devs, size_t n, bool tree)
{
	struct printer pr = { .o = o, .devs = devs, .n = n, .tree = tree };
	const char *whole = getenv("IOPASS_LIST_WHOLE");

	if (o->json)
		return print_json(&pr);
	/* a terminal gets the table fitted to its width, which needs every line */
	if ((whole && streq(whole, "1")) || (!whole && !o->raw && isatty(STDOUT_FILENO)))
		return print_whole(&pr);
	return print_stream(&pr);
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
		/* a write that failed is said once, at exit (cli_close_stdout) */
		if (!ferror(stdout))
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
