// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: config space as a device presents it (short files, capability
 * loops, pointers out of range), through libpci's walker and iopass's reading
 * of the PCIe, PM, AF and ACS capabilities.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iopass-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/iopass-fuzz-XXXXXX";
static char config[256];
static struct iopass_ctx *ctx;

static void mk(const char *rel, bool dir)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (dir)
		mkdir(p, 0755);
}

static void setup(void)
{
	char p[512];

	if (!mkdtemp(root))
		abort();
	mk("sys", true);
	mk("sys/bus", true);
	mk("sys/bus/pci", true);
	mk("sys/bus/pci/devices", true);
	mk("sys/devices", true);
	mk("sys/devices/pci0000:00", true);
	mk("sys/devices/pci0000:00/0000:00:01.0", true);
	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/0000:00:01.0", root);
	if (symlink("../../../devices/pci0000:00/0000:00:01.0", p) < 0)
		abort();
	snprintf(config, sizeof(config), "%s/sys/devices/pci0000:00/0000:00:01.0/config", root);
	if (iopass_ctx_new(root, &ctx) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iopass_dev dev;
	int fd;

	if (!ctx)
		setup();
	if (size > 4096)
		size = 4096;
	fd = open(config, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	memset(&dev, 0, sizeof(dev));
	dev.ctx = ctx;
	iopass_addr_parse("0000:00:01.0", &dev.addr);
	snprintf(dev.bdf, sizeof(dev.bdf), "0000:00:01.0");
	dev.group = dev.numvfs = dev.totalvfs = -1;
	const struct dev_caps *c = dev_get_caps(&dev);

	if (c && c->config_len > size)
		abort();
	if (c && c->pcie_type > 15)
		abort();
	(void)iopass_dev_is_endpoint(&dev);
	free(dev.caps);
	return 0;
}
