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

from pulumi_flow import declarations as d
from pulumi_flow import naming
from pulumi_flow import validation as v
from pulumi_flow.provider.base import FlowProvider, apply_rules, declared_inputs, recorded_inputs, tag_new_auto_name
from pulumi_flow.provider.errors import (
    FlowProviderError,
    VolumeGoneError,
    VolumeInUseError,
    VolumeNameTakenError,
    VolumeReplacementRefusedError,
)
from pulumi_flow.provider.records import TERMINATED
from pulumi_flow.provider.session import flow_session, forget_cached_state, scrubbed

if TYPE_CHECKING:
    from flow import Flow
    from flow.sdk.models import Volume

# Every key set below is derived from the one declaration of the resource (`pulumi_flow.declarations.VOLUME`).
REPLACE_KEYS = d.VOLUME.keys(d.Change.REPLACE)
UPDATE_KEYS = d.VOLUME.keys(d.Change.UPDATE)
# Opting in to losing the data: a change of a REPLACE_KEY is refused without it.
ALLOW_REPLACEMENT = "allow_replacement"
INPUT_KEYS = d.VOLUME.input_keys
OUTPUT_KEYS = d.VOLUME.output_keys
FIELD_RULES = d.VOLUME.rules


def check_volume_inputs(news: Mapping[str, Any]) -> tuple[dict[str, Any], list[v.InputError]]:
    inputs, errors = declared_inputs(d.VOLUME, news, "FlowVolume")
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
        tag_new_auto_name(olds or {}, result.inputs, "volume_name")
        existing = {k: val for k, val in (olds or {}).items() if val is not None}  # a create sends no inputs
        if existing.get("volume_name") and not result.failures and not result.inputs.get(ALLOW_REPLACEMENT):
            for key in (k for k in _replaced_by(existing, result.inputs) if k in existing):
                problem, fix = _replacement_refused(olds, key, result.inputs.get(key))
                result.failures.append(CheckFailure(key, f"{problem}. Fix: {fix}"))
        return result

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = _replaced_by(olds, news)
        # `check` sees only the old inputs, so it cannot tell that pinning a region left out before moves the
        # volume; `diff` compares with where it is. Every replacing change needs the opt-in, whatever the old value
        # was. A value still unknown (a preview) is judged by the `diff` that `up` runs once it is known.
        refused = [k for k in replaces if not v.is_unknown(news.get(k))]
        if refused and not news.get(ALLOW_REPLACEMENT):
            problem, fix = _replacement_refused(olds, refused[0], news.get(refused[0]))
            raise VolumeReplacementRefusedError(f"volume {olds.get('volume_name')!r}: {problem}", fix, key=refused[0])
        updates = [k for k in UPDATE_KEYS if olds.get(k) != news.get(k)]
        # Create first: the old volume, and its data, stay until the new one exists.
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"creating volume {props.get('volume_name')!r}"), flow_session(creds) as flow:
            region = props.get("region") or creds.region or self._gpu_region(flow)
            name = str(props["volume_name"])
            if naming.carries_owner(name, props.get(naming.OWNER)):
                # The name carries this state's owner tag: a volume of that name is ours, from a create whose
                # answer was lost or an `up` that was killed. Adopt it rather than make a second one.
                volume = self._own_volume(flow, props, region)
            else:
                # A name the user chose: another stack may have chosen it too, and nothing on Mithril says which
                # state made a volume. Never take one over; only a volume that appears during this very create
                # (its answer lost) is ours.
                self._refuse_taken_name(flow, name)
                volume = None
            if volume is None:
                try:
                    volume = flow.volumes.create(int(props["size_gb"]), name=name,
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
                raise VolumeGoneError(volume_id)
            return UpdateResult({**self._inputs(news), **self._observe(volume)})

    def read(self, volume_id: str, props: dict[str, Any]) -> ReadResult:
        creds = self.credentials
        with scrubbed(creds.api_key, f"reading volume {volume_id}"), flow_session(creds) as flow:
            volume = self._find(flow, volume_id)
            if volume is None:
                return ReadResult("", {})
            observed = self._observe(volume)
            if "volume_name" not in props:  # import: what Mithril tells; `check` fills in the rest
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
                raise VolumeInUseError(volume_id=volume_id, volume_name=str(volume.name), users=users)
            try:
                flow.volumes.delete(volume_id)
            except Exception as exc:
                # A 404, or an error whose request took effect anyway (a 504 after the delete
                # happened): only a fresh look says whether the volume is still there.
                if not (isinstance(exc, APIError) and getattr(exc, "status_code", None) == 404) \
                        and self._find(flow, volume_id) is not None:
                    raise

    def delete_unrecorded(self, props: Mapping[str, Any]) -> str | None:
        """Delete the volume that a create with these (checked) inputs may have made without the engine ever
        recording it. Only a name that carries this state's owner tag proves the volume is this create's: a
        volume under a name the user chose is left alone (None), as is one that a live task mounts."""
        name = str(props.get("volume_name"))
        if not naming.carries_owner(name, props.get(naming.OWNER)):
            return None
        creds = self.credentials
        with scrubbed(creds.api_key, f"looking for volume {name!r}"), flow_session(creds) as flow:
            forget_cached_state(tasks=False, volumes=True)
            found = [volume for volume in flow.volumes.list() if volume.name == name]
        for volume in found:
            self.delete(str(volume.volume_id), dict(props))
        return str(found[0].volume_id) if found else None

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return recorded_inputs(props, INPUT_KEYS)

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
        """A live volume with our name and the same shape: ours from an earlier try."""
        forget_cached_state(tasks=False, volumes=True)
        for volume in flow.volumes.list():
            if volume.name == props["volume_name"] and volume.region == region \
                    and int(volume.size_gb or 0) == int(props["size_gb"]) and _interface(volume) == props["interface"]:
                return volume
        return None

    @staticmethod
    def _refuse_taken_name(flow: Flow, name: str) -> None:
        """Refuse a name taken by a volume this state cannot prove it made."""
        forget_cached_state(tasks=False, volumes=True)
        taken = [volume for volume in flow.volumes.list() if volume.name == name]
        if taken:
            found = "; ".join(f"{vol.volume_id}, {vol.size_gb} GB in {vol.region}" for vol in taken)
            raise VolumeNameTakenError(name=name, found=found, volume_id=str(taken[0].volume_id))

    @staticmethod
    def _gpu_region(flow: Flow) -> str:
        """A region whose market sells GPUs: the SDK's fallback region may sell none, and a
        volume there could never be mounted."""
        regions = sorted({row.region for row in flow.pricing.market() if row.region and row.gpu_count})
        if not regions:
            raise FlowProviderError("region: Mithril reports no region selling GPUs, so a volume could be stranded",
                                    "set region on the volume or MITHRIL_REGION")
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
            if (task.provider_metadata or {}).get("bid_status") != TERMINATED:
                users.append(str(bid_id))
        return users


def _replacement_refused(olds: Mapping[str, Any], key: str, new: Any) -> tuple[str, str]:
    """(problem, fix) of a change that would replace a volume and lose its data."""
    return (f"{olds.get(key)!r} -> {new!r}: Mithril cannot change a volume's {key}; applying this creates a new EMPTY "
            f"volume and deletes {olds.get('volume_name')!r} with its data",
            f"keep {key}={olds.get(key)!r}, or, to accept losing the data, set allow_replacement=True on this volume")


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

