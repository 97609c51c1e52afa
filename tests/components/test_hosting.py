"""`flow:hosting` chooses which types a Python program's components build; a typo is refused with the fix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulumi.runtime import config as runtime_config

from pulumi_flow import resources


@pytest.fixture
def config() -> Iterator[dict[str, str]]:
    values: dict[str, str] = {}
    yield values
    runtime_config.set_all_config({}, [])


@pytest.mark.parametrize(("configured", "expected"), [
    (None, resources.Hosting.DYNAMIC), ("dynamic", resources.Hosting.DYNAMIC), ("plugin", resources.Hosting.PLUGIN)])
def test_the_stack_config_chooses(config: dict[str, str], configured: str | None,
                                  expected: resources.Hosting) -> None:
    runtime_config.set_all_config({} if configured is None else {"flow:hosting": configured}, [])
    assert resources.hosting() is expected


def test_a_typo_is_refused_with_the_fix(config: dict[str, str]) -> None:
    runtime_config.set_all_config({"flow:hosting": "plug-in"}, [])
    with pytest.raises(ValueError, match=r"config flow:hosting is 'plug-in', expected one of \['dynamic', 'plugin'\]. "
                                         r"Fix: `pulumi config set flow:hosting plugin`"):
        resources.hosting()


def test_the_plugin_process_always_builds_its_own_types(config: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_config.set_all_config({"flow:hosting": "dynamic"}, [])
    monkeypatch.setattr(resources, "_PROCESS_HOSTING", None)
    resources.host_in_this_process(resources.Hosting.PLUGIN)
    assert resources.hosting() is resources.Hosting.PLUGIN
