# The two commands (see README.rst): make demo, make test.
.PHONY: demo install test bench bench-offers bench-swa bench-budget bench-jobs bench-money soak pot readme clean

demo: install
	scripts/demo.sh

install:
	scripts/install.sh

test:
	scripts/test.sh $(ARGS)

bench:
	scripts/benchmark.sh $(ARGS)

bench-offers:
	scripts/benchmark_offers.sh $(ARGS)

# Ship with Allegro: parcels of 200 validated deliveries, 100 labels in one file.
bench-swa:
	scripts/benchmark_swa.sh $(ARGS)

# Allegro's money: a month of 30,000 fees and 20,000 payment operations read and booked.
bench-money:
	scripts/benchmark_money.sh $(ARGS)

# The request budget shared by 8 workers (see the top of scripts/benchmark_budget.py).
bench-budget:
	scripts/benchmark_budget.sh $(ARGS)

# Translations: i18n/allegro_connector.pot afresh from Odoo, merged into i18n/*.po.
pot:
	scripts/pot.sh

# The addon's README.rst and Apps page, from its readme/ fragments.
readme:
	python3 scripts/gen_readme.py

clean:
	rm -rf .test-logs .demo

# Updates to Allegro as jobs: 2,000 status updates by 1 and by 4 workers; and
# the fault soak (see the top of scripts/bench_jobs.py).
bench-jobs:
	scripts/bench_jobs.sh $(ARGS)

soak:
	scripts/bench_jobs.sh --soak $(ARGS)
