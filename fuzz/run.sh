#!/bin/sh
# Runs fuzz targets one after another, each for SECONDS of wall time, at low priority
# (nice 15), and keeps each libFuzzer log in fuzz/logs/TARGET.log.
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target `cargo fuzz list` names)
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags,
# and `-s none` builds without a sanitizer (pgpsendmail has no unsafe code on these paths;
# -a keeps debug assertions and overflow checks on, so that arithmetic errors panic).
set -eu
cd "$(dirname "$0")"
SECONDS_EACH=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1
FLAGS="-O -a -s none"
./seed.sh >/dev/null
TARGETS=${*:-$(cargo fuzz list)}
mkdir -p logs
status=0
for t in $TARGETS; do
    echo "fuzz: $t for ${SECONDS_EACH}s"
    # -timeout: an input taking more than 10 s is a finding (hang or super-linear time).
    # The CPU time the target got (nice 15 on a shared machine: less than the wall time) is
    # the last line of its log, from GNU time when it is installed.
    TIME=""
    [ -x /usr/bin/time ] && TIME="/usr/bin/time -a -o logs/$t.log -f cpu_seconds:%U+%S"
    if ! nice -n 15 $TIME cargo fuzz run $FLAGS "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"logs/$t.log" 2>&1; then
        echo "fuzz: $t FOUND A PROBLEM: see fuzz/logs/$t.log and fuzz/artifacts/$t/"
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^Done|^cpu_seconds' "logs/$t.log" | tail -3 || true
done
exit $status
