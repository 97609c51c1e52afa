"""A reservation through the real engine: a preview commits nothing, `up` buys it, refresh and preview then find
nothing to change, a longer duration is one extension in place, and destroy is refused until it is unprotected."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.automation import ConfigValue
from pulumi.automation.errors import CommandError

from pulumi_flow import FlowReservation, FlowReservationArgs
from pulumi_flow.engines.pulumi_cli import PulumiCli, Transcript
from pulumi_flow.resources import RESERVATION_TYPE
from pulumi_flow.testing.emulator import RunningEmulator
from tests.engine.conftest import PACK

pytestmark = pytest.mark.engine


def reservation_program() -> None:
    config = pulumi.Config()
    reserved = FlowReservation("gpu", FlowReservationArgs(
        instance_type="8xa100", quantity=2, region="us-central1-a", duration_hours=config.get_float("hours") or 2.0,
        max_unit_price=40.0))
    pulumi.export("reservation_id", reserved.reservation_id)
    pulumi.export("status", reserved.status)
    pulumi.export("committed_usd", reserved.committed_usd)
    pulumi.export("private_ips", reserved.private_ips)


def writes(mithril: RunningEmulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in mithril.control.write_requests()]


def test_a_reservation_is_bought_extended_in_place_and_kept_by_protection(engine: PulumiCli,
                                                                           mithril: RunningEmulator) -> None:
    stack = engine.stack("dev", project="flow-reserved", program=reservation_program, env=mithril.env)
    planned = Transcript()
    stack.preview(policy_packs=[PACK], **planned.hooks())
    assert planned.steps(RESERVATION_TYPE) == [("create", "gpu")]
    assert writes(mithril) == [] and mithril.backend.list_reservations() == []

    up = stack.up(policy_packs=[PACK])
    out = {key: value.value for key, value in up.outputs.items()}
    assert (out["status"], out["committed_usd"], len(out["private_ips"])) == ("Active", 128.0, 2)
    (held,) = mithril.backend.list_reservations()
    assert held["fid"] == out["reservation_id"]

    refreshed = Transcript()
    stack.refresh(**refreshed.hooks())
    assert refreshed.steps(RESERVATION_TYPE) == []
    stack.preview(policy_packs=[PACK], expect_no_changes=True)

    stack.set_config("hours", ConfigValue("3"))
    mithril.control.clear_requests()
    extended = Transcript()
    stack.up(policy_packs=[PACK], **extended.hooks())
    assert extended.steps(RESERVATION_TYPE) == [("update", "gpu")]
    assert writes(mithril) == [("POST", f"/v2/reservation/{held['fid']}/extend")]
    assert mithril.backend.get_reservation(held["fid"])["total_price"] == "$192.00"

    with pytest.raises(CommandError, match="protected"):
        stack.destroy()
    assert mithril.backend.get_reservation(held["fid"])["status"] == "Active"
    urn = next(r["urn"] for r in stack.export_stack().deployment["resources"] if r["type"] == RESERVATION_TYPE)
    engine.run(stack, "state", "unprotect", urn, "--yes")
    stack.destroy()
    assert mithril.backend.get_reservation(held["fid"])["status"] == "Canceled"
