"""workload-runtime-cap: a workload without a run-time cap can bill forever."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from pulumi_flow_policies._props import guarded, is_task, number, report_here, text

NAME = "workload-runtime-cap"


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_task(args) or text(args.props, "role") != "workload":
        return
    if number(args.props, "max_run_time_hours") is None:
        report_here(report,
                    f"workload {args.name} has no max_run_time_hours: a hung job bills until someone notices. Fix: set "
                    f"max_run_time_hours on the TrainingJob (e.g. 24)")


policy = ResourceValidationPolicy(
    name=NAME,
    description="Workloads should set max_run_time_hours so a hung job cannot bill forever.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=guarded(validate),
)
