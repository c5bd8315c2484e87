#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion, driven as bash drives it (COMP_WORDS, COMP_CWORD,
# COMP_LINE, COMP_POINT) on a sysfs tree built here, and checked against
# the candidates it offers. Also: its option, class and column lists match
# what --help prints, it runs no program but iopass, and iopass at most once
# per completion.
#
#   test-completion.sh IOPASS [COMPLETION-SCRIPT]
#
# COMPLETION-SCRIPT defaults to completions/iopass.bash next to tests/.
# shellcheck disable=SC2154 # the _iopass_* lists come from the completion script
set -u

bin=${1:?usage: test-completion.sh IOPASS [COMPLETION-SCRIPT]}
script=${2:-$(cd "$(dirname "$0")/.." && pwd)/completions/iopass.bash}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
pass=0
fail=0
maxcalls=0
got=""
got_line=""

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iopass-compl-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
empty=$tmp/empty
mkdir -p "$root" "$empty" "$tmp/bin"

# ---- the fixture: the layout of tests/fixture.c ---------------------------

# dev BDF CLASS VVVV:DDDD DRIVER|- GROUP [vfio]
dev()
{
	local bdf=$1 cls=$2 id=$3 drv=$4 grp=$5 dir=sys/devices/pci0000:00/$1
	mkdir -p "$root/$dir" "$root/sys/bus/pci/devices" "$root/sys/bus/pci/drivers"
	{
		[[ $drv != - ]] && printf 'DRIVER=%s\n' "$drv"
		printf 'PCI_CLASS=%s\nPCI_ID=%s\nPCI_SLOT_NAME=%s\n' "$cls" "$id" "$bdf"
	} >"$root/$dir/uevent"
	ln -s "../../../devices/pci0000:00/$bdf" "$root/sys/bus/pci/devices/$bdf"
	if [[ $drv != - ]]; then
		mkdir -p "$root/sys/bus/pci/drivers/$drv"
		ln -s "../../../bus/pci/drivers/$drv" "$root/$dir/driver"
		ln -s "../../../../devices/pci0000:00/$bdf" "$root/sys/bus/pci/drivers/$drv/$bdf"
	fi
	mkdir -p "$root/sys/kernel/iommu_groups/$grp/devices"
	ln -s "../../../kernel/iommu_groups/$grp" "$root/$dir/iommu_group"
	ln -s "../../../../devices/pci0000:00/$bdf" "$root/sys/kernel/iommu_groups/$grp/devices/$bdf"
	[[ ${6-} == vfio ]] && mkdir -p "$root/$dir/vfio-dev/vfio0"
	return 0
}

dev 0000:00:00.0 60000 8086:3ec2 skl_uncore 0
dev 0000:00:01.0 60400 8086:1901 pcieport 1
dev 0000:01:00.0 30000 10de:1b80 vfio-pci 1 vfio
dev 0000:01:00.1 40300 10de:10f0 snd_hda_intel 1
dev 0000:00:14.0 C0330 8086:A36D xhci_hcd 3
dev 0000:03:00.0 20000 15b3:1017 mlx5_core 5
dev 0000:03:00.2 20000 15b3:1018 vfio-pci 6 vfio
dev 0000:03:00.3 20000 15b3:1018 mlx5_core 7
# two identical NICs, one on vfio-pci: --id cannot name either
dev 0000:04:00.0 20000 8086:1521 igb 8
dev 0000:05:00.0 20000 8086:1521 vfio-pci 9 vfio
# a device no driver has
dev 0000:06:00.0 10802 144d:a808 - 10
printf '4\n' >"$root/sys/devices/pci0000:00/0000:03:00.0/sriov_totalvfs"
printf '2\n' >"$root/sys/devices/pci0000:00/0000:03:00.0/sriov_numvfs"
ln -s ../0000:03:00.0 "$root/sys/devices/pci0000:00/0000:03:00.2/physfn"
ln -s ../0000:03:00.0 "$root/sys/devices/pci0000:00/0000:03:00.3/physfn"
mkdir -p "$root/etc/iopass"
printf 'iopass-persist 1\n0000:01:00.0 10de:1b80 nvidia\n0000:05:00.0 8086:1521 igb\n' \
	>"$root/etc/iopass/persist"
chmod 755 "$root" "$root/etc" "$root/etc/iopass"

# iopass through a wrapper that counts its runs; PATH holds nothing else,
# so any other program the completion ran would be missing
calls=$tmp/calls
printf '#!%s\nprintf "%%s\\n" "$*" >>%q\nexec %q "$@"\n' "$BASH" "$calls" "$bin" >"$tmp/bin/iopass"
chmod +x "$tmp/bin/iopass"

