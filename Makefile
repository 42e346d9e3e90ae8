# The two commands (see README.rst): make demo, make test.
.PHONY: demo install test bench bench-offers clean

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

clean:
	rm -rf .test-logs .demo
