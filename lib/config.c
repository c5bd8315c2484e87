// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Config space: header type, the PCIe port type, ACS, FLR and PM reset
 * capabilities. libpci walks the capability lists (it guards against loops
 * and pointers out of range); it reads the config file below the sysroot
 * through its sysfs.path parameter. Read lazily, only by the commands that
 * need it (check, attach), never by list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <pci/pci.h>

#include "iopass-private.h"

static __thread jmp_buf *cfg_jmp;

__attribute__((noreturn)) static void cfg_error(char *msg _unused_, ...)
{
	if (cfg_jmp)
		longjmp(*cfg_jmp, 1);
	abort(); /* unreachable: every libpci call below runs under setjmp */
}

static void cfg_quiet(char *msg _unused_, ...)
{
}

static struct pci_access *cfg_access(struct iopass_ctx *ctx)
{
	struct pci_access *volatile pacc;
	_cleanup_free_ char *path = NULL;
	jmp_buf jb;

	if (ctx->cfg_pacc || ctx->cfg_failed)
		return ctx->cfg_pacc;
	ctx->cfg_failed = true;
	if (sysfs_full_path(ctx, "/sys/bus/pci", &path) < 0)
		return NULL;
	pacc = pci_alloc();
	if (!pacc)
		return NULL;
	pacc->error = cfg_error;
	pacc->warning = cfg_quiet;
	pacc->debug = cfg_quiet;
	pacc->method = PCI_ACCESS_SYS_BUS_PCI;
	cfg_jmp = &jb;
	if (setjmp(jb)) {
		cfg_jmp = NULL;
		pci_cleanup(pacc);
		return NULL;
	}
	if (pci_set_param(pacc, (char *)"sysfs.path", path) < 0) {
		cfg_jmp = NULL;
		pci_cleanup(pacc);
		return NULL;
	}
	pci_init(pacc);
	cfg_jmp = NULL;
	ctx->cfg_pacc = pacc;
	ctx->cfg_failed = false;
	return pacc;
}

/*
 * cfg holds the first len bytes of config space, already read: libpci reads
 * from it instead of the file (its cache), and goes to the file only for the
 * extended capabilities past it.
 */
static void caps_from_libpci(struct iopass_ctx *ctx, struct iopass_dev *dev, struct dev_caps *c,
			     uint8_t *cfg, size_t len)
{
	struct pci_access *pacc = cfg_access(ctx);
	struct pci_dev *volatile pd = NULL;
	struct pci_cap *cap;
	jmp_buf jb;

	if (!pacc)
		return;
	cfg_jmp = &jb;
	if (setjmp(jb)) {
		cfg_jmp = NULL;
		c->caps_ok = false;
		if (pd)
			pci_free_dev(pd);
		return;
	}
	pd = pci_get_dev(pacc, (int)dev->addr.domain, dev->addr.bus, dev->addr.slot,
			 dev->addr.func);
	if (!pd)
		goto out;
	pci_setup_cache(pd, cfg, (int)len);
	pci_fill_info(pd, PCI_FILL_CAPS | PCI_FILL_EXT_CAPS);

	cap = pci_find_cap(pd, PCI_CAP_ID_EXP, PCI_CAP_NORMAL);
	if (cap) {
		c->pcie_type = (pci_read_word(pd, (int)cap->addr + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_TYPE) >> 4;
		c->flr = pci_read_long(pd, (int)cap->addr + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLRESET;
	}
	cap = pci_find_cap(pd, PCI_CAP_ID_AF, PCI_CAP_NORMAL);
	if (cap)
		c->af_flr = pci_read_byte(pd, (int)cap->addr + PCI_AF_CAP) & PCI_AF_CAP_FLR;
	cap = pci_find_cap(pd, PCI_CAP_ID_PM, PCI_CAP_NORMAL);
	if (cap) {
		c->pm = true;
		c->pm_no_soft_reset = pci_read_word(pd, (int)cap->addr + PCI_PM_CTRL) & PCI_PM_CTRL_NO_SOFT_RST;
	}
	cap = pci_find_cap(pd, PCI_EXT_CAP_ID_ACS, PCI_CAP_EXTENDED);
	if (cap) {
		c->acs = true;
		c->acs_cap = pci_read_word(pd, (int)cap->addr + PCI_ACS_CAP);
		c->acs_ctrl = pci_read_word(pd, (int)cap->addr + PCI_ACS_CTRL);
		/* where Intel's Sunrise Point family keeps its control (quirks.c INTEL_SPT_ACS_CTRL) */
		c->acs_ctrl_dword = pci_read_word(pd, (int)cap->addr + PCI_ACS_CAP + 4);
	}
	c->caps_ok = true;
out:
	cfg_jmp = NULL;
	if (pd)
		pci_free_dev(pd);
}

/*
 * The header of config space (how much is readable, the header type) on the
 * first call, the capabilities through libpci when with_caps asks for them:
 * every device's header is needed (is it an endpoint?), the capabilities only
 * for the few that check looks into, so their reads are not paid for the rest.
 */
static const struct dev_caps *caps_read(struct iopass_dev *dev, bool with_caps)
{
	struct iopass_ctx *ctx = dev->ctx;
	char path[64 + IOPASS_BDF_MAX];
	uint8_t cfg[256];
	struct dev_caps *c = dev->caps;
	ssize_t n;

	if (c && (!with_caps || c->caps_tried))
		return c;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->pcie_type = -1;
		dev->caps = c;
	} else if (c->config_error) {
		return c;
	}

	/* How much can we read? Unprivileged readers get only the first 64 bytes. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", dev->bdf);
	n = sysfs_read_bin(ctx, path, cfg, sizeof(cfg));
	if (n < 0) {
		c->config_error = (int)n;
		return c;
	}
	c->config_len = (size_t)n;
	if (n >= 0x10) {
		c->header_ok = true;
		c->header_type = cfg[0x0e] & 0x7f;
		c->multifunction = cfg[0x0e] & 0x80;
	}
	if (with_caps) {
		c->caps_tried = true;
		if (n > 64)
			caps_from_libpci(ctx, dev, c, cfg, (size_t)n);
	}
	return c;
}

const struct dev_caps *dev_get_caps(struct iopass_dev *dev)
{
	return caps_read(dev, true);
}

bool iopass_dev_is_endpoint(const struct iopass_dev *cdev)
{
	struct iopass_dev *dev = (struct iopass_dev *)cdev; /* lazily filled cache */
	const struct dev_caps *c;

	if ((dev->flags & (DEV_BRIDGE_KNOWN | DEV_BRIDGE_HEADER)) ||
	    ((dev->flags & DEV_BRIDGE_PROBED) && dev->ctx->bridge_attrs_seen))
		return !iopass_dev_is_bridge(dev); /* the kernel said */
	c = caps_read(dev, false);
	if (c && c->header_ok)
		return c->header_type == 0;
	/* no config: judge by class, as a bridge has header type 1 */
	return !iopass_dev_is_bridge(dev);
}

/* The header type was read from config space already (no new read). */
bool dev_header_known(const struct iopass_dev *dev)
{
	return dev->caps && dev->caps->header_ok;
}
