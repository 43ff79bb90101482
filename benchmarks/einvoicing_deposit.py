"""The e-invoicing deposit's own cost per document, for the night model (benchmarks/RESULTS.md).

    python -m benchmarks.einvoicing_deposit --ledger URL [--documents 300] [--kb 60] [--parallel 4]

`operations.einvoicing.deposit_once` for `--documents` invoices of the ledger (a copy: flows are recorded in it),
each a `--kb` KB file, to the fake platform of the tests on loopback (a real HTTP server, multipart upload,
Bearer token): its two ledger transactions, its audit row and the request. What it does not include is the
rendering of each document (the Factur-X PDF is made when the invoice is issued, not when it is deposited).
`--parallel N` deposits them N at a time as a run does (`operations.einvoicing.side_by_side`, the e-invoicing
block's `parallel_deposits`); 1 is one after the other. `--delay S` makes the fake platform take S seconds to answer
each deposit (a real platform's HTTPS over the internet, which loopback does not have).
Prints one JSON line: documents, seconds, seconds per document, the CPU seconds of this process over the deposits
(the fake platform's thread included: it runs in this process), peak MB of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from sqlalchemy import select


def main() -> None:
    from benchmarks.arguments import seconds, whole

    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--documents", type=whole(1, 10**6), default=300)
    parser.add_argument("--kb", type=whole(0, 100_000), default=60)
    parser.add_argument("--parallel", type=whole(1, 16), default=1)   # the e-invoicing block's bounds
    parser.add_argument("--delay", type=seconds(60), default=0.0)
    args = parser.parse_args()
    from blocks.einvoicing import EInvoicing
    from ledger.models import Invoice
    from lifecycle_config.databases import engine_for
    from operations.einvoicing import FlowSpec, deposit_once, side_by_side
    from policy.einvoicing import FlowKind, FlowState, ProcessingRule, Syntax
    from tests.support.fake_einvoicing import FakePlatform

    engine = engine_for(args.ledger)
    with engine.connect() as connection:
        invoices = connection.execute(select(Invoice.id, Invoice.customer_id, Invoice.invoice_key)
                                      .order_by(Invoice.id).limit(args.documents)).all()
    content = os.urandom(args.kb * 1024)
    fake = FakePlatform()
    fake.delay = args.delay
    specs = [FlowSpec(tracking_id=f"bench-{key}", kind=FlowKind.DOCUMENT, syntax=Syntax.FACTUR_X,
                      rule=ProcessingRule.B2B, name=f"{invoice_id}.pdf", content=lambda: content,
                      invoice_id=invoice_id, customer_id=customer_id) for invoice_id, customer_id, key in invoices]
    with fake.running():
        os.environ["LIFECYCLE_EINVOICING_URL"], os.environ["LIFECYCLE_EINVOICING_TOKEN"] = fake.url, fake.token
        platform = EInvoicing()
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = side_by_side(lambda spec: deposit_once(platform, spec, actor="bench", engine=engine), specs,
                                args.parallel, halts=lambda done: done.silent)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    for spec, done in zip(specs, outcomes):
        if done is None or done.state != FlowState.DEPOSITED:
            raise SystemExit(f"{spec.tracking_id}: {done and done.state} {done and done.reason}")
    print(json.dumps({"documents": len(invoices), "parallel": args.parallel, "delay": args.delay,
                      "seconds": round(seconds, 3),
                      "per_document": round(seconds / len(invoices), 4), "cpu_seconds": round(cpu, 2),
                      "deposited": len(fake.flows),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
