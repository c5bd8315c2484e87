#!/bin/sh
# iopass never starts a process: no system(), popen() or exec*() in the library or the CLI.
set -eu
src=$1
hits=$(grep -nE '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|fexecve|posix_spawnp?|fork|vfork)[[:space:]]*\(' \
	"$src"/lib/*.c "$src"/lib/*.h "$src"/cli/*.c "$src"/cli/*.h | grep -v '^\s*//' || true)
if [ -n "$hits" ]; then
	echo "process creation found:"
	echo "$hits"
	exit 1
fi
echo "no system/popen/exec/fork in lib/ and cli/"
