"""The October 2026 scenario whose invoices are computed by hand in the comments below."""

from __future__ import annotations

from ledger.imports import import_file
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

HEADER = ["intervention_id", "customer_id", "started_at", "minutes", "category"]

# ACME   sepa, 500/month. Quota 120: A1 draws 90, A3 draws the last 30 and bills 20 -> 30 min -> 60.00;
#        A4 (23:30 Paris on the 31st: October) bills 10 -> 15 min -> 30.00; A6 recovery 20 -> 30 min + 250 = 310.00:
#        two lines, its time 60.00 and its fee 1 x 250.00 (quantity x unit price = amount on every line).
#        HT 500 + 60 + 310 + 30 = 900.00, VAT 180.00, TTC 1080.00.
# BETA   card, 300/month, standby from 20 October (12 of 31 days): included floor(120 x 19 / 31) = 73;
#        subscription 300 x (31 - 6) / 31 = 241.94; B1 100 min: 73 free, 27 -> 30 min -> 60.00;
#        B2 urgent feature 40 -> 45 min x 120/h x 50 % = 45.00; card 2 % of 346.94 = 6.94.
#        HT 353.88, VAT 70.776 -> 70.78, TTC 424.66.
# GAMMA  instalments, 99.99/month, VAT 5.5 %, no included minutes: G1 1 min user error -> 15 min -> 30.00;
#        fee 20.00. HT 149.99, VAT 8.24945 -> 8.25, TTC 158.24.
# DELTA  annual contract from March: nothing in October. EPS: free plan with only a bug fix: no invoice.
EXPECTED = {
    "ACME": ("900.00", "180.00", "1080.00", [("subscription", "500.00"), ("data_modification", "60.00"),
                                              ("data_recovery", "60.00"), ("data_recovery", "250.00"),
                                              ("reporting", "30.00")]),
    "BETA": ("353.88", "70.78", "424.66", [("subscription", "241.94"), ("assistance", "60.00"),
                                           ("feature_urgent", "45.00"), ("surcharge", "6.94")]),
    "GAMMA": ("149.99", "8.25", "158.24", [("subscription", "99.99"), ("user_error", "30.00"), ("surcharge", "20.00")]),
}


def load_october(ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("ACME", name="Société Générale d'Épargne", fee="500.00"),
        customer("BETA", fee="300.00", method="card"),
        customer("GAMMA", fee="99.99", method="transfer_installments", vat="0.055", minutes="0"),
        customer("DELTA", fee="100.00", method="transfer", cycle="annual", start="2026-03-01"),
        customer("EPS", fee="0.00"),
    ]), engine=ledger)
    import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"],
                                     [["BETA", "temporary_inactivity", "2026-10-20", "2027-01-20"]]), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "i.csv", HEADER, [
        ["A1", "ACME", "2026-10-02T09:00", "90", "assistance"],
        ["A2", "ACME", "2026-10-05T10:00", "45", "question"],
        ["A3", "ACME", "2026-10-10T14:00", "50", "data_modification"],
        ["A4", "ACME", "2026-10-31T23:30", "10", "reporting"],
        ["A5", "ACME", "2026-11-01T00:30", "60", "assistance"],
        ["A6", "ACME", "2026-10-12T09:00", "20", "data_recovery"],
        ["B1", "BETA", "2026-10-03T09:00", "100", "assistance"],
        ["B2", "BETA", "2026-10-04T09:00", "40", "feature_urgent"],
        ["G1", "GAMMA", "2026-10-15T10:00", "1", "user_error"],
        ["E1", "EPS", "2026-10-15T10:00", "30", "bug_fix"],
    ]), engine=ledger)
    return ledger


def october_drafted(ledger, folder):
    """October loaded and drafted (no number yet), on the close's day, 2026-11-02."""
    from operations.close import draft
    from policy.terms import Terms

    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=load_october(ledger, folder))


def october_closed(ledger, folder):
    """October loaded, drafted and finalised on 2026-11-02: ACME's, BETA's and GAMMA's invoices numbered, in
    customer order, no document yet."""
    from datetime import date

    from operations.close import finalise
    from policy.terms import Terms

    october_drafted(ledger, folder)
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)


def october_numbers(ledger) -> dict:
    """Each customer's October invoice in a closed October: {customer_id: Invoice}, read from the ledger."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Invoice

    with session_scope(ledger) as session:
        return {invoice.customer_id: invoice for invoice in
                session.scalars(select(Invoice).where(Invoice.close_month == "2026-10"))}
