"""The nightly backup spread over workers: the same night with 1 and with 2 workers (issue 14).

    python -m benchmarks.scale_out                      # 2,000 customers x 2 MB, 1 then 2 workers
    python -m benchmarks.scale_out --customers 200 --mb 1 --workers 1 2   # a quick look

The topology of deploy/ on this machine: a Prefect server on PostgreSQL, `lifecycle deploy`, workers
started with `lifecycle worker`, the ledger on PostgreSQL, the platform on SQLite and the objects in
a local folder (moto keeps objects in memory, and a disk-backed S3 server would take a core of the
two). Each worker runs one shard at a time (`--limit`; the first also runs the night's run, which
only waits), as a machine of one core would: the ratio is what a second machine brings. Time is the
night's run, from its start to its end, as the UI shows it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("LIFECYCLE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CREATED = datetime(2025, 1, 2, 3, 4, 5)
ROW_BYTES = 200  # an investor row of the demo platform, as the 1 GB customer of the other benchmark


def generate_platform(path: Path, customers: int, mb: float, seed: int) -> dict:
    from lifecycle.demo import platform_tables
    from sqlalchemy import MetaData

    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.create_all(engine)
    rng = random.Random(seed)
    per_customer = int(mb * 1024 * 1024 // ROW_BYTES)
    ids = [f"S{n:06d}" for n in range(1, customers + 1)]
    with engine.begin() as connection:
        connection.execute(insert(tables["tenants"]), [
            {"tenant_id": tenant, "name": tenant, "admin_enabled": True, "platform_enabled": True,
             "operations_enabled": True} for tenant in ids])
        for tenant in ids:
            connection.execute(insert(tables["users"]), [
                {"tenant_id": tenant, "email": f"investor{n}.{rng.getrandbits(40):010x}@{tenant.lower()}.example",
                 "full_name": f"Investor {n} {rng.getrandbits(32):08x}", "role": "investor",
                 "created_at": CREATED} for n in range(per_customer)])
    engine.dispose()
    return {"customers": customers, "rows_per_customer": per_customer, "bytes": path.stat().st_size}


def _pg(name: str, *, create: bool) -> str:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _ledger_with(url: str, customers: int) -> None:
    from ledger.migrate import upgrade

    upgrade(url)
    if not customers:
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customers (customer_id, name, email, monthly_fee, payment_method, billing_cycle, vat_rate, "
            "dunning_exempt, stage, admin_enabled, platform_enabled, operations_enabled, created_at, updated_at) "
            "VALUES (:id, :id, 'bench@example.com', 490, 'sepa', 'monthly', 0.2, false, 'current', true, true, "
            "true, '2026-01-01', '2026-01-01')"), [{"id": f"S{n:06d}"} for n in range(1, customers + 1)])
    engine.dispose()


class Night:
    """A Prefect server on PostgreSQL with the deployments applied, and workers on demand."""

    def __init__(self, out: Path, env: dict):
        self.out, self.env, self.workers = out, env, []
        port = int(env["PREFECT_API_URL"].rsplit(":", 1)[1].split("/")[0])
        server_env = {**env, "PREFECT_API_DATABASE_CONNECTION_URL": _pg("bench_prefect", create=True).replace(
            "+psycopg", "+asyncpg"), "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}
        self.server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start"], env=server_env,
                                       stdout=(out / "server.log").open("wb"), stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.api = env["PREFECT_API_URL"]
        deadline = time.monotonic() + 180
        while not self._answers():
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise SystemExit(f"the Prefect server did not start; see {out / 'server.log'}")
            time.sleep(1)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def lifecycle(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=600)
        if done.returncode:
            raise SystemExit(f"lifecycle {' '.join(args)}: {done.stderr.strip()[-500:]}")
        return done.stdout

    def start_worker(self, name: str, limit: int) -> None:
        self.workers.append(subprocess.Popen(
            [sys.executable, "-m", "lifecycle.cli", "worker", "--name", name, "--limit", str(limit)], env=self.env,
            stdout=(self.out / f"{name}.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 120
        while name not in {w["name"] for w in self.post("/work_pools/lifecycle/workers/filter")
                           if w["status"] == "ONLINE"}:
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker {name} did not come online")
            time.sleep(1)

    def stop_workers(self) -> None:
        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=120)
        self.workers = []
        time.sleep(2)

    def post(self, path: str, body: dict | None = None):
        response = httpx.post(f"{self.api}{path}", json=body or {}, timeout=60)
        response.raise_for_status()
        return response.json()

    def get(self, path: str):
        return httpx.get(f"{self.api}{path}", timeout=60).json()

    def stop(self) -> None:
        self.stop_workers()
        os.killpg(self.server.pid, signal.SIGTERM)
        self.server.wait(timeout=60)


def one_night(night: Night, workers: int, customers: int, day) -> dict:
    """A fresh ledger and storage, `workers` workers, the night's run; its time and what it backed up."""
    _ledger_with(_pg("bench_ledger", create=True), customers)
    shutil.rmtree(night.out / "objects", ignore_errors=True)
    deployment = {d["name"]: d for d in night.post("/deployments/filter", {"limit": 200})}["nightly-backup"]
    night.start_worker("bench-1", 2)  # the night's run and one shard
    run = night.post(f"/deployments/{deployment['id']}/create_flow_run",
                     {"parameters": {"as_of": day.isoformat(), "snapshot_ledger_too": False}})
    while night.get(f"/flow_runs/{run['id']}")["state"]["type"] in ("SCHEDULED", "PENDING"):
        time.sleep(0.5)
    for number in range(2, workers + 1):
        night.start_worker(f"bench-{number}", 1)
    while True:
        state = night.get(f"/flow_runs/{run['id']}")
        if state["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(1)
    night.stop_workers()
    if state["state"]["type"] != "COMPLETED":
        raise SystemExit(f"the night with {workers} worker(s) ended {state['state']['name']}: {state['state']['message']}")
    seconds = (datetime.fromisoformat(state["end_time"]) - datetime.fromisoformat(state["start_time"])).total_seconds()
    engine = create_engine(_pg_url("bench_ledger"))
    with engine.connect() as connection:
        good, stored = connection.execute(text(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM backups WHERE status = 'good' AND kind = 'tenant'")).one()
    engine.dispose()
    shard_runs = night.post("/flow_runs/filter", {"flow_runs": {"parent_task_run_id": {"is_null_": False}},
                                                  "limit": 200})
    return {"workers": workers, "seconds": round(seconds, 1), "good": good, "stored_bytes": int(stored),
            "shard_runs": len(shard_runs)}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from benchmarks.arguments import folder, size, whole

    parser.add_argument("--customers", type=whole(1, 1_000_000), default=2000)
    parser.add_argument("--mb", type=size(10_000), default=2.0, help="platform data per customer, MB (about 200 B a row)")
    parser.add_argument("--workers", type=whole(1, 64), nargs="+", default=[1, 2])
    parser.add_argument("--shard-size", type=whole(1, 100_000), default=100)
    parser.add_argument("--seed", type=whole(0, 2**32 - 1), default=42)
    parser.add_argument("--out", type=folder, default=ROOT / "out" / "scale-out")
    args = parser.parse_args()

    from lifecycle.server import answers  # noqa: F401 - the project is importable
    from policy.calendar import today_paris

    args.out.mkdir(parents=True, exist_ok=True)
    platform = args.out / f"platform-{args.customers}x{args.mb:g}.db"
    if not platform.exists():
        started = time.perf_counter()
        partial = platform.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        counts = generate_platform(partial, args.customers, args.mb, args.seed)
        partial.rename(platform)
        print(f"generated {counts} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    home = args.out / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LIFECYCLE_", "PREFECT_"))}
    env.update({"LIFECYCLE_HOME": str(home), "LIFECYCLE_DATABASE_URL": _pg_url("bench_ledger"),
                "LIFECYCLE_PLATFORM_URL": f"sqlite:///{platform}", "LIFECYCLE_STORAGE_URL": f"file://{args.out / 'objects'}",
                "LIFECYCLE_SANDBOX_URL": f"sqlite:///{home / 'sandbox.db'}",
                "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api", "PREFECT_HOME": str(home / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
                "PREFECT_LOGGING_LEVEL": "WARNING"})
    _ledger_with(_pg("bench_ledger", create=True), 0)
    night = Night(args.out, env)
    try:
        night.lifecycle("deploy")
        script = ("from blocks.terms_block import PolicyTerms\nblock = PolicyTerms.load('lifecycle')\n"
                  f"block.backup_shard_size = {args.shard_size}\nblock.platform_database_shards = 16\n"
                  "block.object_storage_shards = 16\nblock.save('lifecycle', overwrite=True)\n")
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
        day = today_paris() - timedelta(days=1)
        results = []
        for workers in args.workers:
            result = one_night(night, workers, args.customers, day)
            results.append(result)
            print(f"  {workers} worker(s): {result['seconds']:8.1f} s, {result['good']} good backups, "
                  f"{result['stored_bytes'] / 1e6:.0f} MB stored, {result['shard_runs']} shard runs so far",
                  file=sys.stderr)
    finally:
        night.stop()
    base = results[0]
    report = {"customers": args.customers, "mb": args.mb, "shard_size": args.shard_size, "runs": results,
              "per_customer_seconds_one_worker": round(base["seconds"] / args.customers, 4),
              "ratios": {r["workers"]: round(base["seconds"] / r["seconds"], 2) for r in results}}
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
