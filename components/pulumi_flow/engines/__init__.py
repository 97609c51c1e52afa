"""Engines: the ways pulumi-flow runs a stack, behind one small interface (`Engine`).

- `builtin.BuiltinEngine`: the program in-process, Pulumi's mocks in front of the real providers.
- `pulumi_cli.PulumiCliEngine`: the real Pulumi CLI through the Automation API (`pulumi_cli.PulumiCli` is
  the driver underneath, which the engine tests use directly).
- `plugins`: not an engine but what both stand on to reach a plugin the way the CLI does: a dynamic provider,
  the `flow` provider or the policy pack, started as a process and spoken to over gRPC.
"""

from pulumi_flow.engines._engine import (
    Created,
    Engine,
    Failed,
    Outcome,
    PolicyBlocked,
    ProgramError,
    Registration,
    StackRun,
    TearDown,
    Unfound,
    UnrecordedCreate,
    describe_program_error,
)

__all__ = ["Created", "Engine", "Failed", "Outcome", "PolicyBlocked", "ProgramError", "Registration", "StackRun",
           "TearDown", "Unfound", "UnrecordedCreate", "describe_program_error"]
