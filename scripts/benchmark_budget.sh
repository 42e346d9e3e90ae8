#!/usr/bin/env bash
# make bench-budget: the request budget shared by 8 workers (see the top of
# scripts/benchmark_budget.py) on a fresh database, dropped afterwards.
# Extra arguments go to benchmark_budget.py (e.g. make bench-budget ARGS="--seconds 20").
source "$(dirname "$0")/common.sh"
run_benchmark budget "" "allegro_connector" "request budget" "$@"
