"""SQLAlchemy 2 models: incidents and everything attached to them (docs/architecture.md §Storage).

Incidents are keyed for joining by target host + port: an ask about the same
``host:port`` while an incident is ``open`` or ``acked`` (and was last asked
about within ``join_window_minutes``) joins it instead of opening another.

Timestamps are timezone-aware UTC on both backends (``UTCDateTime``). JSON
columns are ``JSONB`` on PostgreSQL and JSON text on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from probes.hostport import format_hostport

STATUSES = ("open", "acked", "resolved", "interrupted")
ACTIVE_STATUSES = ("open", "acked")  # an ask can join these
SEVERITIES = ("critical", "warning", "info")
AUDIT_ACTIONS = ("asked", "joined", "rerun", "acked", "resolved", "verified", "replayed", "interrupted", "reopened")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))  # inventory name of the target
    address: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    service: Mapped[str | None] = mapped_column(String(64))
    vantages: Mapped[list[Any]] = mapped_column(default=list)
    request_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    verdict: Mapped[str | None] = mapped_column(Text)
    top_severity: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    acked_by: Mapped[str | None] = mapped_column(String(128))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    asked_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_by: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    # crash recovery: a diagnosis in progress (set by start_diagnosis, cleared by finish)
    diagnosing: Mapped[bool] = mapped_column(Boolean, default=False)
    runner: Mapped[str | None] = mapped_column(String(255))  # "hostname:pid:starttime" of the diagnosing process
    diagnosing_since: Mapped[datetime | None] = mapped_column()

    askers: Mapped[list[Asker]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", passive_deletes=True, order_by="Asker.id"
    )
    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", passive_deletes=True, order_by="FindingRow.id"
    )
    evidence: Mapped[list[EvidenceRow]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", passive_deletes=True, order_by="EvidenceRow.id"
    )
    audit: Mapped[list[AuditEntry]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", passive_deletes=True, order_by="AuditEntry.id"
    )

    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(f"top_severity IS NULL OR {_in('top_severity', SEVERITIES)}", name="top_severity"),
        Index("ix_incidents_status_id", "status", "id"),
        Index("ix_incidents_host_id", "host", "id"),
        Index("ix_incidents_host_port_id", "host", "port", "id"),
        Index("ix_incidents_created_at", "created_at"),
        # the join lookup and crash recovery touch only a handful of rows: partial indexes
        Index(
            "ix_incidents_active_target",
            "host",
            "port",
            sqlite_where=text(_in("status", ACTIVE_STATUSES)),
            postgresql_where=text(_in("status", ACTIVE_STATUSES)),
        ),
        Index(
            "ix_incidents_diagnosing",
            "diagnosing",
            sqlite_where=text("diagnosing = 1"),
            postgresql_where=text("diagnosing"),
        ),
    )

    @property
    def target_text(self) -> str:
        return format_hostport(self.host, self.port)


class Asker(Base):
    __tablename__ = "askers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    who: Mapped[str] = mapped_column(String(128))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))

    incident: Mapped[Incident] = relationship(back_populates="askers")

    __table_args__ = (Index("ix_askers_incident_id_asked_at", "incident_id", "asked_at"),)


class EvidenceRow(Base):
    """One full, versioned ``Evidence`` document (initial ask, joined asks and re-runs each add one)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # Evidence.version
    source: Mapped[str] = mapped_column(String(16), default="live")  # live | replay | pasted
    host: Mapped[str | None] = mapped_column(String(255))  # target host the evidence was taken from
    who: Mapped[str | None] = mapped_column(String(128))
    verdict: Mapped[str | None] = mapped_column(Text)  # what the rules said about this evidence then
    data: Mapped[dict[str, Any]] = mapped_column()  # Evidence.model_dump(mode="json")

    incident: Mapped[Incident] = relationship(back_populates="evidence")
    findings: Mapped[list[FindingRow]] = relationship(back_populates="evidence_row", order_by="FindingRow.rank")

    __table_args__ = (Index("ix_evidence_incident_id_id", "incident_id", "id"),)


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text, default="")
    evidence_lines: Mapped[list[Any]] = mapped_column(default=list)
    fix: Mapped[dict[str, Any]] = mapped_column(default=dict)
    confidence: Mapped[float | None] = mapped_column()
    rule_version: Mapped[str] = mapped_column(String(32), default="1")
    rank: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="findings")
    evidence_row: Mapped[EvidenceRow | None] = relationship(back_populates="findings")

    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        Index("ix_findings_incident_id_evidence_id", "incident_id", "evidence_id"),
        Index("ix_findings_rule_id", "rule_id"),
        Index("ix_findings_evidence_id", "evidence_id"),
    )


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    who: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    incident: Mapped[Incident] = relationship(back_populates="audit")

    __table_args__ = (
        Index("ix_audit_incident_id_id", "incident_id", "id"),
        Index("ix_audit_action_at", "action", "at"),
    )


class SlackEvent(Base):
    """Slack event ids already handled by some replica (Events API retries are dropped)."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    replica: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_slack_events_expires_at", "expires_at"),)


class DriftSnapshot(Base):
    __tablename__ = "drift_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    values: Mapped[dict[str, Any]] = mapped_column()
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_drift_snapshots_host_taken_at", "host", "taken_at"),)


class DriftWaiver(Base):
    __tablename__ = "drift_waivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))  # host name, "group:NAME" or "*"
    key: Mapped[str] = mapped_column(String(255))  # sysctl key
    until: Mapped[datetime | None] = mapped_column()  # None: until removed
    reason: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_drift_waivers_host_key", "host", "key"),)


class ReportRun(Base):
    """One scheduled report occurrence; the unique (name, scheduled_for) row is the claim."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column()
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("name", "scheduled_for"),)


WATCH_STATUSES = ("active", "ended", "stopped", "expired")


class WatchRow(Base):
    """One watch (docs/watch.md): one active row per target host + port, shared by every asker.

    ``owner``/``heartbeat_at`` say which replica runs it; a replica takes over a watch whose
    heartbeat is stale by claiming ``report_runs ("watch:<id>", heartbeat_at)`` (exactly once)."""

    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column()  # Request.model_dump(mode="json")
    interval_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_note: Mapped[str | None] = mapped_column(Text)
    askers: Mapped[list[Any]] = mapped_column(default=list)  # [{"who", "at", "channel"}]
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"buckets": ..., "capped": n}
    episodes: Mapped[list[Any]] = mapped_column(default=list)  # Episode.as_dict() each

    __table_args__ = (
        CheckConstraint(_in("status", WATCH_STATUSES), name="status"),
        Index(
            "ix_watches_host_port_active",
            "host",
            "port",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        Index("ix_watches_status_heartbeat_at", "status", "heartbeat_at"),
    )
