# The two Quickstart commands: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/facetrust serve

test:
	./scripts/test.sh
