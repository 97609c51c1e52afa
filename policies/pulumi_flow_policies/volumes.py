"""Volume rules: block volumes attach once, mounts stay in their volume's region, data is protected."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from pulumi_flow_policies._props import (
    ENDED_RESERVATIONS,
    TERMINAL_STATUSES,
    guarded,
    is_pool,
    is_reservation,
    is_task,
    is_volume,
    items,
    mapping,
    number,
    report_here,
    text,
)

BLOCK_NAME = "block-volume-single-attach"
REGION_NAME = "volume-region-match"
PROTECTED_NAME = "data-volume-protected"


def volumes_by_id(volumes: Sequence[PolicyResource]) -> dict[str, PolicyResource]:
    """Built once per validation: a lookup per mount keeps a large stack linear."""
    by_id: dict[str, PolicyResource] = {}
    for volume in volumes:
        try:
            volume_id = volume.props.get("volume_id")
        except UnknownValueError:
            continue  # not created yet (a preview): found through dependencies instead
        if isinstance(volume_id, str):
            by_id[volume_id] = volume
    return by_id


def mounted_volumes(user: PolicyResource, by_id: Mapping[str, PolicyResource]) -> list[PolicyResource]:
    """The volumes a task or reservation mounts: through its properties' dependencies (known even in a preview,
    before ids exist), and by volume id where the ids are known. A task's `volumes` are mounts; a reservation's are
    ids, and its `mounts` are mounts."""
    keys = ("mounts", "volumes") if is_reservation(user) else ("volumes",)
    found: dict[str, PolicyResource] = {}
    for key in keys:
        for dependency in (user.property_dependencies or {}).get(key, []):
            if is_volume(dependency):
                found[dependency.urn] = dependency
    if found:
        return list(found.values())  # enough, and needs no volume id: works in a preview too
    for key in keys:
        ids = key == "volumes" and is_reservation(user)
        for index, mount in enumerate(items(user.props, key)):
            volume_id = mount if ids else mapping(mount, f"{key}[{index}]").get("volume_id")
            if isinstance(volume_id, str) and volume_id in by_id:
                found[by_id[volume_id].urn] = by_id[volume_id]
    return list(found.values())


def _live_tasks_and_volumes(args: StackValidationArgs) -> tuple[list[PolicyResource], list[PolicyResource]]:
    """The volumes, and what runs on them: live tasks and reservations."""
    volumes = [r for r in args.resources if is_volume(r)]
    tasks = [r for r in args.resources
             if (is_task(r) and text(r.props, "status") not in TERMINAL_STATUSES)
             or (is_reservation(r) and text(r.props, "status") not in ENDED_RESERVATIONS)]
    return tasks, volumes


def validate_block(args: StackValidationArgs, report: ReportViolation) -> None:
    tasks, volumes = _live_tasks_and_volumes(args)
    by_id = volumes_by_id(volumes)
    users: dict[str, list[PolicyResource]] = defaultdict(list)
    for task in tasks:
        count = number(task.props, "quantity" if is_reservation(task) else "num_instances") or 1.0
        for volume in mounted_volumes(task, by_id):
            if text(volume.props, "interface") != "block":
                continue
            users[volume.urn].append(task)
            if count > 1:
                report(f"{task.name} has {count:g} instances and mounts block volume {volume.name}, which attaches "
                       f"to one instance only. Fix: make {volume.name} interface 'file', or run one instance",
                       task.urn)
    for volume in volumes:
        if len(users[volume.urn]) > 1:
            names = ", ".join(t.name for t in users[volume.urn])
            report(f"block volume {volume.name} is mounted by {len(users[volume.urn])} live tasks ({names}); it "
                   f"attaches to one. Fix: use interface 'file' to share it, or give each task its own volume",
                   volume.urn)


def _region(resource: PolicyResource) -> str | None:
    """Where it is, once known: a reservation that follows its volumes names their region, unknown in a preview."""
    try:
        return text(resource.props, "region") or text(resource.props, "resolved_region")
    except UnknownValueError:
        return None


def validate_region(args: StackValidationArgs, report: ReportViolation) -> None:
    tasks, volumes = _live_tasks_and_volumes(args)
    by_id = volumes_by_id(volumes)
    for task in [*tasks, *(r for r in args.resources if is_pool(r))]:
        mounted = mounted_volumes(task, by_id)
        regions: dict[str, list[str]] = defaultdict(list)
        for volume in mounted:
            region = _region(volume)
            if region is not None:
                regions[region].append(volume.name)
        task_region = _region(task)
        if len(regions) > 1:
            where = "; ".join(f"{r}: {', '.join(n)}" for r, n in sorted(regions.items()))
            report(f"{task.name} mounts volumes from different regions ({where}); a task runs in one region. "
                   f"Fix: create its volumes in one region", task.urn)
        elif regions and is_pool(task):
            (volume_region, names), = regions.items()
            listed = [str(r) for r in items(task.props, "regions")]
            if listed and volume_region not in listed:
                report(f"{task.name} is a spot pool in {', '.join(listed)} but mounts {', '.join(names)} in "
                       f"{volume_region}; Mithril mounts only within a region. Fix: add {volume_region} to its "
                       f"regions, or leave regions out (the pool then follows its volumes)", task.urn)
        elif regions and task_region is not None and task_region not in regions:
            (volume_region, names), = regions.items()
            report(f"{task.name} runs in {task_region} but mounts {', '.join(names)} in {volume_region}; Mithril "
                   f"mounts only within a region. Fix: set the task's region to {volume_region} or leave it out",
                   task.urn)


def validate_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_volume(args):
        return
    if not args.opts.protect:
        report_here(report,
                    f"volume {args.name} is not protected: `pulumi destroy` or a replacement deletes its data. Fix: "
                    f"keep DataVolumes' default protect=True, or set ResourceOptions(protect=True)")


block_policy = StackValidationPolicy(
    name=BLOCK_NAME,
    description="A block volume attaches to one instance: not to a multi-instance task or reservation, not to two "
                "live ones.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(validate_block),
)

region_policy = StackValidationPolicy(
    name=REGION_NAME,
    description="A task or reservation mounts only volumes in its own region (volumes resolved through the stack's "
                "resources).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=guarded(validate_region),
)

protected_policy = ResourceValidationPolicy(
    name=PROTECTED_NAME,
    description="Volumes hold data: they should be protected against deletion.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=guarded(validate_protected),
)

