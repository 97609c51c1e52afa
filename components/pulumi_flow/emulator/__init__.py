"""A loopback Mithril for tests and demos: `python -m pulumi_flow.emulator`.

The real Flow SDK talks to it unmodified through `MITHRIL_API_URL`. Layout follows moto:
`models.py` is the auction (no HTTP) over `catalog.py` (what is sold), `records.py` (what is kept) and
`bodies.py` (requests, checked), refusing with `exceptions.py`; `responses.py` turns requests into backend calls,
`urls.py` is the route table, `server.py` the HTTP server, `faults.py` scripted failures.
"""

from pulumi_flow.emulator.faults import FaultPlan, FaultRule
from pulumi_flow.emulator.models import MithrilBackend, Settings
from pulumi_flow.emulator.records import PROJECT_NAME
from pulumi_flow.emulator.server import MithrilEmulator

__all__ = ["PROJECT_NAME", "FaultPlan", "FaultRule", "MithrilBackend", "MithrilEmulator", "Settings"]
