#!/usr/bin/env bash
# Builds the fuzz targets the way `cargo fuzz build` does, with the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets it take the -Z flags. SanitizerCoverage
# feeds libFuzzer; AddressSanitizer catches an out-of-bounds access in Rust
# code (not in JIT-generated code: the targets check canaries for that);
# debug assertions make an arithmetic overflow a crash, as cargo-fuzz does.
# Usage: fuzz/build.sh [TARGET...]   (binaries in $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release)
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers=yes"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
bins=()
for t in "$@"; do bins+=(--bin "$t"); done
cargo build --release --target x86_64-unknown-linux-gnu "${bins[@]}"
