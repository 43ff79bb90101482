"""This ledger's identity (table `installation`): made by the migration that creates the table, or at
first use for a ledger whose row is missing (emptied by a test, a snapshot from before it existed)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ledger.db import insert_if_missing, now, session_scope
from ledger.models import Installation


def installation_id(engine=None) -> str:
    """The ledger's installation id, made once if it has none (two first uses agree: one row only)."""
    with session_scope(engine) as session:
        found = session.scalar(select(Installation.id))
    if found:
        return found
    with session_scope(engine, write=True) as session:
        insert_if_missing(session, Installation, only_row=True, id=str(uuid.uuid4()), created_at=now())
    with session_scope(engine) as session:
        return session.scalar(select(Installation.id))


# --- which home serves this ledger (table `ledger_claim`) --------------------------------------------------------

def this_home() -> tuple[str, str]:
    """This process's home and host, as a claim names them: the home's resolved path, the machine's name (the
    same path on two machines is two homes)."""
    import socket

    import lifecycle_config as config

    return str(config.home().resolve()), socket.gethostname()


def claim_of(engine=None) -> dict | None:
    """The ledger's claim (home, host, api_url, pid, claimed_at, how), or None when no home claimed it yet. A
    database without the table (not a ledger, or not migrated yet) has none."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ledger.models import LedgerClaim

    try:
        with session_scope(engine) as session:
            row = session.get(LedgerClaim, True)
    except (OperationalError, ProgrammingError) as error:
        if LedgerClaim.__tablename__ in str(error.orig):
            return None
        raise
    if row is None:
        return None
    return {"home": row.home, "host": row.host, "api_url": row.api_url, "pid": row.pid,
            "claimed_at": row.claimed_at, "how": row.how}


class LedgerHeld(RuntimeError):
    """Another home holds the ledger: the one-line reason (lifecycle_config.installation.held_elsewhere)."""


def claim(engine=None, *, how: str, api_url: str | None = None, pid: int | None = None, adopt: bool = False,
          joins_server: bool = False, actor: str = "lifecycle") -> dict:
    """Make this home the one that serves the ledger (`up`: how="up"; `db adopt`: adopt=True, how="adopt").
    Checked and written in one transaction with the row locked, so two homes starting `up` at once on one ledger
    cannot both take it: the second finds the first's claim and gets LedgerHeld (unless `adopt`, or its `up`
    uses the same Prefect server, a server of the installation's own (`joins_server`: PREFECT_API_URL given,
    not a server this `up` starts): one more of its machines). A move from one home to another is kept in the
    audit log."""
    from ledger import audit
    from ledger.models import LedgerClaim
    from lifecycle_config.installation import held_elsewhere

    home, host = this_home()
    with session_scope(engine, write=True) as session:
        insert_if_missing(session, LedgerClaim, only_row=True, home=home, host=host, api_url=api_url, pid=pid,
                          claimed_at=now(), how=how)
        row = session.get(LedgerClaim, True, with_for_update=True, populate_existing=True)
        before = {"home": row.home, "host": row.host}
        if not adopt:
            problem = held_elsewhere({**before, "api_url": row.api_url}, home=home, host=host, ledger=_shown_ledger(),
                                     api_url=api_url if joins_server else None)
            if problem:
                raise LedgerHeld(problem)
        row.home, row.host, row.api_url, row.pid, row.claimed_at, row.how = home, host, api_url, pid, now(), how
        if before != {"home": home, "host": host}:
            audit.record(session, "ledger_adopted" if adopt else "ledger_claimed", customer_id=None, before=before,
                         after={"home": home, "host": host}, actor=actor)
    return {"home": home, "host": host}


def _shown_ledger() -> str:
    import lifecycle_config as config
    from lifecycle_config.installation import without_password

    return without_password(config.database_url())
