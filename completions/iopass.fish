# SPDX-License-Identifier: GPL-2.0-or-later
# fish completion for iopass(8)
#
# Devices, groups, drivers, IDs and SR-IOV physical functions come from one
# call of the hidden query 'iopass [--sysroot DIR] __complete WHAT', which
# prints "value<TAB>description" lines, the format fish shows. WHAT: attach
# (endpoints not on a vfio driver), detach (devices on one), attach-groups and
# detach-groups (the same with their groups), devices, groups, pfs (SR-IOV
# PFs, "N of M VFs"), drivers, ids. The sysroot is the last
# --sysroot DIR on the command line, else $IOPASS_SYSROOT. The iopass run is
# the one on the command line, else the one in $PATH, else /usr/sbin/iopass
# or /usr/local/sbin/iopass (the query needs no root). Short addresses
# (01:00.0) match through fish's substring matching. apply completes a file
# name, or - for standard input, and runs nothing.

# The options that take a value, per command ("" holds the global ones).
function __iopass_value_opts --argument-names cmd
    set -l opts --sysroot
    switch $cmd
        case list
            set -a opts -o --output -g --group -c --class -d --id --driver
        case check
            set -a opts -g --group --card
        case attach
            set -a opts -g --group --card -d --id --driver --reset-method -w --wait
        case detach
            set -a opts -g --group --card -w --wait
        case emit
            set -a opts -g --group --card --bus --first-slot --rombar --romfile --display --split
        case vf apply
            set -a opts -w --wait
    end
    printf '%s\n' $opts
end

# The words before the cursor, parsed: the command, then its positional
# arguments, one a line (nothing when no command is there yet).
function __iopass_parse
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmd
    set -l pos
    set -l value_opts (__iopass_value_opts '')
    set -l skip 0
    set -l dashdash 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test $dashdash -eq 0
            if test "$t" = --
                set dashdash 1
                continue
            end
            if string match -q -- '--*=*' $t
                continue
            end
            if string match -q -- '--*' $t
                contains -- $t $value_opts; and set skip 1
                continue
            end
            if string match -qr -- '^-.' $t
                # a bundle such as -fg: the option that takes a value ends it
                # (its value is the next word) or its value follows it
                set -l len (string length -- $t)
                set -l i 2
                while test $i -le $len
                    if contains -- -(string sub -s $i -l 1 -- $t) $value_opts
                        test $i -eq $len; and set skip 1
                        break
                    end
                    set i (math $i + 1)
                end
                continue
            end
        end
        if test -z "$cmd"
            set cmd $t
            set value_opts (__iopass_value_opts $cmd)
        else
            set -a pos $t
        end
    end
    test -n "$cmd"; or return 1
    printf '%s\n' $cmd $pos
end

# Is the command $argv[1] (any of $argv), with as many positional arguments
# as $argv[2] (when given)?
function __iopass_using --argument-names cmds npos
    set -l p (__iopass_parse); or return 1
    contains -- $p[1] (string split ' ' -- $cmds); or return 1
    test -z "$npos"; or test (count $p) -eq (math $npos + 1)
end

# Is the first positional argument after the command (the action) $action?
function __iopass_action --argument-names action
    set -l p (__iopass_parse); or return 1
    test (count $p) -ge 2; and test "$p[2]" = "$action"
end

function __iopass_no_command
    not __iopass_parse >/dev/null
end

# The iopass to run: the one on the command line, else from $PATH.
function __iopass_prog
    set -l p (commandline -opc)[1]
    set p (string replace -r '^~/' "$HOME/" -- $p)
    if string match -q -- '*/*' $p
        test -f "$p" -a -x "$p"; and echo $p
        return
    end
    for c in $p iopass
        if set -l path (command -s -- $c)
            echo $path[1]
            return
        end
    end
    for c in /usr/sbin/iopass /usr/local/sbin/iopass /sbin/iopass
        if test -f $c -a -x $c
            echo $c
            return
        end
    end
    return 1
end

# The sysroot in use: the last --sysroot DIR or --sysroot=DIR, else
# $IOPASS_SYSROOT.
function __iopass_sysroot
    set -l tokens (commandline -opc)
    set -l root
    set -l next 0
    for t in $tokens
        if test $next -eq 1
            set root $t
            set next 0
        else if test "$t" = --sysroot
            set next 1
        else if string match -q -- '--sysroot=?*' $t
            set root (string replace -- --sysroot= '' $t)
        end
    end
    test -z "$root"; and set -q IOPASS_SYSROOT; and set root $IOPASS_SYSROOT
    string replace -r '^~(?=/|$)' "$HOME" -- $root
