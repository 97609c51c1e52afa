"""The dynamic provider behind `FlowVolume`: a Mithril persistent volume.

Volumes hold users' data, so this provider is conservative: it adopts its own volume
after an ambiguous create instead of making a second one, and refuses to delete a volume
that a live task still mounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from pulumi_flow import naming
from pulumi_flow import validation as v
from pulumi_flow.provider.base import FlowProvider, apply_rules
from pulumi_flow.provider.session import (
    FlowProviderError,
    flow_session,
    forget_cached_state,
    scrubbed,
)

if TYPE_CHECKING:
    from flow import Flow
    from flow.sdk.models import Volume

REPLACE_KEYS = ("size_gb", "interface", "region")
UPDATE_KEYS = ("volume_name",)
# Opting in to losing the data: a change of a REPLACE_KEY is refused at `check` without it.
ALLOW_REPLACEMENT = "allow_replacement"
INPUT_KEYS = ("volume_name", "size_gb", "interface", "region", ALLOW_REPLACEMENT, naming.AUTO_NAMED)
OUTPUT_KEYS = ("volume_id", "attached_to")
FIELD_RULES = {"volume_name": v.volume_name, "size_gb": v.size_gb, "interface": v.interface, "region": v.region,
               ALLOW_REPLACEMENT: v.flag, naming.AUTO_NAMED: v.flag}


def check_volume_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
    inputs: dict[str, Any] = {k: news.get(k) for k in INPUT_KEYS}
    if inputs["interface"] is None:
        inputs["interface"] = "file"
    if inputs[ALLOW_REPLACEMENT] is None:
        inputs[ALLOW_REPLACEMENT] = False
    errors: list[v.InputError] = []
    for key in sorted(set(news) - set(INPUT_KEYS) - set(OUTPUT_KEYS) - {"__provider"}):
        errors.append(v.InputError(key, news[key], "is not a FlowVolume input", f"use only {', '.join(INPUT_KEYS)}"))
    for key in ("volume_name", "size_gb"):
        if inputs[key] is None:
            errors.append(v.InputError(key, None, "is required", f"set {key} on the FlowVolume"))
    apply_rules(inputs, FIELD_RULES, errors, skip_none=INPUT_KEYS)
    return inputs, errors


class FlowVolumeProvider(FlowProvider):
    """Create, read, update (rename) and delete a Mithril volume."""

    name_key = "volume_name"

    def check_inputs(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
        return check_volume_inputs(news)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Also refuses, before anything happens, a change that would replace the volume: Mithril cannot
        resize or move one, so the replacement is a new, empty volume and the old one's data is deleted."""
        result = super().check(olds, news)
        existing = {k: val for k, val in (olds or {}).items() if val is not None}  # a create sends no inputs
        if existing.get("volume_name") and not result.failures and not result.inputs.get(ALLOW_REPLACEMENT):
            for key in (k for k in _replaced_by(existing, result.inputs) if k in existing):
                result.failures.append(CheckFailure(key, (
                    f"{olds.get(key)!r} -> {result.inputs.get(key)!r}: Mithril cannot change a volume's {key}; "
                    f"applying this creates a new EMPTY volume and deletes {olds.get('volume_name')!r} with its "
                    f"data. Fix: keep {key}={olds.get(key)!r}, or, to accept losing the data, set "
                    f"allow_replacement=True on this volume")))
        return result

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _replaced_by(olds, news)
        updates = [k for k in UPDATE_KEYS if olds.get(k) != news.get(k)]
        # Create first: the old volume, and its data, stay until the new one exists.
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"creating volume {props.get('volume_name')!r}"), flow_session(creds) as flow:
            region = props.get("region") or creds.region or self._gpu_region(flow)
            volume = self._own_volume(flow, props, region)
            if volume is None:
                try:
                    volume = flow.volumes.create(int(props["size_gb"]), name=props["volume_name"],
                                                 interface=props["interface"], region=region,
                                                 idempotency_key=f"pulumi-flow-{uuid.uuid4()}")
                except Exception:
                    # The answer may be lost while the volume exists: adopt it rather than leak it.
                    volume = self._own_volume(flow, props, region)
                    if volume is None:
                        raise
            return CreateResult(str(volume.volume_id), {**self._inputs(props), **self._observe(volume)})


    def update(self, volume_id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"renaming volume {volume_id}"), flow_session(creds) as flow:
            if olds.get("volume_name") != news.get("volume_name"):
                # Renaming is the one change Mithril makes in place; the SDK has no verb for it,
                # so this uses its HTTP client (auth, retries, errors) directly.
                http = flow.provider.ctx.http  # type: ignore[attr-defined]
                http.request(method="PATCH", url=f"/v2/volumes/{volume_id}", json={"name": news["volume_name"]})
            volume = self._find(flow, volume_id)
            if volume is None:
                raise FlowProviderError(f"volume {volume_id} no longer exists. Fix: run `pulumi refresh`")
            return UpdateResult({**self._inputs(news), **self._observe(volume)})

    def read(self, volume_id: str, props: dict[str, Any]) -> ReadResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"reading volume {volume_id}"), flow_session(creds) as flow:
            volume = self._find(flow, volume_id)
            if volume is None:
                return ReadResult("", {})
            observed = self._observe(volume)
            if "volume_name" not in props:  # import
                inputs = {"volume_name": volume.name, "size_gb": volume.size_gb,
                          "interface": _interface(volume), "region": volume.region, naming.AUTO_NAMED: False}
                return ReadResult(volume_id, {**inputs, **observed}, inputs=inputs)
            outs = {**self._inputs(props), **observed, "size_gb": volume.size_gb, "interface": _interface(volume)}
            return ReadResult(volume_id, outs)

    def delete(self, volume_id: str, props: dict[str, Any]) -> None:
        from flow.errors import APIError

        creds = self.credentials
        with scrubbed(creds.api_key, f"deleting volume {volume_id}"), flow_session(creds) as flow:
            volume = self._find(flow, volume_id)
            if volume is None:
                return
            users = self._live_users(flow, volume)
            if users:
                raise FlowProviderError(
                    f"refusing to delete volume {volume_id} ({volume.name}): live task(s) {', '.join(users)} still "
                    f"mount it and deleting it would destroy the data under them. Fix: delete or change those tasks "
                    f"first (in Pulumi, make them depend on the volume so they go first)")
            try:
                flow.volumes.delete(volume_id)
            except Exception as exc:
                # A 404, or an error whose request took effect anyway (a 504 after the delete
                # happened): only a fresh look says whether the volume is still there.
                if not (isinstance(exc, APIError) and getattr(exc, "status_code", None) == 404) \
                        and self._find(flow, volume_id) is not None:
                    raise

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return {k: props.get(k) for k in INPUT_KEYS}

    @staticmethod
    def _observe(volume: Volume) -> dict[str, Any]:
        return {"volume_id": volume.volume_id, "region": volume.region,
                "attached_to": sorted(str(b) for b in (volume.bids or []))}

    @staticmethod
    def _find(flow: Flow, volume_id: str) -> Volume | None:
        forget_cached_state(tasks=False, volumes=True)
        for volume in flow.volumes.list():
            if volume.volume_id == volume_id:
                return volume
        return None

    @staticmethod
    def _own_volume(flow: Flow, props: Mapping[str, Any], region: str) -> Volume | None:
        """A live volume with our (stack-unique) name and the same shape: ours from an earlier try."""
        forget_cached_state(tasks=False, volumes=True)
        for volume in flow.volumes.list():
            if volume.name == props["volume_name"] and volume.region == region \
                    and int(volume.size_gb or 0) == int(props["size_gb"]) and _interface(volume) == props["interface"]:
                return volume
        return None

    @staticmethod
    def _gpu_region(flow: Flow) -> str:
        """A region whose market sells GPUs: the SDK's fallback region may sell none, and a
        volume there could never be mounted."""
        regions = sorted({row.region for row in flow.pricing.market() if row.region and row.gpu_count})
        if not regions:
            raise FlowProviderError(
                "region: Mithril reports no region selling GPUs, so a volume could be stranded. "
                "Fix: set region on the volume or MITHRIL_REGION")
        return regions[0]

    @staticmethod
    def _live_users(flow: Flow, volume: Volume) -> list[str]:
        """The bids that still mount this volume, read fresh: the SDK's HTTP cache would still say
        "live" about a task cancelled a second ago and refuse a delete that is safe."""
        users = []
        for bid_id in volume.bids or []:
            try:
                forget_cached_state()
                task = flow.get_task(str(bid_id))
            except Exception:  # noqa: BLE001 - an unreadable bid is treated as live: data first
                users.append(str(bid_id))
                continue
            if (task.provider_metadata or {}).get("bid_status") != "Terminated":
                users.append(str(bid_id))
        return users


def _replaced_by(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The inputs whose change makes this a new volume."""
    # A value unknown until `up` never equals what state holds: it plans the replacement it may turn out to be.
    # Sizes compare as numbers already: the wire turns 100 into 100.0, and 100 == 100.0.
    replaces = [k for k in REPLACE_KEYS if olds.get(k) != news.get(k)]
    # No region asked for means "wherever it was placed": never a reason to replace.
    if "region" in replaces and news.get("region") is None:
        replaces.remove("region")
    return replaces


def _interface(volume: Volume) -> str:
    value = getattr(volume.interface, "value", volume.interface)
    return str(value).lower()

