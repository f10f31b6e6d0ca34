#!/usr/bin/env bash
# Coverage-guided fuzzing (docs/fuzzing.md): builds Fuzz/Sources with libFuzzer and AddressSanitizer
# into .build-fuzz, then fuzzes each target in turn, one process at a time, for SECONDS each.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: head framing manifest (default: all three)
#
# SECONDS defaults to $FUZZ_SECONDS, else 600. `make test` runs 20 s a target, `make fuzz` 600.
# Each target starts from its committed seeds (Fuzz/corpus/TARGET, regressions/ included) and from
# what earlier runs found (.build-fuzz/corpus/TARGET, not committed). Exit status 1 when a target
# crashed, broke one of its properties, timed out or ran out of memory: the input is then in
# .build-fuzz/artifacts/TARGET/ and the summary says how to replay it. libFuzzer's own output goes to
# .build-fuzz/logs/TARGET.log. SWIFT (default `swift`) is the command that runs SwiftPM; FUZZ_BUILD=0
# fuzzes the last build as it is.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-600}}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(head framing manifest)
SWIFT=${SWIFT:-swift}
out=.build-fuzz
bin=$out/debug/devhost-fuzz
mkdir -p "$out/logs"

# SwiftPM's --sanitize fuzzer makes it link libFuzzer's main instead of the target's own (there is
# none in this build: DEVHOST_LIBFUZZER leaves out the replay main). Swift takes the last
# -sanitize= it is given, so both sanitizers are named again in one flag; C code (libyaml) gets
# both from the --sanitize flags.
start=$(date +%s)
if [ "${FUZZ_BUILD:-1}" = 0 ] && [ -x "$bin" ]; then
    echo "fuzz: FUZZ_BUILD=0, fuzzing the devhost-fuzz built $(date -r "$bin" '+%F %T'); ${seconds} s a target"
# shellcheck disable=SC2086 # SWIFT may be a command with arguments (flock LOCK swift).
elif ! DEVHOST_FUZZ=1 $SWIFT build --scratch-path "$out" --product devhost-fuzz \
    --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address -Xswiftc -DDEVHOST_LIBFUZZER \
    >"$out/logs/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$out/logs/build.log" | grep -E "error|warning: unre" | head -20
    echo "fuzz: the build failed (whole log: $out/logs/build.log)"
    exit 1
else
    built=$(sed -n "s/.*devhost-fuzz' complete! (\([0-9]*\).*/\1/p" "$out/logs/build.log")
    echo "fuzz: devhost-fuzz built with libFuzzer and AddressSanitizer (${built:-?} s building, $(($(date +%s) - start)) s in all); ${seconds} s a target"
fi

failed=0
for target in "${targets[@]}"; do
    case $target in
    head) dict=http max_len=4096 ;;
    framing) dict=http max_len=4096 ;;
    manifest) dict=manifest max_len=8192 ;;
    *) echo "fuzz: unknown target $target (head, framing, manifest)"; exit 2 ;;
    esac
    corpus=$out/corpus/$target
    artifacts=$out/artifacts/$target
    log=$out/logs/$target.log
    mkdir -p "$corpus" "$artifacts"
    marker=$(mktemp)
    begun=$(date +%s)
    # The Swift runtime's backtracer would hold the crash for its own report: libFuzzer reports it,
    # with the input. Leaks count as findings (ASan's default under libFuzzer).
    SWIFT_BACKTRACE=enable=no "$bin" --target="$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -dict="Fuzz/dict/$dict.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        "$corpus" "Fuzz/corpus/$target" >"$log" 2>&1
    status=$?
    took=$(($(date +%s) - begun))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    seeds=$(sed -n 's/^#[0-9]*.*INITED.* corp: \([0-9]*\).*/\1/p' "$log" | tail -1)
    if [ $status -eq 0 ]; then
        echo "fuzz $target: ${runs:-?} runs in ${took} s, coverage ${cov:-?} edges / ${ft:-?} features, corpus ${corp:-?} inputs (${seeds:-?} at start): no crash"
    else
        failed=1
        found=$(find "$artifacts" -type f -newer "$marker" | head -1)
        reason=$(grep -m1 -E 'property violated|Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|ALARM|out-of-memory' "$log")
        echo "fuzz $target: FAILED after ${runs:-?} runs in ${took} s: ${reason:-exit status $status}"
        # The report: from the sanitizer's or the runtime's first line to libFuzzer's summary.
        sed -n '/Fatal error\|==ERROR\|ALARM\|out-of-memory/,/^SUMMARY/p' "$log" | grep -v '^ *$' | head -40 | sed 's/^/    /'
        if [ -n "$found" ]; then
            echo "    input: $found ($(wc -c <"$found") bytes)"
            echo "    replay: SWIFT_BACKTRACE=enable=no $bin --target=$target $found"
            echo "    once fixed, keep it as a regression: cp $found Fuzz/corpus/$target/regressions/"
        fi
        echo "    libFuzzer's whole output: $log"
    fi
    rm -f "$marker"
done
exit $failed
