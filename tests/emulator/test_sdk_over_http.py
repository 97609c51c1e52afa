"""The unmodified Flow SDK against the emulator over real HTTP; every response checked against the spec."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from pulumi_flow.emulator.records import iso_time
from pulumi_flow.testing.emulator import TEST_API_KEY, RunningEmulator

pytestmark = pytest.mark.usefixtures("validated_log")


def _config(**overrides: Any) -> Any:
    from flow import TaskConfig

    fields: dict[str, Any] = {"name": "sdk-test", "unique_name": False, "command": "sleep infinity",
                              "instance_type": "8xa100", "max_price_per_hour": 50.0, "upload_code": False}
    return TaskConfig(**{**fields, **overrides})


def test_run_wait_get_list_cancel(flow_client: Any, mithril: RunningEmulator) -> None:
    task = flow_client.run(_config(num_instances=2))
    assert task.task_id.startswith("bid_")
    task = flow_client.get_task(task.task_id)
    task.wait(timeout=30, until="running")
    task = flow_client.get_task(task.task_id)
    assert task.status.value == "running"
    assert len(task.ssh_hosts) == 2 and all(h.startswith("203.0.113.") for h in task.ssh_hosts)
    assert sorted(i.private_ip for i in task.get_instances()) == sorted(
        i["private_ip"] for i in mithril.backend.list_instances([task.task_id]))
    assert task.provider_metadata["limit_price"] == "$50.00"
    assert [t.task_id for t in flow_client.list_tasks()] == [task.task_id]

    flow_client.cancel(task.task_id)
    assert mithril.control.live_bids() == []
    assert mithril.backend.get_bid(task.task_id)["status"] == "Terminated"


def test_update_limit_price_is_a_patch_in_place(flow_client: Any, mithril: RunningEmulator) -> None:
    task = flow_client.run(_config())
    flow_client.bids.update_limit_price(task.task_id, "$61.50")
    assert mithril.backend.get_bid(task.task_id)["limit_price"] == "$61.50"
    assert len(mithril.control.live_bids()) == 1
    patches = [r for r in mithril.control.requests() if r["method"] == "PATCH"]
    assert [p["path"] for p in patches] == [f"/v2/spot/bids/{task.task_id}"]


def test_the_sdks_volume_update_is_one_patch_of_a_live_bid(flow_client: Any, mithril: RunningEmulator) -> None:
    """What the Flow SDK sends to attach a volume to a running task (`update_bid_volumes`): one PATCH, no cancel,
    the same machines; a volume in another region is refused by name."""
    from flow.errors import FlowError

    mithril.backend.settings.allocation_delay = 0.0
    task = flow_client.run(_config(region="us-central1-a"))
    machines = mithril.backend.get_bid(task.task_id)["instances"]
    assert machines, "allocated"
    here = flow_client.volumes.create(100, name="here", region="us-central1-a")
    far = flow_client.volumes.create(100, name="far", region="eu-central1-a")
    mithril.control.clear_requests()
    flow_client.provider.ctx.bids.update_bid_volumes(task.task_id, [here.volume_id])
    assert [(r["method"], r["path"]) for r in mithril.control.write_requests()] == [
        ("PATCH", f"/v2/spot/bids/{task.task_id}")]
    bid = mithril.backend.get_bid(task.task_id)
    assert bid["launch_specification"]["volumes"] == [here.volume_id] and bid["instances"] == machines
    with pytest.raises(FlowError, match="is in eu-central1-a"):
        flow_client.provider.ctx.bids.update_bid_volumes(task.task_id, [far.volume_id])


def test_volumes_create_list_get_delete(flow_client: Any, mithril: RunningEmulator) -> None:
    volume = flow_client.volumes.create(100, name="data-one", interface="file", region="us-central1-a")
    assert volume.volume_id.startswith("vol_") and volume.size_gb == 100
    assert [v.volume_id for v in flow_client.volumes.list()] == [volume.volume_id]
    assert flow_client.volumes.get(volume.volume_id).name == "data-one"
    flow_client.volumes.delete(volume.volume_id)
    assert mithril.control.live_volumes() == []


def test_task_with_volume_mount_and_workload_api_key(flow_client: Any, mithril: RunningEmulator) -> None:
    volume = flow_client.volumes.create(50, name="ckpt", interface="file", region="us-central1-a")
    task = flow_client.run(_config(name="job", instance_type="4xa100", max_price_per_hour=15.0,
                                   volumes=[{"volume_id": volume.volume_id, "mount_path": "/data",
                                             "interface": "file"}],
                                   region="us-central1-a", max_run_time_hours=2, terminate_on_exit=True))
    bid = mithril.backend.get_bid(task.task_id)
    assert bid["launch_specification"]["volumes"] == [volume.volume_id]
    assert mithril.backend.list_api_keys(), "the SDK mints a per-task key for terminate_on_exit"
    flow_client.cancel(task.task_id)


def _running(mithril: RunningEmulator, task_id: str) -> None:
    """Allocated and booted on the emulator's next read (the SDK's own wait is tested above; here it would only
    poll)."""
    mithril.control.call("POST", "settings", {"allocation_delay": 0, "boot_delay": 0})
    assert mithril.backend.get_bid(task_id)["status"] == "Allocated"


def test_preempted_bid_is_reallocated_with_new_addresses(flow_client: Any, mithril: RunningEmulator) -> None:
    task = flow_client.run(_config())
    _running(mithril, task.task_id)
    before = mithril.backend.list_instances([task.task_id])
    mithril.control.preempt(task.task_id)
    reallocated = mithril.backend.get_bid(task.task_id)
    assert reallocated["status"] == "Allocated"
    after = reallocated["instances"]
    assert after and not set(after) & {i["fid"] for i in before}


def test_market_above_limit_preempts_and_keeps_bid_open(flow_client: Any, mithril: RunningEmulator) -> None:
    task = flow_client.run(_config(max_price_per_hour=20.0))
    _running(mithril, task.task_id)
    it = mithril.backend.get_bid(task.task_id)["instance_type"]
    mithril.control.set_market(it, "us-central1-a", 2500)  # the next read of the auction preempts it
    bid = mithril.backend.get_bid(task.task_id)
    assert bid["status"] == "Open" and bid["instances"] == []


def test_below_market_bid_posted_over_http_stays_open(mithril: RunningEmulator) -> None:
    body = {"project": "proj_emulator0001", "region": "us-central1-a", "instance_type": "it_Sg1nDx1I8NFep60J",
            "limit_price": "$1.00", "instance_quantity": 1, "name": "cheap",
            "launch_specification": {"volumes": [], "ssh_keys": []}}
    mithril.control.call("POST", "settings", {"allocation_delay": 0})  # it would be allocated now, if it could
    status, bid = _http(mithril, "POST", "/v2/spot/bids", body)
    assert status == 201
    assert _http(mithril, "GET", f"/v2/spot/bids/{bid['fid']}")[1]["status"] == "Open"


def test_idempotency_key_returns_the_same_bid(mithril: RunningEmulator) -> None:
    body = {"project": "proj_emulator0001", "region": "us-central1-a", "instance_type": "it_Sg1nDx1I8NFep60J",
            "limit_price": "$30.00", "instance_quantity": 1, "name": "twice",
            "launch_specification": {"volumes": [], "ssh_keys": []}}
    first = _http(mithril, "POST", "/v2/spot/bids", body, {"Idempotency-Key": "k-1"})[1]
    second = _http(mithril, "POST", "/v2/spot/bids", body, {"Idempotency-Key": "k-1"})[1]
    assert first["fid"] == second["fid"]
    assert len(mithril.control.live_bids()) == 1


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer sk_not_a_flow_key"}, 401),
    ({"Authorization": "Basic Zm9vOmJhcg=="}, 401),
    ({"Authorization": f"Bearer {TEST_API_KEY}"}, 200),
])
def test_auth(mithril: RunningEmulator, headers: dict[str, str], status: int) -> None:
    assert _http(mithril, "GET", "/v2/projects", auth=False, headers=headers)[0] == status


def test_unknown_ids_404_and_malformed_bodies_422(mithril: RunningEmulator) -> None:
    assert _http(mithril, "GET", "/v2/spot/bids/bid_nope")[0] == 404
    assert _http(mithril, "DELETE", "/v2/volumes/vol_nope")[0] == 404
    status, body = _http(mithril, "POST", "/v2/spot/bids", {"name": "x"})
    assert status == 422 and body["detail"][0]["loc"][0] == "body"
    status, body = _http(mithril, "POST", "/v2/volumes", {"name": "v", "size_gb": "big"})
    assert status == 422


def test_pricing_answers_200_for_any_instance_type(mithril: RunningEmulator) -> None:
    status, body = _http(mithril, "GET", "/v2/pricing/current?instance_type=it_unknown")
    assert status == 200 and body["spot_price_cents"] is None


def _alias(name: str) -> str:
    family = name.split("-")[0].split(".")[0]
    return f"{name.rsplit('.', 1)[-1].rstrip('x')}x{family}"


def _http(mithril: RunningEmulator, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None, auth: bool = True) -> tuple[int, Any]:
    all_headers = {"Authorization": f"Bearer {TEST_API_KEY}"} if auth else {}
    all_headers.update(headers or {})
    return _raw(mithril.url, method, path, body, all_headers)


def _raw(url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """`headers=None` means "authenticated"; pass a dict to send exactly those headers."""
    if headers is None:
        headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as err:
        payload = err.read()
        return err.code, json.loads(payload) if payload else None


def test_every_mithril_route_answers_per_spec(mithril: RunningEmulator) -> None:
    """Walk the route table itself, so no route escapes the spec check for want of an SDK call."""
    from pulumi_flow.emulator import urls

    project = "proj_emulator0001"
    volume = _http(mithril, "POST", "/v2/volumes", {"name": "spec-vol", "project": project, "disk_interface": "File",
                                                    "region": "us-central1-a", "size_gb": 10})[1]
    bid = _http(mithril, "POST", "/v2/spot/bids", {
        "project": project, "region": "us-central1-a", "instance_type": "it_Sg1nDx1I8NFep60J",
        "limit_price": "$30.00", "instance_quantity": 1, "name": "spec-bid",
        "launch_specification": {"volumes": [], "ssh_keys": []}})[1]
    window = "start_time=2030-01-01T00:00:00Z&end_time=2030-01-02T00:00:00Z"
    reservation = _http(mithril, "POST", "/v2/reservation", {
        "project": project, "region": "us-central1-a", "instance_type": "it_Sg1nDx1I8NFep60J",
        "instance_quantity": 1, "name": "spec-res", "start_time": "2030-01-01T00:00:00Z",
        "end_time": "2030-01-02T00:00:00Z", "launch_specification": {"volumes": [], "ssh_keys": []},
        "price_specification": {"max_unit_price": 10000}})[1]
    res = f"/v2/reservation/{reservation['fid']}"
    key = _http(mithril, "POST", "/v2/ssh-keys", {"project": project, "name": "k"})[1]
    api_key = _http(mithril, "POST", "/v2/api-keys", {"name": "a", "expires_at": "2030-01-01T00:00:00Z"})[1]
    calls = {
        ("GET", "/v2/me"): ("/v2/me", None), ("GET", "/v2/projects"): ("/v2/projects", None),
        ("GET", "/v2/instance-types"): ("/v2/instance-types", None),
        ("GET", "/v2/spot/availability"): ("/v2/spot/availability", None),
        ("GET", "/v2/pricing/current"): ("/v2/pricing/current?instance_type=it_Sg1nDx1I8NFep60J", None),
        ("GET", "/v2/pricing/history"): ("/v2/pricing/history?instance_types=it_Sg1nDx1I8NFep60J,8xh100", None),
        ("GET", "/marketplace/v1/regions"): ("/marketplace/v1/regions", None),
        ("GET", "/v2/reservation"): (f"/v2/reservation?project={project}", None),
        ("POST", "/v2/reservation"): None,  # made above
        ("GET", "/v2/reservation/instance-types"): ("/v2/reservation/instance-types", None),
        ("GET", "/v2/reservation/quote"): (
            f"/v2/reservation/quote?project={project}&instance_type=it_Sg1nDx1I8NFep60J&region=us-central1-a"
            f"&quantity=2&{window}", None),
        ("GET", "/v2/reservation/availability"): (
            f"/v2/reservation/availability?project={project}&instance_type=it_Sg1nDx1I8NFep60J"
            f"&region=us-central1-a&mode=check&quantity=2&{window}", None),
        ("PATCH", "/v2/reservation/{reservation_fid}"): (res, {"volumes": []}),
        ("GET", "/v2/reservation/{reservation_fid}/extension-availability"): (f"{res}/extension-availability", None),
        ("POST", "/v2/reservation/{reservation_fid}/extend"): (f"{res}/extend", {"end_time": "2030-01-03T00:00:00Z"}),
        ("GET", "/v2/reservation/{reservation_fid}/history"): (f"{res}/history", None),
        ("GET", "/v2/reservation/{reservation_fid}/usage"): (f"{res}/usage", None),
        ("GET", "/v2/quotas"): (f"/v2/quotas?project={project}", None),
        ("GET", "/v2/cpu/instance-types"): ("/v2/cpu/instance-types", None),
        ("GET", "/v2/spot/bids"): (f"/v2/spot/bids?project={project}", None),
        ("POST", "/v2/spot/bids"): None,  # made above
        ("GET", "/v2/spot/bids/{bid_id}"): (f"/v2/spot/bids/{bid['fid']}", None),
        ("PATCH", "/v2/spot/bids/{bid_id}"): (f"/v2/spot/bids/{bid['fid']}", {"limit_price": "$31.00"}),
        ("GET", "/v2/instances"): (f"/v2/instances?project={project}&bid_fid_in={bid['fid']}", None),
        ("GET", "/v2/instances/pricing/history"): (
            f"/v2/instances/pricing/history?project={project}&bid_fid={bid['fid']}&start_time=2024-01-01T00:00:00Z",
            None),
        ("GET", "/v2/instances/status/history"): (f"/v2/instances/status/history?project={project}&limit=1", None),
        ("GET", "/v2/spot/bids/{bid_id}/history"): (f"/v2/spot/bids/{bid['fid']}/history", None),
        ("GET", "/v2/spot/bids/{bid_id}/status"): (f"/v2/spot/bids/{bid['fid']}/status", None),
        ("GET", "/v2/volumes"): (f"/v2/volumes?project={project}", None),
        ("POST", "/v2/volumes"): None,
        ("PATCH", "/v2/volumes/{volume_id}"): (f"/v2/volumes/{volume['fid']}", {"name": "renamed"}),
        ("GET", "/v2/ssh-keys"): (f"/v2/ssh-keys?project={project}", None),
        ("POST", "/v2/ssh-keys"): None,
        ("PATCH", "/v2/ssh-keys/{key_id}"): (f"/v2/ssh-keys/{key['fid']}", {"required": True}),
        ("GET", "/v2/api-keys"): ("/v2/api-keys", None),
        ("POST", "/v2/api-keys"): None,
        ("DELETE", "/v2/ssh-keys/{key_id}"): (f"/v2/ssh-keys/{key['fid']}", None),
        ("DELETE", "/v2/api-keys/{key_id}"): (f"/v2/api-keys/{api_key['fid']}", None),
        ("POST", "/v2/reservation/{reservation_fid}/terminate-instances"): None,  # below, on one that started
        ("DELETE", "/v2/spot/bids/{bid_id}"): (f"/v2/spot/bids/{bid['fid']}", None),
        ("DELETE", "/v2/volumes/{volume_id}"): (f"/v2/volumes/{volume['fid']}", None),
    }
    table = {(method, re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)) for method, pattern, _ in urls.ROUTES
             if not pattern.startswith("/_emulator")}
    assert table == set(calls), f"routes without a call here: {table - set(calls)}"
    for (method, _), call in calls.items():
        if call is not None:  # the POSTs were made above
            path, body = call
            status, _ = _http(mithril, method, path, body)
            assert status < 300, f"{method} {path} answered {status}"
    started = _http(mithril, "POST", "/v2/reservation", {
        "project": project, "region": "us-central1-a", "instance_type": "it_Sg1nDx1I8NFep60J",
        "instance_quantity": 1, "name": "now", "start_time": iso_time(mithril.backend.clock()),
        "end_time": "2030-01-01T00:00:00Z", "launch_specification": {"volumes": [], "ssh_keys": []}})[1]
    status, _ = _http(mithril, "POST", f"/v2/reservation/{started['fid']}/terminate-instances",
                      {"instances": started["instances"], "reduce_capacity": True})
    assert status == 200 and started["instances"]
    # validated_log checks every one of these answers against the spec at teardown.


def test_the_sdks_default_region_works_for_a_volume(flow_client: Any, mithril: RunningEmulator) -> None:
    """`Flow().volumes.create(100)` with no region goes to flow-compute's default region, which the
    emulator knows because its regions come from the SDK's own regions.json."""
    from flow.constants import DEFAULT_REGION

    volume = flow_client.volumes.create(100)
    assert volume.region == DEFAULT_REGION
    assert [v["region"] for v in mithril.control.live_volumes()] == [DEFAULT_REGION]


