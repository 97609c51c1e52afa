"""Colour and a spinner only on a terminal; plain lines elsewhere."""

from __future__ import annotations

import io

import pytest

from pulumi_flow.cli.console import Console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_streams_get_plain_text_and_progress_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err)
    console.print("ok", "green")
    with console.status("working"):
        pass
    assert out.getvalue() == "ok\n"
    assert err.getvalue() == "working ...\nworking: done\n"


def test_terminal_gets_colour_and_a_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out, err = Terminal(), Terminal()
    console = Console(out, err)
    console.print("ok", "green")
    with console.status("working"):
        pass  # the spinner writes its first frame before it looks at the stop signal
    assert out.getvalue() == "\033[32mok\033[0m\n"
    frames = err.getvalue()
    assert "\r⠋ working" in frames and frames.endswith("\r")


def test_no_color_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    Console(out, Terminal()).print("ok", "red")
    assert out.getvalue() == "ok\n"
