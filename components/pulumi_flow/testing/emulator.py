"""The emulator helper for tests: one running in the test's process, its environment, and its control API."""

from pulumi_flow.emulator.embedded import (
    FAST,
    TEST_API_KEY,
    WRITE_METHODS,
    EmulatorControl,
    RunningEmulator,
    running_emulator,
    sdk_environment,
)

__all__ = ["FAST", "TEST_API_KEY", "WRITE_METHODS", "EmulatorControl", "RunningEmulator", "running_emulator",
           "sdk_environment"]
