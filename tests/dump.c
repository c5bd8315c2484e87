// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dumps of what iopass reads on a real kernel, and their replay as a sysroot.
 *
 * Capture (in the real-kernel tier's guest): strace -y of iopass commands
 * names every file, link and directory they touched; each is resolved on the
 * live system one component at a time, so that the symlinks on the way
 * (/sys/bus/pci/devices/BDF, /proc/self) are kept as links, and written to a
 * manifest with the contents of the files read. Replay makes the same tree
 * below a directory, for iopass --sysroot, as util-linux replays lsmem dumps.
 *
 * The manifest, "iopass-sysfs-dump 1" and then one entry per line:
 *   # comment             (the guest's facts: "# fact BDF GROUP DRIVER VVVV:DDDD")
 *   d PATH                a directory (a listed one: with its entries)
 *   l PATH TARGET         a symlink (TARGET: the rest of the line)
 *   e PATH                a file that was only looked at (stat, access)
 *   f PATH LEN            a text file: the next LEN bytes, then a newline
 *   x PATH LEN            a binary file (config space): 2*LEN hex digits, then a newline
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "macro.h"

#define FILE_MAX (1u << 20)


enum access { LOOKED, READ, LISTED, LINK };

struct entry {
	char *path;
	char kind; /* d l e f x */
	char *data;
	size_t len;
};

struct dump {
	struct entry *e;
	size_t n, cap;
	size_t unreadable, skipped;
};

static const char *const kept_prefixes[] = { "/sys/", "/proc/", "/dev/", "/run/", "/etc/",
					     "/lib/modules/", "/usr/lib/modules/" };

/* the C library's and the dynamic linker's, not iopass's */
static const char *const libc_files[] = { "/etc/ld.so", "/etc/passwd", "/etc/group",
					  "/etc/nsswitch.conf", "/etc/localtime" };

static bool kept(const char *path)
{
	/* merged /usr: /lib is a link to usr/lib, on the way to the kernel's modules */
	if (streq(path, "/lib"))
		return true;
	for (size_t i = 0; i < sizeof(libc_files) / sizeof(libc_files[0]); i++)
		if (strncmp(path, libc_files[i], strlen(libc_files[i])) == 0)
			return false;
	for (size_t i = 0; i < sizeof(kept_prefixes) / sizeof(kept_prefixes[0]); i++)
		if (strncmp(path, kept_prefixes[i], strlen(kept_prefixes[i])) == 0)
			return true;
	return false;
}

static int add(struct dump *d, const char *path, char kind, char *data, size_t len)
{
	struct entry *e;

	if (strpbrk(path, " \t\n")) {
		free(data); /* the manifest has no room for them: none is in /sys or /proc */
		d->skipped++;
		return 0;
	}

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct entry *ne = realloc(d->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->e = ne;
		d->cap = cap;
	}
	e = &d->e[d->n];
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->kind = kind;
	e->data = data;
	e->len = len;
	d->n++;
	return 0;
}

static int read_whole(const char *path, size_t max, char **ret, size_t *ret_len)
{
	char *buf = malloc(max);
	size_t len = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (len < max && (k = read(fd, buf + len, max - len)) > 0)
		len += (size_t)k;
	if (k < 0) {
		int r = -errno;

		free(buf);
		close(fd);
		return r;
	}
	close(fd);
	*ret = buf;
	*ret_len = len;
	return 0;
}

/*
 * modules.alias (1.3 MiB on Debian 12): iopass uses only its "alias vfio_pci:"
 * lines (lib/variant.c), so the dump keeps those, in their order.
 */
#define ALIAS_MAX (16u << 20)
static bool is_modules_alias(const char *path)
{
	size_t n = strlen(path);

	return n > 14 && strcmp(path + n - 14, "/modules.alias") == 0;
}

static size_t keep_vfio_aliases(char *data, size_t len)
{
	static const char key[] = "alias vfio_pci:";
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;

		if (n > sizeof(key) - 1 && memcmp(data + i, key, sizeof(key) - 1) == 0) {
			memmove(data + out, data + i, n);
			out += n;
		}
		i += n;
	}
	return out;
}

static bool is_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c > 0x7e)
			return false;
	}
	return true;
}

/* /a/b/../c -> /a/c, in place; path is absolute */
static void drop_last(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash && slash != path)
		*slash = '\0';
	else
		strcpy(path, "/");
}