end

# iopass [--sysroot DIR] ARGS..., quietly.
function __iopass_run
    set -l prog (__iopass_prog); or return 1
    set -l root (__iopass_sysroot)
    if test -n "$root"
        $prog --sysroot $root $argv 2>/dev/null
    else
        $prog $argv 2>/dev/null
    end
end

# One query: the lines as they are.
function __iopass_query --argument-names what
    __iopass_run __complete $what
end

# The devices of query $what and (unless $what2 is "nogroups") group:N for the
# groups they are in, each described by its devices. attach and detach name
# no groups (they stay quick on a big host): their group:N come from
# attach-groups and detach-groups once the word starts with g.
function __iopass_devices --argument-names what nogroups
    set -l word (commandline -ct)
    if contains -- $what attach detach; and test "$nogroups" != nogroups; and string match -q -- 'g*' "$word"
        set what $what-groups
    end
    set -l lines (__iopass_query $what)
    printf '%s\n' $lines
    test "$nogroups" = nogroups; and return
    __iopass_groups_of $lines | string replace -r '^' 'group:'
end

# The groups in lines of the query ("..., group N"), "N<TAB>its devices".
function __iopass_groups_of
    set -l groups
    set -l members
    for l in $argv
        set -l m (string match -r -- '^(\S+)\t.*, group (\d+)$' $l); or continue
        set -l i (contains -i -- $m[3] $groups)
        if test -n "$i"
            set members[$i] "$members[$i] $m[2]"
        else
            set -a groups $m[3]
            set -a members $m[2]
        end
    end
    set -l i 1
    while test $i -le (count $groups)
        printf '%s\t%s\n' $groups[$i] $members[$i]
        set i (math $i + 1)
    end
end

# IOMMU groups with a device of query $what (default: devices, every group).
function __iopass_group_numbers --argument-names what
    test -n "$what"; or set what devices
    contains -- $what attach detach; and set what $what-groups
    __iopass_groups_of (__iopass_query $what)
end

# emit: the devices on a vfio driver and their groups; every device with
# --managed, or when none is on a vfio driver.
function __iopass_emit_devices
    set -l all (__iopass_query devices)
    set -l vfio (string match -r -- '^\S+\t\S+ \S+ \S*vfio\S*(?:,.*)?$' $all)
    if contains -- --managed (commandline -opc); or test (count $vfio) -eq 0
        set vfio $all
    end
    printf '%s\n' $vfio
    __iopass_groups_of $vfio | string replace -r '^' 'group:'
end

# The IDs present (list), or (attach) those that one device has, that device
# being one attach takes (not a bridge, not on a vfio driver).
function __iopass_ids --argument-names mode
    if test "$mode" = attach
        set -l lines (__iopass_query devices)
        set -l ids
        for l in $lines
            set -a ids (string split ' ' -- (string split \t -- $l)[2])[2]
        end
        for l in $lines
            set -l f (string split \t -- $l)
            set -l d (string split ' ' -- $f[2])
            test $d[1] = bridge; and continue
            string match -q -- '*vfio*' $d[3]; and continue
            test (count (string match -- $d[2] $ids)) -eq 1; or continue
            printf '%s\t%s %s\n' $d[2] $f[1] $f[2]
        end
    else
        set -l seen
        for l in (__iopass_query ids)
            set -l f (string split \t -- $l)
            contains -- $f[1] $seen; and continue
            set -a seen $f[1]
            printf '%s\t%s\n' $f[1] $f[2]
        end
    end
end

# PCI drivers; "none" also gives none, "vfio" the vfio drivers first.
function __iopass_drivers --argument-names mode
    set -l lines (__iopass_query drivers)
    if test "$mode" = vfio
        set -l vfio (string match -- '*vfio*' $lines)
        set -l tok (commandline -ct)
        if string match -q -- "$tok*" (string replace -r '\t.*' '' -- $vfio)
            printf '%s\n' $vfio
            return
        end
    end
    test "$mode" = none; and printf 'none\tdevices bound to no driver\n'
    printf '%s\n' $lines
end

