"""Copies of the terms runs used: the record of which numbers priced what, and what `show terms` reads."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import insert_if_missing, now
from ledger.models import TermsCopy
from policy.terms import Terms


def terms_document(terms: Terms) -> dict:
    return terms.model_dump(mode="json")


def remember_terms(session: Session, terms: Terms, source: str) -> TermsCopy:
    document = terms_document(terms)
    fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    stamp = now()
    # two runs starting together with new terms (a close and the arrears sweep, say) must not both insert
    insert_if_missing(session, TermsCopy, fingerprint=fingerprint, terms=document, first_used_at=stamp,
                      last_used_at=stamp, source=source)
    copy = session.scalar(select(TermsCopy).where(TermsCopy.fingerprint == fingerprint)
                          .execution_options(populate_existing=True))
    copy.last_used_at, copy.source = stamp, source
    return copy


def latest_terms(session: Session) -> Terms:
    """The terms the most recent run used, else the defaults: what work done without a Prefect server applies."""
    copy = latest_copy(session)
    return Terms(**copy.terms) if copy is not None else Terms()


def latest_copy(session: Session) -> TermsCopy | None:
    """The terms the most recent run used: what commands that run without a Prefect server apply and show."""
    return session.scalars(select(TermsCopy).order_by(TermsCopy.last_used_at.desc(), TermsCopy.id.desc())).first()
