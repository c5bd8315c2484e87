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

/*
 * A server has thousands of identical functions (VFs): look each ID up once.
 * Open addressing on a 64-bit key (kind << 32 | id); names live until the
 * context goes. A NULL name (unknown ID) is cached too.
 */
struct name_entry {
	uint64_t key; /* 0: free */
	char *name;
};

struct name_cache {
	struct name_entry *e;
	size_t cap, n;
};

void names_cache_free(struct name_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->e[i].name);
	free(c->e);
	free(c);
}

static struct name_entry *cache_slot(struct name_cache *c, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 32) & (c->cap - 1);

	while (c->e[i].key && c->e[i].key != key)
		i = (i + 1) & (c->cap - 1);
	return &c->e[i];
}

static bool cache_grow(struct name_cache *c)
{
	struct name_cache bigger = { .cap = c->cap ? c->cap * 2 : 256 };

	bigger.e = calloc(bigger.cap, sizeof(*bigger.e));
	if (!bigger.e)
		return false;
	for (size_t i = 0; i < c->cap; i++)
		if (c->e[i].key)
			*cache_slot(&bigger, c->e[i].key) = c->e[i];
	free(c->e);
	c->e = bigger.e;
	c->cap = bigger.cap;
	return true;
}

/* The cached name for key, looking it up with fn(dev) the first time. */
static const char *cached(struct iopass_dev *dev, uint64_t key, int flags, int a, int b)
{
	struct iopass_ctx *ctx = dev->ctx;
	struct name_entry *slot;

	if (!ctx->names) {
		ctx->names = calloc(1, sizeof(*ctx->names));
		if (!ctx->names)
			return NULL;
	}
	if (ctx->names->n * 2 >= ctx->names->cap && !cache_grow(ctx->names))
		return NULL;
	slot = cache_slot(ctx->names, key);
	if (!slot->key) {
		slot->key = key;
		slot->name = flags & PCI_LOOKUP_DEVICE ? lookup(dev, flags, a, b) : lookup(dev, flags, a);
		ctx->names->n++;
	}
	return slot->name;
}

static void dev_lookup_names(struct iopass_dev *dev)
{
	if (dev->flags & DEV_NAMES_LOOKED_UP)
		return;
	dev->flags |= DEV_NAMES_LOOKED_UP;
	if (dev->flags & DEV_HAVE_VENDOR)
		dev->vendor_name = cached(dev, 1ull << 32 | dev->vendor, PCI_LOOKUP_VENDOR, dev->vendor, 0);
	if ((dev->flags & DEV_HAVE_VENDOR) && (dev->flags & DEV_HAVE_DEVICE))
		dev->device_name = cached(dev, 2ull << 32 | (uint32_t)dev->vendor << 16 | dev->device,
					  PCI_LOOKUP_DEVICE, dev->vendor, dev->device);
	if (dev->flags & DEV_HAVE_CLASS) {
		/* the subclass name ("VGA compatible controller"), else the class ("Display controller") */
		dev->class_name = cached(dev, 3ull << 32 | dev->class >> 8, PCI_LOOKUP_CLASS,
					 (int)(dev->class >> 8), 0);
		if (!dev->class_name)
			dev->class_name = cached(dev, 3ull << 32 | (dev->class >> 16 << 8), PCI_LOOKUP_CLASS,
						 (int)(dev->class >> 16 << 8), 0);
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