# list -o: columns, comma-separated, after a leading + (adds to the default).
function __iopass_columns
    set -l tok (commandline -ct)
    set tok (string replace -r -- '^(--output=|-o)' '' $tok)
    set -l prefix (string match -r -- '^\+?(?:[^,]*,)*' $tok)
    set -l used (string split , -- (string upper -- (string trim -l -c + -- $prefix)))
    set -l lower 0
    string match -qr -- '[a-z]' $tok; and set lower 1
    for c in NAME\t'IOMMU group or PCI address (tree view)' \
            BDF\t'PCI address, domain:bus:slot.function' \
            GROUP\t'IOMMU group number' \
            CLASS\t'class name' \
            CLASSID\t'class code, 6 hex digits' \
            DEVICE\t'vendor and device names with IDs' \
            VENDOR\t'vendor name' \
            PRODUCT\t'device name' \
            ID\t'vendor:device IDs' \
            VENDOR_ID\t'vendor ID, 4 hex digits' \
            DEVICE_ID\t'device ID, 4 hex digits' \
            SUBSYS_ID\t'subsystem vendor:device IDs' \
            DRIVER\t'bound driver' \
            VFIO\t'bound to vfio-pci or a vfio variant' \
            BRIDGE\t'PCI-to-PCI bridge or port' \
            BOOT_VGA\t'the firmware boot display device' \
            PHYSFN\t'SR-IOV: the physical function of this VF' \
            NUMVFS\t'SR-IOV: VFs enabled on this PF' \
            TOTALVFS\t'SR-IOV: VFs this PF supports' \
            FLAGS\t'bridge, vfio, boot-vga, pf:N/M, vf-of:PF' \
            VFIO_DRIVER\t'vfio driver it is on, or attach binds'
        set -l name (string split \t -- $c)[1]
        contains -- $name $used; and continue
        test $lower -eq 1; and set c (string lower -- $name)\t(string split \t -- $c)[2]
        printf '%s%s\n' $prefix $c
    end
end

# emit --bus: free text (QEMU bus ids, comma-separated); the root bus after
# the last comma.
function __iopass_bus
    set -l tok (string replace -r -- '^--bus=' '' (commandline -ct))
    printf '%spcie.0\tthe root bus of q35\n' (string match -r -- '^(?:[^,]*,)*' $tok)
end

# vf create PF COUNT: 1 to the PF's total, from its "N of M VFs".
function __iopass_vf_counts
    set -l p (__iopass_parse); or return
    test "$p[2]" = create; or return
    set -l pf (string lower -- $p[3])
    string match -q -- '*:*:*' $pf; or set pf 0000:$pf
    for l in (__iopass_query pfs)
        set -l m (string match -r -- '^(\S+)\t(\d+) of (\d+) VFs' $l); or continue
        test $m[2] = $pf; or continue
        set -l total $m[4]
        test $total -gt 65535; and set total 65535
        test $total -ge 1; or return
        set -l n 1
        while test $n -le $total
            printf '%s\tof %s (now %s)\n' $n $m[4] $m[3]
            set n (math $n + 1)
        end
    end
end

# persist remove: the persisted devices, from 'persist list -J'; every device
# when the record cannot be read (not root).
function __iopass_persisted
    set -l bdf
    set -l id
    set -l drv
    set -l lines (__iopass_run persist list -J)
    if not string match -q -- '*"devices":*' $lines
        __iopass_query devices
        return
    end
    for l in $lines
        set -l m (string match -r -- '^\s*"(\w+)": "?([^",]*)"?,?$' $l); or continue
        switch $m[2]
            case bdf
                set bdf $m[3]
            case id
                set id $m[3]
            case host_driver
                set drv $m[3]
            case state
                printf '%s\t%s %s %s\n' $bdf $id $drv $m[3]
        end
    end
end

complete -c iopass -e
complete -c iopass -f

# global options, before the command and among its options
complete -c iopass -l sysroot -x -a '(__fish_complete_directories)' -d 'Read and write below DIR instead of /'
complete -c iopass -l color -f -a 'auto always never' -d 'Colour the report of check (--color=WHEN)'
complete -c iopass -s v -l verbose -d 'More detail'
complete -c iopass -s q -l quiet -d 'Print only errors'
complete -c iopass -s h -l help -d 'Show the help'
complete -c iopass -n __iopass_no_command -s V -l version -d 'Show the version'

