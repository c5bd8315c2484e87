#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What iopass asks the kernel for, per device, on a synthetic tree (strace):
#  1. that no command spawns a process (one execve, no fork, clone or vfork);
#  2. the system calls per device of each command (strace -c);
#  3. which files each command opens, reads as links or probes per device,
#     grouped by the name inside the device directory, with how many fail.
#
#   bench/syscalls.sh [-n N] [--iopass PATH] [--gen PATH] [--workdir DIR]
#
# The tree is the one iopass-bench makes (and reuses): WORKDIR/tree-N-s1.
set -euo pipefail

n=1024
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
iopass=$build/iopass
gen=""
workdir=""
while (($#)); do
	case $1 in
	-n) n=$2; shift ;;
	--iopass) iopass=$2; shift ;;
	--gen) gen=$2; shift ;;
	--workdir) workdir=$2; shift ;;
	-h|--help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "syscalls.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
command -v strace >/dev/null || { echo "syscalls.sh: strace is not installed (apt-get install strace)" >&2; exit 1; }
if [[ -z $workdir ]]; then
	if [[ -w /dev/shm ]]; then workdir=/dev/shm/iopass-bench; else workdir=/tmp/iopass-bench; fi
fi
if [[ -z $gen ]]; then
	for g in "$build/bench/iopass-bench-gen" "$build/iopass-bench-gen"; do
		[[ -x $g ]] && { gen=$g; break; }
	done
fi
tree=$workdir/tree-$n-s1
if [[ ! -f $tree/bench-tree.txt ]]; then
	[[ -n $gen && -x $gen ]] || { echo "syscalls.sh: no tree at $tree and no iopass-bench-gen (--gen)" >&2; exit 1; }
	mkdir -p "$workdir"
	rm -rf "$tree"
	"$gen" -q -n "$n" "$tree"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LC_ALL=C
unset IOPASS_PCI_IDS IOPASS_SYSROOT

cmds=("list" "list -J" "check --all -J" "__complete attach")
if ! "$iopass" __complete attach >/dev/null 2>&1; then
	cmds[3]="list -D -n -r -o BDF,DRIVER"
fi

echo "iopass: $iopass"
echo "tree:   $tree ($n functions)"
echo
echo "== 1. processes (strace -f -e trace=process): one execve, no fork/clone/vfork"
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086
	strace -f -qq -e trace=process -o "$out/proc" "$iopass" --sysroot "$tree" $c >/dev/null 2>&1 || true
	execs=$(grep -c 'execve(' "$out/proc" || true)
	forks=$(grep -cE '(^|[^a-z_])(clone3?|fork|vfork)\(' "$out/proc" || true)
	verdict=ok
	((execs == 1 && forks == 0)) || verdict=SPAWNS
	printf '  %-30s execve %d, clone/fork/vfork %d: %s\n' "$c" "$execs" "$forks" "$verdict"
done

echo
echo "== 2. system calls per device (strace -f -c), N=$n"
for c in "${cmds[@]}"; do
	# shellcheck disable=SC2086
	strace -f -qq -c -o "$out/count" "$iopass" --sysroot "$tree" $c >/dev/null 2>&1 || true
	awk -v n="$n" -v c="$c" '
		$NF == "total" { total = $4 }
		$1 ~ /^[0-9.]+$/ && $NF != "total" {
			calls = $4; name = $NF
			per[name] = calls
		}
		END {
			printf "  %-30s %6.1f calls/device (%d in all):", c, total / n, total
			# the five biggest
			for (k = 0; k < 5; k++) {
				best = ""; bv = -1
				for (s in per) if (per[s] > bv) { bv = per[s]; best = s }
				if (best == "") break
				printf " %s %.1f", best, bv / n
				delete per[best]
			}
			printf "\n"
		}' "$out/count"
done

