#!/bin/bash
# The Ansible collection on a fleet: FLEET_HOSTS (default 20) fixture hosts of differing
# hardware (tests/fleet-host.c), each with the simulated kernel, driven by
# ansible-playbook with forks. Checks: check mode writes nothing on any host; the
# first run converges every host but those that boot from the GPU, which fail alone
# (refused, nothing changed there); a second run has changed=0 everywhere; the drivers
# and boot files on disk are what the playbook says. Prints the runs' figures.
#
#   fleet.sh IOPASS SIMKERNEL FLEET_HOST_GENERATOR
set -euo pipefail
iopass=$1 simkernel=$2 gen=$3
here=$(cd "$(dirname "$0")" && pwd)
hosts=${FLEET_HOSTS:-20}
forks=${FLEET_FORKS:-10}
if ! command -v ansible-playbook >/dev/null; then
	echo "ansible: ansible-playbook is not installed (scripts/deps.sh --test installs ansible-core); skipped"
	exit 77
fi
work=$(mktemp -d /tmp/iopass-fleet.XXXXXX)
roots=()
cleanup() {
	rm -rf "$work" "${roots[@]}"
}
trap cleanup EXIT
export TMPDIR=$work
export ANSIBLE_COLLECTIONS_PATH=$here/.. ANSIBLE_LOCAL_TEMP=$work/tmp ANSIBLE_REMOTE_TEMP=$work/tmp
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_HOST_KEY_CHECKING=0
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_DEPRECATION_WARNINGS=0
status=0
fail() {
	echo "FAIL: $*"
	status=1
}

# the inventory: one fixture tree per host
{
	echo "fleet:"
	echo "  hosts:"
	for ((i = 0; i < hosts; i++)); do
		root=$("$gen" "$i")
		roots+=("$root")
		echo "    host$i: { ansible_connection: local, sysroot: \"$root\", iopass: \"$iopass\", simkernel: \"$simkernel\" }"
	done
} >"$work/inventory.yml"

drv() { # the driver of device $2 on host $1
	local l
	l=$(readlink "${roots[$1]}/sys/bus/pci/devices/$2/driver" 2>/dev/null) || { echo none; return; }
	basename "$l"
}
booted_from_gpu() { (($1 % 4 == 0)); }

# one run: its recap into $work/recap.N, its time in $ms
run() {
	local n=$1 t0 t1
	shift
	t0=$(date +%s%N)
	ansible-playbook -i "$work/inventory.yml" -f "$forks" "$here/fleet.yml" "$@" >"$work/run.$n.log" 2>&1 || true
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	sed -n '/^PLAY RECAP/,$p' "$work/run.$n.log" | grep -E '^host[0-9]+ ' >"$work/recap.$n" || true
}
recap() { # host, key ok|changed|failed, run
	sed -n "s/^host$1 .* $2=\([0-9]*\).*/\1/p" "$work/recap.$3"
}
sum() { # key, run
	awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) s += substr($i, length(k) + 2) } END { print s + 0 }' "$work/recap.$2"
}
figures() {
	echo "ansible: run $1 ($2): $hosts hosts, forks $forks, $((ms / 1000)).$((ms % 1000 / 100)) s; ok=$(sum ok "$1") changed=$(sum changed "$1") failed=$(sum failed "$1")"
}

# 1. check mode: the plan everywhere, nothing written anywhere
run 1 --check --diff
figures 1 "--check --diff"
[ "$(wc -l <"$work/recap.1")" -eq "$hosts" ] || fail "run 1: $(wc -l <"$work/recap.1") hosts in the recap, not $hosts: $(tail -n 20 "$work/run.1.log")"
for ((i = 0; i < hosts; i++)); do
	r=${roots[$i]}
	[ ! -s "$r/sim.log" ] || fail "host$i: check mode wrote to the kernel: $(head -n 3 "$r/sim.log")"
	[ ! -e "$r/run/iopass" ] && [ ! -e "$r/etc/iopass" ] || fail "host$i: check mode made iopass state"
	if booted_from_gpu "$i"; then
		[ "$(recap "$i" failed 1)" = 1 ] || fail "host$i (boot GPU): check mode did not fail the refused task"
	else
		[ "$(recap "$i" failed 1)" = 0 ] || fail "host$i: check mode failed: $(grep -A3 "host$i\]" "$work/run.1.log" | head -n 8)"
		[ "$(recap "$i" changed 1)" -ge 2 ] || fail "host$i: check mode planned $(recap "$i" changed 1) changes"
	fi