# the commands
complete -c iopass -n __iopass_no_command -a list -d 'List PCI devices and their IOMMU groups'
complete -c iopass -n __iopass_no_command -a check -d 'Check the host and devices for passthrough'
complete -c iopass -n __iopass_no_command -a attach -d 'Bind devices to vfio-pci, all or nothing'
complete -c iopass -n __iopass_no_command -a detach -d 'Give devices back to their original drivers'
complete -c iopass -n __iopass_no_command -a emit -d 'Print QEMU arguments or libvirt XML for devices'
complete -c iopass -n __iopass_no_command -a vf -d 'Create or remove SR-IOV virtual functions'
complete -c iopass -n __iopass_no_command -a persist -d 'List or remove the devices passed through from boot'
complete -c iopass -n __iopass_no_command -a apply -d 'Make the host match a desired-state file'
complete -c iopass -n __iopass_no_command -a help -d 'Show help for a command'
complete -c iopass -n '__iopass_using help 0' -a 'list check attach detach emit vf persist apply'

# list
complete -c iopass -n '__iopass_using list' -s D -l devices -d 'Flat list, one line per device'
complete -c iopass -n '__iopass_using list' -s o -l output -x -a '(__iopass_columns)' -d 'Columns to show, comma-separated (+COLS adds)'
complete -c iopass -n '__iopass_using list' -l output-all -d 'Show all columns'
complete -c iopass -n '__iopass_using list' -s J -l json -d 'JSON output'
complete -c iopass -n '__iopass_using list' -s r -l raw -d 'Raw output, no alignment'
complete -c iopass -n '__iopass_using list' -s n -l noheadings -d 'Do not print a header line'
complete -c iopass -n '__iopass_using list' -s g -l group -x -a '(__iopass_group_numbers)' -d 'Only devices in IOMMU group N'
complete -c iopass -n '__iopass_using list' -s c -l class -x -a 'storage nvme net display gpu multimedia audio memory bridge communication system input processor serial usb wireless crypto signal accelerator unassigned' -d 'Only devices of CLASS (or a hex class prefix)'
complete -c iopass -n '__iopass_using list' -s d -l id -x -a '(__iopass_ids)' -d 'Only devices with these IDs'
complete -c iopass -n '__iopass_using list' -l driver -x -a '(__iopass_drivers none)' -d 'Only devices bound to driver NAME'
complete -c iopass -n '__iopass_using list' -a '(__iopass_devices devices nogroups)'

# check
complete -c iopass -n '__iopass_using check' -s g -l group -x -a '(__iopass_group_numbers)' -d 'Check the endpoints of IOMMU group N'
complete -c iopass -n '__iopass_using check' -l card -x -a '(__iopass_devices devices nogroups)' -d 'Every function of the card that DEV is on'
complete -c iopass -n '__iopass_using check' -s a -l all -d 'Check every endpoint, each on its own'
complete -c iopass -n '__iopass_using check' -s J -l json -d 'JSON output with a code for every finding'
complete -c iopass -n '__iopass_using check; and not __fish_contains_opt -s a all' -a '(__iopass_devices devices)'

# attach
complete -c iopass -n '__iopass_using attach' -s g -l group -x -a '(__iopass_group_numbers attach)' -d 'Attach every endpoint of IOMMU group N'
complete -c iopass -n '__iopass_using attach' -l card -x -a '(__iopass_devices attach nogroups)' -d 'Every function of the card that DEV is on'
complete -c iopass -n '__iopass_using attach' -l reset-method -x -a 'device_specific acpi flr af_flr pm bus cxl_bus default' -d 'Set reset_method first'
complete -c iopass -n '__iopass_using attach' -s d -l id -x -a '(__iopass_ids attach)' -d 'The one device with these IDs'
complete -c iopass -n '__iopass_using attach' -l driver -x -a '(__iopass_drivers vfio)' -d 'Bind NAME (a vfio-pci variant) instead of vfio-pci'
complete -c iopass -n '__iopass_using attach' -l persist -d 'Also on every boot: a udev rule and softdep'
complete -c iopass -n '__iopass_using attach' -a '(__iopass_devices attach)'

# detach
complete -c iopass -n '__iopass_using detach' -s g -l group -x -a '(__iopass_group_numbers detach)' -d 'Detach every endpoint of IOMMU group N'
complete -c iopass -n '__iopass_using detach' -l card -x -a '(__iopass_devices detach nogroups)' -d 'Every function of the card that DEV is on'
complete -c iopass -n '__iopass_using detach' -s a -l all -d 'Detach every device iopass attached'
complete -c iopass -n '__iopass_using detach' -l persist -d 'Also drop the devices from the boot configuration'
complete -c iopass -n '__iopass_using detach; and not __fish_contains_opt -s a all' -a '(__iopass_devices detach)'

