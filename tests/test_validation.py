# ruff: noqa: E501 - each row is one whole message, as users read it
"""Every input rule's refusal, word for word: the field, the value, the problem and the fix users read, before
anything reaches Mithril. And what each rule makes of good input, since that is what Mithril receives."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Output, Unknown
from pulumi.runtime.rpc import UNKNOWN

from pulumi_flow import validation as v

REFUSED = [
    ('instance_type', 7, 'instance_type', "instance_type=7: must be a string. Fix: write the GPU count and family, e.g. '8xa100', '8xh100' or 'h100:8'"),
    ('instance_type', 'h100', 'instance_type', "instance_type='h100': names no GPU count, and the count decides the bid threshold. Fix: say how many GPUs per instance, e.g. '8xh100' or 'h100:8'"),
    ('instance_type', '', 'instance_type', "instance_type='': Instance type cannot be empty. Fix: use a form like '8xa100', '8xh100' or 'h100:8'"),
    ('price', True, 'max_price_per_hour', 'max_price_per_hour=True: must be a number of US dollars per instance-hour. Fix: give a positive number such as 50.0'),
    ('price', '50', 'max_price_per_hour', "max_price_per_hour='50': must be a number of US dollars per instance-hour. Fix: give a positive number such as 50.0"),
    ('price', 0, 'max_price_per_hour', 'max_price_per_hour=0: must be a positive, finite price in USD per instance-hour. Fix: give a positive number such as 50.0'),
    ('price', -1.0, 'max_price_per_hour', 'max_price_per_hour=-1.0: must be a positive, finite price in USD per instance-hour. Fix: give a positive number such as 50.0'),
    ('price', float("nan"), 'max_price_per_hour', 'max_price_per_hour=nan: must be a positive, finite price in USD per instance-hour. Fix: give a positive number such as 50.0'),
    ('price', float("inf"), 'max_price_per_hour', 'max_price_per_hour=inf: must be a positive, finite price in USD per instance-hour. Fix: give a positive number such as 50.0'),
    ('price', 10000.01, 'max_price_per_hour', 'max_price_per_hour=10000.01: is above $10,000 per instance-hour, surely a typo. Fix: give the bid per instance-hour in US dollars, e.g. 50.0 for 8xH100'),
    ('num_instances', 0, 'num_instances', 'num_instances=0: must be from 1 to 100. Fix: use e.g. 4'),
    ('num_instances', 101, 'num_instances', 'num_instances=101: must be from 1 to 100. Fix: use e.g. 4'),
    ('num_instances', 1.5, 'num_instances', 'num_instances=1.5: must be a whole number from 1 to 100. Fix: use e.g. 4'),
    ('num_instances', True, 'num_instances', 'num_instances=True: must be a whole number from 1 to 100. Fix: use e.g. 4'),
    ('num_instances', float("inf"), 'num_instances', 'num_instances=inf: must be a whole number from 1 to 100. Fix: use e.g. 4'),
    ('num_instances', '4', 'num_instances', "num_instances='4': must be a whole number from 1 to 100. Fix: use e.g. 4"),
    ('size_gb', 0, 'size_gb', 'size_gb=0: must be from 1 to 16384. Fix: use e.g. 1000'),
    ('size_gb', 16385, 'size_gb', 'size_gb=16385: must be from 1 to 16384. Fix: use e.g. 1000'),
    ('max_run_time_hours', 0, 'max_run_time_hours', 'max_run_time_hours=0: must be a number of hours above 0 and at most 168. Fix: use e.g. 24'),
    ('max_run_time_hours', 168.5, 'max_run_time_hours', 'max_run_time_hours=168.5: must be a number of hours above 0 and at most 168. Fix: use e.g. 24'),
    ('max_run_time_hours', True, 'max_run_time_hours', 'max_run_time_hours=True: must be a number of hours above 0 and at most 168. Fix: use e.g. 24'),
    ('max_run_time_hours', float("nan"), 'max_run_time_hours', 'max_run_time_hours=nan: must be a number of hours above 0 and at most 168. Fix: use e.g. 24'),
    ('max_run_time_hours', '24', 'max_run_time_hours', "max_run_time_hours='24': must be a number of hours above 0 and at most 168. Fix: use e.g. 24"),
    ('ready_timeout_minutes', 1441, 'ready_timeout_minutes', 'ready_timeout_minutes=1441: must be a number of minutes above 0 and at most 1440. Fix: use e.g. 30'),
    ('flag', 'yes', 'auto_named', "auto_named='yes': must be true or false. Fix: use True or False"),
    ('flag', 1, 'auto_named', 'auto_named=1: must be true or false. Fix: use True or False'),
    ('role', 'boss', 'role', "role='boss': must be one of 'infrastructure', 'workload'. Fix: use 'infrastructure'"),
    ('wait_until', 'ready', 'wait_until', "wait_until='ready': must be one of 'submitted', 'running', 'completed'. Fix: use 'submitted'"),
    ('replacement', 'both', 'replacement', "replacement='both': must be one of 'delete-first', 'create-first'. Fix: use 'delete-first'"),
    ('interface', 'nfs', 'interface', "interface='nfs': must be one of 'file', 'block'. Fix: use 'file'"),
    ('interface', 7, 'interface', "interface=7: must be one of 'file', 'block'. Fix: use 'file'"),
    ('command', '  ', 'command', "command='  ': must be a non-empty string. Fix: give e.g. 'python train.py'"),
    ('command', None, 'command', "command=None: must be a non-empty string. Fix: give e.g. 'python train.py'"),
    ('image', '', 'image', "image='': must be a non-empty string. Fix: give e.g. 'nvcr.io/nvidia/pytorch:24.05-py3'"),
    ('region', 'mars-1', 'region', "region='mars-1': is not a Mithril region (the Flow SDK knows us-central1-a, us-central1-b, us-central2-a, us-central5-a, eu-central1-a, eu-central1-b, me-central1-a). Fix: use one of those, e.g. 'us-central1-a', or leave it out to let the volumes decide"),
    ('region', 7, 'region', "region=7: is not a Mithril region (the Flow SDK knows us-central1-a, us-central1-b, us-central2-a, us-central5-a, eu-central1-a, eu-central1-b, me-central1-a). Fix: use one of those, e.g. 'us-central1-a', or leave it out to let the volumes decide"),
    ('region', 'US-CENTRAL1-A', 'region', "region='US-CENTRAL1-A': is not a Mithril region (the Flow SDK knows us-central1-a, us-central1-b, us-central2-a, us-central5-a, eu-central1-a, eu-central1-b, me-central1-a). Fix: use one of those, e.g. 'us-central1-a', or leave it out to let the volumes decide"),
    ('task_name', 'Bad Name', 'task_name', "task_name='Bad Name': must match ^[a-z0-9][a-z0-9._-]*$ and be at most 63 characters. Fix: use lowercase letters, digits, '.', '_' and '-', e.g. 'gpu-infra'"),
    ('task_name', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'task_name', "task_name='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': must match ^[a-z0-9][a-z0-9._-]*$ and be at most 63 characters. Fix: use lowercase letters, digits, '.', '_' and '-', e.g. 'gpu-infra'"),
    ('task_name', 5, 'task_name', "task_name=5: must match ^[a-z0-9][a-z0-9._-]*$ and be at most 63 characters. Fix: use lowercase letters, digits, '.', '_' and '-', e.g. 'gpu-infra'"),
    ('volume_name', '1data', 'volume_name', "volume_name='1data': must match ^[a-z]([-a-z0-9]*[a-z0-9])?$ and be at most 63 characters. Fix: use lowercase letters, digits and '-', starting with a letter, e.g. 'training-data'"),
    ('volume_name', 'data-', 'volume_name', "volume_name='data-': must match ^[a-z]([-a-z0-9]*[a-z0-9])?$ and be at most 63 characters. Fix: use lowercase letters, digits and '-', starting with a letter, e.g. 'training-data'"),
    ('volume_name', 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 'volume_name', "volume_name='dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd': must match ^[a-z]([-a-z0-9]*[a-z0-9])?$ and be at most 63 characters. Fix: use lowercase letters, digits and '-', starting with a letter, e.g. 'training-data'"),
    ('env', [], 'env', "env=a list: must be a mapping of variable names to strings. Fix: use e.g. {'WANDB_PROJECT': 'llm'}"),
    ('env', 'A=1', 'env', "env=[secret]: must be a mapping of variable names to strings. Fix: use e.g. {'WANDB_PROJECT': 'llm'}"),
    ('env', {'X': 'a\x00b'}, 'env.X', "env.X=[secret]: contains a NUL byte (\\x00), which no process can receive in its command line or environment. Fix: remove the NUL byte"),
    ('command', 'echo a\x00b', 'command', "command='echo a\\x00b': contains a NUL byte (\\x00), which no process can receive in its command line or environment. Fix: remove the NUL byte"),
    ('ssh_keys', ['sshkey_1', 'ssh-ed25519 A\x00'], 'ssh_keys[1]', "ssh_keys[1]='ssh-ed25519 A\\x00': contains a NUL byte (\\x00), which no process can receive in its command line or environment. Fix: remove the NUL byte"),
    ('price', 0.001, 'max_price_per_hour', 'max_price_per_hour=0.001: is less than one cent per instance-hour, and Mithril takes bids in whole cents. Fix: give the bid per instance-hour in US dollars, at least 0.01; e.g. 50.0 for 8xH100'),
    ('price', 1e-9, 'max_price_per_hour', 'max_price_per_hour=1e-09: is less than one cent per instance-hour, and Mithril takes bids in whole cents. Fix: give the bid per instance-hour in US dollars, at least 0.01; e.g. 50.0 for 8xH100'),
    ('instance_type', '10000xa100', 'instance_type', "instance_type='10000xa100': asks for 10000 GPUs in one instance; Mithril's largest machines have 8. Fix: use at most '8xa100' per instance and num_instances for more machines"),
    ('env', {'1X': 'a'}, 'env.1X', "env.1X='1X': is not a valid environment variable name. Fix: use letters, digits and '_', not starting with a digit"),
    ('env', {'A-B': 'a'}, 'env.A-B', "env.A-B='A-B': is not a valid environment variable name. Fix: use letters, digits and '_', not starting with a digit"),
    ('env', {'X': 5}, 'env.X', "env.X=[secret]: must be a string, not a int. Fix: give env.X as a string (quote it in the program)"),
    ('env', {'DB_PIN': 98765432.0}, 'env.DB_PIN', "env.DB_PIN=[secret]: must be a string, not a float. Fix: give env.DB_PIN as a string (quote it in the program)"),
    ('env', {5: 'a'}, 'env.5', "env.5=5: is not a valid environment variable name. Fix: use letters, digits and '_', not starting with a digit"),
    ('ssh_keys', 'key', 'ssh_keys', "ssh_keys='key': must be a list of SSH key ids or public keys. Fix: use e.g. ['sshkey_abc123']"),
    ('ssh_keys', [''], 'ssh_keys', "ssh_keys=['']: must be a list of SSH key ids or public keys. Fix: use e.g. ['sshkey_abc123']"),
    ('ssh_keys', [5], 'ssh_keys', "ssh_keys=[5]: must be a list of SSH key ids or public keys. Fix: use e.g. ['sshkey_abc123']"),
    ('ssh_keys', 5, 'ssh_keys', "ssh_keys=5: must be a list of SSH key ids or public keys. Fix: use e.g. ['sshkey_abc123']"),
    ('mount_path', 'relative', 'mount_path', "mount_path='relative': Volume mount target must be an absolute path. Fix: mount under /data, /mnt/…, /volumes/…, /opt/… or /var/…"),
    ('mount_path', '/etc/x', 'mount_path', "mount_path='/etc/x': Volume mount target must start with one of: /volumes/, /mnt/, /data/, /opt/, /var/, /data, /dataN. Fix: mount under /data, /mnt/…, /volumes/…, /opt/… or /var/…"),
    ('mount_path', 5, 'mount_path', 'mount_path=5: Volume mount target must be a string. Fix: mount under /data, /mnt/…, /volumes/…, /opt/… or /var/…'),
    ('mounts', 'x', 'volumes', "volumes='x': must be a list of {volume_id, mount_path, interface}. Fix: use e.g. [{'volume_id': 'vol_…', 'mount_path': '/data', 'interface': 'file'}]"),
    ('mounts', ['x'], 'volumes[0]', "volumes[0]='x': must be a mapping with volume_id, mount_path and interface. Fix: use DataVolumes.mount(name, path) or a dict"),
    ('mounts', [{'mount_path': '/data'}], 'volumes[0].volume_id', "volumes[0].volume_id=None: is required. Fix: pass the volume's id (vol_…)"),
    ('mounts', [{'volume_id': '', 'mount_path': '/data'}], 'volumes[0].volume_id', "volumes[0].volume_id='': is required. Fix: pass the volume's id (vol_…)"),
    ('mounts', [{'volume_id': 'v1', 'mount_path': '/data'}, {'volume_id': 'v2', 'mount_path': '/data'}], 'volumes[1].mount_path', "volumes[1].mount_path='/data': is mounted twice. Fix: give every volume its own mount path"),
    ('mounts', [{'volume_id': 'v1', 'mount_path': '/data'}, {'volume_id': 'v2', 'mount_path': '/data/sub'}], 'volumes[1].mount_path', "volumes[1].mount_path='/data/sub': is nested with '/data'. Fix: mount volumes side by side, e.g. /data and /mnt/models"),
    ('mounts', [{'volume_id': 'v1', 'mount_path': '/mnt/a/b'}, {'volume_id': 'v2', 'mount_path': '/mnt/a'}], 'volumes[1].mount_path', "volumes[1].mount_path='/mnt/a': is nested with '/mnt/a/b'. Fix: mount volumes side by side, e.g. /data and /mnt/models"),
    ('mounts', [{'volume_id': 'v1', 'mount_path': '/data'}, {'volume_id': 'v1', 'mount_path': '/mnt/x'}], 'volumes[1].volume_id', "volumes[1].volume_id='v1': is mounted twice. Fix: mount each volume once"),
    ('mounts', [{'volume_id': 'v1', 'mount_path': '/data', 'interface': 'nfs'}], 'volumes[0].interface', "volumes[0].interface='nfs': must be one of 'file', 'block'. Fix: use 'file'"),
]


@pytest.mark.parametrize(("rule", "value", "field", "message"), REFUSED,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)])
def test_each_refusal_names_the_field_the_value_and_the_fix(rule: str, value: object, field: str,
                                                           message: str) -> None:
    with pytest.raises(v.InputError) as caught:
        getattr(v, rule)(value)
    assert str(caught.value) == message
    assert caught.value.field == field
    assert caught.value.reason == message.removeprefix(f"{field}=")


def test_a_block_volume_on_several_instances_is_refused_by_index() -> None:
    with pytest.raises(v.InputError) as caught:
        v.block_volumes_single_instance([{"interface": "file"}, {"interface": "block"}], 2)
    assert str(caught.value) == ("volumes[1].interface='block': a block volume attaches to one instance, and this task "
                                 "has 2. Fix: create the volume with interface='file' to share it, or use num_instances=1")
    v.block_volumes_single_instance([{"interface": "block"}], 1)
    v.block_volumes_single_instance([{"interface": "file"}, {"interface": "file"}], 8)


def test_the_reason_is_the_message_without_the_field_for_pulumis_check_failure() -> None:
    error = v.InputError("size_gb", 0, "must be from 1 to 16384", "use e.g. 1000")
    assert (error.field, error.value, error.problem, error.fix) == ("size_gb", 0, "must be from 1 to 16384",
                                                                    "use e.g. 1000")
    assert error.reason == "0: must be from 1 to 16384. Fix: use e.g. 1000"


def test_a_long_value_is_cut_in_the_message() -> None:
    error = v.InputError("command", "x" * 200, "is odd", "shorten it")
    assert str(error) == f"command='{'x' * 76}...: is odd. Fix: shorten it"
    assert len(repr("x" * 78)) == 80
    assert str(v.InputError("command", "x" * 78, "is odd", "f")) == f"command='{'x' * 78}': is odd. Fix: f"


@pytest.mark.parametrize(("rule", "value", "normalised"), [
    ("instance_type", "h100:8", "8xh100"), ("instance_type", "H100x8", "8xh100"), ("instance_type", "8xA100", "8xa100"),
    ("price", 3.125, 3.13), ("price", 50.004, 50.01), ("price", 50, 50.0), ("price", 10_000, 10_000.0),
    ("price", 0.01, 0.01), ("instance_type", "8xb200", "8xb200"),
    ("num_instances", 8.0, 8), ("num_instances", 1, 1), ("num_instances", 100, 100),
    ("size_gb", 16384, 16384), ("size_gb", 1, 1),
    ("max_run_time_hours", 168, 168.0), ("max_run_time_hours", 0.5, 0.5), ("ready_timeout_minutes", 1440, 1440.0),
    ("flag", False, False), ("flag", True, True),
    ("role", "workload", "workload"), ("wait_until", "completed", "completed"),
    ("replacement", "create-first", "create-first"), ("interface", "FILE", "file"), ("interface", "block", "block"),
    ("command", " python train.py", " python train.py"),
    ("region", "eu-central1-a", "eu-central1-a"),
    ("task_name", "a" * 63, "a" * 63), ("task_name", "gpu.infra_1-x", "gpu.infra_1-x"),
    ("volume_name", "d" * 63, "d" * 63), ("volume_name", "a", "a"),
    ("env", {"_X1": "a"}, {"_X1": "a"}), ("ssh_keys", ("sshkey_1",), ["sshkey_1"]), ("ssh_keys", [], []),
    ("mount_path", "/data2", "/data2"), ("mount_path", "/mnt/models", "/mnt/models"),
])
def test_good_input_is_normalised_to_what_mithril_receives(rule: str, value: object, normalised: object) -> None:
    got = getattr(v, rule)(value)
    assert got == normalised
    assert type(got) is type(normalised)


def test_a_bare_family_is_accepted_where_no_count_is_needed() -> None:
    assert v.instance_type("H100", require_count=False) == "h100"


def test_a_mount_at_the_root_is_refused_with_a_path_that_would_work() -> None:
    with pytest.raises(v.InputError) as caught:
        v.mount_path("/models")
    assert caught.value.fix == "use '/mnt/models' (or '/data/models')"


def test_mounts_are_normalised_and_unknowns_pass_until_known() -> None:
    later = Output.from_input("vol_later")
    got = v.mounts([{"volume_id": "v1", "mount_path": "/data"}, later,
                    {"volume_id": UNKNOWN, "mount_path": "/mnt/b", "interface": "BLOCK"}])
    assert got == [{"volume_id": "v1", "mount_path": "/data", "interface": "file"}, later,
                   {"volume_id": UNKNOWN, "mount_path": "/mnt/b", "interface": "block"}]
    # Side by side with a common prefix is not nesting.
    assert len(v.mounts([{"volume_id": "a", "mount_path": "/mnt/a"}, {"volume_id": "b", "mount_path": "/mnt/ab"}])) == 2


@pytest.mark.parametrize(("value", "unknown"), [
    (UNKNOWN, True), (Unknown(), True), ({"a": [1, {"b": UNKNOWN}]}, True), ([1, 2], False), ("text", False),
    ({"a": "b"}, False), ((1, UNKNOWN), True), (None, False),
])
def test_unknowns_are_found_at_any_depth(value: Any, unknown: bool) -> None:
    assert v.contains_unknown(value) is unknown


def test_a_problem_ending_in_a_full_stop_gets_one_full_stop() -> None:
    assert str(v.InputError("size_gb", 9, "too big: 9X.", "shrink it")) == "size_gb=9: too big: 9X. Fix: shrink it"
    assert v.InputError("size_gb", 9, " odd.", "f").problem == " odd"


def test_a_repr_of_81_characters_is_cut() -> None:
    assert str(v.InputError("command", "x" * 79, "is odd", "f")) == f"command='{'x' * 76}...: is odd. Fix: f"


def test_a_mount_path_with_a_double_slash_gets_the_general_fix() -> None:
    with pytest.raises(v.InputError) as caught:
        v.mount_path("//models")
    assert caught.value.fix == "mount under /data, /mnt/…, /volumes/…, /opt/… or /var/…"


def test_a_mount_of_a_volume_not_created_yet_passes_until_known() -> None:
    """In a preview the volume id is an Unknown object, not the wire's sentinel string."""
    pending = Unknown()
    got = v.mounts([{"volume_id": pending, "mount_path": "/data"}])
    assert got == [{"volume_id": pending, "mount_path": "/data", "interface": "file"}]


