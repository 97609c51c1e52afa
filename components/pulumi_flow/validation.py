"""Input rules shared by the provider's `check` and the components' argument classes.

Every rule is a function that takes a value and returns it normalised, or raises
`InputError`, whose message names the field, the value and the fix. The Flow SDK's own
validators are reused where it has them (instance-type grammar, mount targets); they
are imported lazily so that importing `pulumi_flow` stays free of `flow`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.errors import RunError

from pulumi_flow.money import as_number, cents_up, usd

MAX_INSTANCES = 100
MAX_GPUS_PER_INSTANCE = 8  # every instance type Mithril sells (the Flow SDK's catalog): 1x, 2x, 4x or 8x GPUs
MAX_VOLUME_GB = 16384
MAX_RUN_TIME_HOURS = 168.0
MAX_READY_TIMEOUT_MINUTES = 24 * 60
ROLES = ("infrastructure", "workload")
WAIT_UNTIL = ("submitted", "running", "completed")
INTERFACES = ("file", "block")  # the first is what a fix suggests
TASK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
VOLUME_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
MAX_NAME_LENGTH = 63


class InputError(ValueError, RunError):
    """A bad input: which field, what value, and how to fix it. A `RunError` too, so that `pulumi up` says it as
    this one line (the language host prints a traceback for any other exception)."""

    def __init__(self, field: str, value: object, problem: str, fix: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem.rstrip(".")  # the message puts its own full stop after it
        self.fix = fix
        super().__init__(f"{field}={_show(value)}: {self.problem}. Fix: {fix}")

    @property
    def reason(self) -> str:
        """The message without the field name, for Pulumi's CheckFailure(property, reason)."""
        return f"{_show(self.value)}: {self.problem}. Fix: {self.fix}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_unknown(value: object) -> bool:
    """A value Pulumi does not know yet: an Output in a program, an Unknown in a provider's
    preview `check`, or the wire's unknown sentinel."""
    from pulumi.output import Output, Unknown
    from pulumi.runtime.rpc import UNKNOWN

    return isinstance(value, Output | Unknown) or (isinstance(value, str) and value == UNKNOWN)


def contains_unknown(value: object) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(contains_unknown(v) for v in value)
    return False


# -- scalar rules ---------------------------------------------------------------------------


def instance_type(value: object, field: str = "instance_type", *, require_count: bool = True) -> str:
    """Normalise through Flow's own grammar: 'h100:8' and 'H100x8' become '8xh100'."""
    from flow.utils.instance_grammar import split_family_and_count

    example = "'8xa100', '8xh100' or 'h100:8'"
    if not isinstance(value, str):
        raise InputError(field, value, "must be a string", f"write the GPU count and family, e.g. {example}")
    try:
        family, count = split_family_and_count(value)
    except ValueError as exc:
        raise InputError(field, value, str(exc), f"use a form like {example}") from None
    if count is None:
        if require_count:
            raise InputError(
                field, value, "names no GPU count, and the count decides the bid threshold",
                f"say how many GPUs per instance, e.g. '8x{family}' or '{family}:8'")
        return family
    if count > MAX_GPUS_PER_INSTANCE:
        raise InputError(field, value, f"asks for {count} GPUs in one instance; Mithril's largest machines have "
                         f"{MAX_GPUS_PER_INSTANCE}", f"use at most '{MAX_GPUS_PER_INSTANCE}x{family}' per instance and "
                         f"num_instances for more machines")
    return f"{count}x{family}"


