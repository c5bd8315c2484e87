// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Vendor, device and class names from pci.ids through libpci. The database
 * is loaded on the first lookup only, so commands that print no names never
 * pay for parsing it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <pci/pci.h>

#include "iopass-private.h"

/*
 * libpci's error callback must not return. A corrupt pci.ids is not worth
 * dying for: jump back to the lookup and carry on without names.
 */
static __thread jmp_buf *names_jmp;
static __thread const struct iopass_ctx *names_ctx;

__attribute__((noreturn)) static void names_error(char *msg, ...)
{
	va_list ap;

	if (names_ctx && names_ctx->log_fn && names_ctx->log_prio >= IOPASS_LOG_WARNING) {
		va_start(ap, msg);
		names_ctx->log_fn(names_ctx->log_data, IOPASS_LOG_WARNING, msg, ap);
		va_end(ap);
	}
	if (names_jmp)
		longjmp(*names_jmp, 1);
	abort(); /* unreachable: every libpci call below runs under setjmp */
}

static void names_warning(char *msg _unused_, ...)
{
}

static struct pci_access *names_access(struct iopass_ctx *ctx)
{
	struct pci_access *pacc;

	if (ctx->pacc || ctx->names_failed)
		return ctx->pacc;
	pacc = pci_alloc();
	if (!pacc) {
		ctx->names_failed = true;
		return NULL;
	}
	pacc->error = names_error;
	pacc->warning = names_warning;
	pacc->debug = names_warning;
	if (ctx->ids_file) {
		pci_set_name_list_path(pacc, ctx->ids_file, 0);
		pacc->id_lookup_mode = PCI_LOOKUP_NO_HWDB;
	}
	ctx->pacc = pacc;
	return pacc;
}

static char *lookup(struct iopass_dev *dev, int flags, ...)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct pci_access *volatile pacc = names_access(ctx);
	char buf[256];
	jmp_buf jb;
	char *name;
	va_list ap;
	int a = 0, b = 0;

	if (!pacc)
		return NULL;
	va_start(ap, flags);
	a = va_arg(ap, int);
	if (flags & PCI_LOOKUP_DEVICE)
		b = va_arg(ap, int);
	va_end(ap);

	names_ctx = ctx;
	names_jmp = &jb;
	if (setjmp(jb)) {
		names_jmp = NULL;
		ctx->names_failed = true;
		pci_cleanup(ctx->pacc);
		ctx->pacc = NULL;
		return NULL;
	}
	if (flags & PCI_LOOKUP_DEVICE)
		name = pci_lookup_name(pacc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS, a, b);
	else
		name = pci_lookup_name(pacc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS, a);
	names_jmp = NULL;
	return name ? strdup(name) : NULL;
}

static void dev_lookup_names(struct iopass_dev *dev)
{
	if (dev->flags & DEV_NAMES_LOOKED_UP)
		return;
	dev->flags |= DEV_NAMES_LOOKED_UP;
	if (dev->flags & DEV_HAVE_VENDOR)
		dev->vendor_name = lookup(dev, PCI_LOOKUP_VENDOR, (int)dev->vendor);
	if ((dev->flags & DEV_HAVE_VENDOR) && (dev->flags & DEV_HAVE_DEVICE))
		dev->device_name = lookup(dev, PCI_LOOKUP_DEVICE, (int)dev->vendor, (int)dev->device);
	if (dev->flags & DEV_HAVE_CLASS) {
		/* the subclass name ("VGA compatible controller"), else the class ("Display controller") */
		dev->class_name = lookup(dev, PCI_LOOKUP_CLASS, (int)(dev->class >> 8));
		if (!dev->class_name)
			dev->class_name = lookup(dev, PCI_LOOKUP_CLASS, (int)(dev->class >> 16 << 8));
	}
}

const char *iopass_dev_get_vendor_name(struct iopass_dev *dev)
{
	dev_lookup_names(dev);
	return dev->vendor_name;
}

const char *iopass_dev_get_device_name(struct iopass_dev *dev)
{
	dev_lookup_names(dev);
	return dev->device_name;
}

const char *iopass_dev_get_class_name(struct iopass_dev *dev)
{
	dev_lookup_names(dev);
	return dev->class_name;
}
