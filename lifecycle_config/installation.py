"""Which installation a run or a server belongs to: the rule that keeps one installation off another's data.

Every ledger holds one identity (a UUID, table `installation`). `lifecycle up` and `lifecycle deploy`
register it on their Prefect server (a Prefect Variable) and tag every deployment with it, so every run
the server starts (UI, schedule, `lifecycle run`, `run_deployment`) carries the identity of the ledger it
was meant for; whoever starts a run adds its own ledger's tag as well. Two rules follow, both plain:

- a run is refused when any identity it carries is not the ledger's that would execute it (a worker
  of another installation, or an in-process run whose ledger is not the server's);
- a command refuses a server whose registered identity is not its own ledger's: it would dispatch to
  that server's worker and read that server's blocks (terms, seller, secrets, storage, mail).

A run or server that carries no identity (a temporary server, a deployment applied by an older release)
is accepted: there is nothing to compare, and such a server has no other installation's worker.
This module is a leaf (no Prefect, no database), so the rule is tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable

#: the tag of a run (and of a deployment) meant for one installation: TAG_PREFIX + its id
TAG_PREFIX = "lifecycle-installation:"
#: the Prefect Variable in which a server records the installation its deployments and worker serve
VARIABLE = "lifecycle_installation"


def tag(installation_id: str) -> str:
    return f"{TAG_PREFIX}{installation_id}"


def claimed(tags: Iterable[str] | None) -> set[str]:
    """The installation ids a run's (or a deployment's) tags name."""
    return {value[len(TAG_PREFIX):] for value in (tags or ()) if value.startswith(TAG_PREFIX)}


def with_tag(tags: Iterable[str] | None, installation_id: str) -> list[str]:
    """`tags` naming `installation_id` and no other installation (a deployment re-tagged by `up`)."""
    kept = [value for value in (tags or ()) if not value.startswith(TAG_PREFIX)]
    return kept + [tag(installation_id)]


def foreign_run(claims: Iterable[str], own: str, *, home: str) -> str | None:
    """Why a run carrying `claims` must not run on the ledger whose identity is `own` (None: it may)."""
    others = sorted(set(claims) - {own})
    if not others:
        return None
    return (f"this run is meant for installation {', '.join(others)}, but this ledger (LIFECYCLE_HOME {home}) is "
            f"installation {own}: nothing was done; start it from that installation's own server")


def foreign_server(registered: str | None, own: str, *, api_url: str, home: str) -> str | None:
    """Why a command of installation `own` must not use the server at `api_url`, which registered the
    installation `registered` (None: it may)."""
    if registered is None or registered == own:
        return None
    return (f"the Prefect server at {api_url} serves installation {registered}, not this ledger's {own} "
            f"(LIFECYCLE_HOME {home}): nothing was done; point PREFECT_API_URL at this installation's own server "
            f"(or unset it and run `lifecycle up` here), or use the LIFECYCLE_HOME and ledger that server serves")
