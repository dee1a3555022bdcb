"""Incident errors a front end shows as bad input (unknown id, a transition that is not allowed)."""

from __future__ import annotations

from probes.errors import BadInput


class IncidentNotFound(BadInput):
    def __init__(self, incident_id: int):
        self.incident_id = incident_id
        super().__init__(f"no incident {incident_id}")


class InvalidTransition(BadInput):
    """E.g. acking a resolved incident."""
