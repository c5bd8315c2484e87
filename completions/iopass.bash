# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for iopass(8)                            -*- shell-script -*-
#
# Self-contained: needs neither the bash-completion package nor any external
# program. Candidates for --group, --driver, --id, device and group:N
# arguments come from sysfs below the sysroot in use: the last --sysroot DIR
# on the command line, else $IOPASS_SYSROOT, else /. For attach and detach
# they are the devices that fit the command: attach offers the endpoints not
# bound to a vfio driver, detach the devices bound to one. emit offers the
# devices on a vfio driver, and every device when none of those fits (or
# with --managed). vf offers its actions, then the SR-IOV physical functions
# (devices with sriov_totalvfs), then for create the counts from 1 to that
# PF's sriov_totalvfs.

_iopass_commands="list check attach detach emit vf help"
_iopass_help_topics="list check attach detach emit vf"
_iopass_global_opts="--sysroot --color -v --verbose -q --quiet -h --help -V --version"
_iopass_list_opts="-D --devices -o --output --output-all -J --json -r --raw
	-n --noheadings -g --group -c --class -d --id --driver
	--sysroot --color -v --verbose -q --quiet -h --help"
_iopass_check_opts="-g --group -a --all -J --json
	--sysroot --color -v --verbose -q --quiet -h --help"
_iopass_attach_opts="-g --group -d --id --driver -f --force -n --dry-run -J --json
	-w --wait --sysroot --color -v --verbose -q --quiet -h --help"
_iopass_detach_opts="-g --group -a --all -f --force -n --dry-run -J --json
	-w --wait --sysroot --color -v --verbose -q --quiet -h --help"
_iopass_emit_opts="--qemu --libvirt -J --json -g --group --bus --first-slot
	--rombar --romfile --primary-gpu --display --iommufd --managed --split
	--strict --sysroot --color -v --verbose -q --quiet -h --help"
_iopass_vf_opts="-f --force -n --dry-run -J --json -w --wait
	--sysroot --color -v --verbose -q --quiet -h --help"
_iopass_classes="storage nvme net display gpu multimedia audio memory bridge
	communication system input processor serial usb wireless crypto signal
	accelerator unassigned"
_iopass_columns="NAME BDF GROUP CLASS CLASSID DEVICE VENDOR PRODUCT ID VENDOR_ID
	DEVICE_ID SUBSYS_ID DRIVER VFIO BRIDGE BOOT_VGA PHYSFN NUMVFS TOTALVFS FLAGS"

# Append to COMPREPLY each candidate (after $1, the prefix to put in front)
# that starts with $2.
_iopass_add()
{
	local prefix=$1 cur=$2 c
	shift 2
	for c in "$@"; do
		[[ $c == "$cur"* ]] && COMPREPLY+=("$prefix$c")
	done
	return 0
}

# The base names of the entries of directory $1 (none if it is missing).
_iopass_ls()
{
	local f
	_iopass_names=()
	for f in "$1"/*; do
		[[ -e $f || -L $f ]] && _iopass_names+=("${f##*/}")
	done
	return 0
}

