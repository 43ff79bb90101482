"""`lifecycle run COMMAND`: a flow run now, followed until it ends.

RUNS is the one table of the run commands: each row names the command, the deployment it runs as (on the
worker of `lifecycle up`, when one serves it), the flow function it runs in this process otherwise (as
`module:function`, prefect.yaml's entrypoint with dots; imported only then, so the CLI starts without
Prefect), what it asks (its options, checked, turned into the flow's parameters: run_options), the type of
its result (`module:Type`, an operations.results.RunResult: the flow returns its summary(), the printer reads
it rebuilt, in process or from the server alike) and what it prints of it (run_printers). Adding a run
command is one row, one `ask`, one result type and one printer; the tests check every row against
prefect.yaml.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

import typer

from lifecycle.cli import run_options as ask
from lifecycle.cli import run_printers as show
from lifecycle.cli.common import fail, ledger, note, refuse_in_a_client_home
from lifecycle.cli.serve import prefect_ready
from lifecycle.help_format import ReadableHelp


@dataclass(frozen=True)
class RunCommand:
    name: str                              # lifecycle run NAME
    deployment: str                        # FLOW-NAME/DEPLOYMENT-NAME, as prefect.yaml and the server know it
    flow: str                              # the flow function, module:function, run here when no worker serves it
    ask: Callable[..., dict]               # the command's options (signature and help) -> the flow's parameters
    result: str                            # the result's type, module:Type (an operations.results.RunResult)
    show: Callable[[Any, dict], None]      # prints the result typed, given the command's options

    def flow_function(self) -> Callable[..., dict]:
        return _named(self.flow)

    def result_type(self) -> type:
        return _named(self.result)


def _named(where: str):
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


RUNS = (
    RunCommand("standby-expiry", "standby-expiry/standby-expiry", "flows.standby:standby_expiry",
               ask.standby_expiry, "operations.standby:StandbySwept",
               show.standby_expiry),
    RunCommand("standby-request", "standby-request/standby-request", "flows.standby:request_standby",
               ask.standby_request, "operations.standby:StandbyAsked",
               show.standby_request),
    RunCommand("monthly-close", "monthly-close/monthly-close", "flows.monthly_close:monthly_close",
               ask.monthly_close, "operations.close_report:Closed",
               show.monthly_close),
    RunCommand("arrears", "arrears-escalation/arrears-escalation", "flows.arrears:arrears_escalation",
               ask.arrears, "operations.arrears:ArrearsSwept",
               show.arrears),
    RunCommand("commitments", "commitments/commitments", "flows.commitments:commitments",
               ask.commitments, "operations.commitments:Looked",
               show.commitments),
    RunCommand("e-invoicing", "e-invoicing/e-invoicing", "flows.einvoicing:einvoicing",
               ask.einvoicing, "operations.einvoicing_documents:EinvoicingDone",
               show.einvoicing),
    RunCommand("cancel", "cancellation-request/cancellation-request", "flows.cancellation:cancellation_request",
               ask.cancel, "operations.cancellation:LetterRecorded",
               show.cancel),
    RunCommand("cancellations", "cancellations/cancellations", "flows.cancellation:cancellations",
               ask.cancellations, "operations.cancellation:CancellationsDone",
               show.cancellations),
    RunCommand("export", "billable-export/billable-export", "flows.exports:billable_export",
               ask.export, "operations.export:Exported",
               show.export),
    RunCommand("backup", "nightly-backup/nightly-backup", "flows.backup:nightly_backup",
               ask.backup, "operations.backup:NightDone",
               show.backup),
    RunCommand("verify-backups", "verify-backups/verify-backups", "flows.backup:verify_backups",
               ask.verify_backups, "operations.drill:Drilled",
               show.verify_backups),
    RunCommand("send-invoices", "send-invoices/send-invoices", "flows.invoices:send_invoices",
               ask.send_invoices, "operations.send_invoices:SentInvoices",
               show.send_invoices),
    RunCommand("credit-note", "credit-note/credit-note", "flows.corrections:issue_credit_note",
               ask.credit_note, "operations.corrections:CreditNoted",
               show.credit_note),
    RunCommand("refund", "refund/refund", "flows.corrections:refund",
               ask.refund, "operations.corrections:Refunded",
               show.refund),
    RunCommand("restore", "restore-backup/restore-backup", "flows.restore:restore_backup",
               ask.restore, "operations.restore:Restored",
               show.restore),
    RunCommand("e-reporting", "e-reporting/e-reporting", "flows.e_reporting:e_reporting",
               ask.e_reporting, "operations.einvoicing_payments:EReported",
               show.e_reporting),
)
RUN_COMMANDS = {command.name: command for command in RUNS}


def run_flow(command: RunCommand, parameters: dict):
    """Run a command's flow: as a run of its deployment on the worker of `lifecycle up` (followed here) when
    there is one, else in this process. A refused request exits 2 with its reason, a failed run 1. Given
    the master key's escrow copy (--master-key-file), it runs in this process, which reads that file: a
    worker elsewhere would not have it."""
    engine = ledger()
    prefect_ready()
    from lifecycle import runner
    from lifecycle_config import Misconfigured, masterkey
    from lifecycle_config.conditions import one_line
    from policy.refusals import Refusal

    parameters = dict(parameters)
    escrow = parameters.pop(ask.MASTER_KEY_FILE, None)
    if escrow:
        import os

        os.environ[masterkey.VARIABLE] = escrow
    target = runner.route(command.deployment)
    if escrow and target.deployment_id:
        note(f"note: runs in this process, which reads the master key file {escrow} (not on the worker)")
        target = runner.Route(None, None)
    if not target.deployment_id:  # a client home's own settings are not the installation's (storage, keys, mail)
        why = target.note or ("it reads the master key file given" if escrow else "no deployment of it on the server")
        refuse_in_a_client_home(engine, f"`lifecycle run {command.name}` would run in this process ({why}), with this "
                                        f"home's own storage, key files and settings")
    if target.deployment_id:
        wanted = {name: value.isoformat() if isinstance(value, date) else value
                  for name, value in parameters.items() if value is not None}
        try:
            return runner.run_and_follow(target, wanted, echo=note)
        except runner.RunFailed as error:
            fail(str(error), 2 if error.refused else 1)
    if target.note:
        note(f"note: {target.note}")
    try:
        return command.flow_function()(**parameters)
    except Refusal as refusal:
        fail(str(refusal), 2)
    except masterkey.MasterKeyMissing as error:  # the home's master key lost: give its escrow copy
        fail(str(error), 2)
    except Misconfigured as error:  # a setting the user must change: another installation's store among them
        fail(one_line(error), 2)
    except Exception as error:  # the flow's own failure, already recorded in Prefect
        from lifecycle_config.conditions import is_world_condition

        fail(one_line(error) if is_world_condition(error) else f"{type(error).__name__}: {error}")


def _typer_command(command: RunCommand):
    """The command as typer sees it: `ask`'s signature and docstring; it asks, runs, then prints."""

    @functools.wraps(command.ask)
    def typed(**options):
        result = run_flow(command, command.ask(**options))
        if result is not None:
            try:
                typed_result = command.result_type().from_summary(result)
            except ValueError as error:  # a flow and its result type that drifted apart: a bug, said in one line
                fail(str(error))
            command.show(typed_result, options)

    return typed


run_app = typer.Typer(no_args_is_help=True, cls=ReadableHelp,
                      help="Run a flow now and wait for it: on the worker of `lifecycle up` when it runs, else in "
                           "this process.")
for _command in RUNS:
    run_app.command(_command.name)(_typer_command(_command))
