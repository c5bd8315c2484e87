# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for iopass(8)                            -*- shell-script -*-
#
# Self-contained: needs neither the bash-completion package nor any external
# program but iopass itself. Candidates for devices, groups, drivers, IDs and
# SR-IOV physical functions come from one call of the hidden query
#
#   iopass [--sysroot DIR] __complete WHAT
#
# which prints "value<TAB>description" lines (bash shows no descriptions).
# WHAT: attach (endpoints not on a vfio driver), detach (devices on one),
# attach-groups and detach-groups (the same with ", group N"), devices,
# groups, pfs (SR-IOV PFs: "N of M VFs"), drivers, ids. The sysroot
# is the last --sysroot DIR on the command line, else $IOPASS_SYSROOT, else
# the query's default (/). The iopass run is the one on the command line
# (./build/iopass, say), else the one in $PATH, else /usr/sbin/iopass or
# /usr/local/sbin/iopass (not in a normal user's $PATH on Debian; the query
# needs no root). Columns and class names are the lists of 'iopass list
# --help' (tests/test-completion.sh keeps them in step). apply completes a
# file name, or - for standard input, and runs nothing.

_iopass_commands="list check attach detach emit vf persist apply help"
_iopass_help_topics="list check attach detach emit vf persist apply"
_iopass_global_opts="--sysroot --color -v --verbose -q --quiet -h --help -V --version"
_iopass_common_opts="--sysroot --color -v --verbose -q --quiet -h --help"
_iopass_list_opts="-D --devices -o --output --output-all -J --json -r --raw
	-n --noheadings -g --group -c --class -d --id --driver $_iopass_common_opts"
_iopass_check_opts="-g --group --card -a --all -J --json $_iopass_common_opts"
_iopass_attach_opts="-g --group --card -d --id --driver --reset-method -f --force -n --dry-run -J --json
	-w --wait --persist $_iopass_common_opts"
_iopass_detach_opts="-g --group --card -a --all -f --force -n --dry-run -J --json
	-w --wait --persist $_iopass_common_opts"
_iopass_emit_opts="--qemu --libvirt -J --json -g --group --card --bus --first-slot
	--rombar --romfile --primary-gpu --display --iommufd --managed --split
	--strict --guest-address $_iopass_common_opts"
_iopass_vf_opts="-f --force -n --dry-run -J --json -w --wait $_iopass_common_opts"
_iopass_persist_opts="$_iopass_common_opts"
_iopass_apply_opts="-f --force -n --check --dry-run --diff -J --json -w --wait
	$_iopass_common_opts"
_iopass_classes="storage nvme net display gpu multimedia audio memory bridge
	communication system input processor serial usb wireless crypto signal
	accelerator unassigned"
_iopass_columns="NAME BDF GROUP CLASS CLASSID DEVICE VENDOR PRODUCT ID VENDOR_ID
	DEVICE_ID SUBSYS_ID DRIVER VFIO BRIDGE BOOT_VGA PHYSFN NUMVFS TOTALVFS FLAGS VFIO_DRIVER"