# shellcheck source=/dev/null
. "$script" || {
	echo "cannot source $script"
	exit 1
}

# ---- driving the completion ------------------------------------------------

# Split LINE as readline does for bash: at blanks, and the characters of
# COMP_WORDBREAKS that matter here (':' and '=') become words of their own.
split_line()
{
	local line=$1 c word="" brk=""
	COMP_WORDS=()
	for ((k = 0; k < ${#line}; k++)); do
		c=${line:k:1}
		if [[ $c == [[:blank:]] ]]; then
			[[ -n $word ]] && COMP_WORDS+=("$word")
			word=""
			brk=""
		elif [[ $c == [:=] ]]; then
			if [[ -n $word && -z $brk ]]; then
				COMP_WORDS+=("$word")
				word=""
			fi
			word+=$c
			brk=1
		else
			if [[ -n $brk ]]; then
				COMP_WORDS+=("$word")
				word=""
				brk=""
			fi
			word+=$c
		fi
	done
	if [[ -n $word || $line == *[[:blank:]] || ${#COMP_WORDS[@]} -eq 0 ]]; then
		COMP_WORDS+=("$word")
	fi
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
}

# Complete LINE (the cursor at its end); the candidates in got, one per line.
comp()
{
	local k
	split_line "$1"
	COMP_LINE=$1
	COMP_POINT=${#1}
	COMPREPLY=()
	: >"$calls"
	PATH=$tmp/bin _iopass iopass "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]-}"
	got=$(printf '%s\n' "${COMPREPLY[@]}")
	got_line=$1
	ncalls=$(wc -l <"$calls")
	((ncalls > maxcalls)) && maxcalls=$ncalls
	return 0
}

ok()
{
	pass=$((pass + 1))
}

bad()
{
	fail=$((fail + 1))
	printf 'FAIL: %s\n' "$*"
	[[ -n $got_line ]] && printf '  candidates of "%s": %s\n' "$got_line" "$(tr '\n' ' ' <<<"$got")"
	return 0
}

# has LINE CANDIDATE...: each candidate is offered
has()
{
	local line=$1 c
	shift
	comp "$line"
	for c in "$@"; do
		if grep -qxF -- "$c" <<<"$got"; then ok; else bad "'$line' should offer '$c'"; fi
	done
}

# lacks LINE CANDIDATE...: none of them is offered
lacks()
{
	local line=$1 c
	shift
	comp "$line"
	for c in "$@"; do
		if grep -qxF -- "$c" <<<"$got"; then bad "'$line' should not offer '$c'"; else ok; fi
	done
}

# exactly LINE CANDIDATE...: these and no others (in any order)
exactly()
{
	local line=$1 want
	shift
	comp "$line"
	want=$(printf '%s\n' "$@" | sort)
	if [[ $(sort <<<"$got") == "$want" ]]; then ok; else bad "'$line' should offer exactly: $*"; fi
}

export IOPASS_SYSROOT=$root
I="iopass"

# ---- commands and options ---------------------------------------------------

has "$I " list check attach detach emit vf persist apply help
exactly "$I p" persist
exactly "$I ap" apply
has "$I help " persist vf apply
has "$I --" --sysroot --color --help --version
has "$I --color=" always never auto
has "$I attach --p" --persist
has "$I detach --pe" --persist
lacks "$I list --p" --persist

# ---- attach: endpoints not on vfio; detach: devices on vfio ----------------

has "$I attach " 0000:00:14.0 0000:01:00.1 0000:03:00.3 0000:04:00.0 0000:06:00.0
lacks "$I attach " 0000:01:00.0 0000:03:00.2 0000:05:00.0 0000:00:01.0 group:3 group:1
if [[ $ncalls -eq 1 ]]; then ok; else bad "attach ran iopass $ncalls times, not once"; fi
exactly "$I detach " 0000:01:00.0 0000:03:00.2 0000:05:00.0
# group:N once the word starts with g (the query for addresses reads no group links)
exactly "$I attach g" group:0 group:1 group:3 group:5 group:7 group:8 group:10
if [[ $ncalls -eq 1 ]]; then ok; else bad "attach g ran iopass $ncalls times, not once"; fi
exactly "$I attach group:1" 1 10
exactly "$I detach g" group:1 group:6 group:9
exactly "$I detach 0000:01:00.0 gr" group:1 group:6 group:9
lacks "$I detach " 0000:00:14.0
exactly "$I attach --persist 01:" 00.1
exactly "$I detach --persist 01:" 00.0
# bash split the word at ':': the candidates are what follows the last one
exactly "$I attach 0000:01:00." 00.1
exactly "$I detach -a " # --all takes no devices
has "$I attach --group " 1 3 5 7 8 10
lacks "$I attach --group " 6 9
exactly "$I detach -g " 1 6 9
exactly "$I attach -fg " 0 1 3 5 7 8 10
has "$I attach --id " 8086:a36d 10de:10f0
lacks "$I attach --id " 8086:1521 10de:1b80 8086:1901
exactly "$I attach --id 8086:" a36d
has "$I attach --driver " vfio-pci
lacks "$I attach --driver " igb
exactly "$I attach --driver ig" igb

# ---- list, check ------------------------------------------------------------

exactly "$I list --group " 0 1 3 5 6 7 8 9 10
exactly "$I list -g 1" 1 10
has "$I list -o " BDF GROUP DRIVER
has "$I list -o BDF," BDF,GROUP BDF,DRIVER BDF,FLAGS
lacks "$I list -o BDF," BDF,BDF
exactly "$I list -o bdf,dr" bdf,driver
exactly "$I list --output=BDF,GROUP,DRI" BDF,GROUP,DRIVER
exactly "$I list -o +PH" +PHYSFN
has "$I list --class " net nvme display usb storage
exactly "$I list -c n" net nvme
has "$I list --driver " none igb vfio-pci xhci_hcd
has "$I list -d " 8086:1521 8086:a36d
has "$I list " 0000:00:01.0 0000:01:00.0 0000:06:00.0
has "$I check " 0000:00:14.0 0000:01:00.0 group:1 group:10
exactly "$I check --all "
exactly "$I check group:1" 1 10

# ---- emit: the devices on vfio; everything with --managed -------------------

exactly "$I emit " 0000:01:00.0 0000:03:00.2 0000:05:00.0 group:1 group:6 group:9
has "$I emit --managed " 0000:00:14.0 0000:01:00.0
exactly "$I emit 0000:00:1" 14.0
has "$I emit --rombar " on off
has "$I emit --group " 1 6

# ---- vf: actions, PFs, counts from "N of M VFs" -------------------------------

exactly "$I vf " create remove
exactly "$I vf create " 0000:03:00.0
exactly "$I vf create 03:" 00.0
exactly "$I vf create 03:00.0 " 1 2 3 4
exactly "$I vf create --attach 0000:03:00.0 " 1 2 3 4
exactly "$I vf create -w 5 0000:03:00.0 3" 3
exactly "$I vf remove 0000:03:00.0 "
has "$I vf create -" --attach --dry-run
lacks "$I vf remove -" --attach

# ---- persist: actions, the persisted devices -----------------------------------

exactly "$I persist " list remove
exactly "$I persist remove " 0000:01:00.0 0000:05:00.0
exactly "$I persist remove 05:" 00.0
has "$I persist list -" -J --json
lacks "$I persist list -" -f
has "$I persist remove -" -f --force
exactly "$I persist list "
# a record that cannot be read (here: corrupt; for a user, root's): every device
mv "$root/etc/iopass/persist" "$tmp/persist"
printf 'iopass-persist 1\nnonsense\n' >"$root/etc/iopass/persist"
m=$maxcalls
has "$I persist remove " 0000:00:14.0 0000:01:00.0 0000:06:00.0
maxcalls=$m # the one case of two runs: 'persist list -J', then the query
mv "$tmp/persist" "$root/etc/iopass/persist"

# ---- apply: one desired-state file, or - for standard input; no iopass run ----------

mkdir -p "$tmp/files/desired.d"
: >"$tmp/files/desired"
: >"$tmp/files/other"
has "$I apply -" -n --check --dry-run --diff -f --force -J --json -w --wait --sysroot -
lacks "$I apply -" --persist --all --group --attach
exactly "$I apply --d" --dry-run --diff
exactly "$I apply $tmp/files/d" "$tmp/files/desired" "$tmp/files/desired.d"
exactly "$I apply -n $tmp/files/o" "$tmp/files/other"
exactly "$I apply -w 5 $tmp/files/o" "$tmp/files/other"
exactly "$I apply --wait=5 $tmp/files/o" "$tmp/files/other"
exactly "$I apply -nw 5 $tmp/files/o" "$tmp/files/other"
exactly "$I apply -w "
exactly "$I apply -nw "
exactly "$I apply $tmp/files/desired "
exactly "$I apply - "
exactly "$I apply --diff - "
has "$I apply --diff " -
if [[ $ncalls -eq 0 ]]; then ok; else bad "apply ran iopass $ncalls times, not at all"; fi

# ---- the sysroot: --sysroot on the line wins over IOPASS_SYSROOT ------------------

export IOPASS_SYSROOT=$empty
exactly "$I detach "
exactly "$I --sysroot $root detach " 0000:01:00.0 0000:03:00.2 0000:05:00.0
exactly "$I --sysroot $root detach g" group:1 group:6 group:9
exactly "$I detach --sysroot=$root 0000:03:" 00.2
exactly "$I vf create --sysroot $root 03:00.0 " 1 2 3 4
IOPASS_SYSROOT=$root
# not exported: still used
export -n IOPASS_SYSROOT
exactly "$I detach -g " 1 6 9
export IOPASS_SYSROOT

# the iopass named on the command line is the one that runs
has "$tmp/bin/iopass attach " 0000:00:14.0
has "$bin --sysroot $root attach " 0000:00:14.0

# one run of iopass at most for any completion, and no sysfs walking in bash
if ((maxcalls <= 1)); then ok; else bad "a completion ran iopass $maxcalls times"; fi
if grep -n '/sys/' "$script"; then bad "$script reads sysfs itself"; else ok; fi

# ---- the lists in the completion match --help ----------------------------------

got_line=""
help_cmds=$("$bin" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | sort)
if [[ $help_cmds == "$(tr -s ' \t\n' '\n' <<<"$_iopass_commands" | grep . | sort)" ]]; then
	ok
else
	bad "commands: --help has $(xargs <<<"$help_cmds"), the completion $_iopass_commands"
fi
classes=$("$bin" list --help | sed -n 's/^Class names: //p')
if [[ $(tr -s ' \t\n' ' ' <<<"$classes" | xargs) == $(tr -s ' \t\n' ' ' <<<"$_iopass_classes" | xargs) ]]; then
	ok
else
	bad "class names: --help has '$classes'"
fi
columns=$("$bin" list --help | sed -n '/^Available output columns:/,/^$/s/^ *\([A-Z_]*\)  .*/\1/p' | xargs)
if [[ $columns == $(xargs <<<"$_iopass_columns") ]]; then
	ok
else
	bad "columns: --help has '$columns'"
fi
for c in list check attach detach emit vf persist apply; do
	var=_iopass_${c}_opts
	opts=" $(xargs <<<"${!var-}") "
	[[ $c == vf ]] && opts+="-a --attach "
	[[ $c == persist ]] && opts+="-J --json -f --force "
	# the option lines of --help, up to the description
	for o in $("$bin" "$c" --help | grep -E '^ +-' | sed -E 's/^ +//; s/  .*//' |
		grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u); do
		if [[ $opts == *" $o "* ]]; then ok; else bad "$c: option $o of --help is not completed"; fi
	done
done

# ---- zsh and fish: syntax, and the same knowledge (when they are installed) --------

compdir=$(dirname "$script")
export XDG_CONFIG_HOME=$tmp/xdg XDG_DATA_HOME=$tmp/xdg XDG_CACHE_HOME=$tmp/xdg
mkdir -p "$tmp/xdg"

# zsh: a zsh on a pty (zpty) completes LINE; a compadd wrapper prints what
# it adds
cat >"$tmp/capture.zsh" <<'ZSH'
zmodload zsh/zpty || exit 1
setopt extendedglob
compdir=$1 line=$2
zpty z zsh -f -i
zpty -w z "unsetopt promptsp promptcr; PS1='<<P>>'; PS2=''; fpath=(${(q)compdir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() {
  local -a __hits
  builtin compadd -O __hits "$@"
  (( $#__hits )) && print -r -- "<<HIT>>" "${(@)__hits}"
  builtin compadd "$@"
}'
zpty -w z 'zstyle ":completion:*" list-prompt ""; zstyle ":completion:*" menu no; bindkey "^I" complete-word'
# the output of print, then the prompt: zle reads the terminal now
zpty -w z "print '<<READY>>'"
zpty -r -m z l "*<<READY>>[^\']#<<P>>*" || exit 1
zpty -n -w z "$line"$'\t'
zpty -w z $'\C-u'"print '<<DONE>>'"
while zpty -r z l; do
  [[ $l == *'<<DONE>>'* && $l != *print* ]] && break
  [[ $l == *'<<HIT>>'* ]] && print -r -- "${${l#*<<HIT>> }%%$'\r'*}"
done
zpty -d z
ZSH

cands_zsh()
{
	PATH=$tmp/bin:$PATH timeout 30 zsh -f "$tmp/capture.zsh" "$compdir" "$1" | tr ' ' '\n' | grep . | sort -u
}

cands_fish()
{
	# shellcheck disable=SC2016 # fish expands them
	PATH=$tmp/bin:$PATH timeout 30 fish --no-config -c 'source $argv[1]; complete -C $argv[2]' \
		"$compdir/iopass.fish" "$1" | cut -f1 | sort -u
}

# sh_has SHELL LINE CANDIDATE...; sh_lacks; sh_exactly
sh_has()
{
	local sh=$1 line=$2 c
	shift 2
	got=$("cands_$sh" "$line")
	got_line="$sh: $line"
	for c in "$@"; do
		if grep -qxF -- "$c" <<<"$got"; then ok; else bad "$sh: '$line' should offer '$c'"; fi
	done
}

sh_lacks()
{
	local sh=$1 line=$2 c
	shift 2
	got=$("cands_$sh" "$line")
	got_line="$sh: $line"
	for c in "$@"; do
		if grep -qxF -- "$c" <<<"$got"; then bad "$sh: '$line' should not offer '$c'"; else ok; fi
	done
}

sh_exactly()
{
	local sh=$1 line=$2
	shift 2
	got=$("cands_$sh" "$line")
	got_line="$sh: $line"
	if [[ $got == "$(printf '%s\n' "$@" | sort -u)" ]]; then ok; else bad "$sh: '$line' should offer exactly: $*"; fi
}

for sh in zsh fish; do
	if ! command -v "$sh" >/dev/null; then
		echo "$sh is not installed: its completion is not checked"
		continue
	fi
	if [[ $sh == zsh ]]; then
		f=$compdir/_iopass
		zmodload_ok=$(zsh -fc 'zmodload zsh/zpty && echo yes' 2>/dev/null)
	else
		f=$compdir/iopass.fish
		zmodload_ok=yes
	fi
	if out=$("$sh" -n "$f" 2>&1) && [[ -z $out ]]; then ok; else bad "$sh -n $f: $out"; fi
	[[ $zmodload_ok == yes ]] || continue
	sh_has "$sh" "$I " list check attach detach emit vf persist apply help
	sh_has "$sh" "$I attach " 0000:00:14.0 0000:01:00.1
	sh_lacks "$sh" "$I attach " 0000:01:00.0 0000:00:01.0 group:3 group:6
	sh_exactly "$sh" "$I attach g" group:0 group:1 group:3 group:5 group:7 group:8 group:10
	sh_exactly "$sh" "$I detach " 0000:01:00.0 0000:03:00.2 0000:05:00.0
	sh_exactly "$sh" "$I detach g" group:1 group:6 group:9
	sh_has "$sh" "$I attach --group " 1 3 10
	sh_lacks "$sh" "$I attach --group " 6 9
	sh_exactly "$sh" "$I attach --id " 8086:a36d 10de:10f0 15b3:1017 144d:a808
	sh_has "$sh" "$I attach --driver " vfio-pci
	sh_has "$sh" "$I attach --p" --persist
	sh_has "$sh" "$I detach --p" --persist
	sh_has "$sh" "$I list --class " net nvme usb
	sh_exactly "$sh" "$I vf create " 0000:03:00.0
	sh_exactly "$sh" "$I vf create 03:00.0 " 1 2 3 4
	sh_exactly "$sh" "$I persist " list remove
	sh_exactly "$sh" "$I persist remove " 0000:01:00.0 0000:05:00.0
	sh_exactly "$sh" "$I emit " 0000:01:00.0 0000:03:00.2 0000:05:00.0 group:1 group:6 group:9
	sh_has "$sh" "$I apply --" --check --dry-run --diff --force --json --wait
	sh_lacks "$sh" "$I apply --" --persist --all
	sh_has "$sh" "$I apply " -
	sh_has "$sh" "$I apply --diff " -
	# one FILE only (zsh offers the options then)
	sh_lacks "$sh" "$I apply $tmp/files/other " - other "$tmp/files/other"
	# --sysroot on the line wins over $IOPASS_SYSROOT (zsh then offers options)
	sh_lacks "$sh" "$I --sysroot $empty detach " 0000:01:00.0 group:1
	if [[ $sh == zsh ]]; then
		# _values completes the column after the comma
		sh_has zsh "$I list -o BDF," GROUP DRIVER
		sh_lacks zsh "$I list -o BDF," BDF
		# _files adds the last part of a path
		sh_has zsh "$I apply $tmp/files/o" other
	else
		sh_has fish "$I list -o BDF," BDF,GROUP BDF,DRIVER
		sh_lacks fish "$I list -o BDF," BDF,BDF
		sh_exactly fish "$I apply $tmp/files/o" "$tmp/files/other"
	fi
done

printf '%d passed, %d failed\n' "$pass" "$fail"
[[ $fail -eq 0 ]]
