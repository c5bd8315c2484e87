// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopass-fleet-host N: a fixture host for the Ansible fleet test (ansible/tests),
 * made in $TMPDIR, its root printed. N chooses the hardware, so that a fleet
 * differs: every fourth host boots from its GPU (attach refuses it), every third
 * has an I350 NIC with SR-IOV, every fifth has no USB controller driver.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

int main(int argc, char *argv[])
{
	struct fx *fx;
	char *path;
	int n;

	if (argc != 2 || (n = atoi(argv[1])) < 0) {
		fprintf(stderr, "usage: iopass-fleet-host N\n");
		return 2;
	}
	fx = n % 4 == 0 ? fx_workstation() : fx_secondary_gpu();
	fx_add_driver(fx, "vfio-pci");
	fx_printf(fx, "etc/os-release", "ID=debian\n");
	fx_mkdir(fx, "sys/module/nvidia");
	fx_symlink(fx, "sys/bus/pci/drivers/nvidia/module", "../../../../module/nvidia");
	if (n % 3 == 1)
		fx_add(fx, &FX_DEV(.bdf = "0000:05:00.0", .vendor = 0x8086, .device = 0x1521,
				   .subvendor = 0x8086, .subdevice = 0x0001, .class = 0x020000,
				   .driver = "igb", .group = 9, .totalvfs = 7, .pcie = FX_PCIE_ENDPOINT,
				   .flr = true, .reset_method = "flr", .vf_native = "igbvf"));
	/* where the generated udev rule runs iopass, as after cmake --install */
	fx_printf(fx, &(IOPASS_SBINDIR_TEST "/iopass")[1], "#!/bin/sh\n");
	if (asprintf(&path, "%s%s/iopass", fx_root(fx), IOPASS_SBINDIR_TEST) < 0 || chmod(path, 0755) < 0)
		return 1;
	free(path);
	printf("%s\n", fx_root(fx));
	return 0; /* the tree stays: the test removes it */
}
