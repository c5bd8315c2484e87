#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# 'cmake --install' puts every file where the system looks for it: staged
# with DESTDIR below a temporary directory, prefix /usr.
#
#   check-install.sh BUILD-DIR
set -u
build=${1:?usage: check-install.sh BUILD-DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iopass-install-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

if ! out=$(DESTDIR=$tmp cmake --install "$build" --prefix /usr 2>&1); then
	printf 'cmake --install failed:\n%s\n' "$out"
	exit 1
fi

# the bash completion goes where the bash-completion package looks, when it
# is installed (its pkg-config completionsdir), else to its default directory
bashdir=$(pkg-config --define-variable=prefix=/usr --define-variable=datadir=/usr/share --variable=completionsdir bash-completion 2>/dev/null)
[ -n "$bashdir" ] || bashdir=/usr/share/bash-completion/completions

n=0
for f in /usr/sbin/iopass \
	/usr/share/man/man8/iopass.8 \
	"$bashdir/iopass" \
	/usr/share/zsh/vendor-completions/_iopass \
	/usr/share/fish/vendor_completions.d/iopass.fish; do
	n=$((n + 1))
	if [ ! -f "$tmp$f" ]; then
		echo "missing: $f"
		status=1
	fi
done
if [ -f "$tmp/usr/sbin/iopass" ] && [ ! -x "$tmp/usr/sbin/iopass" ]; then
	echo "not executable: /usr/sbin/iopass"
	status=1
fi

# nothing else, and nothing outside the prefix
extra=$(cd "$tmp" && find . -type f | sed 's/^\.//' | sort | grep -v -x -F \
	-e /usr/sbin/iopass -e /usr/share/man/man8/iopass.8 -e "$bashdir/iopass" \
	-e /usr/share/zsh/vendor-completions/_iopass \
	-e /usr/share/fish/vendor_completions.d/iopass.fish)
if [ -n "$extra" ]; then
	printf 'installed, but not expected:\n%s\n' "$extra"
	status=1
fi

if [ $status -eq 0 ]; then
	echo "install: all $n files in place"
	(cd "$tmp" && find . -type f | sed 's/^\./  /' | sort)
fi
exit $status