def test_a_duplicate_after_an_unknown_mount_is_still_refused() -> None:
    later = Output.from_input("vol_later")
    with pytest.raises(v.InputError) as caught:
        v.mounts([{"volume_id": "a", "mount_path": "/data"}, later, {"volume_id": "a", "mount_path": "/mnt/x"}])
    assert caught.value.field == "volumes[2].volume_id"


def test_two_volumes_not_created_yet_are_not_mounted_twice() -> None:
    """In a preview both ids are the wire's unknown sentinel: equal strings, but two volumes that may well
    differ. Refusing them would refuse every first preview of a task with two new volumes."""
    got = v.mounts([{"volume_id": UNKNOWN, "mount_path": "/data"}, {"volume_id": UNKNOWN, "mount_path": "/mnt/b"}])
    assert [m["mount_path"] for m in got] == ["/data", "/mnt/b"]


def test_a_command_that_cannot_fit_the_startup_script_even_compressed_is_refused() -> None:
    import base64
    import os

    noise = base64.b64encode(os.urandom(9_000)).decode()  # 12,000 bytes that gzip cannot shrink under 10,000
    with pytest.raises(v.InputError) as refused:
        v.command(f"echo {noise}")
    assert refused.value.field == "command"
    assert "over Mithril's startup script limit of 10,000 bytes" in refused.value.problem
    assert "e.g. command='bash /data/train.sh'" in refused.value.fix
    with pytest.raises(v.InputError, match=r"startup_script=.*over Mithril's startup script limit"):
        v.startup_script(f"echo {noise}")


def test_a_long_command_that_compresses_passes_as_it_would_at_create() -> None:
    repetitive = "echo step\n" * 20_000  # 200,000 bytes; the SDK's gzip bootstrap is under 1,000
    assert v.command(repetitive) == repetitive


def test_an_output_inside_env_passes_until_it_is_known() -> None:
    """`env` values are Input[str]: an Output is checked by the provider once known, and is never put through
    str() (whose text is Pulumi's "Calling __str__ on an Output" warning)."""
    import pulumi

    token = pulumi.Output.from_input("s3cr3t")
    assert v.env({"TOKEN": token, "MODE": "train"})["TOKEN"] is token
    with pytest.raises(v.InputError) as refused:
        v.env({"TOKEN": token, "PIN": 1234})
    assert "__str__" not in str(refused.value) and "1234" not in str(refused.value)
