# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for iopass(8)                            -*- shell-script -*-
#
# Self-contained: needs neither the bash-completion package nor any external
# program. Candidates for --group, --driver, --id, device and group:N
# arguments come from sysfs below the sysroot in use: the last --sysroot DIR
# on the command line, else $IOPASS_SYSROOT, else /.

_iopass_commands="list check help"
_iopass_help_topics="list check"
_iopass_global_opts="--sysroot -v --verbose -q --quiet -h --help -V --version"
_iopass_list_opts="-D --devices -o --output --output-all -J --json -r --raw
	-n --noheadings -g --group -c --class -d --id --driver
	--sysroot -v --verbose -q --quiet -h --help"
_iopass_check_opts="-g --group -a --all -J --json
	--sysroot -v --verbose -q --quiet -h --help"
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

# PCI addresses below sysroot $1 that start with $2; the short form BB:SS.F
# when the full one does not fit what was typed.
_iopass_devices()
{
	local root=$1 cur=$2 w
	local -a short=()
	_iopass_ls "$root/sys/bus/pci/devices"
	_iopass_add "" "$cur" "${_iopass_names[@]}"
	if ((${#COMPREPLY[@]} == 0)) && [[ -n $cur ]]; then
		for w in "${_iopass_names[@]}"; do
			[[ $w == 0000:* ]] && short+=("${w#0000:}")
		done
		_iopass_add "" "$cur" "${short[@]}"
	fi
	return 0
}

_iopass()
{
	local IFS=$' \t\n'
	local -a words=()
	local cword=0 cur prev opt="" root="" cmd="" cmd_at=0 ws i w line eqprefix=""
	local -a _iopass_names=()

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
	# of --sysroot.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		--sysroot)
			[[ ${words[i + 1]-} == "=" ]] && ((i++))
			((i++))
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
	elif [[ $prev == "=" && ${words[cword - 2]-} == --* ]]; then
		opt=${words[cword - 2]}
	elif [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		cur=${cur#*=}
		eqprefix="$opt="
	elif [[ $prev == -* ]]; then
		opt=$prev
	fi

	if [[ $opt == --sysroot ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
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
