"""Files on disk that follow the transaction: an agenda document uploaded in a request that is
rolled back must not stay behind, and the file of a deleted item may only go once the delete is
committed. The request commits once, after the view returned (``portal.core.transaction``), so
the use case notes the files here and these session listeners act when the outcome is known.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_sqlalchemy.session import Session as FlaskSqlaSession
from sqlalchemy import event

from portal.agreements import documents
from portal.extensions import db

_ON_COMMIT = "consultations.remove_files_on_commit"
_ON_ROLLBACK = "consultations.remove_files_on_rollback"


def remove_after_commit(stored_names: Iterable[str]) -> None:
    """Delete these stored files once the current transaction commits (kept if it rolls back)."""
    db.session.info.setdefault(_ON_COMMIT, []).extend(stored_names)


def remove_after_rollback(stored_names: Iterable[str]) -> None:
    """Delete these freshly written files if the current transaction rolls back."""
    db.session.info.setdefault(_ON_ROLLBACK, []).extend(stored_names)


@event.listens_for(FlaskSqlaSession, "after_commit")
def _committed(session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for name in session.info.pop(_ON_COMMIT, []):
        documents.remove_stored(name)


@event.listens_for(FlaskSqlaSession, "after_rollback")
def _rolled_back(session) -> None:
    session.info.pop(_ON_COMMIT, None)
    for name in session.info.pop(_ON_ROLLBACK, []):
        documents.remove_stored(name)
