// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass-bench-floor: the least a device listing has to read, as a yardstick
 * for `iopass list`. For each entry of SYSROOT/sys/bus/pci/devices it reads
 * vendor, device and class and the driver and iommu_group links, nothing
 * else (no names from pci.ids, no tree, no table layout), sorts by address
 * and prints one line per device:
 *
 *   0000:00:01.0 8086:2030 060400 pcieport 1
 *
 *   iopass-bench-floor [SYSROOT]      (default /)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dev {
	char bdf[16];
	char id[10];    /* vvvv:dddd */
	char class[8];  /* cccccc */
	char driver[64];
	char group[12];
};

/* s into out, cut to fit */
static void copy(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size)
		n = size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* A small attribute ("0x8086\n") without the 0x and the newline. */
static void read_attr(int dfd, const char *name, char *out, size_t size)
{
	char buf[32];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	const char *s = buf;

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		copy(out, size, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (s[0] == '0' && s[1] == 'x')
		s += 2;
	copy(out, size, s);
}

/* The last component of a link's target, or "-". */
static void read_link(int dfd, const char *name, char *out, size_t size)
{
	char target[4096];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
	const char *base;

	if (n <= 0) {
		copy(out, size, "-");
		return;
	}
	target[n] = '\0';
	base = strrchr(target, '/');
	copy(out, size, base ? base + 1 : target);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct dev *)a)->bdf, ((const struct dev *)b)->bdf);
}

int main(int argc, char *argv[])
{
	const char *root = argc > 1 ? argv[1] : "/";
	char path[4096], vendor[8], device[8];
	struct dev *devs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int busfd;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", root);
	busfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = busfd < 0 ? NULL : fdopendir(busfd);
	if (!dir) {
		fprintf(stderr, "iopass-bench-floor: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(dir))) {
		struct dev *d;
		int dfd;

		if (de->d_name[0] == '.')
			continue;
		dfd = openat(busfd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		if (n == cap) {
			struct dev *nd;

			cap = cap ? cap * 2 : 256;
			nd = realloc(devs, cap * sizeof(*devs));
			if (!nd) {
				fputs("iopass-bench-floor: out of memory\n", stderr);
				return 1;
			}
			devs = nd;
		}
		d = &devs[n++];
		copy(d->bdf, sizeof(d->bdf), de->d_name);
		read_attr(dfd, "vendor", vendor, sizeof(vendor));
		read_attr(dfd, "device", device, sizeof(device));
		snprintf(d->id, sizeof(d->id), "%.4s:%.4s", vendor, device);
		read_attr(dfd, "class", d->class, sizeof(d->class));
		read_link(dfd, "driver", d->driver, sizeof(d->driver));
		read_link(dfd, "iommu_group", d->group, sizeof(d->group));
		close(dfd);
	}
	closedir(dir);
	qsort(devs, n, sizeof(*devs), cmp);
	for (size_t i = 0; i < n; i++)
		printf("%s %s %s %s %s\n", devs[i].bdf, devs[i].id, devs[i].class, devs[i].driver,
		       devs[i].group);
	free(devs);
	return 0;
}
