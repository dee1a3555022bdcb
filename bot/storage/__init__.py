"""Incident storage: SQLAlchemy models, Alembic migrations, the incident service (docs/architecture.md §Storage).

Entry points: ``open_store(config)`` (what the bot service uses), ``Database`` (engine, ``upgrade()``), ``IncidentService`` (record, join, triage, replay),
``record_with_retry`` (store without losing the reply when the database is down), ``claim_event`` /
``claim_report_run`` (cross-replica claims). See docs in each module.
"""
from bot.storage.claims import claim_event, claim_report_run
from bot.storage.db import Database, DatabaseBusy, DatabaseUnavailable, SchemaOutOfDate
from bot.storage.incidents import (
    IncidentDetail,
    IncidentNotFound,
    IncidentRef,
    IncidentService,
    IncidentSummary,
    ReplayResult,
    TargetInfo,
)
from bot.storage.retry import StoreOutcome, record_with_retry, write_with_retry
from bot.storage.store import Store, open_store

__all__ = [
    "Database", "DatabaseBusy", "DatabaseUnavailable", "SchemaOutOfDate", "IncidentService", "IncidentRef",
    "IncidentSummary", "IncidentDetail", "IncidentNotFound", "ReplayResult", "TargetInfo", "StoreOutcome",
    "record_with_retry", "write_with_retry", "claim_event", "claim_report_run", "Store", "open_store",
]
