#!/usr/bin/env bash
# Run braid's fuzz targets (fuzz/, a cargo-fuzz project) for a bounded time.
#
#   scripts/fuzz.sh [target...]        # default: every target
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_SANITIZER  cargo-fuzz sanitizer (default none: works on stable; with
#                   "address" set RUSTC_BOOTSTRAP=1 too, see fuzz/README.md)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-jobs=2" or "-max_len=8192"
#   FUZZ_KEEP=1     keep the scratch corpora and logs (printed at the end)
#
# The repository's seeds (fuzz/corpus/<target>/seed-*) are copied into a
# scratch corpus per target, so the run never adds files to the repository's
# corpus. Crashing inputs land in fuzz/artifacts/<target>/ (not committed).
#
# Prints one line per target to stdout, `fuzz_execs_<target> <N> execs`, also
# kept in fuzz/target/fuzz-execs.txt for `braid-bench robustness`, and exits
# non-zero if any target crashed (or did not run).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"
read -r -a extra <<<"${FUZZ_ARGS:-}"

log() { printf '==> %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked >&2
fi

cd fuzz
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

log "building ${targets[*]} (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer" >&2

work="$(mktemp -d "${TMPDIR:-/tmp}/braid-fuzz.XXXXXX")"
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t"
    mkdir -p "$corpus" "artifacts/$t"
    if compgen -G "corpus/$t/seed-*" >/dev/null; then
        cp corpus/"$t"/seed-* "$corpus"/
    fi
    logfile="$work/$t.log"
    log "fuzzing $t for ${seconds}s"
    status=0
    cargo fuzz run --sanitizer "$sanitizer" "$t" "$corpus" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        "${extra[@]}" >"$logfile" 2>&1 || status=$?

    # libFuzzer's final stats, else its last "#N DONE" / "Done N runs" line.
    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logfile" | tail -n 1)"
    if [ -z "$execs" ]; then
        execs="$(sed -n -e 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' -e 's/^Done \([0-9]*\) runs.*/\1/p' "$logfile" | tail -n 1)"
    fi
    execs="${execs:-0}"
    summary+=("fuzz_execs_$t $execs execs")

    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        log "$t FAILED (exit $status):"
        grep -A 3 -e 'panicked at' -e '^==[0-9]*==ERROR' -e '^ERROR: libFuzzer' "$logfile" | head -n 20 >&2 || true
        grep -o 'Test unit written to [^ ]*' "$logfile" >&2 || true
        if [ "${FUZZ_KEEP:-0}" != 1 ]; then
            cp "$logfile" "artifacts/$t/last-run.log"
            log "full log: fuzz/artifacts/$t/last-run.log"
        fi
    fi
done

mkdir -p target
printf '%s\n' "${summary[@]}" | tee target/fuzz-execs.txt

if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    log "scratch corpora and logs kept in $work"
else
    rm -rf "$work"
fi
if [ "${#failed[@]}" -gt 0 ]; then
    log "crashes in: ${failed[*]} (inputs under fuzz/artifacts/; see fuzz/README.md to replay)"
    exit 1
fi