/*
 * A directory that was listed: its entries too, as what they are (a count of
 * /sys/class/iommu's entries is all iopass reads of them). Links are kept,
 * not followed; files and directories that were not read are empty.
 */
static int capture_listing(struct dump *d, const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int r = add(d, dir, 'd', NULL, 0);

	if (!dp)
		return r;
	while (r == 0 && (de = readdir(dp))) {
		char path[PATH_MAX + NAME_MAX + 2], target[PATH_MAX];
		struct stat st;
		ssize_t k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= PATH_MAX ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			k = readlink(path, target, sizeof(target) - 1);
			if (k < 0)
				continue;
			target[k] = '\0';
			if (!strchr(target, '\n'))
				r = add(d, path, 'l', strdup(target), 0);
		} else {
			r = add(d, path, S_ISDIR(st.st_mode) ? 'd' : 'e', NULL, 0);
		}
	}
	closedir(dp);
	return r;
}

/*
 * Resolve path on the live system as the kernel would, recording every symlink
 * met on the way; then record what is at the end (as `how` was done to it).
 */
static int capture_path(struct dump *d, const char *path, enum access how)
{
	char todo[PATH_MAX * 2], cur[PATH_MAX] = "/";
	int hops = 0;

	if (strlen(path) >= PATH_MAX || path[0] != '/')
		return 0;
	memcpy(todo, path + 1, strlen(path)); /* below PATH_MAX: checked above */
	while (todo[0]) {
		char comp[NAME_MAX + 1], next[PATH_MAX + NAME_MAX + 2], target[PATH_MAX];
		size_t clen = strcspn(todo, "/");
		bool last;
		struct stat st;
		ssize_t k;

		if (clen > NAME_MAX)
			return 0;
		memcpy(comp, todo, clen);
		comp[clen] = '\0';
		memmove(todo, todo + clen + (todo[clen] == '/'), strlen(todo + clen + (todo[clen] == '/')) + 1);
		last = !todo[0];
		if (!comp[0] || streq(comp, "."))
			continue;
		if (streq(comp, "..")) {
			drop_last(cur);
			continue;
		}
		if ((size_t)snprintf(next, sizeof(next), "%s%s%s", cur, streq(cur, "/") ? "" : "/", comp) >=
		    sizeof(cur))
			return 0;
		if (lstat(next, &st) < 0)
			return 0; /* gone since: nothing to keep */
		if (!S_ISLNK(st.st_mode)) {
			memcpy(cur, next, strlen(next) + 1); /* fits: checked above */
			continue;
		}
		k = readlink(next, target, sizeof(target) - 1);
		if (k < 0)
			return 0;
		target[k] = '\0';
		if (strchr(target, '\n'))
			return 0;
		if (kept(next) && add(d, next, 'l', strdup(target), 0) < 0)
			return -ENOMEM;
		if (last && how == LINK)
			return 0;
		if (++hops > 40)
			return 0;
		{
			char rest[PATH_MAX * 3 + 2];

			if ((size_t)snprintf(rest, sizeof(rest), "%s%s%s", target[0] == '/' ? target + 1 : target,
					     todo[0] ? "/" : "", todo) >= sizeof(todo))
				return 0;
			memcpy(todo, rest, strlen(rest) + 1);
		}
		if (target[0] == '/')
			strcpy(cur, "/");
	}
	if (!kept(cur))
		return 0;
	{
		struct stat st;
		char *data = NULL;
		size_t len = 0;

		if (lstat(cur, &st) < 0)
			return 0;
		if (S_ISDIR(st.st_mode))
			return how == LISTED ? capture_listing(d, cur) : add(d, cur, 'd', NULL, 0);
		if (how != READ || !S_ISREG(st.st_mode))
			return add(d, cur, 'e', NULL, 0);
		if (read_whole(cur, is_modules_alias(cur) ? ALIAS_MAX : FILE_MAX, &data, &len) < 0) {
			d->unreadable++; /* the kernel refused the read: left out, as iopass saw no content */
			return 0;
		}
		if (is_modules_alias(cur))
			len = keep_vfio_aliases(data, len);
		return add(d, cur, is_text(data, len) ? 'f' : 'x', data, len);
	}
}

