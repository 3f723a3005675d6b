#!/usr/bin/env bash
# Rebuilds the benchmark programs' committed objects.
#
#   vm/NAME.c     -> vm/NAME.o      (BPF ELF)   and vm/NAME.bin (raw instructions of .text)
#   kernel/NAME.c -> kernel/NAME.o  (BPF ELF, with BTF, for the Linux verifier)
#
# The VM programs must be a single function with no relocations, no maps, no global
# data and no calls: this script checks that and fails otherwise.
#
# Usage: benches/programs/build.sh   (from anywhere; needs clang-19 and llvm-19)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLANG="${CLANG:-clang-19}"
OBJCOPY="${OBJCOPY:-llvm-objcopy-19}"
READELF="${READELF:-llvm-readelf-19}"
# -fdebug-prefix-map keeps the checkout path out of the committed objects.
CFLAGS=(-O2 -g -target bpf -mcpu=v4 -Wall -Werror "-fdebug-prefix-map=$here=.")

fail() { echo "build.sh: $*" >&2; exit 1; }

for src in "$here"/vm/*.c; do
	name="$(basename "$src" .c)"
	obj="$here/vm/$name.o"
	# -fno-builtin: keep the byte loops as loops (no memcpy/memset/strcmp calls).
	"$CLANG" "${CFLAGS[@]}" -fno-builtin -c "$src" -o "$obj"

	sections="$("$READELF" -S -W "$obj")"
	if grep -qE '\.rel\.text|\.rodata|\.data|\.bss|\.maps|[[:space:]]maps[[:space:]]' <<<"$sections"; then
		fail "$name: the VM program has relocations, maps or global data"
	fi
	funcs="$("$READELF" -s -W "$obj" | awk '$4 == "FUNC"' | wc -l)"
	[ "$funcs" -eq 1 ] || fail "$name: expected exactly one function, found $funcs"
	if "$READELF" -s -W "$obj" | awk '$4 == "FUNC" {print $8}' | grep -qv '^bpf_main$'; then
		fail "$name: the function must be named bpf_main"
	fi
	"$OBJCOPY" -O binary --only-section=.text "$obj" "$here/vm/$name.bin"
	size="$(stat -c %s "$here/vm/$name.bin")"
	[ $((size % 8)) -eq 0 ] && [ "$size" -gt 0 ] || fail "$name: .text is $size bytes, not whole instructions"
	echo "vm/$name: $((size / 8)) instructions"
done

for src in "$here"/kernel/*.c; do
	[ -e "$src" ] || continue
	name="$(basename "$src" .c)"
	"$CLANG" "${CFLAGS[@]}" -c "$src" -o "$here/kernel/$name.o"
	echo "kernel/$name: built"
done
