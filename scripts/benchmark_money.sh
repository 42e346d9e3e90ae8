#!/usr/bin/env bash
# make bench-money: a month of a busy shop's fees and payments read and booked
# (see the top of scripts/benchmark_money.py), on a fresh database of a Polish
# company, dropped afterwards. Extra arguments go to benchmark_money.py
# (e.g. make bench-money ARGS="--entries 3000 --operations 2000").
source "$(dirname "$0")/common.sh"
run_benchmark money PL "l10n_pl allegro_connector" "fees and payments" "$@"
