"""docs/scenarios.md as something to run: its command blocks, run, give its own text back.

Each ``##`` section is one story on a fresh database. Inside a ``console`` block, a line
``$ postmeter ...`` is a command; the lines after it, up to the next command, are its output, and
a failing command's exit code follows as ``[exit N]``. Run ``python -m tests.scenarios.doc`` to
write the real outputs into the file; the test checks the file says exactly what the commands do.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from postmeter.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
DB_URL = "sqlite:///scenario.db"  # relative: the story runs in a fresh empty directory
ENV = {"POSTMETER_DATABASE_URL": DB_URL, "COLUMNS": "110", "NO_COLOR": "1", "TERM": "dumb"}
_FENCE = re.compile(r"^```console\n(.*?)^```\n", re.S | re.M)


def render(text: str) -> str:
    """``text`` with every console block's outputs replaced by what its commands print."""
    sections = re.split(r"(?m)^(?=## )", text)
    return "".join(_render_section(section) for section in sections)


def _render_section(section: str) -> str:
    if not _FENCE.search(section):
        return section
    with _story_dir():
        return _FENCE.sub(lambda m: "```console\n" + _run_block(m.group(1)) + "```\n", section)


def _run_block(block: str) -> str:
    lines: list[str] = []
    for command in [line[2:] for line in block.splitlines() if line.startswith("$ ")]:
        lines.append(f"$ {command}")
        lines.extend(_run(command))
    return "\n".join(lines) + "\n"


def _run(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv[0] != "postmeter":
        raise ValueError(f"scenario commands start with postmeter: {command}")
    result = CliRunner().invoke(app, argv[1:], env=ENV, catch_exceptions=False)
    out = [line.rstrip() for line in result.output.rstrip("\n").splitlines()]
    if result.exit_code:
        out.append(f"[exit {result.exit_code}]")
    return out


@contextmanager
def _story_dir() -> Iterator[None]:
    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="postmeter-scenario-") as where:
        os.chdir(where)
        try:
            yield
        finally:
            os.chdir(before)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
    sys.stdout.write(f"rendered {DOC}\n")
