#!/bin/sh
# The man page lints clean, and every option that --help shows is documented in it.
set -eu
bin=$1
man=$2
status=0

if command -v mandoc >/dev/null; then
	out=$(mandoc -T lint -W warning "$man" 2>&1 || true)
	if [ -n "$out" ]; then
		echo "mandoc lint: $out"
		status=1
	fi
fi
out=$(groff -ww -z -man "$man" 2>&1 || true)
if [ -n "$out" ]; then
	echo "groff: $out"
	status=1
fi

# the commands, from the command table as --help prints it
cmds=$("$bin" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v '^help$')
# man renders \- as -; compare against the formatted text
text=$(MANWIDTH=200 groff -man -Tutf8 -P-cbou "$man" 2>/dev/null | tr -d '\010')
for c in "" $cmds; do
	# shellcheck disable=SC2086
	opts=$("$bin" $c --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		if ! printf '%s\n' "$text" | grep -q -- "$o"; then
			echo "iopass ${c:-(global)}: option $o is not in $man"
			status=1
		fi
	done
	if [ -n "$c" ] && ! printf '%s\n' "$text" | grep -q "iopass $c"; then
		echo "command $c is not in $man"
		status=1
	fi
done
[ $status -eq 0 ] && echo "man page: lint clean, all options documented"
exit $status