def _answer(mithril: RunningEmulator, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(mithril.url + path, method=method,
                                     headers={"Authorization": f"Bearer {TEST_API_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PUT"])
def test_a_method_a_path_does_not_take_is_a_json_405_with_allow(mithril: RunningEmulator, method: str) -> None:
    status, headers, body = _answer(mithril, method, "/v2/spot/bids")
    assert status == 405 and headers["Allow"] == "GET, POST"
    assert headers["Content-Type"] == "application/json" and "allowed: GET, POST" in json.loads(body)["detail"]


def test_head_gets_headers_only(mithril: RunningEmulator) -> None:
    status, headers, body = _answer(mithril, "HEAD", "/v2/spot/bids")
    assert status == 405 and headers["Allow"] == "GET, POST" and body == b""


def test_a_mithril_route_not_emulated_is_a_json_501_that_names_it(mithril: RunningEmulator) -> None:
    status, headers, body = _answer(mithril, "GET", "/v2/lifecycle-scripts")
    assert status == 501 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["detail"] == ("GET /v2/lifecycle-scripts is a Mithril API route that this emulator "
                                          "does not emulate (not emulated)")
    missing, _, _ = _answer(mithril, "GET", "/v2/no-such-thing")
    assert missing == 404, "a path Mithril does not have is a plain 404"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v2/spot/bids?project=proj_someone_else", None),
    ("GET", "/v2/volumes?project=proj_someone_else", None),
    ("GET", "/v2/ssh-keys?project=proj_someone_else", None),
    ("POST", "/v2/ssh-keys", {"name": "k", "project": "proj_someone_else"}),
])
def test_another_project_is_refused_on_every_route(mithril: RunningEmulator, method: str, path: str,
                                                   body: Any) -> None:
    status, answer = _http(mithril, method, path, body)
    assert status == 422 and "unknown project 'proj_someone_else'" in json.dumps(answer)
    assert mithril.backend.ssh_keys == {}, "nothing was stored into the emulator's own project"