# The option of a bundle (-nw, -fg) that takes the next word: -X for its last letter X
# when that is one of the letters in $2 and the only one there; else nothing.
_iopass_bundle_opt()
{
	local letters=${1#-} w
	w=${letters%%[$2]*}
	if ((${#w} == ${#letters} - 1)); then
		echo "-${letters: -1}"
	fi
}

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

# The iopass to run, from the command word $1, in _iopass_prog; empty when
# there is none.
_iopass_find_prog()
{
	local p=$1
	_iopass_prog=""
	case $p in
	\~/*) p=$HOME/${p#\~/} ;;
	esac
	if [[ $p == */* ]]; then
		[[ -f $p && -x $p ]] && _iopass_prog=$p
		return 0
	fi
	_iopass_prog=$(type -P -- "${p:-iopass}" 2>/dev/null)
	[[ -z $_iopass_prog ]] && _iopass_prog=$(type -P iopass 2>/dev/null)
	for p in /usr/sbin/iopass /usr/local/sbin/iopass /sbin/iopass; do
		[[ -n $_iopass_prog ]] && break
		[[ -f $p && -x $p ]] && _iopass_prog=$p
	done
	return 0
}

# One call of the query: the values in _iopass_vals, the descriptions in
# _iopass_descs. Uses prog and root of _iopass.
_iopass_query()
{
	local v d
	_iopass_vals=()
	_iopass_descs=()
	[[ -n $prog ]] || return 0
	while IFS=$'\t' read -r v d; do
		[[ -n $v ]] || continue
		_iopass_vals+=("$v")
		_iopass_descs+=("$d")
	done < <("$prog" ${root:+--sysroot "$root"} __complete "$1" 2>/dev/null)
	return 0
}

# From the lines of the last _iopass_query (attach, detach or devices): the
# addresses in _iopass_fit, the IOMMU groups they are in (each once, in
# order) in _iopass_fit_groups.
_iopass_fit_from_query()
{
	local i g
	_iopass_fit=("${_iopass_vals[@]}")
	_iopass_fit_groups=()
	for i in "${!_iopass_descs[@]}"; do
		[[ ${_iopass_descs[i]} =~ ,\ group\ ([0-9]+)$ ]] || continue
		g=${BASH_REMATCH[1]}
		[[ " ${_iopass_fit_groups[*]} " == *" $g "* ]] || _iopass_fit_groups+=("$g")
	done
	return 0
}

_iopass()
{
	local IFS=$' \t\n'
	local -a words=()
	local cword=0 cur prev opt="" root="" cmd="" cmd_at=0 ws i w line eqprefix="" attached=0
	local prog="" _iopass_prog=""
	local -a _iopass_vals=() _iopass_descs=() _iopass_fit=() _iopass_fit_groups=()

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
	while [[ $root == ?*/ ]]; do root=${root%/}; done

	_iopass_find_prog "${words[0]}"
	prog=$_iopass_prog

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
			_iopass_query groups
			_iopass_add "" "$cur" "${_iopass_vals[@]}"
			;;
		--driver)
			_iopass_query drivers
			_iopass_add "" "$cur" none "${_iopass_vals[@]}"
			;;
		-d | --id)
			# the vendor:device IDs present, each once
			local -a ids=()
			_iopass_query ids
			for w in "${_iopass_vals[@]}"; do
				[[ " ${ids[*]} " == *" $w "* ]] || ids+=("$w")
			done
			_iopass_add "" "$cur" "${ids[@]}"
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_list_opts
			else
				_iopass_query devices
				_iopass_addrs "$cur" "${_iopass_vals[@]}"
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
			_iopass_query groups
			_iopass_add "" "$cur" "${_iopass_vals[@]}"
			;;
		--card)
			# a function of the card: any device
			_iopass_query devices
			_iopass_fit_from_query
			_iopass_addrs "$cur" "${_iopass_fit[@]}"
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_check_opts
			elif ((!all)); then
				# --all takes no devices; else PCI addresses and group:N
				_iopass_query devices
				_iopass_fit_from_query
				_iopass_addrs "$cur" "${_iopass_fit[@]}"
				_iopass_add "" "$cur" "${_iopass_fit_groups[@]/#/group:}"
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
			opt=$(_iopass_bundle_opt "$opt" gdw)
		fi
		case $opt in
		-g | --group)
			# the groups with a device that fits the command
			_iopass_query "$cmd-groups"
			_iopass_fit_from_query
			_iopass_add "" "$cur" "${_iopass_fit_groups[@]}"
			;;
		-d | --id)
			if [[ $cmd == attach ]]; then
				# --id takes only an ID that one device has: those
				# of the devices attach fits (not on a vfio driver,
				# not a bridge) that no other device has
				local -a cls=() id=() drv=()
				local c d dr k count
				_iopass_query devices
				for i in "${!_iopass_vals[@]}"; do
					read -r c d dr _ <<<"${_iopass_descs[i]}"
					cls+=("$c")
					id+=("$d")
					drv+=("${dr%,}")
				done
				for i in "${!id[@]}"; do
					[[ ${cls[i]} == bridge || ${drv[i]} == *vfio* ]] && continue
					count=0
					for k in "${id[@]}"; do
						[[ $k == "${id[i]}" ]] && ((count++))
					done
					((count == 1)) && _iopass_add "" "$cur" "${id[i]}"
				done
			fi
			;;
		--driver)
			if [[ $cmd == attach ]]; then
				# vfio-pci and the vfio variant drivers first; any
				# driver when none of those fits what was typed
				local -a vfio=()
				_iopass_query drivers
				for w in "${_iopass_vals[@]}"; do
					[[ $w == *vfio* ]] && vfio+=("$w")
				done
				_iopass_add "" "$cur" "${vfio[@]}"
				((${#COMPREPLY[@]})) || _iopass_add "" "$cur" "${_iopass_vals[@]}"
			fi
			;;
		-w | --wait)
			# a number of seconds: nothing to offer
			;;
		--reset-method)
			# the kernel's methods, comma-separated: offer them after the last comma
			local realcur=${cur##*,}
			_iopass_add "${cur%"$realcur"}" "$realcur" device_specific acpi flr af_flr pm bus \
				cxl_bus
			;;
		--card)
			# a function of a card the command fits
			_iopass_query "$cmd"
			_iopass_fit_from_query
			_iopass_addrs "$cur" "${_iopass_fit[@]}"
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
				# --all takes no devices; else the devices that fit
				# the command, and their groups once the word starts
				# with g (the query without groups stays quick on a
				# host with thousands of devices)
				if [[ $cur == g* ]]; then
					_iopass_query "$cmd-groups"
				else
					_iopass_query "$cmd"
				fi
				_iopass_fit_from_query
				_iopass_addrs "$cur" "${_iopass_fit[@]}"
				_iopass_add "" "$cur" "${_iopass_fit_groups[@]/#/group:}"
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
			opt=$(_iopass_bundle_opt "$opt" g)
		fi
		case $opt in
		-g | --group)
			_iopass_query groups
			_iopass_add "" "$cur" "${_iopass_vals[@]}"
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
		--card)
			_iopass_query devices
			_iopass_fit_from_query
			_iopass_addrs "$cur" "${_iopass_fit[@]}"
			;;
		*)
			if [[ $cur == -* ]] && ((!dashdash)); then
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_emit_opts
			else
				# the devices on a vfio driver and their groups;
				# every device and group when none of those fits
				# (or with --managed: libvirt binds them itself)
				local -a all_vals=() all_descs=() vfio_vals=() vfio_descs=()
				local dr
				_iopass_query devices
				all_vals=("${_iopass_vals[@]}")
				all_descs=("${_iopass_descs[@]}")
				for i in "${!all_vals[@]}"; do
					read -r _ _ dr _ <<<"${all_descs[i]}"
					if [[ ${dr%,} == *vfio* ]]; then
						vfio_vals+=("${all_vals[i]}")
						vfio_descs+=("${all_descs[i]}")
					fi
				done
				if ((!managed)); then
					_iopass_vals=("${vfio_vals[@]}")
					_iopass_descs=("${vfio_descs[@]}")
					_iopass_fit_from_query
					_iopass_addrs "$cur" "${_iopass_fit[@]}"
					_iopass_add "" "$cur" "${_iopass_fit_groups[@]/#/group:}"
				fi
				if ((${#COMPREPLY[@]} == 0)); then
					_iopass_vals=("${all_vals[@]}")
					_iopass_descs=("${all_descs[@]}")
					_iopass_fit_from_query
					_iopass_addrs "$cur" "${_iopass_fit[@]}"
					_iopass_add "" "$cur" "${_iopass_fit_groups[@]/#/group:}"
				fi
			fi
			;;
		esac
	elif [[ $cmd == apply ]]; then
		# one FILE (or - for standard input): the words that are neither
		# options nor option values
		local dashdash=0 letters nfile=0
		for ((i = cmd_at + 1; i < cword; i++)); do
			w=${words[i]}
			if ((dashdash)); then
				((nfile++))
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
			-) ((nfile++)) ;;
			-*)
				# a bundle such as -nw: a w at its end takes the
				# next word
				letters=${w#-}
				[[ $letters == *w && ${letters%%w*}w == "$letters" ]] && ((i++))
				;;
			*) ((nfile++)) ;;
			esac
		done
		if ((dashdash)); then
			opt=""
		elif [[ $opt == -[!-]?* ]]; then
			opt=$(_iopass_bundle_opt "$opt" w)
		fi
		if [[ $opt == -w || $opt == --wait ]]; then
			# a number of seconds: nothing to offer
			:
		elif [[ $cur == -* ]] && ((!dashdash)); then
			# shellcheck disable=SC2086
			_iopass_add "" "$cur" $_iopass_apply_opts
			((nfile == 0)) && [[ $cur == - ]] && COMPREPLY+=(-)
		elif ((nfile == 0)); then
			# the desired-state file, or - for standard input
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			[[ -z $cur ]] && COMPREPLY+=(-)
		fi
	elif [[ $cmd == vf || $cmd == persist ]]; then
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
				[[ $cmd == persist && $w != --sysroot ]] && continue
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
				[[ $cmd == vf && $letters == *w && ${letters%%w*}w == "$letters" ]] && ((i++))
				;;
			*) pos+=("$w") ;;
			esac
		done
		if ((dashdash)); then
			opt=""
		elif [[ $cmd == persist ]]; then
			opt=""
		elif [[ $opt == -[!-]?* ]]; then
			opt=$(_iopass_bundle_opt "$opt" w)
		fi
		if [[ $opt == -w || $opt == --wait ]]; then
			# a number of seconds: nothing to offer
			:
		elif [[ $cur == -* ]] && ((!dashdash)); then
			if [[ $cmd == persist ]]; then
				# -J goes with list, -f with remove
				[[ ${pos[0]-} == remove ]] || _iopass_add "" "$cur" -J --json
				[[ ${pos[0]-} == list ]] || _iopass_add "" "$cur" -f --force
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_persist_opts
			else
				# --attach goes with create only
				[[ ${pos[0]-} == remove ]] || _iopass_add "" "$cur" -a --attach
				# shellcheck disable=SC2086
				_iopass_add "" "$cur" $_iopass_vf_opts
			fi
		elif ((${#pos[@]} == 0)); then
			if [[ $cmd == persist ]]; then
				_iopass_add "" "$cur" list remove
			else
				_iopass_add "" "$cur" create remove
			fi
		elif [[ $cmd == persist ]]; then
			if [[ ${pos[0]} == remove ]]; then
				# the persisted devices, from 'persist list -J'; every
				# device when the record cannot be read (not root)
				local -a persisted=()
				local have_list=0
				if [[ -n $prog ]]; then
					while IFS= read -r line; do
						[[ $line == *'"devices":'* ]] && have_list=1
						[[ $line =~ \"bdf\":\ *\"([^\"]+)\" ]] &&
							persisted+=("${BASH_REMATCH[1]}")
					done < <("$prog" ${root:+--sysroot "$root"} persist list -J 2>/dev/null)
				fi
				if ((!have_list)); then
					_iopass_query devices
					persisted=("${_iopass_vals[@]}")
				fi
				_iopass_addrs "$cur" "${persisted[@]}"
			fi
		elif ((${#pos[@]} == 1)) && [[ ${pos[0]} == create || ${pos[0]} == remove ]]; then
			# the SR-IOV physical functions
			_iopass_query pfs
			_iopass_addrs "$cur" "${_iopass_vals[@]}"
		elif ((${#pos[@]} == 2)) && [[ ${pos[0]} == create ]]; then
			# COUNT: 1 to the PF's total, from its "N of M VFs"
			dev=${pos[1],,}
			[[ $dev == *:*:* ]] || dev=0000:$dev
			total=""
			_iopass_query pfs
			for i in "${!_iopass_vals[@]}"; do
				if [[ ${_iopass_vals[i]} == "$dev" && ${_iopass_descs[i]} =~ ^[0-9]+\ of\ ([0-9]+)\  ]]; then
					total=${BASH_REMATCH[1]}
				fi
			done
			if [[ -n $total ]]; then
				local -a counts=()
				total=$((10#$total))
				((total > 65535)) && total=65535
				for ((n = 1; n <= total; n++)); do
					counts+=("$n")
				done
				_iopass_add "" "$cur" "${counts[@]}"
			fi
		fi
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
