"""`DataVolumes`: persistent storage, protected by default, mountable by the other components."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pulumi

from pulumi_flow import validation as v
from pulumi_flow.components._args import recorded_inputs, rule
from pulumi_flow.components._options import child_options
from pulumi_flow.resources import FlowVolumeArgs, VolumeResource, new_owner, new_volume

TYPE = "flow:index:DataVolumes"
OUTPUTS = ("volume_ids",)  # what its state carries: its registered outputs and its schema's


@attrs.frozen
class VolumeSpec:
    """One volume: size in GB and interface (`file` can be shared by several instances).

    Mithril cannot resize a volume or change its interface: such a change makes a new, empty volume
    and deletes the old one, so it is refused unless `allow_replacement=True`."""

    size_gb: pulumi.Input[int] = attrs.field(converter=rule(v.size_gb))
    interface: pulumi.Input[str] = attrs.field(default="file", converter=rule(v.interface))
    allow_replacement: bool = attrs.field(default=False, converter=rule(v.flag))


def _specs(value: object) -> dict[str, VolumeSpec]:
    if v.is_unknown(value):
        raise v.InputError("DataVolumesArgs.volumes", value, "decides how many volumes exist, so it must be known "
                           "when the program runs, not an Output",
                           "give a plain dict; sizes and interfaces inside it may be Outputs")
    if not isinstance(value, Mapping) or not value:
        raise v.InputError("DataVolumesArgs.volumes", value, "must map volume names to sizes or VolumeSpec",
                           "use e.g. {'data': 1000, 'models': VolumeSpec(500, interface='block')}")
    specs: dict[str, VolumeSpec] = {}
    for key, item in value.items():
        where = f"DataVolumesArgs.volumes[{key!r}]"
        if not isinstance(key, str) or not v.VOLUME_NAME_RE.fullmatch(key):
            raise v.InputError(where, key, "is not a usable volume name",
                               "use lowercase letters, digits and '-', starting with a letter")
        if isinstance(item, VolumeSpec):
            specs[key] = item
        elif isinstance(item, Mapping):
            unknown = set(item) - {"size_gb", "interface"}
            if unknown:
                raise v.InputError(where, dict(item), f"has unknown keys {sorted(unknown)}",
                                   "use only size_gb and interface")
            specs[key] = VolumeSpec(**item)
        else:
            specs[key] = VolumeSpec(item)
    return specs


def _plain_flag(value: object) -> bool:
    if v.is_unknown(value):
        raise v.InputError("DataVolumesArgs.protect", value, "is a resource option, decided when the program runs: "
                           "it cannot be an Output", "give True or False")
    return v.flag(value, "DataVolumesArgs.protect")


@attrs.frozen
class DataVolumesArgs:
    volumes: dict[str, VolumeSpec] = attrs.field(converter=_specs)
    region: pulumi.Input[str] | None = attrs.field(default=None, converter=rule(v.region, optional=True))
    protect: bool = attrs.field(default=True, converter=_plain_flag)


@attrs.frozen
class VolumeMount:
    """A volume at a path, as `TrainingCluster` and `TrainingJob` take it. From `DataVolumes.mount` it
    carries the volume resource, so the task depends on it (and is deleted before it). From another
    language (`VolumeMount.by_id`) it carries the id, an Output that depends on the volume the same way."""

    name: str
    mount_path: str
    interface: pulumi.Input[str]
    volume: VolumeResource | None
    region: pulumi.Input[str] | None
    given_id: pulumi.Input[str] | None = None

    @classmethod
    def by_id(cls, volume_id: pulumi.Input[str], mount_path: str, interface: pulumi.Input[str] = "file",
              field: str = "volumes") -> VolumeMount:
        """A mount named by volume id, as the plugin's components receive it (`{volumeId, mountPath, interface}`)."""
        if volume_id is None:
            raise v.InputError(f"{field}.volumeId", None, "is required", "pass the volume's id, e.g. "
                               "${vols.volumeIds[\"data\"]} in YAML or vols.volumeIds.apply(ids => ids.data)")
        return cls(name=str(volume_id) if not v.is_unknown(volume_id) else "(unknown)",
                   mount_path=v.mount_path(mount_path, f"{field}.mountPath"),
                   interface=interface if v.is_unknown(interface) else v.interface(interface, f"{field}.interface"),
                   volume=None, region=None, given_id=volume_id)

    @property
    def volume_id(self) -> pulumi.Input[str]:
        return self.volume.volume_id if self.volume is not None else self.given_id  # type: ignore[return-value]

    def identity(self) -> str:
        """What makes two mounts the same volume, while ids may still be unknown."""
        if self.volume is not None:
            return f"{self.name}@{id(self.volume)}"
        return self.name if not v.is_unknown(self.given_id) else f"unknown@{id(self)}"

    def as_input(self) -> dict[str, Any]:
        """Only the id is an Output, so a preview still shows (and checks) path and interface."""
        return {"volume_id": self.volume_id, "mount_path": self.mount_path, "interface": self.interface}


class DataVolumes(pulumi.ComponentResource):
    """One volume per entry (`FlowVolume`, or `Volume` when plugin-hosted); children are protected unless
    `protect=False`."""

    volume_ids: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: DataVolumesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, DataVolumesArgs):
            raise TypeError(f"DataVolumes({name!r}) takes DataVolumesArgs, got {type(args).__name__}")
        super().__init__(TYPE, name, recorded_inputs(args), opts)
        self.args = args
        protect = args.protect or bool(opts and opts.protect)
        self.volumes: dict[str, VolumeResource] = {}
        # In state before any volume, so a create retried after a killed `up` adopts this state's volume.
        self.owner = new_owner(f"{name}-owner", pulumi.ResourceOptions(parent=self))
        for key, spec in args.volumes.items():
            resource_name = f"{name}-{key}"
            self.volumes[key] = new_volume(
                resource_name,
                FlowVolumeArgs(size_gb=spec.size_gb, interface=spec.interface, region=args.region,
                               allow_replacement=spec.allow_replacement, owner=self.owner.token),
                child_options(self, opts, protect=protect),
            )
        self.volume_ids = pulumi.Output.all(*(vol.volume_id for vol in self.volumes.values())).apply(
            lambda ids: dict(zip(self.volumes, ids, strict=True)))
        self.register_outputs({key: getattr(self, key) for key in OUTPUTS})

    def mount(self, name: str, path: str) -> VolumeMount:
        """Mount volume `name` at `path` (checked now against Mithril's allowed mount roots)."""
        if name not in self.volumes:
            raise v.InputError("mount.name", name, f"is not one of this DataVolumes' volumes ({sorted(self.volumes)})",
                               f"use one of {sorted(self.volumes)}")
        mount_path = v.mount_path(path, "mount.path")
        return VolumeMount(name=name, mount_path=mount_path, interface=self.args.volumes[name].interface,
                           volume=self.volumes[name], region=self.args.region)
