# Coverage over the test tiers (included from the Makefile). `make test` is not measured.
#   make coverage                        unit + integration + system tiers (e2e included:
#                                        its tests carry those markers), ~45+ min on 2 cores
#   make coverage COVERAGE_CONTAINERS=1  ... and the container tier (needs the images)
#   make coverage COVERAGE_TESTS="tests/unit tests/integration/batch/test_cli.py"
#                                        a partial run: the report says what it covered
# Every Python process the tests start is measured too (pyproject's [tool.coverage.run]
# patch = subprocess), each writing its own data file into .cache/coverage, combined after
# the run. The table: bench/results/coverage.{json,md} (scripts/coverage_report.py).
.PHONY: coverage

COVERAGE_DIR := $(CURDIR)/.cache/coverage
COVERAGE_TESTS ?= tests
COVERAGE_CONTAINERS ?=
COVERAGE_MARK := $(if $(COVERAGE_CONTAINERS),,-m "not container")
COVERAGE_FULL := $(if $(filter tests,$(COVERAGE_TESTS)),--full,)
COVERAGE_SCOPE := pytest $(COVERAGE_MARK) $(COVERAGE_TESTS)

coverage: $(STAMP) controlplane $(if $(COVERAGE_CONTAINERS),docker images compose) ## coverage of unit+integration+system (subprocesses included) → bench/results/coverage.md
	rm -rf $(COVERAGE_DIR) && mkdir -p $(COVERAGE_DIR)
	export COVERAGE_FILE=$(COVERAGE_DIR)/data; status=0; \
	$(PYTHON) -m coverage run -m pytest -p no:cacheprovider -q $(COVERAGE_MARK) $(COVERAGE_TESTS) || status=$$?; \
	processes=$$(ls $(COVERAGE_DIR) | grep -c '^data\.'); \
	$(PYTHON) -m coverage combine --quiet && \
	$(PYTHON) scripts/coverage_report.py --data $(COVERAGE_DIR)/data $(COVERAGE_FULL) \
		--scope '$(COVERAGE_SCOPE)' --processes $$processes --pytest-status $$status \
		|| status=$$((status ? status : 1)); \
	exit $$status
