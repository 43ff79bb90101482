"""A store that answers too slowly to finish: each transfer ends under its deadline with one line naming the store
and the object, nothing half-done; a Ctrl-C in a transfer ends the command. A real trickling proxy on loopback in
front of moto's server (botocore's read timeout is per read: a byte now and then never trips it)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date

import boto3
import pytest
from sqlalchemy import func, select

from blocks.storage import ObjectStorage, TooSlow
from tests.support.servers import s3_server
from tests.support.slow_store import slow_proxy

#: the proxy's trickle: a byte each 10 ms, and it gives up after 2,000 bytes (a client without a deadline fails at
#: last with "closed the connection", not "too slow", so the tests fail, not hang, without the deadlines)
EVERY, AT_MOST = 0.01, 2000


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint):
    name = f"slow-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=name)
    return name


@pytest.fixture
def proxy(s3_endpoint):
    with slow_proxy(s3_endpoint) as proxy:
        yield proxy


def _storage(bucket: str, proxy) -> ObjectStorage:
    return ObjectStorage(url=f"s3://{bucket}/lifecycle", endpoint_url=proxy.endpoint, region="us-east-1",
                         access_key_id="test", secret_access_key="test")


def _backed_up_to(bucket: str, proxy, tmp_path, monkeypatch):
    """The backup shop (ACME and BETA on a SQLite platform) with ACME backed up to the bucket, through the proxy."""
    from operations.backup import backup_customer
    from tests.support.backup_shop import backup_shop

    shop = backup_shop(tmp_path, monkeypatch, "2026-11-20")
    assert backup_customer("ACME", date(2026, 11, 20), shop.platform, _storage(bucket, proxy),
                           engine=shop.ledger).status == "good"
    return shop


def test_a_trickled_answer_ends_each_transfer_with_one_line_naming_the_store_and_the_object(bucket, proxy,
                                                                                          monkeypatch):
    monkeypatch.setenv("LIFECYCLE_STORAGE_FLOOR_SECONDS", "1")
    store = _storage(bucket, proxy).store()
    store.put_stream("kept.bin", io.BytesIO(b"k" * 100_000))
    proxy.trickle(EVERY, AT_MOST)
    where = f"object storage s3://{bucket}/lifecycle at {proxy.endpoint}"
    with pytest.raises(TooSlow) as read:
        with store.open("kept.bin") as body:
            body.read()
    with pytest.raises(TooSlow) as written:
        store.put_stream("new.bin", io.BytesIO(b"n" * 1000))
    with pytest.raises(TooSlow) as listed:
        store.list("")
    assert str(read.value).startswith(f"{where}: object kept.bin: answered ") and "\n" not in str(read.value)
    assert str(read.value).endswith("too slow to finish (it must move 32 KB/s after 1 s)")
    assert str(written.value).startswith(f"{where}: object new.bin (upload): sent ")
    assert str(listed.value).startswith(f"{where}: the listing of everything: ")
    assert proxy.sent < 3 * AT_MOST  # each ended before the store gave up
    proxy.trickle(EVERY, AT_MOST, after=20_000)  # the answer's head and some of its body at once, then a trickle
    with pytest.raises(TooSlow) as body:
        with store.open("kept.bin") as stream:
            while stream.read(4096):
                pass
    assert str(body.value).startswith(f"{where}: object kept.bin: answered ") and " of 97.7 KB in " in str(body.value)
    proxy.passing()
    assert store.open("kept.bin").read() == b"k" * 100_000  # the store, fast again, is used as before


def test_a_restore_from_a_trickling_store_says_so_in_one_line_restores_and_bills_nothing(tmp_path, monkeypatch,
                                                                                       bucket, proxy):
    from ledger.models import Intervention, RestoreJob
    from lifecycle_config.scratch import scratch_root
    from operations.restore import restore_customer

    shop = _backed_up_to(bucket, proxy, tmp_path, monkeypatch)
    storage = _storage(bucket, proxy)
    monkeypatch.setenv("LIFECYCLE_STORAGE_FLOOR_SECONDS", "1")
    proxy.trickle(EVERY, AT_MOST)
    with pytest.raises(Exception) as refused:
        restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=shop.platform, storage=storage,
                         sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key="r-1",
                         engine=shop.ledger)
    line = str(refused.value)
    assert "\n" not in line and f"s3://{bucket}/lifecycle at {proxy.endpoint}" in line
    assert "too slow to finish" in line and "ACME-20261120" in line and line.endswith("; nothing was restored")
    from ledger.db import session_scope

    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0  # nothing billed
        assert session.scalar(select(func.count()).select_from(RestoreJob).where(RestoreJob.status == "done")) == 0
    assert not (tmp_path / "sandbox.db").exists()  # nothing restored: the sandbox was never made
    assert not [entry for entry in scratch_root().iterdir() if entry.name.startswith(f"{os.getpid()}-")]


def test_ctrl_c_in_a_restore_from_a_trickling_store_ends_the_command_with_one_line(tmp_path, monkeypatch, bucket,
                                                                                  proxy):
    """A Ctrl-C at the terminal (SIGINT to the command's whole process group) while the store trickles the restore's
    first answer, on a run in this process with its temporary Prefect server: the command ends and says one line,
    the store's connection is cut (not held to the trickle's end), nothing is billed. The temporary server heard
    the Ctrl-C too and stopped; the run's Crashed state then went to a server gone, retried for minutes."""
    from ledger.db import session_scope
    from ledger.models import Intervention

    shop = _backed_up_to(bucket, proxy, tmp_path, monkeypatch)
    proxy.trickle(EVERY * 10, AT_MOST)  # 200 s before the store gives up
    env = {**os.environ, "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle", "AWS_ENDPOINT_URL": proxy.endpoint,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": os.getcwd()}
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "run", "restore", "--customer", "ACME",
                                "--target", "sandbox", "--requested-by", "alice", "--ticket", "T-1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while proxy.sent < 5:  # the restore's first answer is trickling
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    said = [line for line in (stdout + stderr).splitlines() if line.startswith("lifecycle: ")]
    assert process.returncode == 130 and said == ["lifecycle: interrupted (Ctrl-C)"], stdout + stderr
    assert proxy.cut_short >= 1 and proxy.sent < AT_MOST
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def test_ctrl_c_in_a_trickled_upload_cuts_its_worker_threads_reads(bucket, proxy, tmp_path):
    """A Ctrl-C in a multipart upload whose answers trickle: boto3's transfer threads (not daemons) blocked in
    their reads held the process until the store finished answering; they are cut, the process ends, and the
    store saw the client go away mid-answer."""
    script = tmp_path / "upload.py"
    script.write_text(
        "import io\n"
        "from blocks.storage import ObjectStorage\n"
        f"store = ObjectStorage(url='s3://{bucket}/lifecycle', endpoint_url='{proxy.endpoint}', region='us-east-1', "
        "access_key_id='test', secret_access_key='test').store()\n"
        "print('uploading', flush=True)\n"
        "store.put_stream('big.bin', io.BytesIO(b'b' * 12_000_000))  # two parts of 8 MB at most\n")
    proxy.trickle(EVERY * 20, AT_MOST)  # each answer takes a minute or more
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert process.stdout.readline() == "uploading\n"
        while proxy.sent < 5:  # the first answer is trickling
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stderr.strip().splitlines()[-1] == "KeyboardInterrupt", stderr
    assert proxy.cut_short >= 1  # the client went away mid-answer: its reads were cut, not waited out


def _export_command(bucket: str, proxy, tmp_path, monkeypatch, trickle: tuple, **extra: str) -> subprocess.Popen:
    """`lifecycle run export` of a shop's month in a process of its own, its store behind the proxy, whose answers
    to the upload trickle (`trickle`: proxy.trickle's arguments). The store is the shop's own already (its marker
    written while the proxy passed): the command's first call, the marker's read, passes; the upload trickles."""
    import operations  # noqa: F401 - sets the store's owner (the installation of the shop's ledger)
    from tests.support.backup_shop import backup_shop

    backup_shop(tmp_path, monkeypatch, "2026-11-20")
    _storage(bucket, proxy).store().claim()  # the store is the shop's: the command reads its marker, writes none
    proxy.trickle(*trickle, methods=("PUT", "POST"))  # the upload's answers; the marker's read passes
    env = {**os.environ, "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle", "AWS_ENDPOINT_URL": proxy.endpoint,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": os.getcwd(), **extra}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "run", "export", "--month", "2026-10"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _ended(process: subprocess.Popen, timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return stdout + stderr, time.monotonic() - started


def test_a_trickled_export_upload_ends_at_its_one_deadline_with_one_line_and_the_process_exits(bucket, proxy, tmp_path,
                                                                                             monkeypatch):
    """probe19a D7b: the answer to the upload's `Expect: 100-continue` trickled, then the store gave up mid-line:
    botocore read the closed connection's "" for ever (a spinning worker thread), the line came after 6.5 min for a
    deadline of 121 s, and the process never exited (that thread held it). Now: the upload's one deadline, one line,
    and the process is gone."""
    process = _export_command(bucket, proxy, tmp_path, monkeypatch, (0.2, 20),  # probe19a's: a byte each 0.2 s,
                              LIFECYCLE_STORAGE_FLOOR_SECONDS="4")                # the store gives up after 20
    said, took = _ended(process, timeout=240)
    lines = [line for line in said.splitlines() if line.startswith("lifecycle: ")]
    assert process.returncode == 1 and len(lines) == 1, said
    assert f"s3://{bucket}/lifecycle at {proxy.endpoint}" in lines[0] and "2026-10_billable-interventions" in lines[0]
    assert "Traceback" not in said and "Exception ignored" not in said, said
    assert took < 120, took  # the deadline (4 s and the workbook's size) and the command's start, not minutes


@pytest.mark.parametrize("signum, status, line", [(signal.SIGINT, 130, "lifecycle: interrupted (Ctrl-C)"),
                                                  (signal.SIGTERM, -signal.SIGTERM, "lifecycle: terminated (SIGTERM)")])
def test_an_export_upload_interrupted_or_terminated_ends_with_one_line_and_its_status(bucket, proxy, tmp_path,
                                                                                     monkeypatch, signum, status, line):
    """probe19a D7a: a SIGTERM during the upload gave a traceback and "TypeError: 'str' object is not callable"
    (s3transfer's shutdown(cancel=True) passes its arguments in the wrong order). Now one line, and the status of
    that signal: 130 for a Ctrl-C, killed by SIGTERM as any command is; nothing stored."""
    process = _export_command(bucket, proxy, tmp_path, monkeypatch, (EVERY * 20, AT_MOST))  # a minute an answer
    while proxy.sent < 3:  # the upload's answer is trickling
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    os.killpg(process.pid, signum)
    said, took = _ended(process, timeout=120)
    assert process.returncode == status, said
    assert [text for text in said.splitlines() if text.startswith("lifecycle: ")] == [line], said
    assert "Traceback" not in said, said
    proxy.passing()
    listed = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test").list_objects_v2(Bucket=bucket, Prefix="lifecycle/exports/")
    assert listed.get("KeyCount", 0) == 0  # nothing half-stored


def test_a_slow_store_within_its_deadline_says_how_far_the_work_is(bucket, proxy, monkeypatch):
    """probe19a Low: a store slow but within each call's deadline made a one-customer backup take 5.5 min with no
    line said. The work says where it stands at most every PROGRESS_SECONDS (shortened here), then finishes."""
    from blocks.storage_deadlines import progress

    store = _storage(bucket, proxy).store()
    proxy.trickle(EVERY, AT_MOST)  # each answer takes seconds; the deadline (120 s) is far
    said: list[str] = []
    with progress("customer C014", 2 * 100_000, say=said.append, every=0.5):
        store.put_stream("one.bin", io.BytesIO(b"1" * 100_000))
        store.put_stream("two.bin", io.BytesIO(b"2" * 100_000))
    assert said and all(line.startswith("customer C014: ") and line.endswith(" of 195.3 KB stored") for line in said)
    assert said[-1] == "customer C014: 195.3 KB of 195.3 KB stored", said  # the second's bytes added to the first's
    proxy.passing()
    assert store.open("two.bin").read() == b"2" * 100_000
