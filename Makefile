# The two Quickstart commands: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test

setup:
	./scripts/setup.sh

run: setup
	FACETRUST_DEMO=$${FACETRUST_DEMO:-1} .venv/bin/facetrust serve   # with the demo platform, for trying the pages

test:
	./scripts/test.sh
