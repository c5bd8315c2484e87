#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# attach and detach on a real kernel: the real-kernel tier's VM (tests/vm, QEMU
# TCG, emulated Intel IOMMU) with nine more e1000e NICs, each behind a root port
# of its own. Rounds of: the three sysfs writes from a shell (the least any tool
# does), iopass once per NIC, iopass once for all nine, driverctl --nosave and
# dpdk-devbind.py, each attaching the nine NICs to vfio-pci and giving them back
# to e1000e; every step is checked against the kernel's driver links. Prints the
# median per NIC and the ratios.
#
#   bench/vm.sh [BUILD_DIR] [ROUNDS]     (as root; ROUNDS default 5)
#
# Needs what tests/vm/run.sh needs, plus driverctl and dpdk-devbind.py (apt-get
# install driverctl; apt-get install --no-install-recommends dpdk); a tool that
# is missing is skipped and said so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
IOPASS_VM_SCENARIOS=bench IOPASS_VM_BENCH_ROUNDS=${2:-5} exec "$here/../tests/vm/run.sh" "$build"
