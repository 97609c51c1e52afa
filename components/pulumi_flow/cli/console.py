"""Terminal output: colour and a spinner on a terminal, plain lines anywhere else."""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import attrs

COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "bold": "1", "dim": "2"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@attrs.define
class Console:
    out: TextIO = attrs.field(factory=lambda: sys.stdout)
    err: TextIO = attrs.field(factory=lambda: sys.stderr)

    @property
    def colour(self) -> bool:
        return self.out.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(COLOURS[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"

    def print(self, text: str = "", *styles: str) -> None:
        print(self.paint(text, *styles), file=self.out, flush=True)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on a terminal; one plain line (and one at the end) otherwise."""
        if not self.err.isatty():
            print(f"{message} ...", file=self.err, flush=True)
            yield
            print(f"{message}: done", file=self.err, flush=True)
            return
        stop = threading.Event()

        def spin() -> None:
            for frame in itertools.cycle(SPINNER):
                self.err.write(f"\r{frame} {message}")
                self.err.flush()
                if stop.wait(0.1):
                    break
            self.err.write("\r" + " " * (len(message) + 2) + "\r")
            self.err.flush()

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
