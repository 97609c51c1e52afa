"""A reservation through the real engine: a preview commits nothing, `up` buys it, refresh and preview then find
nothing to change, a longer duration is one extension in place, and destroy is refused until it is unprotected."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
import yaml
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


YAML_PROGRAM = {
    "name": "flow-yaml-reserved", "runtime": "yaml",
    "resources": {"gpu": {"type": "flow:index:Reservation", "properties": {
        "instance_type": "8xa100", "quantity": 2, "region": "us-central1-a", "duration_hours": 2,
        "max_unit_price": 40}, "options": {"protect": True}}},
    "outputs": {"reservationId": "${gpu.reservation_id}", "committed": "${gpu.committed_usd}"},
}


def test_yaml_reserves_through_the_plugin_and_imports_one_made_elsewhere(engine: PulumiCli, mithril: RunningEmulator,
                                                                          tmp_path: Path) -> None:
    """The `flow` plugin serves `flow:index:Reservation` to another language; an existing reservation is adopted with
    `pulumi import`, and the preview after it is clean."""
    program = tmp_path / "reserved"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(YAML_PROGRAM))
    stack = engine.local_stack(program, env=mithril.env)
    assert stack.preview(policy_packs=[PACK]).change_summary == {"create": 2}  # the stack and gpu
    assert writes(mithril) == []
    up = stack.up(policy_packs=[PACK])
    assert up.outputs["committed"].value == 128.0
    (held,) = mithril.backend.list_reservations()
    assert held["fid"] == up.outputs["reservationId"].value and held["name"].startswith("gpu-")
    assert stack.refresh(expect_no_changes=True).summary.resource_changes == {"same": 2}

    other = mithril.backend.create_reservation({
        "project": "proj_emulator0001", "instance_type": "it_Sg1nDx1I8NFep60J", "region": "us-central1-a",
        "instance_quantity": 1, "name": "legacy-reserved", "start_time": "2030-01-01T00:00:00Z",
        "end_time": "2030-01-02T00:00:00Z", "launch_specification": {"volumes": [], "ssh_keys": []}})
    mithril.control.clear_requests()
    imported = engine.run(stack, "import", "flow:index:Reservation", "legacy", other["fid"], "--yes", "--protect")
    assert writes(mithril) == [], "import only reads"
    code = yaml.safe_load(imported.stdout[imported.stdout.index("resources:"):])["resources"]["legacy"]
    assert code["properties"]["reservation_name"] == "legacy-reserved"
    assert str(code["properties"]["end_time"]) == "2030-01-02 00:00:00+00:00"  # YAML reads the time as a time
    settings = yaml.safe_load((program / "Pulumi.yaml").read_text())
    settings["resources"]["legacy"] = code
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    assert stack.preview(policy_packs=[PACK], expect_no_changes=True).change_summary == {"same": 3}
    assert writes(mithril) == []
