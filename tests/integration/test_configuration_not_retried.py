"""A configuration error is not transient: a block saved through Prefect's API with a value out of its bounds (around
the UI's form and the CLI's checks) stops the run at its first attempt, in one line naming the block, the field and
what it takes. Retried, an e-invoicing block with `parallel_deposits` 0 held the run two more attempts (the
load-settings task's retries) before that line. A fault of the world still gets its retries."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.seller import Seller
from blocks.storage import ObjectStorage
from blocks.terms_block import PolicyTerms

pytestmark = pytest.mark.prefect

IN_THE_UI = ": correct it in the UI (Blocks)"
ROOT = Path(__file__).resolve().parents[2]


def _saved_around_the_form(block_type, **values) -> None:
    """A document written as the API takes it: the values set past the block's own validation."""
    block = block_type()
    for field, value in values.items():
        object.__setattr__(block, field, value)
    block.save("lifecycle", overwrite=True)


def _attempts_of_load_settings(flow_run_id) -> list[int]:
    """How many times each load-settings task run of the flow run was tried (its run_count), once the server has
    recorded it: Prefect's server records task runs from their events, a moment after the flow run itself ends
    (a loaded machine saw none yet), so it is read until the task run is there in a final state (2 minutes at most)."""
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="load-settings")))
            if (runs and all(run.state is not None and run.state.is_final() for run in runs)) \
                    or time.monotonic() > deadline:
                return [run.run_count for run in runs]
            time.sleep(0.5)


def _latest_einvoicing_run():
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["e-invoicing"])),
                                      sort=FlowRunSort.START_TIME_DESC, limit=1)
    return run


@pytest.mark.parametrize("block_type, values, line", [
    (EInvoicing, {"parallel_deposits": 0}, "the e-invoicing block 'lifecycle': parallel_deposits: Input should be "
     "greater than or equal to 1 (given 0; it takes from 1 to 16)"),
    (EInvoicing, {"parallel_deposits": -1}, "the e-invoicing block 'lifecycle': parallel_deposits: Input should be "
     "greater than or equal to 1 (given -1; it takes from 1 to 16)"),
    (EInvoicing, {"parallel_deposits": 10000}, "the e-invoicing block 'lifecycle': parallel_deposits: Input should be "
     "less than or equal to 16 (given 10000; it takes from 1 to 16)"),
    (Notifications, {"smtp_port": 0}, "the lifecycle-notifications block 'lifecycle': smtp_port: Input should be greater than "
     "or equal to 1 (given 0; it takes from 1 to 65535)"),
    (ObjectStorage, {"multipart_chunk_mb": 4}, "the lifecycle-object-storage block 'lifecycle': multipart_chunk_mb: Input "
     "should be greater than or equal to 5 (given 4; it takes from 5 to 5120)"),
    (Seller, {"payment_link_template": "https://pay.example.com/{0}"}, "the seller block 'lifecycle': "
     "payment_link_template: '{0}' is not a field of a payment link"),
    (PolicyTerms, {"earliest_date": date(2027, 6, 1)}, "the policy-terms block 'lifecycle': earliest_date: 2027-06-01 "
     "lies after today (2026-12-06)"),
], ids=["deposits-0", "deposits-minus-1", "deposits-10000", "mail-port-0", "storage-part-4mb", "seller-link",
        "terms-earliest-date"])
def test_a_block_saved_with_a_value_out_of_bounds_fails_the_run_at_once_in_one_line(prefect_server, home, ledger,
                                                                                   monkeypatch, block_type, values,
                                                                                   line):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    _saved_around_the_form(block_type, **values)
    try:
        # in a process of its own, as a deployment's run is: its task runs reach the server through Prefect's
        # process-wide events worker, which an earlier test of this worker process may have left pointed at
        # another address (a command refused against one where nothing listens); the server then never recorded
        # the task runs (5 of 14 cases failed in the whole suite, none alone)
        run = subprocess.run([sys.executable, "-c", "from datetime import date\nfrom flows.einvoicing import "
                              "einvoicing\neinvoicing(as_of=date(2026, 12, 6))"],
                             env={**os.environ, "PREFECT_API_URL": prefect_server, "PYTHONPATH": str(ROOT)},
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        block_type.delete("lifecycle")
    assert run.returncode != 0, run.stderr[-2000:]
    raised = [said for said in run.stderr.splitlines() if said.startswith("blocks.settings.BlockInvalid: ")]
    assert raised, run.stderr[-2000:]
    said = raised[-1].removeprefix("blocks.settings.BlockInvalid: ")
    assert said.startswith(line) and said.endswith(IN_THE_UI) and "\n" not in said, said
    run = _latest_einvoicing_run()
    assert run.state.is_failed() and run.state.message.startswith(line)
    assert _attempts_of_load_settings(run.id) == [1]  # never tried again: the same block would be read again


def test_a_fault_of_the_world_is_still_retried_and_a_configuration_error_is_not(prefect_server):
    """The retry condition itself, on tasks of a real run: a server that does not answer (ConnectionError) gets
    the task's retries and passes at its third attempt; a Refusal or a Misconfigured variable gets one attempt."""
    from prefect import flow, task

    from blocks.settings import BlockInvalid
    from lifecycle_config import Misconfigured
    from tasks.runtime import retry_unless_configuration

    attempts: list[str] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_unless_configuration)
    def reads(fault: str) -> str:
        attempts.append(fault)
        if fault == "server down" and len(attempts) < 3:
            raise ConnectionError("the server at 127.0.0.1:1 does not answer")
        if fault == "block":
            raise BlockInvalid("the e-invoicing block 'lifecycle': parallel_deposits: out of bounds")
        if fault == "variable":
            raise Misconfigured("LIFECYCLE_STORAGE_URL='x' is not a storage URL")
        return "read"

    @flow
    def reading(fault: str) -> str:
        return reads(fault)

    assert reading("server down") == "read" and attempts == ["server down"] * 3
    for fault, kind in (("block", BlockInvalid), ("variable", Misconfigured)):
        attempts.clear()
        with pytest.raises(kind):
            reading(fault)
        assert attempts == [fault]


def test_a_flow_with_retries_that_meets_a_configuration_error_is_not_run_again(prefect_server):
    """`backup-shard` and `verify-shard` retry once (30 s later) on a failure; a key store set to what cannot be used
    (lifecycle_config.Misconfigured: the master key's KMS key disabled) was met again by that retry, after a
    traceback. Under refusals_fail_quietly it ends the run at once in its one line, as a refusal does; a fault of
    the world still gets the flow's retry."""
    from prefect import flow

    from lifecycle_config import Misconfigured
    from tasks.runtime import refusals_fail_quietly

    attempts: list[str] = []

    @flow(retries=1, retry_delay_seconds=0)
    @refusals_fail_quietly
    def shard(fault: str) -> str:
        attempts.append(fault)
        if fault == "key store":
            raise Misconfigured("the master key's KMS key k-1 is Disabled, not Enabled: enable it")
        if fault == "server down" and len(attempts) < 2:
            raise ConnectionError("the store at 127.0.0.1:1 does not answer")
        return "done"

    with pytest.raises(Misconfigured, match="is Disabled, not Enabled"):
        shard("key store")
    assert attempts == ["key store"]
    attempts.clear()
    assert shard("server down") == "done" and attempts == ["server down"] * 2