/* "5</sys/bus/pci/devices>" or "AT_FDCWD</work>": the path in the angle brackets */
static const char *fd_path(const char *arg, char *buf, size_t size)
{
	const char *lt = strchr(arg, '<'), *gt;

	if (!lt)
		return NULL;
	gt = strchr(lt, '>');
	if (!gt || (size_t)(gt - lt) >= size)
		return NULL;
	memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
	buf[gt - lt - 1] = '\0';
	return buf;
}

/* The first "quoted" string of s (strace escapes none in these paths). */
static const char *quoted(const char *s, char *buf, size_t size)
{
	const char *q = strchr(s, '"'), *e;

	if (!q)
		return NULL;
	e = strchr(q + 1, '"');
	if (!e || (size_t)(e - q) >= size)
		return NULL;
	memcpy(buf, q + 1, (size_t)(e - q - 1));
	buf[e - q - 1] = '\0';
	return buf;
}

static int capture_line(struct dump *d, const char *line)
{
	static const struct {
		const char *name;
		bool at;
	} calls[] = {
		{ "openat2(", true },	   { "openat(", true },	  { "newfstatat(", true },
		{ "faccessat2(", true },   { "faccessat(", true }, { "readlinkat(", true },
		{ "statx(", true },	   { "open(", false },	  { "access(", false },
		{ "readlink(", false },	   { "stat(", false },	  { "lstat(", false },
	};
	char dir[PATH_MAX], name[PATH_MAX], path[PATH_MAX * 2 + 2];
	const char *call = NULL, *args, *ret = strrchr(line, '=');
	bool at = false;
	enum access how;

	if (!ret || ret[1] != ' ' || ret[2] == '-' || strstr(line, "<unfinished"))
		return 0; /* failed calls looked at nothing that is there */
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]) && !call; i++) {
		const char *p = strstr(line, calls[i].name);

		/* the call's name follows the pid and a space */
		if (p && (p == line || p[-1] == ' ')) {
			call = calls[i].name;
			at = calls[i].at;
			args = p + strlen(call);
		}
	}
	if (!call || !quoted(args, name, sizeof(name)))
		return 0;
	if (at && name[0] != '/') {
		if (!fd_path(args, dir, sizeof(dir)))
			return 0;
		snprintf(path, sizeof(path), "%s%s%s", dir, *name ? "/" : "", name);
	} else {
		snprintf(path, sizeof(path), "%s", name);
	}
	if (strstr(call, "readlink"))
		how = LINK;
	else if (strstr(call, "open") && strstr(args, "O_PATH"))
		how = LOOKED;
	else if (strstr(call, "open") && strstr(args, "O_DIRECTORY"))
		how = LISTED;
	else if (strstr(call, "open"))
		how = READ;
	else
		how = LOOKED;
	return capture_path(d, path, how);
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	/* the richest record of a path first: content over a mere look */
	return (b->kind == 'f' || b->kind == 'x') - (a->kind == 'f' || a->kind == 'x');
}

static void put_hex(FILE *out, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", (unsigned char)data[i]);
}

int dump_capture(FILE *strace_log, FILE *facts, FILE *out)
{
	struct dump d = { 0 };
	char *line = NULL;
	size_t size = 0;
	int r = 0;

	while (r == 0 && getline(&line, &size, strace_log) > 0)
		r = capture_line(&d, line);
	fputs("iopass-sysfs-dump 1\n", out);
	if (facts)
		while (getline(&line, &size, facts) > 0)
			fprintf(out, "# %s", line);
	free(line);
	qsort(d.e, d.n, sizeof(*d.e), entry_cmp);
	for (size_t i = 0; i < d.n; i++) {
		struct entry *e = &d.e[i];

		if (i && streq(e->path, d.e[i - 1].path))
			continue;
		switch (e->kind) {
		case 'l':
			fprintf(out, "l %s %s\n", e->path, e->data);
			break;
		case 'f':
			fprintf(out, "f %s %zu\n", e->path, e->len);
			fwrite(e->data, 1, e->len, out);
			fputc('\n', out);
			break;
		case 'x':
			fprintf(out, "x %s %zu\n", e->path, e->len);
			put_hex(out, e->data, e->len);
			fputc('\n', out);
			break;
		default:
			fprintf(out, "%c %s\n", e->kind, e->path);
		}
	}
	if (d.unreadable)
		fprintf(stderr, "dump: %zu files refused their read; left out\n", d.unreadable);
	if (d.skipped)
		fprintf(stderr, "dump: %zu paths with blanks left out\n", d.skipped);
	for (size_t i = 0; i < d.n; i++) {
		free(d.e[i].path);
		free(d.e[i].data);
	}
	free(d.e);
	return r < 0 ? r : ferror(out) ? -EIO : 0;
}

