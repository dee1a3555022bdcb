"""A durable local spool for incidents the database could not take (issue 11: answer first, store reliably).

When the database is down or locked past the bounded wait, the answer goes out and the write it could not
do is saved here: one JSON file per record in the spool directory (``spool_dir``, default
``$XDG_STATE_HOME/whycant/spool``; directory 0700, files 0600), written atomically (temporary file, fsync,
rename, fsync of the directory). ``flush`` writes the records to the database once it is back (``serve`` in
the background, the CLI at its next start) and deletes each file only after its write committed. A file
that cannot be read is renamed ``*.bad`` and kept (never deleted), and named in the log.

Two processes may flush the same spool: each file is locked (``flock``) while it is written, and a file
already removed by the other process is skipped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from bot.findings import Diagnosis
from bot.outcome import IncidentInfo
from bot.storage.errors import IncidentNotFound
from bot.storage.incidents import IncidentService
from bot.storage.results import IncidentRef
from probes.evidence import Evidence, Request

log = logging.getLogger("whycant.storage.spool")

SPOOL_VERSION = 1


class SpooledIncident(BaseModel):
    """One write the database could not take: finish incident *incident_id* (begun before probing) or,
    when none was begun, record a new or joined incident as of *at*."""

    version: int = SPOOL_VERSION
    kind: Literal["record", "finish"]
    incident_id: int | None = None
    request: Request
    evidence: Evidence
    diagnosis: Diagnosis
    who: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    at: datetime
    reason: str = ""  # why it was spooled ("database locked")


@dataclass
class FlushResult:
    written: list[int] = field(default_factory=list)  # incident ids
    left: int = 0  # records still in the spool (database still failing)
    bad: list[str] = field(default_factory=list)  # unreadable files, renamed *.bad
    error: str | None = None  # why the flush stopped early


class Spool:
    """The spool directory. Creating it (0700) happens on the first ``save``."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory).expanduser()

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)

    def save(self, record: SpooledIncident) -> Path:
        """Write *record* durably (atomic, 0600) and return its path."""
        self._ensure_dir()
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        final, tmp = self.dir / name, self.dir / f".tmp-{name}"
        data = record.model_dump_json().encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return final

    def keep(
        self,
        reason: str,
        *,
        pending_id: int | None,
        request: Request,
        evidence: Evidence,
        diagnosis: Diagnosis,
        who: str | None,
        channel: str | None,
        thread_ts: str | None,
        at: datetime,
    ) -> IncidentInfo:
        """Save the incident write the database did not take; the ``IncidentInfo`` a front end shows."""
        path = self.save(
            SpooledIncident(
                kind="finish" if pending_id is not None else "record",
                incident_id=pending_id,
                request=request,
                evidence=evidence,
                diagnosis=diagnosis,
                who=who,
                channel=channel,
                thread_ts=thread_ts,
                at=at,
                reason=reason,
            )
        )
        log.warning("incident not stored (%s): saved to %s", reason, path)
        return IncidentInfo(id=pending_id, storage_error=spool_note(reason))

    def pending(self) -> list[Path]:
        """Spooled records, oldest first."""
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def load(self, path: Path) -> SpooledIncident:
        return SpooledIncident.model_validate_json(path.read_bytes())

    async def flush(self, service: IncidentService) -> FlushResult:
        """Write every spooled record to the database; stop at the first database failure (the rest stay)."""
        out = FlushResult()
        paths = self.pending()
        for i, path in enumerate(paths):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # flushed by another process
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another process is writing it
                if os.fstat(fd).st_nlink == 0:
                    continue  # written and removed by another process while we waited
                try:
                    record = self.load(path)
                except (ValidationError, ValueError, OSError) as e:
                    bad = path.with_suffix(".bad")
                    os.replace(path, bad)
                    log.error("spooled incident %s is unreadable (kept as %s): %s", path, bad, str(e).splitlines()[0])
                    out.bad.append(str(bad))
                    continue
                try:
                    ref = await write_record(service, record)
                except Exception as e:  # noqa: BLE001 - database still failing: keep this and the rest
                    out.error = str(e).splitlines()[0] if str(e) else type(e).__name__
                    out.left = len(paths) - i
                    log.warning("spool flush stopped, %d record(s) left in %s: %s", out.left, self.dir, out.error)
                    return out
                path.unlink()
                out.written.append(ref.id)
            finally:
                os.close(fd)
        if out.written:
            log.info("wrote %d spooled incident(s) from %s: %s", len(out.written), self.dir, out.written)
        return out


async def write_record(service: IncidentService, r: SpooledIncident) -> IncidentRef:
    """The write a spooled record stands for (a finish whose incident is gone becomes a new record)."""
    if r.kind == "finish" and r.incident_id is not None:
        try:
            return await service.finish_diagnosis(r.incident_id, r.evidence, r.diagnosis, r.who)
        except IncidentNotFound:
            log.warning("spooled incident %d no longer exists: recording it as a new one", r.incident_id)
    return await service.record_diagnosis(r.request, r.evidence, r.diagnosis, r.who, r.channel, r.thread_ts, at=r.at)


def spool_note(reason: str) -> str:
    """The line a front end shows for a spooled incident (never "retrying": the spool is written later)."""
    return f"incident not stored yet: {reason}; saved on this host and written when the database is back"
