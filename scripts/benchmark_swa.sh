#!/usr/bin/env bash
# make bench-swa: Ship with Allegro figures (see the top of scripts/benchmark_swa.py)
# on a fresh database of a Polish company, dropped afterwards.
# Extra arguments go to benchmark_swa.py (e.g. make bench-swa ARGS="--orders 50").
source "$(dirname "$0")/common.sh"
run_benchmark swa PL "l10n_pl allegro_connector" "Ship with Allegro" "$@"
