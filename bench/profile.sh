#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Where an iopass command spends its time on a synthetic tree: perf record
# with DWARF call graphs, then the functions by inclusive and by self time.
#
#   bench/profile.sh [-n N] [--callgrind] [--iopass PATH] [--] IOPASS-ARGS...
#   e.g. bench/profile.sh -n 16384 check --all -J
#
# --callgrind counts instructions with valgrind instead (deterministic, slow;
# the output file is kept and named). The tree is iopass-bench's
# WORKDIR/tree-N-s1; make it with bench/run.sh or iopass-bench-gen first.
set -euo pipefail

n=16384
here=$(cd "$(dirname "$0")" && pwd)
iopass=${BUILD:-$here/../build}/iopass
workdir=""
callgrind=false
while (($#)); do
	case $1 in
	-n) n=$2; shift 2 ;;
	--iopass) iopass=$2; shift 2 ;;
	--workdir) workdir=$2; shift 2 ;;
	--callgrind) callgrind=true; shift ;;
	-h|--help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
(($#)) || set -- list
if [[ -z $workdir ]]; then
	if [[ -w /dev/shm ]]; then workdir=/dev/shm/iopass-bench; else workdir=/tmp/iopass-bench; fi
fi
tree=$workdir/tree-$n-s1
[[ -f $tree/bench-tree.txt ]] || { echo "profile.sh: no tree at $tree (run bench/run.sh --sizes $n first)" >&2; exit 1; }
export LC_ALL=C
unset IOPASS_PCI_IDS IOPASS_SYSROOT

if $callgrind; then
	out=$workdir/callgrind.out.$n.$(echo "$*" | tr -c 'a-zA-Z0-9\n' '_')
	valgrind --tool=callgrind --callgrind-out-file="$out" "$iopass" --sysroot "$tree" "$@" >/dev/null 2>"$out.log" || true
	callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '1,45p'
	echo "(kept $out; callgrind_annotate --inclusive=no $out for self cost)"
	exit 0
fi
data=$(mktemp)
trap 'rm -f "$data" "$data.old"' EXIT
perf record -q -e cpu-clock -F 2999 --call-graph dwarf -o "$data" \
	"$iopass" --sysroot "$tree" "$@" >/dev/null 2>&1 || true
echo "== iopass $* at N=$n: inclusive (children) time"
perf report -i "$data" --children --stdio --sort sym --percent-limit 2 -g none 2>/dev/null |
	grep -E '^ +[0-9]' | grep -vE '_start|__libc_start|entry_SYSCALL|do_syscall_64' | head -40
echo
echo "== self time"
perf report -i "$data" --no-children --stdio --sort dso,sym --percent-limit 1 -g none 2>/dev/null |
	grep -E '^ +[0-9]' | head -25