def price(value: object, field: str = "max_price_per_hour") -> float:
    """A bid in USD per instance-hour, as Mithril takes it: whole cents, a fraction of a cent rounded
    **up** (`money.cents_up`), never down, so the bid sent is at least the one written."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, value, "must be a number of US dollars per instance-hour",
                         "give a positive number such as 50.0")
    if not math.isfinite(value) or value <= 0:
        raise InputError(field, value, "must be a positive, finite price in USD per instance-hour",
                         "give a positive number such as 50.0")
    if value > 10_000:
        raise InputError(field, value, "is above $10,000 per instance-hour, surely a typo",
                         "give the bid per instance-hour in US dollars, e.g. 50.0 for 8xH100")
    if value < 0.01:
        raise InputError(field, value, "is less than one cent per instance-hour, and Mithril takes bids in whole "
                         "cents", "give the bid per instance-hour in US dollars, at least 0.01; e.g. 50.0 for 8xH100")
    return as_number(cents_up(usd(value)))


def whole_number(value: object, field: str, low: int, high: int, example: int) -> int:
    """Integers, and floats that are whole (the wire turns 8 into 8.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
        isinstance(value, float) and not (math.isfinite(value) and value.is_integer())
    ):
        raise InputError(field, value, f"must be a whole number from {low} to {high}", f"use e.g. {example}")
    number = int(value)
    if not low <= number <= high:
        raise InputError(field, value, f"must be from {low} to {high}", f"use e.g. {example}")
    return number


def num_instances(value: object, field: str = "num_instances") -> int:
    return whole_number(value, field, 1, MAX_INSTANCES, 4)


MAX_PREEMPTIONS = 1000
MAX_POOL_GPUS = MAX_INSTANCES * MAX_GPUS_PER_INSTANCE


def target_gpus(value: object, field: str = "target_gpus") -> int:
    return whole_number(value, field, 1, MAX_POOL_GPUS, 16)


def price_per_gpu_hour(value: object, field: str = "max_price_per_gpu_hour") -> float:
    """A ceiling in USD per GPU-hour. Kept exact: each bid under it is the ceiling times the instance's GPUs, rounded
    down to the cent, so no bid is ever above it."""
    example = "give a positive number such as 3.5 (USD per GPU-hour)"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InputError(field, value, "must be a positive, finite price in USD per GPU-hour", example)
    if value * MAX_GPUS_PER_INSTANCE > 10_000:
        raise InputError(field, value, f"is above ${10_000 / MAX_GPUS_PER_INSTANCE:,.0f} per GPU-hour, surely a typo",
                         example)
    if value < 0.01:
        raise InputError(field, value, "is less than one cent per GPU-hour, and Mithril takes bids in whole cents",
                         example)
    return float(value)


def _distinct_list(value: object, field: str, item: Any, what: str, example: str, *, empty: bool) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(field, value, f"must be a list of {what}", f"use e.g. {example}")
    items = [item(entry, f"{field}[{index}]") for index, entry in enumerate(value)]
    if not items and not empty:
        raise InputError(field, value, f"must name at least one of the {what}", f"use e.g. {example}")
    repeated = sorted({entry for entry in items if items.count(entry) > 1})
    if repeated:
        raise InputError(field, value, f"names {', '.join(repeated)} more than once (as Flow reads them)",
                         "list each once, in the order they are preferred")
    return items


def instance_types(value: object, field: str = "instance_types") -> list[str]:
    """Instance types in order of preference, each in Flow's grammar with its GPU count."""
    return _distinct_list(value, field, instance_type, "instance types", "['8xh100', '8xa100']", empty=False)


def regions(value: object, field: str = "regions") -> list[str]:
    """Regions in order of preference; empty means any region, the cheapest first."""
    return _distinct_list(value, field, region, "Mithril regions", "['us-central1-a', 'eu-central1-a']", empty=True)


def max_preemptions(value: object, field: str = "max_preemptions") -> int:
    return whole_number(value, field, 0, MAX_PREEMPTIONS, 3)


def size_gb(value: object, field: str = "size_gb") -> int:
    return whole_number(value, field, 1, MAX_VOLUME_GB, 1000)


