# Mutation testing (issue 21): mutmut 3 on the critical modules listed in pyproject's
# [tool.mutmut]. `make mutate` runs every mutant (resumes where an earlier run stopped) and
# writes bench/results/mutation.{json,md}; MUTATE_CHILDREN bounds the parallel test processes.
MUTATE_CHILDREN ?= 2

# `make mutate-module MUTATE=controller.rollout.phases MUTATE_RUN="3 (label)"`: that module's
# mutants only (any mutmut name glob), its rows merged into the report, the others kept.
MUTATE ?=
MUTATE_RUN ?= partial

.PHONY: mutate mutate-report mutate-module
mutate: $(STAMP) ## mutation testing of the critical modules (mutmut), report in bench/results/mutation.md
	$(PYTHON) -m mutmut run --max-children $(MUTATE_CHILDREN) > .cache/mutmut-run.log 2>&1 || (tail -c 3000 .cache/mutmut-run.log; exit 1)
	$(MAKE) mutate-report

mutate-report: ## rewrite bench/results/mutation.{json,md} from the last mutmut run
	$(PYTHON) -m mutmut results --all true | $(PYTHON) bench/mutation_report.py

mutate-module: $(STAMP) ## mutation testing of one module (MUTATE=dotted.name), merged into the report
	@test -n "$(MUTATE)" || (echo "MUTATE=dotted.module.name is required"; exit 2)
	$(PYTHON) -m mutmut run --max-children $(MUTATE_CHILDREN) "$(MUTATE).*" > .cache/mutmut-run.log 2>&1 || (tail -c 3000 .cache/mutmut-run.log; exit 1)
	$(PYTHON) -m mutmut results --all true | $(PYTHON) bench/mutation_report.py --merge "$(MUTATE_RUN)"
