"""The service credits a close applied for missed commitments (operations/service_credits.py computes them):
one row per miss and close, so a credit is never applied twice and a later change becomes a correction."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import MONEY, RATE, Base


class ServiceCredit(Base):
    """A service credit a close applied for a missed clock (policy.service_credits): `amount` given back (a
    correction's may be negative), once per miss and close (`credit_key`), on the document that carries it."""

    __tablename__ = "service_credits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credit_key: Mapped[str] = mapped_column(String(400), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    month: Mapped[str] = mapped_column(String(7))          # the month the clock was missed in
    ticket_id: Mapped[str] = mapped_column(String(64))
    clock: Mapped[str] = mapped_column(String(64))
    share: Mapped[Decimal] = mapped_column(RATE)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    close_month: Mapped[str] = mapped_column(String(7), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