def positive_number(value: object, field: str, high: float, unit: str, example: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= high:
        raise InputError(field, value, f"must be a number of {unit} above 0 and at most {high:g}",
                         f"use e.g. {example}")
    return float(value)


def max_run_time_hours(value: object, field: str = "max_run_time_hours") -> float:
    return positive_number(value, field, MAX_RUN_TIME_HOURS, "hours", 24)


def ready_timeout_minutes(value: object, field: str = "ready_timeout_minutes") -> float:
    return positive_number(value, field, MAX_READY_TIMEOUT_MINUTES, "minutes", 30)


def flag(value: object, field: str = "auto_named") -> bool:
    if not isinstance(value, bool):
        raise InputError(field, value, "must be true or false", "use True or False")
    return value


def choice(value: object, field: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InputError(field, value, f"must be one of {', '.join(map(repr, allowed))}",
                         f"use {allowed[0]!r}")
    return str(value)


def role(value: object, field: str = "role") -> str:
    return choice(value, field, ROLES)


def wait_until(value: object, field: str = "wait_until") -> str:
    return choice(value, field, WAIT_UNTIL)


REPLACEMENTS = ("delete-first", "create-first")


def replacement(value: object, field: str = "replacement") -> str:
    return choice(value, field, REPLACEMENTS)


def interface(value: object, field: str = "interface") -> str:
    if isinstance(value, str):
        value = value.lower()
    return choice(value, field, INTERFACES)


def text(value: object, field: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, value, "must be a non-empty string", f"give e.g. {example!r}")
    return value


def command(value: object, field: str = "command") -> str:
    return fits_startup_script(no_nul(text(value, field, "python train.py"), field), field)


def startup_script(value: object, field: str = "startup_script") -> str:
    return fits_startup_script(no_nul(text(value, field, "pip install -r requirements.txt"), field), field)


# A command this long fits Mithril's startup script inline, with the Flow SDK's wrapper around it.
SURELY_FITS_BYTES = 8_000


def fits_startup_script(value: str, field: str) -> str:
    """What runs travels in the bid's startup script, which Mithril limits. The Flow SDK compresses a long one
    (its CompressionStrategy): measured the same way here, so a command that cannot fit even compressed is refused
    before any request, and a long but repetitive one passes as it would at create."""
    size = len(value.encode())
    if size <= SURELY_FITS_BYTES:
        return value
    from flow.adapters.providers.builtin.mithril.core.constants import STARTUP_SCRIPT_MAX_SIZE
    from flow.adapters.providers.builtin.mithril.runtime.script_size.strategies import CompressionStrategy

    compressed = CompressionStrategy.bootstrap_size(value)
    if compressed > STARTUP_SCRIPT_MAX_SIZE:
        raise InputError(field, value, f"is {size:,} bytes, and {compressed:,} even compressed as the Flow SDK "
                         f"sends it: over Mithril's startup script limit of {STARTUP_SCRIPT_MAX_SIZE:,} bytes",
                         "keep the command short: put the work in a script on a volume or in the image and run "
                         "that, e.g. command='bash /data/train.sh'")
    return value


def image(value: object, field: str = "image") -> str:
    return text(value, field, "nvcr.io/nvidia/pytorch:24.05-py3")


def region(value: object, field: str = "region") -> str:
    """A region Mithril has, by the Flow SDK's own region data: refused here, before any request."""
    from flow.resources.loader import get_valid_regions

    known = list(get_valid_regions("mithril"))
    if not isinstance(value, str) or not REGION_RE.fullmatch(value) or value not in known:
        raise InputError(field, value, f"is not a Mithril region (the Flow SDK knows {', '.join(known)})",
                         "use one of those, e.g. 'us-central1-a', or leave it out to let the volumes decide")
    return value


def task_name(value: object, field: str = "task_name") -> str:
    if not isinstance(value, str) or not TASK_NAME_RE.fullmatch(value) or len(value) > MAX_NAME_LENGTH:
        raise InputError(field, value,
                         f"must match {TASK_NAME_RE.pattern} and be at most {MAX_NAME_LENGTH} characters",
                         "use lowercase letters, digits, '.', '_' and '-', e.g. 'gpu-infra'")
    return value


def volume_name(value: object, field: str = "volume_name") -> str:
    if not isinstance(value, str) or not VOLUME_NAME_RE.fullmatch(value) or len(value) > MAX_NAME_LENGTH:
        raise InputError(field, value,
                         f"must match {VOLUME_NAME_RE.pattern} and be at most {MAX_NAME_LENGTH} characters",
                         "use lowercase letters, digits and '-', starting with a letter, e.g. 'training-data'")
    return value


def owner(value: object, field: str = "owner") -> str:
    from pulumi_flow.naming import OWNER_RE

    if not isinstance(value, str) or not OWNER_RE.fullmatch(value):
        raise InputError(field, value, f"is not an owner token (must match {OWNER_RE.pattern})",
                         "pass the `token` output of a flow Owner resource, or leave owner out and one is drawn")
    return value


class Shown:
    """What an error shows in place of a value it must not repeat: `env` values are where secrets live, and a
    provider's `check` cannot tell which ones the program marked secret (dynamic providers receive them plain)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


SECRET = Shown("[secret]")


def _kind(value: object) -> str:
    """A value described without being shown (never through its str(): an Output's is Pulumi's warning text)."""
    return f"a {type(value).__name__}"


def env(value: object, field: str = "env") -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InputError(field, SECRET if isinstance(value, str) else Shown(_kind(value)),
                         "must be a mapping of variable names to strings", "use e.g. {'WANDB_PROJECT': 'llm'}")
    for key, item in value.items():
        if not isinstance(key, str) or not ENV_NAME_RE.fullmatch(key):
            raise InputError(f"{field}.{key}", key, "is not a valid environment variable name",
                             "use letters, digits and '_', not starting with a digit")
        if is_unknown(item):
            continue  # an Output (Input[str]): checked by the provider once it is known
        if not isinstance(item, str):
            raise InputError(f"{field}.{key}", SECRET, f"must be a string, not {_kind(item)}",
                             f"give {field}.{key} as a string (quote it in the program)")
        no_nul(item, f"{field}.{key}", secret=True)
    return dict(value)


def no_nul(value: str, field: str, *, secret: bool = False) -> str:
    """A NUL byte cannot cross into a process's environment or command line: refused here, before any request."""
    if "\x00" in value:
        raise InputError(field, SECRET if secret else value, "contains a NUL byte (\\x00), which no process can "
                         "receive in its command line or environment", "remove the NUL byte")
    return value


def ssh_keys(value: object, field: str = "ssh_keys") -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(
            isinstance(k, str) and k.strip() for k in value):
        raise InputError(field, value, "must be a list of SSH key ids or public keys",
                         "use e.g. ['sshkey_abc123']")
    return [no_nul(key, f"{field}[{index}]") for index, key in enumerate(value)]


def mount_path(value: object, field: str = "mount_path") -> str:
    """Mithril's allowed mount targets, by the SDK's own rule (it checks only after several API calls)."""
    from flow.utils.mounts.targets import validate_volume_mount_target

    try:
        return validate_volume_mount_target(value)
    except (TypeError, ValueError) as exc:
        fix = "mount under /data, /mnt/…, /volumes/…, /opt/… or /var/…"
        if isinstance(value, str) and value.startswith("/") and "/" not in value[1:]:
            fix = f"use '/mnt{value}' (or '/data{value}')"
        raise InputError(field, value, str(exc), fix) from None


def mounts(value: object, field: str = "volumes") -> list[Any]:
    """A task's mounts: [{volume_id, mount_path, interface}], unique and not nested."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(field, value, "must be a list of {volume_id, mount_path, interface}",
                         "use e.g. [{'volume_id': 'vol_…', 'mount_path': '/data', 'interface': 'file'}]")
    result: list[Any] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if is_unknown(item):
            result.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InputError(where, item, "must be a mapping with volume_id, mount_path and interface",
                             "use DataVolumes.mount(name, path) or a dict")
        volume_id = item.get("volume_id")
        if not is_unknown(volume_id) and (not isinstance(volume_id, str) or not volume_id):
            raise InputError(f"{where}.volume_id", volume_id, "is required", "pass the volume's id (vol_…)")
        path = mount_path(item.get("mount_path"), f"{where}.mount_path")
        kind = interface(item.get("interface", "file"), f"{where}.interface")
        result.append({"volume_id": item.get("volume_id"), "mount_path": path, "interface": kind})
    seen_paths: set[str] = set()
    seen_ids: set[str] = set()
    for index, item in enumerate(result):
        if not isinstance(item, Mapping):
            continue
        path = item["mount_path"]
        for other in seen_paths:
            if path == other:
                raise InputError(f"{field}[{index}].mount_path", path, "is mounted twice",
                                 "give every volume its own mount path")
            if path.startswith(other + "/") or other.startswith(path + "/"):
                raise InputError(f"{field}[{index}].mount_path", path, f"is nested with {other!r}",
                                 "mount volumes side by side, e.g. /data and /mnt/models")
        seen_paths.add(path)
        volume_id = item["volume_id"]
        if isinstance(volume_id, str) and not is_unknown(volume_id):  # two unknowns may well differ
            if volume_id in seen_ids:
                raise InputError(f"{field}[{index}].volume_id", volume_id, "is mounted twice",
                                 "mount each volume once")
            seen_ids.add(volume_id)
    return result


def block_volumes_single_instance(mount_list: Sequence[Mapping[str, Any]], count: int,
                                  field: str = "volumes") -> None:
    for index, item in enumerate(mount_list):
        if item.get("interface") == "block" and count > 1:
            raise InputError(
                f"{field}[{index}].interface", "block",
                f"a block volume attaches to one instance, and this task has {count}",
                "create the volume with interface='file' to share it, or use num_instances=1")



MAX_RESERVATION_HOURS = 366 * 24.0  # the longest reservation this package lets one declaration buy


def moment(value: object, field: str) -> str:
    """A time as Mithril takes it: ISO 8601, in UTC, to the second (`2030-01-01T00:00:00Z`)."""
    from datetime import datetime, timezone

    example = "'2030-01-01T00:00:00Z'"
    if not isinstance(value, str):
        raise InputError(field, value, "must be an ISO 8601 time", f"use e.g. {example}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(field, value, "is not an ISO 8601 time", f"use e.g. {example}") from None
    if parsed.tzinfo is None:
        raise InputError(field, value, "names no time zone, so it could be any of 24 hours",
                         f"end it with Z for UTC, e.g. {example}")
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_time(value: object, field: str = "start_time") -> str:
    return moment(value, field)


def end_time(value: object, field: str = "end_time") -> str:
    return moment(value, field)


def reservation_window(start: object, end: object, hours: object, owner: str = "") -> None:
    """A reservation's window, from values its rules already normalised: exactly one of `end_time` and
    `duration_hours`, and an end after its start. Unknown values (a preview) are checked once they are known."""
    field = f"{owner}.end_time" if owner else "end_time"
    if contains_unknown([end, hours]):
        return
    if (end is None) == (hours is None):
        raise InputError(field, end, "and duration_hours: give exactly one",
                         "set end_time (e.g. '2030-01-08T00:00:00Z') or duration_hours (e.g. 168)")
    # Both in the one form `moment` gives (UTC, to the second), so their text orders as their times do.
    if isinstance(end, str) and isinstance(start, str) and not is_unknown(start) and end <= start:
        raise InputError(field, end, f"is not after start_time {start}", "give an end after the start")


def duration_hours(value: object, field: str = "duration_hours") -> float:
    return positive_number(value, field, MAX_RESERVATION_HOURS, "hours", 168)


def volume_ids(value: object, field: str = "volumes") -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(
            isinstance(vid, str) and vid.startswith("vol_") for vid in value):
        raise InputError(field, value, "must be a list of Mithril volume ids",
                         "use the volume_id outputs of FlowVolume resources, e.g. [data.volume_id]")
    return list(value)


def unit_price(value: object, field: str = "max_unit_price") -> float:
    return price(value, field)
