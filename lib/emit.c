// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * emit: QEMU -device arguments and libvirt <hostdev> elements for devices on
 * vfio-pci. The functions of one physical device (a GPU and its audio
 * function) go to one guest slot, function for function, with
 * multifunction=on on function 0: guests and drivers expect them together.
 *
 * On a q35 guest, unless the user places them (--bus), each PCIe card gets a
 * pcie-root-port of its own, emitted too, as libvirt gives each assigned
 * PCIe device (qemuDomainAssignPCIAddresses): behind the root complex's own
 * bus a device is an integrated endpoint, without a link, and guest drivers
 * that read the link (GPU drivers for their link speed) or want hotplug
 * expect a port above them. A conventional PCI device stays on pcie.0.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iopass-private.h"

struct placed {
	struct iopass_dev *dev;
	char id[32];
	const char *bus;
	int slot, func;
	bool multifunction;
	int port;  /* index in e->ports of the root port it is behind, or -1 */
	char *arg; /* the -device argument */
};

/* A pcie-root-port on pcie.0 that emit adds for one card; pub's strings point into it. */
struct port {
	struct iopass_emit_port pub;
	char id[32];
	char *arg;
};

struct iopass_emit {
	struct placed *p;
	size_t n;
	struct port *ports;
	size_t nports;
	struct iopass_emit_opts opts;
	char *error;
};

/* EINVAL: the options do not fit the devices; ENODEV: the host cannot do what was asked. */
_printf_(3, 4) static int emit_fail(struct iopass_emit *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&e->error, fmt, ap) < 0)
		e->error = NULL;
	va_end(ap);
	return -err;
}

static int addr_cmp_placed(const void *a, const void *b)
{
	return iopass_addr_cmp(&((const struct placed *)a)->dev->addr,
			       &((const struct placed *)b)->dev->addr);
}

/* Functions of one card; SR-IOV VFs are devices of their own, however they are numbered. */
static bool same_physical(const struct iopass_dev *a, const struct iopass_dev *b)
{
	return !a->physfn && !b->physfn && a->addr.domain == b->addr.domain &&
	       a->addr.bus == b->addr.bus && a->addr.slot == b->addr.slot;
}

/* QEMU's option parser splits on ',': a comma in a value is written twice. */
static void qemu_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == ',')
			fputc(',', f);
		fputc(*s, f);
	}
}

static bool is_root_bus(const char *bus)
{
	return streq(bus, "pcie.0") || streq(bus, "pci.0") || streq(bus, "0");
}

/*
 * The slot of the card whose first function is e->p[i], on bus: the first slot of that
 * bus (--first-slot, else 0x10 on the root bus, whose slot 0 is the host bridge and
 * whose low slots QEMU's own devices take, and 0 on a named bus: a root port or
 * downstream port has slot 0 only), then one more for each card placed there before.
 */
static int card_slot(const struct iopass_emit *e, size_t i, const char *bus)
{
	int slot = e->opts.first_slot >= 0 ? e->opts.first_slot : is_root_bus(bus) ? 0x10 : 0;

	for (size_t j = 0; j < i; j++) {
		bool first_of_card = j == 0 || !same_physical(e->p[j].dev, e->p[j - 1].dev);
		/* a card behind a root port takes the port's slot on pcie.0 */
		const char *on = e->p[j].port >= 0 ? "pcie.0" : e->p[j].bus;

		if (first_of_card && streq(on, bus))
			slot++;
	}
	return slot;
}

/* A bus as QEMU names one (util/id.c id_wellformed: a letter, then letters, digits,
 * '-', '.', '_'), or a number, libvirt's controller index. */
static bool bus_name_ok(const char *bus)
{
	static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-._";

	if (!bus || !*bus)
		return false;
	if (strspn(bus, "0123456789") == strlen(bus))
		return true;
	return isalpha((unsigned char)bus[0]) && strspn(bus, id_chars) == strlen(bus);
}

