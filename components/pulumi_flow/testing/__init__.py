"""Test helpers for pulumi-flow users: the emulator fixture and an in-process stack runner."""

from pulumi_flow.testing.emulator import (
    TEST_API_KEY,
    EmulatorControl,
    RunningEmulator,
    running_emulator,
    sdk_environment,
)
from pulumi_flow.testing.stack import StackTester

__all__ = ["TEST_API_KEY", "EmulatorControl", "RunningEmulator", "StackTester", "running_emulator",
           "sdk_environment"]
