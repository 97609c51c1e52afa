"""pytest plugin for mutation runs (`-p mutation_order`, see scripts/mutation-test): the fastest tests first.

mutmut runs, per mutant, every test that called the mutated function, with `-x`, in the order pytest collects
them. Most mutants are killed by the first test that looks, so running the cheap in-process tests before the
ones that spawn providers or wait out faults decides most mutants in a fraction of the time. Durations are
the ones mutmut measured on the unmutated code (mutmut-stats.json in its working directory); tests it has
not timed run last, in collection order.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

STATS = Path("mutmut-stats.json")


def _durations() -> dict[str, float]:
    try:
        return dict(json.loads(STATS.read_text())["duration_by_test"])
    except (OSError, ValueError, KeyError):
        return {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = _durations()
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, math.inf))
