"""The e-invoicing deposit's own cost per document, for the night model (benchmarks/RESULTS.md).

    python -m benchmarks.einvoicing_deposit --ledger URL [--documents 300] [--kb 60]

`operations.einvoicing.deposit_once` for `--documents` invoices of the ledger (a copy: flows are recorded in it),
each a `--kb` KB file, to the fake platform of the tests on loopback (a real HTTP server, multipart upload,
Bearer token): its two ledger transactions, its audit row and the request. What it does not include is the
rendering of each document (the Factur-X PDF is made when the invoice is issued, not when it is deposited).
Prints one JSON line: documents, seconds, seconds per document, peak MB of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

from sqlalchemy import select


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--kb", type=int, default=60)
    args = parser.parse_args()
    from blocks.einvoicing import EInvoicing
    from ledger.models import Invoice
    from lifecycle_config.databases import engine_for
    from operations.einvoicing import FlowSpec, deposit_once
    from policy.einvoicing import FlowKind, FlowState, ProcessingRule, Syntax
    from tests.support.fake_einvoicing import FakePlatform

    engine = engine_for(args.ledger)
    with engine.connect() as connection:
        invoices = connection.execute(select(Invoice.id, Invoice.customer_id, Invoice.invoice_key)
                                      .order_by(Invoice.id).limit(args.documents)).all()
    content = os.urandom(args.kb * 1024)
    fake = FakePlatform()
    with fake.running():
        os.environ["LIFECYCLE_EINVOICING_URL"], os.environ["LIFECYCLE_EINVOICING_TOKEN"] = fake.url, fake.token
        platform = EInvoicing()
        started = time.perf_counter()
        for invoice_id, customer_id, key in invoices:
            spec = FlowSpec(tracking_id=f"bench-{key}", kind=FlowKind.DOCUMENT, syntax=Syntax.FACTUR_X,
                            rule=ProcessingRule.B2B, name=f"{invoice_id}.pdf", content=lambda: content,
                            invoice_id=invoice_id, customer_id=customer_id)
            done = deposit_once(platform, spec, actor="bench", engine=engine)
            if done.state != FlowState.DEPOSITED:
                raise SystemExit(f"{spec.tracking_id}: {done.state} {done.reason}")
        seconds = time.perf_counter() - started
    print(json.dumps({"documents": len(invoices), "seconds": round(seconds, 3),
                      "per_document": round(seconds / len(invoices), 4), "deposited": len(fake.flows),
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