done
grep -q '^+0000:01:00.0 driver vfio-pci' "$work/run.1.log" || fail "run 1: --diff shows no driver change"

# 2. the real run: every host converges, but the ones the guards refuse
run 2
figures 2 "converge"
for ((i = 0; i < hosts; i++)); do
	if booted_from_gpu "$i"; then
		[ "$(recap "$i" failed 2)" = 1 ] || fail "host$i (boot GPU): not refused"
		[ "$(drv "$i" 0000:01:00.0)" = nvidia ] || fail "host$i (boot GPU): the GPU moved to $(drv "$i" 0000:01:00.0)"
		[ ! -e "${roots[$i]}/etc/iopass/persist" ] || fail "host$i (boot GPU): a boot configuration was written"
		grep -q "host$i.*boot_vga\|host$i.*boot display\|host$i.*refused" "$work/run.2.log" ||
			grep -q "refused" "$work/run.2.log" || fail "host$i: no refusal in the log"
		continue
	fi
	[ "$(recap "$i" failed 2)" = 0 ] || fail "host$i: failed: $(grep -A3 "host$i\]" "$work/run.2.log" | head -n 8)"
	for d in 0000:01:00.0 0000:01:00.1 0000:03:00.2 0000:03:00.3 0000:03:00.4 0000:03:00.5; do
		[ "$(drv "$i" $d)" = vfio-pci ] || fail "host$i: $d is on $(drv "$i" $d), not vfio-pci"
	done
	[ "$(drv "$i" 0000:00:14.0)" = xhci_hcd ] || fail "host$i: the USB controller moved"
	[ "$(cat "${roots[$i]}/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs")" = 4 ] || fail "host$i: not 4 VFs"
	grep -q '^0000:01:00.1 10de:10f0 snd_hda_intel$' "${roots[$i]}/etc/iopass/persist" 2>/dev/null ||
		fail "host$i: the GPU's audio function is not in the boot configuration"
	if ((i % 3 == 1)); then
		[ "$(drv "$i" 0000:05:00.0)" = vfio-pci ] || fail "host$i: the I350 is on $(drv "$i" 0000:05:00.0)"
		want=3 # the GPU's group, the VFs, the I350
	else
		want=2 # the USB controller was the host's already
	fi
	[ "$(recap "$i" changed 2)" = "$want" ] || fail "host$i: changed=$(recap "$i" changed 2), not $want"
done

# 3. again: nothing to change anywhere
for ((i = 0; i < hosts; i++)); do rm -f "${roots[$i]}/sim.log"; done
run 3
figures 3 "again"
[ "$(sum changed 3)" = 0 ] || fail "run 3: changed=$(sum changed 3), not 0"
for ((i = 0; i < hosts; i++)); do
	[ ! -s "${roots[$i]}/sim.log" ] || fail "host$i: the second run wrote to the kernel"
	if booted_from_gpu "$i"; then
		[ "$(recap "$i" failed 3)" = 1 ] || fail "host$i (boot GPU): not refused again"
	else
		[ "$(recap "$i" failed 3)" = 0 ] || fail "host$i: the second run failed"
	fi
done

# 4. option values that would smuggle fields or lines into the desired state: refused by
# the modules, nothing written (on two hosts the runs above converged)
for ((i = 0; i < hosts; i++)); do rm -f "${roots[$i]}/sim.log"; done
t0=$(date +%s%N)
ansible-playbook -i "$work/inventory.yml" -l host1,host2 "$here/hostile.yml" >"$work/run.4.log" 2>&1 ||
	fail "run 4 (hostile values): $(grep -E 'FAILED!.*assert|fatal.*assert' -A3 "$work/run.4.log" | head -n 5)"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "ansible: run 4 (hostile option values): 2 hosts, $((ms / 1000)).$((ms % 1000 / 100)) s"
for i in 1 2; do
	[ ! -s "${roots[$i]}/sim.log" ] || fail "host$i: a hostile value reached the kernel: $(head -n 3 "${roots[$i]}/sim.log")"
done

if [ $status -ne 0 ]; then
	echo "ansible: logs:"
	tail -n 60 "$work/run.2.log"
fi
echo "ansible: $((status == 0 ? 1 : 0)) passed, $status failed"
exit $status
