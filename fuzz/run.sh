#!/usr/bin/env bash
# Runs each fuzz target for SECONDS, one after the other, single process.
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target)
# Seeds: fuzz/seeds/<target> (made by make_seeds.py if missing); the corpus a
# run grows stays in fuzz/corpus/<target> for the next run. A crash is
# minimised (-minimize_crash=1) into fuzz/regressions/<target>/, where the
# crate's regression test replays it. Each run appends "target seconds
# outcome" to fuzz/runtime.log. Exit status 1 if any target crashed.
# IRONBPF_FUZZ_NO_BUILD=1 runs the binaries as they are (another run.sh
# may be fuzzing with them while the sources change); IRONBPF_FUZZ_LOG
# names another log than runtime.log (CI keeps the record clean).
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
all=(isa_roundtrip loader_elf maps_model interp_checked verifier soundness jit_vs_interp)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
runlog="${IRONBPF_FUZZ_LOG:-runtime.log}"
if [ "${IRONBPF_FUZZ_NO_BUILD:-0}" != 1 ]; then
  ./build.sh "${targets[@]}" || exit 2
fi
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
[ -d seeds ] || ./make_seeds.py
export ASAN_OPTIONS="detect_leaks=0:detect_odr_violation=0:abort_on_error=1:symbolize=1"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t" "regressions/$t"
  # Every crash found before must stay fixed (a generous wall-clock
  # timeout: a program that loops to the verifier's 1M-insn limit takes
  # 10-20 s of CPU in this build, several times that on a loaded machine).
  if ls "regressions/$t"/crash-* "regressions/$t"/oom-* >/dev/null 2>&1; then
    if ! "$bin/$t" -timeout=600 $(ls "regressions/$t"/crash-* "regressions/$t"/oom-* 2>/dev/null) >"artifacts/$t/regressions.log" 2>&1; then
      echo "$t: a regression input crashes again (see fuzz/artifacts/$t/regressions.log)" >&2
      grep -m1 -A12 "panicked at\|ERROR: AddressSanitizer\|ERROR: libFuzzer" "artifacts/$t/regressions.log" >&2
      echo "$(date -u +%FT%TZ) $t 0s regression-failed" | tee -a "$runlog"
      failed=1
      continue
    fi
  fi
  # Every slow input must stay fast: each kept timeout and slow unit runs
  # alone under a CPU-time limit (ulimit -t, so a loaded machine does not
  # make it fail) of IRONBPF_FUZZ_SLOW_CPU seconds, 45 by default. Each
  # takes 1-16 s of CPU in this build since the verifier stopped walking
  # the parent chain of every unfinished state it compares;
  # timeout-d2b54acc took 68 s before.
  slow_cpu="${IRONBPF_FUZZ_SLOW_CPU:-45}"
  slow_failed=0
  : >"artifacts/$t/slow.log"
  for s in "regressions/$t"/timeout-* "regressions/$t"/slow-unit-*; do
    [ -e "$s" ] || continue
    if ! (ulimit -t "$slow_cpu"; exec "$bin/$t" -timeout=0 "$s") >>"artifacts/$t/slow.log" 2>&1; then
      echo "$t: $s takes over ${slow_cpu} s of CPU again, or fails (see fuzz/artifacts/$t/slow.log)" >&2
      slow_failed=1
    fi
  done
  if [ $slow_failed -ne 0 ]; then
    echo "$(date -u +%FT%TZ) $t 0s slow-input-regressed" | tee -a "$runlog"
    failed=1
    continue
  fi
  maxlen=8192
  [ "$t" = loader_elf ] && maxlen=262144
  log="artifacts/$t/last.log"
  # The verifier may take longer than the timeout on a loop program (it
  # stops at 1M processed instructions, slowly: see SECURITY.md): those
  # targets run in fork mode and keep going past a timeout, which is
  # still saved as an artifact and reported.
  extra=()
  timeout=20
  case "$t" in verifier|soundness) extra=(-fork=1 -ignore_timeouts=1) ;; esac
  # A program that loops to the 1M-insn limit takes the verifier 10-20 s
  # of CPU in this build (ASan), a minute or more of wall time on a loaded
  # machine: 300 s per input, and a timeout is kept and reported, not
  # counted as a crash.
  case "$t" in verifier|soundness) timeout="${IRONBPF_FUZZ_VERIFIER_TIMEOUT:-300}" ;; esac
  start=$(date +%s)
  "$bin/$t" "corpus/$t" "seeds/$t" -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb=2048 \
    -max_len="$maxlen" -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  outcome=ok
  if [ $rc -ne 0 ]; then
    outcome="crash(rc=$rc)"
    failed=1
  fi
  # Timeouts are kept as they are (minimising one takes a timeout per try).
  for a in "artifacts/$t"/timeout-* "artifacts/$t"/slow-unit-*; do
    [ -e "$a" ] || continue
    name=$(basename "$a")
    cp "$a" "regressions/$t/$name"
    echo "$t: $name -> fuzz/regressions/$t/$name" >&2
    mv "$a" "artifacts/$t/seen-$name"
    [ "$outcome" = ok ] && outcome="ok(timeouts kept)"
  done
  if [ $rc -ne 0 ]; then
    for a in "artifacts/$t"/crash-* "artifacts/$t"/oom-*; do
      [ -e "$a" ] || continue
      name=$(basename "$a")
      timeout 300 "$bin/$t" -minimize_crash=1 -max_total_time=120 -timeout=20 -runs=100000 \
        -exact_artifact_path="regressions/$t/$name" "$a" >"artifacts/$t/$name.min.log" 2>&1
      [ -e "regressions/$t/$name" ] || cp "$a" "regressions/$t/$name"
      echo "$t: $name -> fuzz/regressions/$t/$name" >&2
      mv "$a" "artifacts/$t/seen-$name"
    done
    grep -m1 -A12 "panicked at\|ERROR: AddressSanitizer\|ERROR: libFuzzer" "$log" >&2 || tail -20 "$log" >&2
  fi
  execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$")
  # Fork mode prints no final stats: its last "#N:" line counts them.
  [ -n "$execs" ] || execs=$(grep -o "^#[0-9]*:" "$log" | tail -1 | tr -dc 0-9)
  [ -n "$execs" ] || execs="?"
  echo "$(date -u +%FT%TZ) $t ${took}s execs=$execs $outcome" | tee -a "$runlog"
done
exit $failed
