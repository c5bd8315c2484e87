// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one place where libiopass touches the file system. Every path is
 * resolved relative to the context's sysroot directory fd, so a fixture tree
 * is just another root. Reads are bounded, non-blocking (a FIFO planted in a
 * fixture must not hang us) and never follow a path given by the caller
 * outside the root: callers pass absolute paths, we strip the leading '/'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "iopass-private.h"

static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

/*
 * Open a path below the sysroot. Below a sysroot other than /, no link may
 * lead out of it: openat2's RESOLVE_IN_ROOT resolves "/..." and ".." in every
 * link as the root itself, as a chroot would (a fixture whose sys/bus links to
 * the host's /sys/bus must not make root write the host's devices). On / it is
 * the same as openat.
 */
static int root_open(const struct iopass_ctx *ctx, const char *path, int flags, mode_t mode)
{
	static bool no_openat2;
	struct open_how how = { .flags = (uint64_t)flags, .mode = mode,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	long fd;

	if (!*ctx->sysroot || no_openat2)
		return openat(ctx->rootfd, rel(path), flags, mode);
	/*
	 * EAGAIN: a rename or mount anywhere on the system raced with a ".." of the
	 * lookup, and the kernel cannot vouch that it stayed inside (openat2(2));
	 * the lookup is good to repeat. The sysroot's own links have ".." in them.
	 */
	for (int tries = 0; tries < 256; tries++) {
		fd = syscall(SYS_openat2, ctx->rootfd, rel(path), &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd < 0 && errno == ENOSYS) {
		no_openat2 = true; /* before Linux 5.6: links are followed as openat does */
		return openat(ctx->rootfd, rel(path), flags, mode);
	}
	return (int)fd;
}

/* The parent directory of path below the root (resolved in it), and its last component. */
static int root_open_parent(const struct iopass_ctx *ctx, const char *path, const char **ret_name)
{
	char dir[4096];
	const char *r = rel(path), *slash = strrchr(r, '/');
	size_t len;

	if (!slash) {
		*ret_name = r;
		return root_open(ctx, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	}
	len = (size_t)(slash - r);
	if (len >= sizeof(dir))
		return -1;
	memcpy(dir, r, len);
	dir[len] = '\0';
	*ret_name = slash + 1;
	return root_open(ctx, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
}

int sysfs_open_dir(const struct iopass_ctx *ctx, const char *path)
{
	int fd = root_open(ctx, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int sysfs_opendir(const struct iopass_ctx *ctx, const char *path, DIR **ret_dir)
{
	int fd = root_open(ctx, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_dir = d;
	return 0;
}

int sysfs_exists(const struct iopass_ctx *ctx, const char *path)
{
	int fd;

	if (!*ctx->sysroot)
		return faccessat(ctx->rootfd, rel(path), F_OK, 0) < 0 ? -errno : 0;
	fd = root_open(ctx, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* stat() of a path below the sysroot, following links as the kernel (udev's RUN) would */
int sysfs_stat(const struct iopass_ctx *ctx, const char *path, struct stat *st)
{
	int fd, r;

	if (!*ctx->sysroot)
		return fstatat(ctx->rootfd, rel(path), st, 0) < 0 ? -errno : 0;
	fd = root_open(ctx, path, O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int sysfs_exists_at(int dirfd, const char *name)
{
	return faccessat(dirfd, name, F_OK, 0) < 0 ? -errno : 0;
}

/*
 * Read a small attribute into buf, NUL-terminated, trailing newlines and
 * spaces removed. -EFBIG when it does not fit: sysfs attributes we parse are
 * short, and anything longer is not what we expect.
 */
static ssize_t read_fd(int fd, char *buf, size_t size)
{
	size_t len = 0;

	if (size < 2)
		return -EINVAL;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		/* sysfs hands an attribute over in one read: a short read is the end */
		if (len < size - 1)
			break;
		if (len == size - 1) {
			char c;

			n = read(fd, &c, 1);
			if (n > 0)
				return -EFBIG;
			break;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return (ssize_t)len;
}

static ssize_t read_openat(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	return read_fd(fd, buf, size);
}

ssize_t sysfs_read(const struct iopass_ctx *ctx, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = root_open(ctx, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	return read_fd(fd, buf, size);
}

ssize_t sysfs_read_at(int dirfd, const char *name, char *buf, size_t size)
{
	return read_openat(dirfd, name, buf, size);
}

/* A count attribute (sriov_numvfs, sriov_totalvfs, ...): 0..65535, else -EINVAL. */
static int count_parse(ssize_t n, const char *buf, int *ret)
{
	unsigned v;

	if (n < 0)
		return (int)n;
	if (parse_uint(buf, 65535, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int sysfs_read_count(const struct iopass_ctx *ctx, const char *path, int *ret)
{
	char buf[32];

	return count_parse(sysfs_read(ctx, path, buf, sizeof(buf)), buf, ret);
}

int sysfs_read_count_at(int dirfd, const char *name, int *ret)
{
	char buf[32];

	return count_parse(sysfs_read_at(dirfd, name, buf, sizeof(buf)), buf, ret);
}

/* The last component of a symlink's target ("../../../bus/pci/drivers/e1000e" -> "e1000e"). */
int sysfs_link_name_at(int dirfd, const char *name, char *buf, size_t size)
{
	char target[4096];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	const char *base;
	size_t len;

	if (n < 0)
		return -errno;
	target[n] = '\0';
	while (n > 0 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	len = strlen(base);
	if (len == 0)
		return -EINVAL;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, len + 1);
	return 0;
}

int sysfs_full_path(const struct iopass_ctx *ctx, const char *path, char **ret)
{
	if (asprintf(ret, "%s/%s", ctx->sysroot, rel(path)) < 0)
		return -ENOMEM;
	return 0;
}

static ssize_t read_bin_fd(int fd, void *buf, size_t size)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = pread(fd, (char *)buf + len, size - len, (off_t)len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

ssize_t sysfs_read_bin_at(int dirfd, const char *name, void *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	return read_bin_fd(fd, buf, size);
}

ssize_t sysfs_read_bin(const struct iopass_ctx *ctx, const char *path, void *buf, size_t size)
{
	_cleanup_close_ int fd = root_open(ctx, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	return read_bin_fd(fd, buf, size);
}

int sysfs_read_file(const struct iopass_ctx *ctx, const char *path, size_t max, char **ret)
{
	_cleanup_close_ int fd = root_open(ctx, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int r = -errno;

			if (errno == EINTR)
				continue;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* The raw target of the symlink name in dirfd, NUL-terminated. */
ssize_t sysfs_readlink_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n = readlinkat(dirfd, name, buf, size - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* The raw target of a symlink, NUL-terminated. */
ssize_t sysfs_readlink(const struct iopass_ctx *ctx, const char *path, char *buf, size_t size)
{
	const char *name;
	_cleanup_close_ int dfd = root_open_parent(ctx, path, &name);

	if (dfd < 0)
		return -errno;
	return sysfs_readlink_at(dfd, name, buf, size);
}

/*
 * Write a kernel attribute: one write(2), as the kernel acts on each write.
 * O_NOFOLLOW: an attribute is never a symlink; a planted one is refused.
 */
int sysfs_write(const struct iopass_ctx *ctx, const char *path, const char *value)
{
	_cleanup_close_ int fd = root_open(ctx, path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0);
	size_t len = strlen(value);
	ssize_t n;
	int tries = 0;

	if (fd < 0)
		return -errno;
	/* a signal may interrupt a slow driver operation: retry, but not for ever */
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR && ++tries < 3);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/*
 * The state directory (<sysroot>/run/iopass): created 0700 when missing,
 * opened without following links, and trusted only when it is a directory
 * owned by us that nobody else can write to.
 */
/*
 * A directory below the sysroot given as path components ("etc", "udev",
 * "rules.d"): created when missing (the last one with mode), opened without
 * following links, and trusted only when owned by us and not writable by
 * group or others.
 */
int sysfs_open_owned_dir(const struct iopass_ctx *ctx, const char *const *parts, size_t n,
			 bool create, mode_t mode)
{
	int dfd = dup(ctx->rootfd), r;
	struct stat st;

	if (dfd < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		int nfd;

		if (create && mkdirat(dfd, parts[i], i == n - 1 ? mode : 0755) < 0 && errno != EEXIST) {
			r = -errno;
			close(dfd);
			return r;
		}
		nfd = openat(dfd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = -errno;
		close(dfd);
		if (nfd < 0)
			return r == -ELOOP ? -ENOTDIR : r;
		dfd = nfd;
	}
	if (fstat(dfd, &st) < 0 || (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022)) {
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

/* The state directory <sysroot>/run/iopass, mode 0700. */
int sysfs_open_state_dir(const struct iopass_ctx *ctx, bool create)
{
	static const char *const parts[] = { "run", "iopass" };

	return sysfs_open_owned_dir(ctx, parts, ARRAY_SIZE(parts), create, 0700);
}

/* Read a state file: a regular file of ours, mode 0600 or stricter, at most max bytes. */
int state_read(int dirfd, const char *name, size_t max, char **ret)
{
	return state_read_mode(dirfd, name, max, 077, ret);
}

/* The same, with the permission bits that must be clear (077: private, 022: not writable). */
int state_read_mode(int dirfd, const char *name, size_t max, mode_t forbidden, char **ret)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* ours, or root's (a user reading /etc/iopass/persist) */
	if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & forbidden))
		return -EPERM;
	if ((size_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) { /* a NUL inside: not ours */
		free(buf);
		return -EINVAL;
	}
	*ret = buf;
	return 0;
}

/* Replace a state file atomically: temp file, fsync, rename, fsync the directory. */
int state_write(int dirfd, const char *name, const char *data)
{
	return state_write_mode(dirfd, name, data, 0600);
}

int state_write_mode(int dirfd, const char *name, const char *data, mode_t mode)
{
	char tmp[64];
	size_t len = strlen(data), off = 0;
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	fchmod(fd, mode); /* whatever the umask */
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	fsync(dirfd);
	return 0;
}

int state_remove(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fsync(dirfd);
	return 0;
}