# attach, detach, vf
complete -c iopass -n '__iopass_using "attach detach vf"' -s f -l force -d 'Override the guards'
complete -c iopass -n '__iopass_using "attach detach vf"' -s n -l dry-run -d 'Print each write, in order, and change nothing'
complete -c iopass -n '__iopass_using "attach detach vf"' -s J -l json -d 'JSON output: devices, steps, guards'
complete -c iopass -n '__iopass_using "attach detach vf"' -s w -l wait -x -d 'Wait SECONDS for another iopass (default 30)'

# emit
complete -c iopass -n '__iopass_using emit' -l qemu -d 'QEMU arguments, one -device per line'
complete -c iopass -n '__iopass_using emit' -l libvirt -d 'libvirt hostdev elements'
complete -c iopass -n '__iopass_using emit' -s J -l json -d 'The placement and properties as JSON'
complete -c iopass -n '__iopass_using emit' -s g -l group -x -a '(__iopass_group_numbers)' -d 'Every endpoint of IOMMU group N'
complete -c iopass -n '__iopass_using emit' -l card -x -a '(__iopass_devices devices nogroups)' -d 'Every function of the card that DEV is on'
complete -c iopass -n '__iopass_using emit' -l bus -x -a '(__iopass_bus)' -d 'Guest bus, one per card'
complete -c iopass -n '__iopass_using emit' -l first-slot -x -d 'First guest slot'
complete -c iopass -n '__iopass_using emit' -l rombar -x -a 'on off' -d 'Expose the option ROM BAR or not'
complete -c iopass -n '__iopass_using emit' -l romfile -r -F -d 'Use this option ROM image'
complete -c iopass -n '__iopass_using emit' -l primary-gpu -d 'x-vga=on for a VGA device'
complete -c iopass -n '__iopass_using emit' -l display -x -a 'on off auto' -d 'vfio display support for display devices'
complete -c iopass -n '__iopass_using emit' -l iommufd -d 'Use iommufd'
complete -c iopass -n '__iopass_using emit' -l managed -d 'libvirt managed=yes: libvirt rebinds the devices'
complete -c iopass -n '__iopass_using emit' -l split -x -a '(__fish_complete_directories)' -d 'libvirt: one file per device in DIR'
complete -c iopass -n '__iopass_using emit' -l strict -d 'Exit 3 instead of warning when a device is not ready'
complete -c iopass -n '__iopass_using emit' -l guest-address -d "libvirt: write each device's guest address"
complete -c iopass -n '__iopass_using emit' -a '(__iopass_emit_devices)'

# vf
complete -c iopass -n '__iopass_using vf; and not __iopass_action remove' -s a -l attach -d 'create: attach the new VFs to vfio-pci'
complete -c iopass -n '__iopass_using vf 0' -a create -d 'Create virtual functions'
complete -c iopass -n '__iopass_using vf 0' -a remove -d 'Remove the virtual functions'
complete -c iopass -n '__iopass_using vf 1' -a '(__iopass_query pfs)'
complete -c iopass -n '__iopass_using vf 2' -a '(__iopass_vf_counts)' -k

# persist
complete -c iopass -n '__iopass_using persist 0' -a list -d 'The persisted devices and their state'
complete -c iopass -n '__iopass_using persist 0' -a remove -d 'Drop devices from the boot configuration'
complete -c iopass -n '__iopass_using persist; and not __iopass_action remove' -s J -l json -d 'JSON output (list)'
complete -c iopass -n '__iopass_using persist; and not __iopass_action list' -s f -l force -d 'remove: overwrite generated files edited by hand'
complete -c iopass -n '__iopass_using persist; and __iopass_action remove' -a '(__iopass_persisted)'

# apply
complete -c iopass -n '__iopass_using apply' -s n -l check -d 'Compute the plan and its guards, change nothing'
complete -c iopass -n '__iopass_using apply' -l dry-run -d 'The same as --check'
complete -c iopass -n '__iopass_using apply' -l diff -d 'Print every field of every line, before and after'
complete -c iopass -n '__iopass_using apply' -s f -l force -d 'Override the guards; overwrite boot files edited by hand'
complete -c iopass -n '__iopass_using apply' -s J -l json -d 'JSON output: changes, refusals, recovery, boot'
complete -c iopass -n '__iopass_using apply' -s w -l wait -x -d 'Wait SECONDS for another iopass (default 30)'
complete -c iopass -n '__iopass_using apply 0' -F -a - -d 'Standard input'
