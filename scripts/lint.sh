#!/bin/sh
# Static analysis: cppcheck, clang-tidy (a chosen set) and gcc -fanalyzer.
# Every check that is off below says why; findings that remain are errors.
set -eu
cd "$(dirname "$0")/.."
status=0

echo "lint: cppcheck"
# cppcheck 2.11+ limits its branch analysis unless told otherwise, and says so as an
# "information" that --error-exitcode counts: have it analyse every branch (2.10 has
# no such limit, nor the option)
level=
cppcheck --check-level=exhaustive --version >/dev/null 2>&1 && level=--check-level=exhaustive
# shellcheck disable=SC2086 # $level is one option or none
cppcheck --quiet $level --enable=warning,portability,performance --inline-suppr --error-exitcode=1 \
	--suppress=missingIncludeSystem -I shared -I lib -I cli lib cli || status=1

# Off, with the reason:
#  bugprone-easily-swappable-parameters, bugprone-narrowing-conversions: style, not bugs
#  bugprone-reserved-identifier, cert-dcl37-c, cert-dcl51-cpp: _cleanup_ and _printf_ macros
#  bugprone-sizeof-expression: sizeof(*devs) on arrays of pointers is what we mean
#  cert-err33-c: unchecked snprintf/printf results; output truncation is bounded on purpose
#  cert-err34-c: sscanf on kernel text (/proc/net/*, mountinfo) whose fields are validated after
#  clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling: asks for Annex K *_s
#  clang-analyzer-valist.Uninitialized: clang 14 false positive on va_list parameters
#  bugprone-multi-level-implicit-pointer-conversion (clang-tidy 18+): flags free(), qsort()
#    and calloc() of arrays of pointers, where C converts void * implicitly by design
#    (the cast it asks for is C++ style and would hide a real type mismatch)
CHECKS='-*,clang-analyzer-*,bugprone-*,cert-*,-bugprone-easily-swappable-parameters,-bugprone-narrowing-conversions,-bugprone-reserved-identifier,-cert-dcl37-c,-cert-dcl51-cpp,-bugprone-sizeof-expression,-cert-err33-c,-cert-err34-c,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-clang-analyzer-valist.Uninitialized,-bugprone-multi-level-implicit-pointer-conversion'
echo "lint: clang-tidy"
cmake -S . -B build-lint -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DIOPASS_TESTS=OFF >/dev/null
out=$(clang-tidy -p build-lint --quiet -checks="$CHECKS" lib/*.c cli/*.c 2>/dev/null | grep -E "warning:|error:" || true)
if [ -n "$out" ]; then
	echo "$out"
	status=1
fi

# gcc's analyzer follows ownership badly through arrays that own their elements
# (report.c's findings, the txn's devices, ctx caches freed in iopass_ctx_free)
# and through setjmp: those two families are off; every other analyzer check is on.
echo "lint: gcc -fanalyzer"
for f in lib/*.c cli/*.c; do
	gcc -std=gnu11 -O1 -fanalyzer -Wno-analyzer-malloc-leak \
		-Wno-analyzer-use-of-uninitialized-value -Werror -c -Ishared -Ilib -Icli \
		$(pkg-config --cflags smartcols libpci) -DIOPASS_VERSION='"lint"' "$f" -o /dev/null || status=1
done
[ $status -eq 0 ] && echo "lint: clean"
exit $status
