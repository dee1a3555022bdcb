"""Usage errors: exit 2 with one line naming the bad option or argument, never a traceback (issue 11 point 7).

Before the fix, ``whycant ask --bogus x`` printed a ``ModuleNotFoundError`` traceback and exited 1: the
handler imported ``click``, which typer >= 0.29 vendors as ``typer._click`` (no ``click`` module installed).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

WHYCANT = [sys.executable, "-m", "bot.cli"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["ask", "--bogus", "x"], ["ask", "--bogus"]),
        (["ask"], ["ask", "text"]),
        (["probe", "localhost", "--port", "abc"], ["probe", "--port"]),
        (["incidents", "show", "abc"], ["incidents show", "incident_id"]),
        (["incidents", "list", "--status"], ["--status"]),
        (["serve", "--http", "notaport"], ["serve", "--http"]),
        (["drift", "--nope"], ["drift", "--nope"]),
        (["console", "--who"], ["--who"]),
        (["no-such-command"], ["no-such-command"]),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, names, tmp_path):
    r = subprocess.run(
        [*WHYCANT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)},
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Error" not in r.stderr.split(":")[0]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("whycant")
    for n in names:
        assert n in lines[0], lines[0]
    assert r.stdout == ""
