"""What a job preempted and re-allocated runs: a startup wrapper that resumes from its newest checkpoint.

Mithril re-allocates a preempted bid on new machines and runs its startup script again from the top. The wrapper
keeps what must survive that on the checkpoint volume itself: how many times the job has started. Each start it
exports

- `FLOW_RESTART_COUNT`: 0 on the first start, then 1, 2, ... (counted on the volume, so a new machine knows);
- `FLOW_CHECKPOINT_DIR`: where the checkpoint volume is mounted;
- `FLOW_LATEST_CHECKPOINT`: the newest complete checkpoint in it (by modification time), or empty when there is
  none. Hidden entries and names ending in `.tmp` or `.partial` are never complete: write a checkpoint under such a
  name and rename it when it is done, and a kill mid-write never hands a torn checkpoint to the next start;

and then runs `resume_command` when there is a checkpoint to resume from, `command` otherwise.
"""

from __future__ import annotations

import shlex

STATE = ".pulumi-flow"  # the wrapper's own files on the checkpoint volume (hidden: never a checkpoint)
INCOMPLETE = ("*.tmp", "*.partial")


def resume_wrapper(command: str, resume_command: str | None, checkpoint_dir: str) -> str:
    """The wrapper, as a bash script that ends by exec-ing the command (its exit status is the job's)."""
    hidden = " ".join(f"! -name {shlex.quote(pattern)}" for pattern in INCOMPLETE)
    resume = resume_command if resume_command is not None else command
    return "\n".join([
        "set -eu",
        f"export FLOW_CHECKPOINT_DIR={shlex.quote(checkpoint_dir)}",
        f'state="$FLOW_CHECKPOINT_DIR/{STATE}"',
        'mkdir -p "$state"',
        'starts=$(cat "$state/starts" 2>/dev/null || true)',
        'case "$starts" in ""|*[!0-9]*) starts=0 ;; esac',
        # Written whole, then renamed: a kill here leaves the old count or the new one, never a torn file.
        'printf "%s\\n" "$((starts + 1))" > "$state/starts.$$" && mv -f "$state/starts.$$" "$state/starts"',
        "export FLOW_RESTART_COUNT=$starts",
        f"FLOW_LATEST_CHECKPOINT=$(find \"$FLOW_CHECKPOINT_DIR\" -mindepth 1 -maxdepth 1 ! -name '.*' {hidden} "
        "-printf '%T@ %p\\n' | sort -n | tail -n 1 | cut -d' ' -f2-)",
        "export FLOW_LATEST_CHECKPOINT",
        'if [ -n "$FLOW_LATEST_CHECKPOINT" ]; then',
        f"  exec bash -c {shlex.quote(resume)}",
        "fi",
        f"exec bash -c {shlex.quote(command)}",
    ]) + "\n"
