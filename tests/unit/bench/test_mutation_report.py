"""The mutation report's parsing of ``mutmut results`` (pure)."""

from __future__ import annotations

import pytest

from bench.mutation_report import merge, rows, tally

pytestmark = pytest.mark.unit

OUTPUT = """\
    controller.rollout.records.x_compact__mutmut_1: survived
    controller.rollout.records.x_compact__mutmut_2: killed
    controller.rollout.phases.xǁPhaseǁnext__mutmut_7: timeout
    services.core.psi.x_psi__mutmut_3: no tests
    services.core.psi.x_psi__mutmut_4: not checked
    not a mutant line
"""


def test_mutants_are_counted_per_module_functions_and_methods_alike() -> None:
    counts = tally(OUTPUT.splitlines())
    assert set(counts) == {
        "controller.rollout.records",
        "controller.rollout.phases",
        "services.core.psi",
    }
    assert counts["controller.rollout.records"] == {"survived": 1, "killed": 1}
    assert counts["controller.rollout.phases"] == {"timeout": 1}


def test_killed_and_timeouts_are_caught_the_rest_is_not() -> None:
    table = {r["module"]: r for r in rows(tally(OUTPUT.splitlines()))}
    assert table["controller.rollout.records"]["caught"] == "50.0%"
    assert table["controller.rollout.phases"]["caught"] == "100.0%"
    assert table["services.core.psi"]["no_tests"] == 1
    assert table["services.core.psi"]["not_run"] == 1
    assert table["services.core.psi"]["caught"] == "0.0%"  # of the one mutant run
    assert table["**all**"]["mutants"] == 5
    assert table["**all**"]["caught"] == "50.0%"


def test_a_partial_run_replaces_only_the_rows_of_the_modules_it_ran() -> None:
    earlier = rows(tally(OUTPUT.splitlines()))
    for row in earlier:
        row["run"] = "1"
    later = """\
    controller.rollout.records.x_compact__mutmut_1: killed
    controller.rollout.records.x_compact__mutmut_2: killed
    controller.rollout.phases.xǁPhaseǁnext__mutmut_7: not checked
    services.core.psi.x_psi__mutmut_3: killed
    services.core.psi.x_psi__mutmut_4: not checked
"""
    table = {r["module"]: r for r in merge(earlier, rows(tally(later.splitlines())), "2")}
    assert table["controller.rollout.records"]["run"] == "2"
    assert table["controller.rollout.records"]["caught"] == "100.0%"
    assert table["controller.rollout.phases"]["run"] == "1"  # not run now: kept as it was
    assert table["controller.rollout.phases"]["timeout"] == 1
    assert table["services.core.psi"]["run"] == "2, partial"  # as many run: the newer
    assert table["services.core.psi"]["no_tests"] == 0
    assert table["**all**"]["mutants"] == 5
    assert table["**all**"]["killed"] == 3
    assert table["**all**"]["caught"] == "100.0%"  # 3 killed + 1 timeout of the 4 run


def test_a_partial_run_that_ran_more_of_a_module_replaces_its_row_marked_partial() -> None:
    earlier = [{**r, "run": "1"} for r in rows(tally(OUTPUT.splitlines()))]
    later = """\
    services.core.psi.x_psi__mutmut_3: killed
    services.core.psi.x_psi__mutmut_4: killed
    services.core.psi.x_psi__mutmut_5: not checked
"""
    table = {r["module"]: r for r in merge(earlier, rows(tally(later.splitlines())), "2")}
    assert table["services.core.psi"]["run"] == "2, partial"
    assert table["services.core.psi"]["killed"] == 2
    assert table["controller.rollout.records"]["run"] == "1"


def test_a_whole_run_of_a_module_that_shrank_replaces_its_row() -> None:
    earlier = [{**r, "run": "1"} for r in rows(tally(OUTPUT.splitlines()))]
    later = """\
    controller.rollout.records.x_compact__mutmut_1: killed
    services.core.psi.x_psi__mutmut_3: killed
"""
    table = {r["module"]: r for r in merge(earlier, rows(tally(later.splitlines())), "2")}
    assert table["controller.rollout.records"]["run"] == "2"  # 1 mutant today, all run
    assert table["controller.rollout.records"]["mutants"] == 1
    assert table["controller.rollout.records"]["survived"] == 0
    assert table["services.core.psi"]["run"] == "2"
    assert table["controller.rollout.phases"]["run"] == "1"
