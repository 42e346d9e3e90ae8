# The two commands (see README.rst): make demo, make test.
.PHONY: demo install test clean

demo: install
	scripts/demo.sh

install:
	scripts/install.sh

test:
	scripts/test.sh $(ARGS)

clean:
	rm -rf .test-logs .demo
