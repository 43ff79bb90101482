"""What a task needs to know about the run it is part of: its id, the business date, and whether that
date is one a person meant.

Scheduled flows take their business date from the run's scheduled time in Paris, never from
`now()`, so a run that starts late (or is retried tomorrow) still does yesterday's work. A date
typed by a person that lies ahead of today is refused unless they say why (`force_reason`), and
the audit log keeps that reason.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from datetime import date, timezone

from ledger import audit
from ledger.db import session_scope
from lifecycle_config import clock
from lifecycle_config.conditions import is_world_condition, one_line
from lifecycle_config.streams import outlive_the_reader
from policy.calendar import paris_date, today_paris
from policy.refusals import Refusal  # the family every task's refusal derives from (tasks import it from here)


class DateRefused(Refusal, ValueError):
    """A business date or month that lies ahead: refused unless a reason is given."""


class TextRefused(Refusal, ValueError):
    """A text a person typed into a run's form (who asks, why, a comment) that the audit log, a document or a
    terminal must not receive: a control or invisible character, or longer than its bound."""


#: the bounds of the texts of the forms, as the CLI's options have them (lifecycle/cli/run_options.py)
NAME_LENGTH, REASON_LENGTH, COMMENT_LENGTH = 120, 500, 2000


def check_texts(**named: tuple[str | None, int]) -> None:
    """Each `name=(value, max_length)` typed in a form is a text of at most that length without control or
    invisible characters (policy.text, as an import's cell and a CLI option); a comment may hold line breaks.
    An empty value is left to the flow (some texts are optional). One line naming the parameter."""
    from policy.text import text_problem

    for name, (value, max_length) in named.items():
        if value is None or value == "":
            continue
        problem = text_problem(value, max_length, lines=max_length >= COMMENT_LENGTH)
        if problem and problem != "is empty":
            raise TextRefused(f"{name} {problem}")


class IdRefused(Refusal, ValueError):
    """An id typed into a run's form (a customer, an invoice, a backup, a ticket) that is no id of the grammar
    the interface documents (policy.ids): refused at the run's start, as the CLI's option would be."""


def check_ids(**named) -> None:
    """Each `name=value` of a form is an id (policy.ids), or a list of ids; None (not given) is left to the
    flow. One line naming the parameter by its form name, the value cut short (policy.text.quoted)."""
    from policy.ids import id_problem
    from policy.text import quoted

    for name, value in named.items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if one is None:
                continue
            problem = id_problem(one) if isinstance(one, str) else "an id is a text"
            if problem:
                shown = quoted(one) if isinstance(one, str) else repr(one)[:40]
                raise IdRefused(f"{name} {shown}: {problem}")


def check_month_form(month, name: str = "month") -> None:
    """A month of a form is YYYY-MM (digits 0-9): refused at the run's start in one line naming the parameter,
    the value cut short, before any setting is read (the window is `check_month_window`'s, once they are)."""
    from policy.calendar import parse_month

    if month is None:
        return
    try:
        parse_month(month) if isinstance(month, str) else parse_month(repr(month)[:40])
    except ValueError as error:
        raise DateRefused(f"{name}: {error}") from None


class NumberRefused(Refusal, ValueError):
    """A number typed into a run's form (how long to wait, how many) outside its bounds, or no number at all
    (NaN, infinity): refused before anything else is read or written."""


#: how long an approval form may wait, in hours: from one minute to 90 days (a pause of -1 h, NaN or infinity is
#: no wait a person meant, and the server's timer takes none of them)
APPROVAL_HOURS = (1 / 60, 90 * 24)


def check_number(name: str, value, low: float, high: float, *, what: str) -> None:
    """A number of a form lies from `low` to `high` (finite: NaN compares false with both); `what` says in words
    which numbers are taken, for the one line of the refusal."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise NumberRefused(f"{name}: {value!r} is out of range: {what}")


def check_approval_hours(value) -> None:
    """`approval_timeout_hours` of a form that waits for a person's answer (APPROVAL_HOURS)."""
    check_number("approval_timeout_hours", value, *APPROVAL_HOURS,
                 what="a number of hours from 0.0167 (one minute) to 2160 (90 days)")


#: what Prefect's engine logs, at ERROR with the traceback, when a run on a worker ends Failed: the result of
#: its Failed state is raised again at the end of the run (prefect.flow_engine.run_flow's error_logger)
ENGINE_EXIT = "Engine execution exited with unexpected exception"


class _WorldInOneLine(logging.Filter):
    """A run's log record of a refusal or a condition of the world (Prefect's "Task run failed with exception:
    ...") keeps its one line and drops the traceback: the asker reads the reason, ops read what and where,
    and a traceback stays the mark of a bug. A refusal is recognised by its class (Refusal), whatever its
    name. On a worker, the engine's ENGINE_EXIT after a run that refusals_fail_quietly ended Failed is no
    crash: a refusal's is dropped (the run said `refused: ...`, and its state carries the line), a
    condition of the world's says its one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if error is None or not (isinstance(error, Refusal) or is_world_condition(error) or is_configuration_error(error)
                                 or isinstance(error, known_outcomes())):  # a known outcome: one line too
            return True
        record.exc_info, record.exc_text = None, None
        if record.msg == ENGINE_EXIT:
            if isinstance(error, Refusal):
                return False
            record.msg, record.args = one_line(error), None
        return True


for _logger in ("prefect.task_runs", "prefect.flow_runs"):
    logging.getLogger(_logger).addFilter(_WorldInOneLine())

if os.environ.get("PREFECT__FLOW_RUN_ID"):
    # a run a worker started (the flow's module is loaded before the run begins): the worker's death must
    # not crash it at its next console line (lifecycle_config.streams). Runs in process keep their console.
    outlive_the_reader()


def known_outcomes() -> tuple[type[BaseException], ...]:
    """What a sweep meets on one customer that is no bug, though neither a refusal (policy.refusals: the
    asker's mistake) nor a condition of the world (lifecycle_config.conditions): the platform's or the store's
    answer, a backup damaged, deleted or unreadable just now, a stored document that differs from the
    ledger's, a backup's data key destroyed or damaged in the key store, or a master key file that does not
    hold its wrapping key. Each stays its own class on purpose: none is the asker's to fix, so none exits 2
    as a Refusal does (lifecycle.cli.errors says why, for the command line). Imported when a failure is met:
    they bring the invoice document's and the backup format's modules, which most runs never load."""
    from blocks.platform import PlatformError
    from blocks.storage import StorageError
    from lifecycle_config.masterkey import MasterKeyMissing
    from operations.backup_archive import BackupGone, BackupUnreadable, CorruptBackup
    from operations.backup_keys import KeyDestroyed
    from operations.invoice_documents import DocumentRefused

    return (PlatformError, StorageError, BackupGone, BackupUnreadable, CorruptBackup, DocumentRefused, KeyDestroyed,
            MasterKeyMissing)


def is_configuration_error(error: BaseException) -> bool:
    """Whether a failure is the configuration's or the asker's, which the same run meets again however often it
    is tried: a Refusal (a saved block out of its bounds, blocks.settings.BlockInvalid, among them), a LIFECYCLE_*
    variable or a key store set to what cannot be used (lifecycle_config.Misconfigured). A fault of the world (a
    network, a server down) is not: it may be gone by the next attempt."""
    from lifecycle_config import Misconfigured

    return isinstance(error, (Refusal, Misconfigured))


def retry_unless_configuration(_task, _task_run, state) -> bool:
    """A task's `retry_condition_fn`: retry a failure unless it is a configuration error (is_configuration_error).
    Retried, a block with `parallel_deposits` 0 held the e-invoicing run two more attempts before the one line
    that names it; the world's faults still get their retries."""
    error = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    return error is None or not is_configuration_error(error)


def log_bug(what: str, error: BaseException) -> None:
    """One customer's failure that a sweep reports and goes past: when it is a bug (neither a condition of the
    world, a refusal nor a known outcome), the run's log keeps its traceback here, where it happened; the
    run's one-line failure names it."""
    if is_world_condition(error) or isinstance(error, (Refusal, *known_outcomes())):
        return
    try:
        from prefect import get_run_logger

        logger = get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run (a test calling the task's function)
        logger = logging.getLogger(__name__)
    logger.error("%s: a bug, not a condition of the world", what, exc_info=(type(error), error, error.__traceback__))


def refusals_fail_quietly(flow_function):
    """Under @flow: a Refusal ends the run in a Failed state named "Refused" carrying the reason, instead of
    an exception Prefect logs with its traceback; callers (the CLI in process) still get the Refusal. Every
    flow starts here, so this is where a run meant for another installation's ledger is refused, before
    the flow reads or writes anything. A condition of the world (lifecycle_config.conditions: a store down,
    a disk full, a refused permission) or a known outcome (`known_outcomes`: a backup damaged, a data key
    destroyed) ends it Failed with its one line as the state's message (what the ops alert quotes), again
    without a traceback; anything else is a bug and keeps its traceback."""

    @functools.wraps(flow_function)
    def run(*args, **kwargs):
        from prefect.states import Failed

        try:
            refuse_another_installations_run()
            return flow_function(*args, **kwargs)
        except Refusal as refusal:  # a number the ledger refuses (OutOfOrder) among them
            print(f"refused: {refusal}")
            refusal_is_final()
            return Failed(name="Refused", message=str(refusal), data=refusal)
        except Exception as error:
            if is_configuration_error(error):  # a LIFECYCLE_* variable or a key store that cannot be used: as final
                print(one_line(error))          # as a refusal (a shard's retry 30 s later met it again), one line
                refusal_is_final()
                return Failed(message=one_line(error), data=error)
            if not is_world_condition(error) and not isinstance(error, known_outcomes()):
                raise  # a bug: Prefect logs it with its traceback
            # the world, or a known outcome (a backup damaged, a key destroyed): no bug, one line, which the
            # ops alert carries
            print(one_line(error))
            return Failed(message=one_line(error), data=error)

    # Prefect reads the parameters' types from the signature: give it the flow's, with its annotations
    # resolved in the flow's own module (this wrapper's module knows none of its types)
    del run.__wrapped__
    run.__signature__ = inspect.signature(flow_function, eval_str=True)
    return run


def refusal_is_final() -> None:
    """A refused run is not retried: the same parameters would be refused again. Prefect's server retries a
    flow run on any move from Running to Failed while its policy has retries left (RetryFailedFlows, in
    prefect.server.orchestration.core_policy: a Failed state the flow returns included, and flows take no
    retry condition); a refused shard (`backup-shard`, `verify-shard`: retries=1) was thus run again 30 s
    later, and an in-process caller saw its run unfinished. So the run's own policy is told, before its
    Failed state is proposed, that no retry is left: the refusal is its last word."""
    from uuid import UUID

    from prefect import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if not run_id:
        return
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(run_id)))
        policy = run.empirical_policy
        if policy.retries:
            client.update_flow_run(run.id, empirical_policy=policy.model_copy(update={"retries": 0}))


def registered_installation() -> str | None:
    """The installation the Prefect server of this process says it serves (set by `lifecycle up`/`deploy`)."""
    from prefect import get_client

    from lifecycle_config.installation import VARIABLE

    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(VARIABLE)
    return str(variable.value) if variable is not None and variable.value else None


def served_record() -> dict | None:
    """What the Prefect server of this process records its worker serves (`lifecycle up`/`deploy`): the
    installation, where its ledger is, the configuration it runs with; None when it records nothing."""
    from prefect import get_client

    from lifecycle_config.installation import SERVED_VARIABLE

    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(SERVED_VARIABLE)
    value = variable.value if variable is not None else None
    return value if isinstance(value, dict) else None


def installation_tags() -> list[str]:
    """What a run started from here carries (`run_deployment`): the identity of this process's ledger and
    where it is, so a worker serving another ledger (or this one's copy elsewhere) refuses it."""
    import lifecycle_config
    from ledger.installation import installation_id
    from lifecycle_config.installation import ledger_location, location_tag, tag

    return [tag(installation_id()), location_tag(ledger_location(lifecycle_config.database_url()))]


def refuse_another_installations_run() -> None:
    """Refuse a run meant for another ledger than this process's: the installations its tags name (the
    deployment's, its starter's) or, for a deployment run with none (a deployment applied before
    identities existed), the one its server registered; and the ledger locations its tags name (a copy of
    this installation elsewhere shares its identity, not its place). A run without any (in process) is this
    ledger's."""
    from prefect.runtime import deployment, flow_run

    import lifecycle_config
    from ledger.installation import installation_id
    from lifecycle_config.installation import (claimed, claimed_locations, foreign_location, foreign_run,
                                               ledger_location)

    home = str(lifecycle_config.home())
    claims = claimed(flow_run.tags)
    if not claims and deployment.id:
        registered = registered_installation()
        claims = {registered} if registered else set()
    # another installation first (the identity says most); then this installation's copy, or original, elsewhere
    problem = (foreign_run(claims, installation_id(), home=home) if claims else None) or foreign_location(
        claimed_locations(flow_run.tags), ledger_location(lifecycle_config.database_url()), home=home)
    if problem:
        raise Refusal(problem)


def flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    value = flow_run.id
    return str(value) if value else None


def actor(default: str = "flow") -> str:
    from prefect.runtime import flow_run

    name = flow_run.flow_name
    return f"flow:{name}" if name else default


STARTED_BY = "started-by:"  # the tag `lifecycle run` gives a deployment run: the login that started it


def login() -> str:
    """The user's login on this machine ("unknown" when the system has no name for it)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def started_by() -> str:
    """Who started this run, in words an auditor reads: the deployment's schedule, `lifecycle run` and its
    user's login, or the Prefect UI/API (its user when the server knows one); in this process when no
    deployment runs it (`lifecycle run` without a worker, or a test)."""
    from uuid import UUID

    from prefect.runtime import deployment, flow_run

    if not flow_run.id or not deployment.id:
        return f"lifecycle run by {login()} (in its own process)"
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run.id)))
    starter = next((tag[len(STARTED_BY):] for tag in run.tags or () if tag.startswith(STARTED_BY)), None)
    if run.auto_scheduled:
        return f"the schedule of deployment {deployment.name}"
    if starter:
        return f"lifecycle run by {starter} (deployment {deployment.name})"
    if run.created_by is not None and run.created_by.display_value:
        return f"{run.created_by.display_value} ({run.created_by.type}, deployment {deployment.name})"
    return f"the Prefect UI or API (deployment {deployment.name})"


def business_date(as_of: date | None) -> date:
    """`as_of`, else the Paris day of the run's scheduled time: a late run does its own day's work. A
    scheduled run started ahead of its time (moved to now in the UI) works for today, never ahead. Both
    instants are read on the product's clock (a LIFECYCLE_TODAY moves the scheduled time by as many days)."""
    if as_of is not None:
        return as_of
    from prefect.runtime import flow_run

    now = clock.now()
    scheduled = flow_run.scheduled_start_time
    if scheduled is not None:
        scheduled = scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=timezone.utc)
        return paris_date(min(clock.moved(scheduled), now))
    return paris_date(now)


def check_date(problem: str | None, *, force_reason: str | None, what: str, engine=None) -> None:
    """Refuse a run whose date is ahead of today (`problem`), unless `force_reason` says why; an
    override is written to the audit log with its reason."""
    check_texts(force_reason=(force_reason, REASON_LENGTH))
    if problem is None:
        return
    reason = (force_reason or "").strip()
    if not reason:
        raise DateRefused(f"{problem}: refused (a typo?); to run it anyway give --force with --reason "
                          f"(force_reason in the form)")
    with session_scope(engine, write=True) as session:
        audit.record(session, "date_check_overridden", customer_id=None, before=None,
                     after={"run": what, "problem": problem, "reason": reason, "today": today_paris()},
                     actor=actor(), flow_run_id=flow_run_id())


def check_window(terms, *, past_only: bool = False, **named) -> None:
    """The dates a run was given (a deployment's form, typed in the UI) lie in the window a command's options
    do (policy.window: earliest_date to horizon_days after today, from the terms), whatever else the run
    allows with a reason: a date outside it is a typo or an attack, never forced. `named` maps each
    parameter's name to its value (None: not given); `past_only` for facts of the past (no later than
    today). One line naming the parameter and the window, as the CLI's `--as-of ...` line."""
    from policy.window import DateWindow

    window = DateWindow.of(terms)
    for name, value in named.items():
        problem = window.problem(value, past_only=past_only) if value is not None else None
        if problem:
            raise DateRefused(f"{name} {problem}")


def check_month_window(terms, month: str, name: str = "month") -> None:
    """A month given to a run: of the form YYYY-MM (digits 0-9) and overlapping the window, as `--month` is."""
    from policy.calendar import parse_month
    from policy.window import DateWindow

    try:
        parse_month(month)
    except ValueError as error:
        raise DateRefused(f"{name}: {error}") from None
    problem = DateWindow.of(terms).month_problem(month)
    if problem:
        raise DateRefused(f"{name}: {problem}")


def flow_run_gone(flow_run_id: str) -> bool:
    """Whether Prefect says this flow run is over (so a lock it left may be taken over). Unknown to this
    server (a temporary server of another `lifecycle run`) or unreachable: not gone, to be safe."""
    try:
        from uuid import UUID

        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
    except Exception:  # noqa: BLE001 - no answer is no evidence
        return False
    return run.state is not None and run.state.is_final()