echo
echo "== 3. files per device (strace -y: openat, readlinkat, faccessat2, newfstatat, statx), N=$n"
echo "   NAME is the path inside the device directory; 'fail' counts ENOENT and other errors"
for c in "${cmds[@]}"; do
	echo
	echo "  iopass $c"
	# shellcheck disable=SC2086
	strace -f -qq -y -e trace=openat,open,readlinkat,readlink,faccessat,faccessat2,access,newfstatat,fstatat64,statx,stat,lstat \
		-o "$out/files" "$iopass" --sysroot "$tree" $c >/dev/null 2>&1 || true
	awk -v n="$n" -v root="$tree" '
		function devrel(p,    i, parts, k, rel) {
			# the part of p after its last DDDD:BB:DD.F component, "" for the device itself
			k = split(p, parts, "/")
			for (i = k; i >= 1; i--)
				if (parts[i] ~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]\.[0-7]$/) break
			if (i < 1) return "-"
			rel = ""
			for (j = i + 1; j <= k; j++) if (parts[j] != "") rel = rel (rel == "" ? "" : "/") parts[j]
			# net/eth0/..., nvme/nvme0/...: one row for the subdirectory
			if (index(rel, "/")) { sub(/\/.*/, "", rel); rel = rel "/..." }
			return rel == "" ? "(the device itself)" : rel
		}
		{
			line = $0
			sub(/^[0-9]+ +/, "", line)            # pid with -f
			call = line; sub(/\(.*/, "", call)
			args = line; sub(/^[a-z0-9_]+\(/, "", args)
			dir = ""
			if (args ~ /^[0-9]+</) {
				dir = args; sub(/^[0-9]+</, "", dir); sub(/>.*/, "", dir)
				sub(/^[0-9]+<[^>]*>, /, "", args)
			} else if (args ~ /^AT_FDCWD(<[^>]*>)?, /) {
				sub(/^AT_FDCWD(<[^>]*>)?, /, "", args)
			}
			name = args; sub(/^"/, "", name); sub(/".*/, "", name)
			path = (name ~ /^\//) ? name : (dir == "" ? name : dir "/" name)
			fail = (line ~ /= -1 /)
			rel = devrel(path)
			if (rel == "-") {
				# outside the device directories: once-per-run files
				p = path
				if (index(p, root) == 1) p = "ROOT" substr(p, length(root) + 1)
				if (p ~ /^ROOT\/(sys\/bus\/pci\/devices|sys\/kernel\/iommu_groups)\/[^\/]+$/) {
					# a per-device entry reached from the top (counted per device)
					sub(/\/[^\/]+$/, "/*", p)
					rel = "via " p
				} else {
					# one row per directory: ROOT/sys/class/net/*, /usr/lib/...
					if (p ~ /^ROOT\/(sys|proc)\//) sub(/\/[^\/]+\/?$/, "/*", p)
					else if (p ~ /^\/(usr\/)?lib/) p = "(shared libraries)"
					other[call " " p (fail ? " (fail)" : "")]++
					next
				}
			}
			key = sprintf("%-11s %s", call, rel)
			cnt[key]++
			if (fail) nfail[key]++
		}
		END {
			printf "    %-11s %-34s %9s %7s\n", "SYSCALL", "NAME", "PER DEV", "FAIL"
			m = 0
			for (k in cnt) keys[++m] = k
			# sort by count, descending (insertion sort: few keys)
			for (i = 2; i <= m; i++) { v = keys[i]; j = i - 1
				while (j >= 1 && cnt[keys[j]] < cnt[v]) { keys[j+1] = keys[j]; j-- }
				keys[j+1] = v }
			tot = 0
			for (i = 1; i <= m; i++) {
				k = keys[i]; split(k, f, " ")
				rest = k; sub(/^[^ ]+ +/, "", rest)
				printf "    %-11s %-34s %9.2f %6.0f%%\n", f[1], rest, cnt[k] / n, 100 * nfail[k] / cnt[k]
				tot += cnt[k]
			}
			printf "    %-46s %9.2f\n", "all per-device file calls", tot / n
			no = 0
			for (k in other) no += other[k]
			printf "    plus %d calls outside the device directories, the most frequent:\n", no
			for (r = 0; r < 6; r++) {
				best = ""; bv = 0
				for (k in other) if (other[k] > bv) { bv = other[k]; best = k }
				if (best == "") break
				printf "      %6d  %s\n", bv, best
				delete other[best]
			}
		}' "$out/files"
done
