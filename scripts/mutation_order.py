"""pytest plugin for mutation runs (`-p mutation_order`, see scripts/mutation-test): the fastest tests first.

mutmut runs, per mutant, every test that called the mutated function, with `-x`, in the order pytest collects
them. Most mutants are killed by the first test that looks, so running the cheap in-process tests before the
ones that spawn providers or wait out faults decides most mutants in a fraction of the time. Durations are
the ones mutmut measured on the unmutated code (mutmut-stats.json in its working directory); tests it has
not timed run last, in collection order. Ahead of them all go the tests that killed other mutants of the same
function (mutation-timings.tsv, below): mutmut runs a function's mutants one after another, and a change to
an error message, say, is caught by the one test that reads that message, wherever it sorts by duration.

It also appends, per mutant, how long its tests took and whether they killed it to mutation-timings.tsv
(beside mutmut-stats.json), so a slow run can be traced to the mutants that made it slow.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from pathlib import Path

import pytest

STATS = Path("mutmut-stats.json")
TIMINGS = Path("mutation-timings.tsv")
# One line per mutant, tab-separated: what _Timing writes and _killers reads.
COLUMNS = ("mutant", "seconds", "tests", "exit_status", "last_test", "last_outcome")


def _durations() -> dict[str, float]:
    try:
        return dict(json.loads(STATS.read_text())["duration_by_test"])
    except (OSError, ValueError, KeyError):
        return {}


def _killers(function: str) -> Counter[str]:
    """The tests that killed earlier mutants of this function (mutation-timings.tsv), with how many each."""
    kills: Counter[str] = Counter()
    try:
        lines = TIMINGS.read_text().splitlines()
    except OSError:
        return kills
    for line in lines:
        row = dict(zip(COLUMNS, line.split("\t"), strict=False))
        if len(row) == len(COLUMNS) and row["exit_status"] != "0" and \
                row["mutant"].rsplit("__mutmut_", 1)[0] == function:
            kills[row["last_test"]] += 1
    return kills


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = _durations()
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    # A test that killed a sibling mutant (same function, another change) is the likeliest to kill this one.
    killers = _killers(mutant.rsplit("__mutmut_", 1)[0]) if "__mutmut_" in mutant else Counter()
    items.sort(key=lambda item: (-killers[item.nodeid], durations.get(item.nodeid, math.inf)))


class _Timing:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.tests = 0
        self.last_test = ""
        self.last_outcome = ""

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.failed:
            self.tests += report.when == "call"
            self.last_test, self.last_outcome = report.nodeid, report.outcome

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        mutant = os.environ.get("MUTANT_UNDER_TEST", "")
        if "__mutmut_" in mutant:  # not the clean, stats or forced-fail runs
            row = (mutant, f"{time.monotonic() - self.started:.2f}", str(self.tests), str(int(exitstatus)),
                   self.last_test, self.last_outcome)
            assert len(row) == len(COLUMNS)
            with TIMINGS.open("a") as log:
                log.write("\t".join(row) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Timing(), "mutation_timing")