/* ---- replay ---------------------------------------------------------------------- */

/*
 * The directory that holds path's last component, below rootfd: made as
 * needed, each component opened with O_NOFOLLOW, so that no entry of a dump
 * (a link made by an earlier one) can lead a write out of the tree; no "." or
 * ".." either. *ret_name: the last component. A new fd, or -errno.
 */
static int open_parent(int rootfd, const char *path, const char **ret_name)
{
	const char *p = path;
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	for (;;) {
		char comp[NAME_MAX + 1];
		size_t len;
		int next;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (!len || len > NAME_MAX || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return -EINVAL;
		}
		if (!p[len]) {
			*ret_name = p;
			return fd;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			next = -errno;
			close(fd);
			return next;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
		p += len;
	}
}

static int put_file(int dirfd, const char *name, const char *data, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	ssize_t k = 0;

	if (fd < 0)
		return -errno;
	if (len)
		k = write(fd, data, len);
	close(fd);
	return k < 0 || (size_t)k != len ? -EIO : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int unhex(const char *s, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (char)(hi << 4 | lo);
	}
	return 0;
}

int dump_replay(FILE *in, const char *dir, char **ret_facts)
{
	char *line = NULL, *facts = NULL;
	size_t size = 0, flen = 0;
	FILE *fm = ret_facts ? open_memstream(&facts, &flen) : NULL;
	int r = -EBADMSG, lineno = 0, rootfd, pfd = -1;
	ssize_t n;

	if (ret_facts && !fm)
		return -ENOMEM;
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		goto out;
	}
	while ((n = getline(&line, &size, in)) > 0) {
		char kind, path[PATH_MAX], *rest;
		const char *name = NULL;
		size_t len = 0;

		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (lineno == 1) {
			if (!streq(line, "iopass-sysfs-dump 1"))
				goto out;
			continue;
		}
		if (line[0] == '#') {
			if (fm && strncmp(line, "# fact ", 7) == 0)
				fprintf(fm, "%s\n", line + 7);
			continue;
		}
		if (sscanf(line, "%c %4095s", &kind, path) != 2 || path[0] != '/' || line[1] != ' ')
			goto out;
		rest = line + 2 + strlen(path);
		/* d and e end with the path; l, f and x go on after one blank */
		if ((kind == 'd' || kind == 'e') ? *rest != '\0' : *rest != ' ')
			goto out;
		if (pfd >= 0)
			close(pfd);
		pfd = open_parent(rootfd, path, &name);
		if (pfd < 0) {
			r = pfd;
			goto out;
		}
		r = -EBADMSG;
		switch (kind) {
		case 'd':
			if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)
				goto out;
			break;
		case 'l':
			if (*rest != ' ' || !rest[1] || (symlinkat(rest + 1, pfd, name) < 0 && errno != EEXIST))
				goto out;
			break;
		case 'e':
			if (put_file(pfd, name, NULL, 0) < 0)
				goto out;
			break;
		case 'f':
		case 'x': {
			size_t want;
			char *data, *raw;

			if (sscanf(rest, " %zu", &len) != 1 || len > FILE_MAX)
				goto out;
			want = kind == 'f' ? len : 2 * len;
			raw = malloc(want + 1);
			data = kind == 'f' ? raw : malloc(len + 1);
			if (!raw || !data || fread(raw, 1, want + 1, in) != want + 1 || raw[want] != '\n' ||
			    (kind == 'x' && unhex(raw, len, data) < 0) || put_file(pfd, name, data, len) < 0) {
				free(raw);
				if (data != raw)
					free(data);
				goto out;
			}
			free(raw);
			if (data != raw)
				free(data);
			break;
		}
		default:
			goto out;
		}
	}
	r = lineno > 0 ? 0 : -EBADMSG;
out:
	if (r < 0 && lineno)
		fprintf(stderr, "dump: entry %d: cannot replay it: %s\n", lineno, strerror(-r));
	if (pfd >= 0)
		close(pfd);
	if (rootfd >= 0)
		close(rootfd);
	free(line);
	if (fm) {
		fclose(fm);
		if (r == 0)
			*ret_facts = facts;
		else
			free(facts);
	}
	return r;
}