def test_requests_are_validated_against_the_specs_request_schemas(mithril: RunningEmulator) -> None:
    """The spec's own request schemas decide, and the refusal is the spec's HTTPValidationError."""
    status, answer = _http(mithril, "POST", "/v2/spot/bids", {"project": "proj_emulator0001", "name": "b"})
    assert status == 422
    assert [item["loc"] for item in answer["detail"]] == [["body", field] for field in (
        "region", "instance_type", "limit_price", "instance_quantity", "launch_specification")]
    assert {item["msg"] for item in answer["detail"]} == {"field required"}

    status, answer = _http(mithril, "GET", "/v2/instances")  # `project` is required by the spec
    assert status == 422 and answer["detail"][0]["loc"] == ["query", "project"]

    status, answer = _http(mithril, "POST", "/v2/volumes", {"name": "v", "project": "proj_emulator0001",
                                                            "disk_interface": "Floppy", "region": "us-central1-a",
                                                            "size_gb": 10})
    assert status == 422 and ["body", "disk_interface"] in [item["loc"] for item in answer["detail"]]
    assert mithril.control.live_volumes() == [] and mithril.control.live_bids() == []


@pytest.mark.parametrize(("path", "rows"), [("/v2/spot/bids", 3), ("/v2/instances", 6)])
def test_listings_are_paged_by_cursor_as_the_spec_says(flow_client: Any, mithril: RunningEmulator, path: str,
                                                       rows: int) -> None:
    """Three bids of two instances; pages of two rows, each cursor followed until there is none."""
    mithril.backend.settings.allocation_delay = 0  # allocated as the emulator next acts: before the first page
    for index in range(3):
        flow_client.run(_config(name=f"paged-{index}", num_instances=2))
    seen: list[str] = []
    cursor = ""
    for _ in range(rows):
        status, page = _http(mithril, "GET", f"{path}?project=proj_emulator0001&limit=2{cursor}")
        assert status == 200 and len(page["data"]) <= 2
        seen += [row["fid"] for row in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&next_cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == rows
    assert _http(mithril, "GET", f"{path}?project=proj_emulator0001&limit=101")[0] == 422, "the spec's most is 100"