/*
 * PCIe or conventional PCI: config space's PCIe capability when it was read
 * (root), else the link attributes, which the kernel shows for PCIe functions
 * only (pcie_dev_attrs_are_visible() in drivers/pci/pci-sysfs.c).
 */
static bool dev_is_pcie(struct iopass_dev *dev)
{
	const struct dev_caps *c = dev_get_caps(dev);
	char path[128];

	if (c && c->caps_ok)
		return c->pcie_type >= 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/max_link_speed", dev->bdf);
	return sysfs_exists(dev->ctx, path) == 0;
}

static bool has_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool is_vga(const struct iopass_dev *d)
{
	return (d->flags & DEV_HAVE_CLASS) && (d->class >> 8) == 0x0300;
}

static bool is_display(const struct iopass_dev *d)
{
	return (d->flags & DEV_HAVE_CLASS) && (d->class >> 16) == 0x03;
}

static char *device_arg(const struct iopass_emit *e, const struct placed *p)
{
	const struct iopass_emit_opts *o = &e->opts;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, "vfio-pci,host=%s,id=%s,bus=", p->dev->bdf, p->id);
	qemu_escape(f, p->bus);
	fprintf(f, ",addr=0x%x.%x", p->slot, p->func);
	if (p->multifunction)
		fputs(",multifunction=on", f);
	if (o->rombar == IOPASS_OFF)
		fputs(",rombar=0", f);
	else if (o->rombar == IOPASS_ON)
		fputs(",rombar=1", f);
	if (o->romfile) {
		fputs(",romfile=", f);
		qemu_escape(f, o->romfile);
	}
	if (o->primary_gpu && is_vga(p->dev))
		fputs(",x-vga=on", f);
	if (o->display != IOPASS_DEFAULT && is_display(p->dev))
		fprintf(f, ",display=%s", o->display == IOPASS_ON ? "on" : "off");
	if (o->iommufd)
		fputs(",iommufd=iommufd0", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int iopass_emit_new(struct iopass_ctx *ctx, struct iopass_dev *const *devs, size_t n,
		    const struct iopass_emit_opts *opts, struct iopass_emit **ret_emit)
{
	struct iopass_emit *e = calloc(1, sizeof(*e));
	size_t phys = 0;
	int slot = 0, port = -1; /* the first device always starts a card and sets them */
	int r = 0;
	bool any_vga = false, any_display = false;

	if (!e)
		return -ENOMEM;
	*ret_emit = e;
	e->opts = *opts;
	if (n == 0)
		return emit_fail(e, EINVAL, "no devices to emit");
	e->p = calloc(n, sizeof(*e->p));
	if (!e->p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		e->p[i].dev = devs[i];
	e->n = n;
	qsort(e->p, n, sizeof(*e->p), addr_cmp_placed);

	for (size_t i = 0; i < n; i++) {
		any_vga |= is_vga(e->p[i].dev);
		any_display |= is_display(e->p[i].dev);
	}
	if (opts->primary_gpu && !any_vga)
		return emit_fail(e, EINVAL, "--primary-gpu needs a VGA device (class 0300); none of these is one");
	if (opts->display != IOPASS_DEFAULT && !any_display)
		return emit_fail(e, EINVAL, "--display applies to display devices; none of these is one");
	if (opts->romfile && !*opts->romfile)
		return emit_fail(e, EINVAL, "--romfile: give a file path");
	if (opts->romfile && has_control_char(opts->romfile))
		return emit_fail(e, EINVAL, "--romfile: a path without control characters (no XML "
				    "or command line can carry them)");
	for (size_t i = 0; i < opts->nbuses; i++)
		if (!bus_name_ok(opts->buses[i]))
			return emit_fail(e, EINVAL, "--bus: '%s' is not a bus name (a QEMU id such as "
				    "pcie.0 or rp1: a letter, then letters, digits, '-', '.', '_')",
				    opts->buses[i] ? opts->buses[i] : "");
	if (opts->first_slot > 0x1f)
		return emit_fail(e, EINVAL, "--first-slot %d: slots are 0 to 31", opts->first_slot);
	if (opts->iommufd) {
		if (sysfs_exists(ctx, "/dev/iommu") < 0)
			return emit_fail(e, ENODEV, "--iommufd: this host has no /dev/iommu (a kernel with "
					    "CONFIG_IOMMUFD, 6.2 or newer, and the iommufd module)");
		for (size_t i = 0; i < n; i++)
			if (!vfio_cdev_present(ctx, e->p[i].dev->bdf))
				return emit_fail(e, ENODEV, "--iommufd: %s has no VFIO device node "
						    "(/dev/vfio/devices/vfioN: attach it first; the kernel "
						    "needs CONFIG_VFIO_DEVICE_CDEV)", e->p[i].dev->bdf);
	}

	if (opts->root_ports && opts->nbuses)
		return emit_fail(e, EINVAL, "root ports are for the default placement; --bus places "
				    "the devices itself");
	if (opts->root_ports) {
		e->ports = calloc(n, sizeof(*e->ports));
		if (!e->ports)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct placed *p = &e->p[i];
		bool first_of_phys = i == 0 || !same_physical(p->dev, e->p[i - 1].dev);
		size_t k;

		snprintf(p->id, sizeof(p->id), "hostdev%zu", i);
		if (first_of_phys) {
			if (i > 0)
				phys++;
			if (opts->nbuses && phys >= opts->nbuses)
				return emit_fail(e, EINVAL, "%zu buses given for more physical devices; name one "
						    "bus per device (%s is the next)", opts->nbuses, p->dev->bdf);
			slot = card_slot(e, i, opts->nbuses ? opts->buses[phys] : "pcie.0");
			/* q35's root bus has its ICH9 LPC, SATA and SMBus functions in slot 0x1f */
			if (slot > (is_root_bus(opts->nbuses ? opts->buses[phys] : "pcie.0") ? 0x1e : 0x1f))
				return emit_fail(e, EINVAL, "out of guest slots on the bus; use --first-slot lower "
						    "or one --bus per device");
			port = -1;
			if (opts->root_ports && dev_is_pcie(p->dev)) {
				struct port *rp = &e->ports[e->nports];

				/* the card's slot on pcie.0 holds its port; chassis numbers stay unique */
				snprintf(rp->id, sizeof(rp->id), "iopass-rp%zu", e->nports);
				rp->pub.id = rp->id;
				rp->pub.slot = slot;
				rp->pub.chassis = slot;
				port = (int)e->nports++;
			}
		}
		p->port = port;
		p->bus = port >= 0 ? e->ports[port].id : opts->nbuses ? opts->buses[phys] : "pcie.0";
		p->slot = port >= 0 ? 0 : slot;
		/* keep host function numbers; without function 0 renumber from 0 (a guest needs it) */
		for (k = i; k > 0 && same_physical(e->p[k - 1].dev, p->dev); k--)
			;
		p->func = e->p[k].dev->addr.func == 0 ? p->dev->addr.func : (int)(i - k);
	}
	/* multifunction=on on function 0 of a slot that holds more than one function */
	for (size_t i = 0; i < n; i++) {
		struct placed *p = &e->p[i];

		if (p->func != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (j != i && streq(e->p[j].bus, p->bus) && e->p[j].slot == p->slot)
				p->multifunction = true;
	}
	for (size_t k = 0; k < e->nports && r == 0; k++) {
		struct port *rp = &e->ports[k];

		if (asprintf(&rp->arg, "pcie-root-port,id=%s,bus=pcie.0,addr=0x%x.0,chassis=%d", rp->id,
			     rp->pub.slot, rp->pub.chassis) < 0) {
			rp->arg = NULL;
			r = -ENOMEM;
		}
		rp->pub.device = rp->arg;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		e->p[i].arg = device_arg(e, &e->p[i]);
		if (!e->p[i].arg)
			r = -ENOMEM;
	}
	return r;
}

const char *iopass_emit_error(const struct iopass_emit *e)
{
	return e ? e->error : NULL;
}

static void xml_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* libvirt's guest address takes a bus number: pcie.0 is 0, "pci.N"/"pcie.N" or a number is N. */
static int bus_number(const char *bus)
{
	const char *p = strrchr(bus, '.');
	unsigned v;

	if (streq(bus, "pcie.0") || streq(bus, "pci.0"))
		return 0;
	if (parse_uint(p ? p + 1 : bus, 255, &v) == 0)
		return (int)v;
	return -1;
}

static void hostdev(FILE *f, const struct iopass_emit *e, const struct placed *p)
{
	const struct iopass_addr *a = &p->dev->addr;

	fprintf(f, "<hostdev mode='subsystem' type='pci' managed='%s'>\n",
		e->opts.managed ? "yes" : "no");
	fputs("  <driver name='vfio'/>\n", f);
	fputs("  <source>\n", f);
	fprintf(f, "    <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n",
		a->domain, a->bus, a->slot, a->func);
	fputs("  </source>\n", f);
	if (e->opts.guest_address)
		fprintf(f, "  <address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'%s/>\n",
			bus_number(p->bus), p->slot, p->func, p->multifunction ? " multifunction='on'" : "");
	if (e->opts.rombar != IOPASS_DEFAULT || e->opts.romfile) {
		fputs("  <rom", f);
		if (e->opts.rombar != IOPASS_DEFAULT)
			fprintf(f, " bar='%s'", e->opts.rombar == IOPASS_ON ? "on" : "off");
		if (e->opts.romfile) {
			fputs(" file='", f);
			xml_escape(f, e->opts.romfile);
			fputc('\'', f);
		}
		fputs("/>\n", f);
	}
	fputs("</hostdev>\n", f);
}

int iopass_emit_libvirt(const struct iopass_emit *e, size_t i, char **ret_text)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	for (size_t k = 0; e->opts.guest_address && k < e->n; k++)
		if (bus_number(e->p[k].bus) < 0)
			return -EDOM; /* a bus name libvirt cannot address by number */
	if (i != SIZE_MAX && i >= e->n)
		return -EINVAL;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (size_t k = 0; k < e->n; k++)
		if (i == SIZE_MAX || k == i)
			hostdev(f, e, &e->p[k]);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret_text = buf;
	return 0;
}

size_t iopass_emit_count(const struct iopass_emit *e)
{
	return e ? e->n : 0;
}

const char *iopass_emit_bdf(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].dev->bdf : NULL;
}

const char *iopass_emit_id(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].id : NULL;
}

const char *iopass_emit_bus(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].bus : NULL;
}

int iopass_emit_slot(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].slot : -EINVAL;
}

int iopass_emit_function(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].func : -EINVAL;
}

bool iopass_emit_multifunction(const struct iopass_emit *e, size_t i)
{
	return i < e->n && e->p[i].multifunction;
}

const char *iopass_emit_device_arg(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].arg : NULL;
}

int iopass_emit_port(const struct iopass_emit *e, size_t i)
{
	return i < e->n ? e->p[i].port : -EINVAL;
}

size_t iopass_emit_port_count(const struct iopass_emit *e)
{
	return e ? e->nports : 0;
}

const struct iopass_emit_port *iopass_emit_port_get(const struct iopass_emit *e, size_t k)
{
	return e && k < e->nports ? &e->ports[k].pub : NULL;
}

struct iopass_emit *iopass_emit_free(struct iopass_emit *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n; i++)
		free(e->p[i].arg);
	for (size_t k = 0; k < e->nports; k++)
		free(e->ports[k].arg);
	free(e->ports);
	free(e->p);
	free(e->error);
	free(e);
	return NULL;
}
