"""Incident storage: SQLAlchemy models, Alembic migrations, the incident service (docs/architecture.md §Storage).

Front ends use one API: ``open_store(config)`` → ``Store`` (typed results from ``bot.storage.results``,
bounded calls, spool and retry). Below it: ``Database`` (engine, ``upgrade()``), ``IncidentService``
(record, join, triage, replay), ``record_with_retry``, ``claim_event`` / ``claim_report_run``
(cross-replica claims). See docs in each module.
"""

from bot.storage.claims import claim_event, claim_report_run
from bot.storage.db import Database, DatabaseBusy, DatabaseUnavailable, SchemaOutOfDate
from bot.storage.errors import IncidentNotFound, InvalidTransition
from bot.storage.incidents import IncidentService
from bot.storage.results import IncidentDetail, IncidentRef, IncidentSummary, ReplayResult, TargetInfo
from bot.storage.retry import StoreOutcome, record_with_retry, write_with_retry
from bot.storage.store import StorageTrouble, Store, open_store

__all__ = [
    "Database",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "SchemaOutOfDate",
    "IncidentService",
    "IncidentRef",
    "IncidentSummary",
    "IncidentDetail",
    "IncidentNotFound",
    "InvalidTransition",
    "ReplayResult",
    "TargetInfo",
    "StoreOutcome",
    "record_with_retry",
    "write_with_retry",
    "claim_event",
    "claim_report_run",
    "StorageTrouble",
    "Store",
    "open_store",
]
