/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libiopass: struct layouts, the sysfs access module, helpers. */
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/types.h>

#include "iopass.h"
#include "macro.h"

struct pci_access;

struct iopass_ctx {
	char *sysroot;     /* normalised, no trailing slash; "" means "/" */
	int rootfd;        /* O_PATH directory fd of the sysroot */
	iopass_log_fn log_fn;
	void *log_data;
	int log_prio;
	char *ids_file;
	struct pci_access *pacc; /* names only; created on first lookup */
	bool names_failed;
};

enum {
	DEV_HAVE_VENDOR = 1 << 0,
	DEV_HAVE_DEVICE = 1 << 1,
	DEV_HAVE_CLASS = 1 << 2,
	DEV_HAVE_SUBVENDOR = 1 << 3,
	DEV_HAVE_SUBDEVICE = 1 << 4,
	DEV_BOOT_VGA = 1 << 5,
	DEV_VFIO = 1 << 6,
	DEV_NAMES_LOOKED_UP = 1 << 7,
};

struct iopass_dev {
	struct iopass_ctx *ctx;
	struct iopass_addr addr;
	char bdf[IOPASS_BDF_MAX];
	unsigned flags;
	uint16_t vendor, device, subvendor, subdevice;
	uint32_t class;
	int group;      /* -ENOENT when none */
	int numvfs;     /* -ENOENT when not a PF */
	int totalvfs;
	char *driver;
	char *physfn;
	char *warning;
	char *vendor_name, *device_name, *class_name;
};

struct iopass_devlist {
	struct iopass_dev **devs;
	size_t count;
};

/* logging (never to stdout/stderr directly) */
void iopass_log(const struct iopass_ctx *ctx, int prio, const char *fmt, ...) _printf_(3, 4);
#define iop_dbg(ctx, ...) iopass_log(ctx, IOPASS_LOG_DEBUG, __VA_ARGS__)
#define iop_warn(ctx, ...) iopass_log(ctx, IOPASS_LOG_WARNING, __VA_ARGS__)

/*
 * sysfs.c: the only module that touches the file system. Paths given to the
 * ctx-taking functions are absolute ("/sys/bus/pci/devices") and are resolved
 * below the sysroot; the *_at functions take a directory fd from
 * sysfs_open_dir() and a single path component.
 */
int sysfs_open_dir(const struct iopass_ctx *ctx, const char *path);
int sysfs_opendir(const struct iopass_ctx *ctx, const char *path, DIR **ret_dir);
int sysfs_exists(const struct iopass_ctx *ctx, const char *path);
ssize_t sysfs_read(const struct iopass_ctx *ctx, const char *path, char *buf, size_t size);
ssize_t sysfs_read_at(int dirfd, const char *name, char *buf, size_t size);
int sysfs_link_name_at(int dirfd, const char *name, char *buf, size_t size);
int sysfs_exists_at(int dirfd, const char *name);
/* The full path of a sysroot-relative path, for libraries that want a string (libpci). */
int sysfs_full_path(const struct iopass_ctx *ctx, const char *path, char **ret);

/* parse.c */
int parse_hex(const char *s, unsigned max_digits, bool allow_0x, uint32_t *ret);
int parse_uint(const char *s, unsigned max, unsigned *ret);
bool name_is_safe(const char *s); /* one path component, printable, no '/', not . or .. */