# The PCI addresses after $1 that start with $1; the short form BB:SS.F
# when the full one does not fit what was typed.
_iopass_addrs()
{
	local cur=$1 w n=${#COMPREPLY[@]}
	local -a short=()
	shift
	_iopass_add "" "$cur" "$@"
	if ((${#COMPREPLY[@]} == n)) && [[ -n $cur ]]; then
		for w in "$@"; do
			[[ $w == 0000:* ]] && short+=("${w#0000:}")
		done
		_iopass_add "" "$cur" "${short[@]}"
	fi
	return 0
}

# PCI addresses below sysroot $1 that start with $2.
_iopass_devices()
{
	_iopass_ls "$1/sys/bus/pci/devices"
	_iopass_addrs "$2" "${_iopass_names[@]}"
}

# The vendor:device ID of device directory $1 (from its uevent), in
# _iopass_id; empty when it cannot be read.
_iopass_read_id()
{
	local l
	_iopass_id=""
	[[ -r $1/uevent ]] || return 0
	while IFS= read -r l; do
		if [[ $l == PCI_ID=* ]]; then
			_iopass_id=${l#PCI_ID=}
			_iopass_id=${_iopass_id,,}
			break
		fi
	done <"$1/uevent"
	return 0
}

# Is device directory $1 (below sysroot $2) bound to a vfio driver: it has
# a vfio-dev directory (Linux 6.1+), or its driver link leads to vfio-pci
# or to a driver with vfio in its name (vfio variant drivers such as
# mlx5_vfio_pci)? The link is compared with the driver directories by
# inode, so no external readlink is needed.
_iopass_is_vfio()
{
	local dev=$1 root=$2 drv
	[[ -d $dev/vfio-dev ]] && return 0
	[[ -e $dev/driver ]] || return 1
	for drv in "$root"/sys/bus/pci/drivers/*vfio*; do
		[[ $dev/driver -ef $drv ]] && return 0
	done
	return 1
}

# Is device directory $1 a bridge (class 0604 PCI-to-PCI, 0607 CardBus)?
# attach refuses those.
_iopass_is_bridge()
{
	local cls=""
	[[ -r $1/class ]] && read -r cls <"$1/class"
	[[ ${cls,,} == 0x0604* || ${cls,,} == 0x0607* ]]
}

# The devices below sysroot $1 that fit command $2 (attach: endpoints not on
# a vfio driver; detach: devices on one), in _iopass_fit; the IOMMU groups
# with such a device, in _iopass_fit_groups; and (attach) the IDs that
# exactly one device has, that device fitting, in _iopass_fit_ids.
_iopass_fit_scan()
{
	local root=$1 mode=$2 dev bdf g id
	local -a all_ids=() fit_ids=()
	_iopass_fit=()
	_iopass_fit_groups=()
	_iopass_fit_ids=()
	for dev in "$root"/sys/bus/pci/devices/*; do
		[[ -e $dev ]] || continue
		bdf=${dev##*/}
		if [[ $mode == attach ]]; then
			_iopass_read_id "$dev"
			[[ -n $_iopass_id ]] && all_ids+=("$_iopass_id")
			if _iopass_is_bridge "$dev" || _iopass_is_vfio "$dev" "$root"; then
				continue
			fi
			[[ -n $_iopass_id ]] && fit_ids+=("$_iopass_id")
		else
			_iopass_is_vfio "$dev" "$root" || continue
		fi
		_iopass_fit+=("$bdf")
	done
	for g in "$root"/sys/kernel/iommu_groups/*; do
		for bdf in "${_iopass_fit[@]}"; do
			if [[ -e $g/devices/$bdf || -L $g/devices/$bdf ]]; then
				_iopass_fit_groups+=("${g##*/}")
				break
			fi
		done
	done
	# --id takes only an ID that one device has: offer those
	for id in "${fit_ids[@]}"; do
		local count=0 other
		for other in "${all_ids[@]}"; do
			[[ $other == "$id" ]] && ((count++))
		done
		((count == 1)) && _iopass_fit_ids+=("$id")
	done
	return 0
}

_iopass()
{
	local IFS=$' \t\n'
	local -a words=()
	local cword=0 cur prev opt="" root="" cmd="" cmd_at=0 ws i w line eqprefix="" attached=0
	local -a _iopass_names=() _iopass_fit=() _iopass_fit_groups=() _iopass_fit_ids=()
	local _iopass_id=""

	COMPREPLY=()

	# Bash splits words at the characters in COMP_WORDBREAKS, ':' among
	# them: "0000:01:00.0" arrives as "0000" ":" "01" ":" "00.0". Join the
	# pieces again (when COMP_LINE shows no blank between them), so that
	# PCI addresses and IDs are single words.
	line=${COMP_LINE-}
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		ws=1
		if [[ -n $line ]]; then
			[[ $line == [[:space:]]* ]] || ws=0
			line=${line#"${line%%[![:space:]]*}"}
			line=${line#"$w"}
		else
			ws=0
		fi
		# a run of colons, or the word right after one
		if ((i > 0 && ws == 0)) && [[ -n $w && -n ${COMP_WORDS[i - 1]} ]] &&
			[[ -z ${w//:/} || -z ${COMP_WORDS[i - 1]//:/} ]]; then
			words[${#words[@]} - 1]+=$w
		else
			words+=("$w")
		fi
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	((COMP_CWORD >= ${#COMP_WORDS[@]})) && { words+=(""); cword=$((${#words[@]} - 1)); }
	cur=${words[cword]}
	prev=${words[cword - 1]}

	# The sysroot: the last --sysroot DIR or --sysroot=DIR before or after
	# the word being completed.
	for ((i = 1; i < ${#words[@]}; i++)); do
		((i == cword)) && continue
		case ${words[i]} in
		--sysroot)
			if [[ ${words[i + 1]-} == "=" ]]; then
				((i + 2 != cword)) && root=${words[i + 2]-}
			else
				((i + 1 != cword)) && root=${words[i + 1]-}
			fi
			;;
		--sysroot=?*)
			root=${words[i]#--sysroot=}
			;;
		esac
	done
	[[ -z $root ]] && root=${IOPASS_SYSROOT-}
	case $root in
	\~) root=$HOME ;;
	\~/*) root=$HOME/${root#\~/} ;;
	\"*\" | \'*\') root=${root:1:${#root}-2} ;;
	esac
	while [[ $root == */ ]]; do root=${root%/}; done

	# The command: the first word that is neither an option nor the value
	# of --sysroot or of an --option=VALUE.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		--sysroot)
			[[ ${words[i + 1]-} == "=" ]] && ((i++))
			((i++))
			;;
		--*)
			[[ ${words[i + 1]-} == "=" ]] && ((i += 2))
			;;
		-*) ;;
		*)
			cmd=$w
			cmd_at=$i
			break
			;;
		esac
	done

	# The option whose value is being completed: "-o X", "--output X",
	# "--output=X" (split by bash at '=', or not).
	if [[ $cur == "=" && $prev == --* ]]; then
		opt=$prev
		cur=""
		attached=1
	elif [[ $prev == "=" && ${words[cword - 2]-} == --* ]]; then
		opt=${words[cword - 2]}
		attached=1
	elif [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		cur=${cur#*=}
		eqprefix="$opt="
		attached=1
	elif [[ $prev == -* ]]; then
		opt=$prev
	fi
	# --color takes its value only after '=': "--color X" is no value
	[[ $opt == --color ]] && ((!attached)) && opt=""

	if [[ $opt == --sysroot ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
	elif [[ $opt == --color ]]; then
		_iopass_add "" "$cur" auto always never
	elif [[ -z $cmd ]]; then
		# before the command: global options and the commands
		if [[ $cur == -* ]]; then
			# shellcheck disable=SC2086
			_iopass_add "" "$cur" $_iopass_global_opts
		else
			# shellcheck disable=SC2086
			_iopass_add "" "$cur" $_iopass_commands
		fi
	elif [[ $cmd == help ]]; then
		# shellcheck disable=SC2086
		((cword == cmd_at + 1)) && _iopass_add "" "$cur" $_iopass_help_topics
	elif [[ $cmd == list ]]; then
		local dashdash=0
		for ((i = cmd_at + 1; i < cword; i++)); do
			[[ ${words[i]} == -- ]] && dashdash=1
		done
		if ((dashdash)); then
			opt=""
		fi
		case $opt in
		-c | --class)
			# shellcheck disable=SC2086
			_iopass_add "" "$cur" $_iopass_classes
			;;
		-o | --output)
			# comma-separated: complete the column after the last comma
			local realcur=${cur##*,} prefix col
			local -a used=() cols=()
			prefix=${cur%"$realcur"}
			if [[ -z $prefix && $realcur == +* ]]; then
				prefix=+
				realcur=${realcur#+}
			fi
			IFS=, read -ra used <<<"${prefix#+}"
			for col in $_iopass_columns; do
				[[ " ${used[*]^^} " == *" $col "* ]] || cols+=("$col")
			done
			# names are case-insensitive: answer in the case typed
			if [[ $prefix$realcur == *[[:lower:]]* ]]; then
				cols=("${cols[@],,}")
				realcur=${realcur,,}
			else
				realcur=${realcur^^}
			fi
			_iopass_add "$prefix" "$realcur" "${cols[@]}"
			compopt -o nospace 2>/dev/null
			;;
		-g | --group)
			_iopass_ls "$root/sys/kernel/iommu_groups"
			_iopass_add "" "$cur" "${_iopass_names[@]}"
			;;
		--driver)
			_iopass_ls "$root/sys/bus/pci/drivers"
			_iopass_add "" "$cur" none "${_iopass_names[@]}"
			;;
		-d | --id)
			# vendor:device IDs present on this host, from each uevent
			local -a ids=()
			local f l id
			for f in "$root"/sys/bus/pci/devices/*/uevent; do
				[[ -r $f ]] || continue
				while IFS= read -r l; do
					if [[ $l == PCI_ID=* ]]; then
						id=${l#PCI_ID=}
						id=${id,,}
						[[ " ${ids[*]} " == *" $id "* ]] || ids+=("$id")
						break
					fi
				done <"$f"
			done
			_iopass_add "" "$cur" "${ids[@]}"
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_list_opts
			else
				_iopass_devices "$root" "$cur"
			fi
			;;
		esac
	elif [[ $cmd == check ]]; then
		local dashdash=0 all=0
		for ((i = cmd_at + 1; i < cword; i++)); do
			case ${words[i]} in
			--) dashdash=1 ;;
			--all) ((dashdash)) || all=1 ;;
			-[!-]*)
				# short options, maybe bundled (-Ja); what follows
				# a g is its group number
				w=${words[i]#-}
				w=${w%%g*}
				[[ $w == *a* ]] && ((!dashdash)) && all=1
				;;
			esac
		done
		if ((dashdash)); then
			opt=""
		fi
		case $opt in
		-g | --group)
			_iopass_ls "$root/sys/kernel/iommu_groups"
			_iopass_add "" "$cur" "${_iopass_names[@]}"
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_check_opts
			elif ((!all)); then
				# --all takes no devices; else PCI addresses and group:N
				local -a groups=()
				_iopass_devices "$root" "$cur"
				_iopass_ls "$root/sys/kernel/iommu_groups"
				for w in "${_iopass_names[@]}"; do
					groups+=("group:$w")
				done
				_iopass_add "" "$cur" "${groups[@]}"
			fi
			;;
		esac
	elif [[ $cmd == attach || $cmd == detach ]]; then
		local dashdash=0 all=0 letters
		for ((i = cmd_at + 1; i < cword; i++)); do
			case ${words[i]} in
			--) dashdash=1 ;;
			--all) ((dashdash)) || [[ $cmd != detach ]] || all=1 ;;
			-[!-]*)
				# short options, maybe bundled (-fa); what follows a
				# g, d or w is that option's value
				w=${words[i]#-}
				w=${w%%[gdw]*}
				[[ $cmd == detach && $w == *a* ]] && ((!dashdash)) && all=1
				;;
			esac
		done
		if ((dashdash)); then
			opt=""
		elif [[ $opt == -[!-]?* ]]; then
			# a bundle such as -fg: the value of its last option,
			# when that takes one and nothing follows it
			letters=${opt#-}
			w=${letters%%[gdw]*}
			if ((${#w} == ${#letters} - 1)); then
				opt=-${letters: -1}
			else
				opt=""
			fi
		fi
		case $opt in
		-g | --group)
			_iopass_fit_scan "$root" "$cmd"
			_iopass_add "" "$cur" "${_iopass_fit_groups[@]}"
			;;
		-d | --id)
			if [[ $cmd == attach ]]; then
				_iopass_fit_scan "$root" attach
				_iopass_add "" "$cur" "${_iopass_fit_ids[@]}"
			fi
			;;
		--driver)
			if [[ $cmd == attach ]]; then
				# vfio-pci and the vfio variant drivers first; any
				# driver when none of those fits what was typed
				local -a vfio=()
				_iopass_ls "$root/sys/bus/pci/drivers"
				for w in "${_iopass_names[@]}"; do
					[[ $w == *vfio* ]] && vfio+=("$w")
				done
				_iopass_add "" "$cur" "${vfio[@]}"
				((${#COMPREPLY[@]})) || _iopass_add "" "$cur" "${_iopass_names[@]}"
			fi
			;;
		-w | --wait)
			# a number of seconds: nothing to offer
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				if [[ $cmd == attach ]]; then
					# shellcheck disable=SC2086
					_iopass_add "" "$cur" $_iopass_attach_opts
				else
					# shellcheck disable=SC2086
					_iopass_add "" "$cur" $_iopass_detach_opts
				fi
			elif ((!all)); then
				# --all takes no devices; else the devices and groups
				# that fit the command
				local -a groups=()
				_iopass_fit_scan "$root" "$cmd"
				_iopass_addrs "$cur" "${_iopass_fit[@]}"
				for w in "${_iopass_fit_groups[@]}"; do
					groups+=("group:$w")
				done
				_iopass_add "" "$cur" "${groups[@]}"
			fi
			;;
		esac
	elif [[ $cmd == emit ]]; then
		local dashdash=0 managed=0 letters
		for ((i = cmd_at + 1; i < cword; i++)); do
			case ${words[i]} in
			--) dashdash=1 ;;
			--managed) ((dashdash)) || managed=1 ;;
			esac
		done
		if ((dashdash)); then
			opt=""
		elif [[ $opt == -[!-]?* ]]; then
			# a bundle such as -Jg: g takes the group number
			letters=${opt#-}
			w=${letters%%g*}
			if ((${#w} == ${#letters} - 1)); then
				opt=-g
			else
				opt=""
			fi
		fi
		case $opt in
		-g | --group)
			_iopass_ls "$root/sys/kernel/iommu_groups"
			_iopass_add "" "$cur" "${_iopass_names[@]}"
			;;
		--bus)
			# free text (QEMU bus ids, comma-separated): offer the
			# root bus after the last comma
			local realcur=${cur##*,}
			_iopass_add "${cur%"$realcur"}" "$realcur" pcie.0
			;;
		--rombar)
			_iopass_add "" "$cur" on off
			;;
		--display)
			_iopass_add "" "$cur" on off auto
			;;
		--romfile)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			;;
		--split)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
			;;
		--first-slot)
			# a slot number: nothing to offer
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_emit_opts
			else
				# the devices on a vfio driver and their groups;
				# every device and group when none of those fits
				# (or with --managed: libvirt binds them itself)
				local -a groups=()
				if ((!managed)); then
					_iopass_fit_scan "$root" detach
					_iopass_addrs "$cur" "${_iopass_fit[@]}"
					for w in "${_iopass_fit_groups[@]}"; do
						groups+=("group:$w")
					done
					_iopass_add "" "$cur" "${groups[@]}"
				fi
				if ((${#COMPREPLY[@]} == 0)); then
					groups=()
					_iopass_devices "$root" "$cur"
					_iopass_ls "$root/sys/kernel/iommu_groups"
					for w in "${_iopass_names[@]}"; do
						groups+=("group:$w")
					done
					_iopass_add "" "$cur" "${groups[@]}"
				fi
			fi
			;;
		esac
	elif [[ $cmd == vf ]]; then
		# the action, PF and COUNT typed so far: the words that are
		# neither options nor option values
		local dashdash=0 letters dev total n
		local -a pos=()
		for ((i = cmd_at + 1; i < cword; i++)); do
			w=${words[i]}
			if ((dashdash)); then
				pos+=("$w")
				continue
			fi
			case $w in
			--) dashdash=1 ;;
			-w | --wait | --sysroot)
				[[ ${words[i + 1]-} == "=" ]] && ((i++))
				((i++))
				;;
			--*)
				[[ ${words[i + 1]-} == "=" ]] && ((i += 2))
				;;
			-*)
				# a bundle such as -nw: a w at its end takes the
				# next word
				letters=${w#-}
				[[ $letters == *w && ${letters%%w*}w == "$letters" ]] && ((i++))
				;;
			*) pos+=("$w") ;;
			esac
		done
		if ((dashdash)); then
			opt=""
		elif [[ $opt == -[!-]?* ]]; then
			letters=${opt#-}
			w=${letters%%w*}
			if ((${#w} == ${#letters} - 1)); then
				opt=-w
			else
				opt=""
			fi
		fi
		case $opt in
		-w | --wait)
			# a number of seconds: nothing to offer
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# --attach goes with create only
				[[ ${pos[0]-} == remove ]] || _iopass_add "" "$cur" -a --attach
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_vf_opts
			elif ((${#pos[@]} == 0)); then
				_iopass_add "" "$cur" create remove
			elif ((${#pos[@]} == 1)) && [[ ${pos[0]} == create || ${pos[0]} == remove ]]; then
				# the SR-IOV physical functions
				local -a pfs=()
				for dev in "$root"/sys/bus/pci/devices/*; do
					total=""
					[[ -r $dev/sriov_totalvfs ]] && read -r total <"$dev/sriov_totalvfs"
					[[ $total == [1-9]* ]] && pfs+=("${dev##*/}")
				done
				_iopass_addrs "$cur" "${pfs[@]}"
			elif ((${#pos[@]} == 2)) && [[ ${pos[0]} == create ]]; then
				# COUNT: 1 to the PF's sriov_totalvfs
				dev=${pos[1],,}
				[[ $dev == *:*:* ]] || dev=0000:$dev
				total=""
				[[ -r $root/sys/bus/pci/devices/$dev/sriov_totalvfs ]] &&
					read -r total <"$root/sys/bus/pci/devices/$dev/sriov_totalvfs"
				if [[ $total =~ ^[0-9]+$ ]]; then
					local -a counts=()
					total=$((10#$total))
					((total > 65535)) && total=65535
					for ((n = 1; n <= total; n++)); do
						counts+=("$n")
					done
					_iopass_add "" "$cur" "${counts[@]}"
				fi
			fi
			;;
		esac
	fi

	# "--output=X" given as one word: readline replaces the whole word.
	if [[ -n $eqprefix ]]; then
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=$eqprefix${COMPREPLY[i]}
		done
	fi
	# Bash split the word at ':' and readline replaces only the text after
	# the last ':'; drop what comes before it from the candidates.
	w=${words[cword]}
	if [[ $w == *:* && ${COMP_WORDS[COMP_CWORD]-} != "$w" ]]; then
		local colon_prefix=${w%"${w##*:}"}
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$colon_prefix"}
		done
	fi
	return 0
}

complete -F _iopass iopass
