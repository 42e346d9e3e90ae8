#!/usr/bin/env bash
# make bench-offers: offer stock sync figures (see the top of scripts/benchmark_offers.py)
# on a fresh database of a Polish company, dropped afterwards.
# Extra arguments go to benchmark_offers.py (e.g. make bench-offers ARGS="--offers 2000").
source "$(dirname "$0")/common.sh"
run_benchmark offers PL "l10n_pl allegro_connector" "offer" "$@"
