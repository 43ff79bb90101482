"""Ids are unique ignoring case (ledger.imports.rows): lower(id) of every id an import is given is indexed
(migration 0016), so the check that `C020` is not `c020` reads an index, never a whole table. Declared
here, on the models' tables, and imported by ledger.models so the metadata always has them."""

from __future__ import annotations

from sqlalchemy import Index, func

from ledger.models import Customer, CustomerCredit, Intervention, Invoice, Payment, Ticket

IDS = (Customer.customer_id, Invoice.invoice_key, Invoice.number, Invoice.external_id, Payment.payment_id,
       CustomerCredit.refund_id, Intervention.intervention_id, Ticket.ticket_id)

INDEXES = [Index(f"ix_{column.class_.__tablename__}_{column.key}_nocase", func.lower(column)) for column in IDS]
