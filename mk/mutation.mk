# Mutation testing (issue 21): mutmut 3 on the critical modules listed in pyproject's
# [tool.mutmut]. `make mutate` runs every mutant (resumes where an earlier run stopped) and
# writes bench/results/mutation.{json,md}; MUTATE_CHILDREN bounds the parallel test processes.
MUTATE_CHILDREN ?= 2

.PHONY: mutate mutate-report
mutate: $(STAMP) ## mutation testing of the critical modules (mutmut), report in bench/results/mutation.md
	$(PYTHON) -m mutmut run --max-children $(MUTATE_CHILDREN) > .cache/mutmut-run.log 2>&1 || (tail -c 3000 .cache/mutmut-run.log; exit 1)
	$(MAKE) mutate-report

mutate-report: ## rewrite bench/results/mutation.{json,md} from the last mutmut run
	$(PYTHON) -m mutmut results --all true | $(PYTHON) bench/mutation_report.py
