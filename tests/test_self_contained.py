"""The repository explains itself: no file points at a design document it does not contain."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"DESIGN(\.md)?\s*§|\.\./shared\b|CATALOG\.md")


def test_no_tracked_file_refers_to_documents_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    me = Path(__file__).relative_to(REPO).as_posix()
    hits = []
    for name in files:
        path = REPO / name
        if name == me or not path.is_file() or path.suffix not in {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ""}:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{name}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
