"""The README's quick start, for real: a fresh ``git clone`` and ``make run``.

``printf "why can't I connect to localhost:1\\n" | make run`` must create the venv,
install the locked dependencies, start the console front end on the embedded
defaults (SQLite, localhost), answer with a reply naming ``port-not-listening``
and exit 0 at the end of input.

It clones the committed ``HEAD`` (uncommitted work is not in a fresh clone, as
for a new user). Creating the venv is the slow part: pip's own cache and the
machine's pip configuration (wheel directories, index) are used as they are,
so no download is repeated that pip can serve from its cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = """printf "why can't I connect to localhost:1\\n" | make run"""  # README, verbatim


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment minus whatever would make the clone use this checkout's venv or make flags."""
    venv_bin = str(REPO / ".venv" / "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHON",
            "VENV",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
            "PYTEST_ARGS",
            "WHYCANT_CONFIG",
            "PYTEST_CURRENT_TEST",
        )
        and not k.startswith("SLACK_")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(venv_bin)
    )
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # a fresh machine: no incidents yet
    env["HOME"] = env.get("HOME") or str(tmp_path)
    return env


@pytest.mark.slow
def test_make_run_on_a_fresh_clone_answers_port_not_listening(tmp_path):
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "whycant"
    env = _clean_env(tmp_path)
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True, env=env, timeout=120
    )
    assert not (clone / ".venv").exists()

    started = time.monotonic()
    r = subprocess.run(
        ["bash", "-c", QUICKSTART],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    took = time.monotonic() - started
    out = r.stdout
    assert r.returncode == 0, f"make run exited {r.returncode} after {took:.0f}s\n{out[-3000:]}\n{r.stderr[-3000:]}"
    assert "[port-not-listening]" in out, f"no [port-not-listening] in the reply:\n{out[-3000:]}"
    assert (clone / ".venv" / "bin" / "whycant").exists()
    # the console's reply, not an error: the verdict and the connect matrix of the one vantage (the bot)
    assert "localhost" in out and "refused" in out, out[-3000:]
    assert "Traceback" not in out + r.stderr
    print(f"fresh clone: make run took {took:.1f}s")
