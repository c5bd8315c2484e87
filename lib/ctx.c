// SPDX-License-Identifier: LGPL-2.1-or-later
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pci/pci.h>

#include "iopass-private.h"

int iopass_ctx_new(const char *sysroot, struct iopass_ctx **ret_ctx)
{
	struct iopass_ctx *ctx;
	size_t len;

	if (!ret_ctx)
		return -EINVAL;
	if (!sysroot || !*sysroot)
		sysroot = "/";
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->log_prio = IOPASS_LOG_WARNING;
	ctx->lock_timeout_ms = 30000;
	ctx->sysroot = strdup(sysroot);
	if (!ctx->sysroot) {
		free(ctx);
		return -ENOMEM;
	}
	/* "/" becomes "", "/tmp/x/" becomes "/tmp/x": paths are joined as root + "/" + rel */
	len = strlen(ctx->sysroot);
	while (len > 0 && ctx->sysroot[len - 1] == '/')
		ctx->sysroot[--len] = '\0';
	ctx->rootfd = open(sysroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->rootfd < 0) {
		int r = -errno;

		free(ctx->sysroot);
		free(ctx);
		return r;
	}
	/* a tree without sys/ would read as a host without PCI devices: say so instead */
	if (*ctx->sysroot) {
		struct stat st;

		if (fstatat(ctx->rootfd, "sys", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
			iopass_ctx_free(ctx);
			return -ENOMEDIUM;
		}
	}
	*ret_ctx = ctx;
	return 0;
}

void ctx_forget_host_facts(struct iopass_ctx *ctx)
{
	hostuse_cache_free(ctx->hu);
	ctx->hu = NULL;
	free(ctx->fd_users);
	ctx->fd_users = NULL;
	ctx->nfd_users = 0;
	ctx->fd_users_read = false;
}

struct iopass_ctx *iopass_ctx_free(struct iopass_ctx *ctx)
{
	if (!ctx)
		return NULL;
	if (ctx->pacc)
		pci_cleanup(ctx->pacc);
	names_cache_free(ctx->names);
	vfio_index_free(ctx->vfio_index);
	if (ctx->cfg_pacc)
		pci_cleanup(ctx->cfg_pacc);
	hostuse_cache_free(ctx->hu);
	free(ctx->fd_users);
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	free(ctx->ids_file);
	free(ctx->sysroot);
	free(ctx);
	return NULL;
}

const char *iopass_ctx_get_sysroot(const struct iopass_ctx *ctx)
{
	return *ctx->sysroot ? ctx->sysroot : "/";
}

void iopass_ctx_set_log_fn(struct iopass_ctx *ctx, iopass_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

void iopass_ctx_set_log_priority(struct iopass_ctx *ctx, int prio)
{
	ctx->log_prio = prio;
}

int iopass_ctx_set_ids_file(struct iopass_ctx *ctx, const char *path)
{
	char *p;

	struct stat st;
	int fd;

	if (!path || !*path)
		return -EINVAL;
	if (ctx->pacc)
		return -EBUSY; /* names already loaded from another file */
	/* libpci opens it blocking: a FIFO or a device there would hang it, so only a
	 * regular file is taken (opened non-blocking to find out) */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	close(fd);
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	free(ctx->ids_file);
	ctx->ids_file = p;
	return 0;
}

void iopass_log(const struct iopass_ctx *ctx, int prio, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->log_fn || prio > ctx->log_prio)
		return;
	va_start(ap, fmt);
	ctx->log_fn(ctx->log_data, prio, fmt, ap);
	va_end(ap);
}

void iopass_ctx_set_lock_timeout(struct iopass_ctx *ctx, int milliseconds)
{
	ctx->lock_timeout_ms = milliseconds < 0 ? 0 : milliseconds;
}
