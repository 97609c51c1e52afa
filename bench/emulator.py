"""The emulator under a burst of clients: 200 concurrent connections on loopback.

    python bench/emulator.py [--clients 200] [--rounds 3]

Each round opens `--clients` connections at once (threads released together by a barrier), each
doing one `GET /v2/instance-types`, and records each request's latency. The same burst is run against
the same server with socketserver's default listen backlog of 5 as the baseline, in the same run.
Prints p50, p95 and max per configuration and the ratio of p95s. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import urllib.request

from pulumi_flow.emulator.server import MithrilEmulator, _HTTPServer
from pulumi_flow.testing.emulator import TEST_API_KEY


def burst(url: str, clients: int) -> list[float]:
    barrier = threading.Barrier(clients)
    latencies: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        request = urllib.request.Request(url + "/v2/instance-types",
                                         headers={"Authorization": f"Bearer {TEST_API_KEY}"})
        barrier.wait()
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        with lock:
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def measure(backlog: int, clients: int, rounds: int) -> list[float]:
    original = _HTTPServer.request_queue_size
    _HTTPServer.request_queue_size = backlog
    try:
        with MithrilEmulator() as emulator:
            samples: list[float] = []
            for _ in range(rounds):
                samples.extend(burst(emulator.url, clients))
            return samples
    finally:
        _HTTPServer.request_queue_size = original


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1], ordered[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for label, backlog in (("backlog 5 (socketserver default)", 5),
                           (f"backlog {_HTTPServer.request_queue_size} (emulator)", _HTTPServer.request_queue_size)):
        p50, p95, worst = summary(measure(backlog, args.clients, args.rounds))
        results[backlog] = p95
        print(f"{label:<36} p50 {p50 * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  max {worst * 1000:7.1f} ms")
    print(f"p95 ratio emulator / default: {results[_HTTPServer.request_queue_size] / results[5]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
