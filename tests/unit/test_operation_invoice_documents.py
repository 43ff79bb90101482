"""The invoice documents, the outbox and sending again as operations (operations/invoice_documents.py,
dispatch.py, send_invoices.py), on a SQLite ledger, a storage folder and an outbox folder, without Prefect:
October's three invoices stored as Factur-X PDFs and mailed with them, one sent again to its customer; a
number whose stored file is not its document is refused, a mail whose PDF is gone fails in one line, and a
month with no invoice is refused."""

from __future__ import annotations

import email
from email import policy

import pytest

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from operations.dispatch import dispatch
from operations.invoice_documents import issue_documents
from operations.send_invoices import NothingToSend, SentInvoices, send_invoices
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.scenarios import october_closed, october_numbers
from tests.support.sqlite_ledger import prepared_ledger


@pytest.fixture
def closed(tmp_path, monkeypatch):
    """October closed: ACME, BETA and GAMMA's invoices numbered, no document yet."""
    ledger = prepared_ledger(tmp_path, monkeypatch, "2026-11-02", october_closed)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller())
    return ledger, settings, october_numbers(ledger)


def _mails(tmp_path):
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted((tmp_path / "outbox").glob("*.eml"))]


def test_october_s_invoices_are_stored_and_mailed_with_their_pdf_then_one_is_sent_again(closed, tmp_path):
    ledger, settings, invoices = closed
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger)
    numbers = sorted(item.number for item in invoices.values())
    assert (sorted(issued.stored), sorted(issued.mails), issued.refused) == (numbers, numbers, [])
    for number in numbers:
        assert (tmp_path / "store" / "invoices" / "2026" / "11" / f"{number}.pdf").read_bytes().startswith(b"%PDF")
    outbox = dispatch(settings.notifications, settings.platform, storage=settings.storage)
    assert (len(outbox.sent), outbox.left) == (3, [])
    mails = _mails(tmp_path)
    beta = next(mail for mail in mails if invoices["BETA"].number in mail["Subject"])
    assert beta["Subject"] == f"Facture {invoices['BETA'].number} – 424,66\xa0€ TTC"   # BETA's 424.66 TTC, in French
    assert [part.get_filename() for part in beta.walk() if part.get_filename()] == [f"{invoices['BETA'].number}.pdf"]

    again = send_invoices(settings, month="2026-10", customer_id="BETA", actor="test")
    assert again.result == SentInvoices("2026-10", sent=[invoices["BETA"].number], waiting=[], pending=[])
    assert SentInvoices.from_summary(again.result.summary()) == again.result
    assert len(_mails(tmp_path)) == 4


def test_a_number_whose_stored_file_is_not_its_document_is_refused_and_the_others_go_on(closed, tmp_path):
    ledger, settings, invoices = closed
    acme = invoices["ACME"].number
    settings.storage.store().claim()  # the store is this installation's: the file below is found in its own store
    squatter = tmp_path / "store" / "invoices" / "2026" / "11" / f"{acme}.pdf"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"not a PDF")
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger)
    assert sorted(issued.stored) == sorted(item.number for name, item in invoices.items() if name != "ACME")
    assert len(issued.refused) == 1 and issued.refused[0].startswith(
        f"{acme}: invoices/2026/11/{acme}.pdf holds something that is not a Factur-X invoice")
    assert squatter.read_bytes() == b"not a PDF"   # left as it is for someone to look at


def test_a_mail_whose_pdf_is_gone_fails_in_one_line(closed, tmp_path):
    ledger, settings, invoices = closed
    issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test", engine=ledger)
    gamma = invoices["GAMMA"].number
    (tmp_path / "store" / "invoices" / "2026" / "11" / f"{gamma}.pdf").unlink()
    outbox = dispatch(settings.notifications, settings.platform, storage=settings.storage)
    assert len(outbox.sent) == 2
    [line] = outbox.undone()
    assert line.startswith(f"notice invoice:{gamma}") and ": failed (MissingObject" in line


def test_a_month_with_no_invoice_and_no_month_at_all_are_refused(closed):
    _, settings, _ = closed
    with pytest.raises(NothingToSend) as refused:
        send_invoices(settings, month="2026-09", actor="test")
    assert isinstance(refused.value, Refusal)
    assert refused.value.one_line() == "no issued invoice for 2026-09"
    with pytest.raises(NothingToSend, match="^--month: "):
        send_invoices(settings, month="2026-13", actor="test")


def test_a_document_that_breaks_a_french_rule_is_held_with_the_rule_named_then_issued_once_the_data_are_fixed(
        closed, tmp_path):
    from sqlalchemy import update

    from ledger.db import session_scope
    from ledger.imports import import_file
    from ledger.models import Customer, Invoice
    from tests.support.builders import write_csv

    ledger, settings, invoices = closed
    acme = invoices["ACME"].number
    with session_scope(ledger) as session:  # a French business whose SIREN an older release let go missing
        session.execute(update(Customer).where(Customer.customer_id == "ACME").values(buyer_kind="fr_business"))
        row = session.get(Customer, "ACME")
        fields = [row.customer_id, row.name, row.email, f"{row.monthly_fee:f}", row.payment_method.value]
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger)
    assert issued.refused == [f"{acme}: BR-FR-11: the buyer's SIREN (BT-47) is missing"]
    assert acme not in issued.stored and acme not in issued.mails and len(issued.stored) == 2
    assert not (tmp_path / "store" / "invoices" / "2026" / "11" / f"{acme}.pdf").exists()
    with session_scope(ledger) as session:
        assert session.query(Invoice).filter_by(number=acme).one().document_key is None  # unfinished: tried again

    header = ["customer_id", "name", "email", "monthly_fee", "payment_method", "siren"]
    import_file("customers", write_csv(tmp_path / "fix.csv", header, [fields + ["732829320"]]), engine=ledger)
    again = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                            engine=ledger)
    assert (again.stored, again.mails, again.refused) == ([acme], [acme], [])
    assert (tmp_path / "store" / "invoices" / "2026" / "11" / f"{acme}.pdf").read_bytes().startswith(b"%PDF")


def test_send_invoices_says_which_rule_holds_a_document(closed, tmp_path):
    from sqlalchemy import update

    from ledger.db import session_scope
    from ledger.models import Customer

    ledger, settings, invoices = closed
    with session_scope(ledger) as session:
        session.execute(update(Customer).where(Customer.customer_id == "BETA").values(buyer_kind="fr_business"))
    done = send_invoices(settings, month="2026-10", new_only=True, actor="test")
    beta = invoices["BETA"].number
    assert beta not in done.result.sent and len(done.result.sent) == 2
    assert done.result.pending == [f"not issued, held until corrected: {beta}: BR-FR-11: the buyer's SIREN (BT-47) "
                                   f"is missing"]
    assert done.line(None, True).endswith(f"; not issued, held until corrected: {beta}: BR-FR-11: the buyer's SIREN "
                                          f"(BT-47) is missing")


def test_a_french_business_invoice_carries_the_2026_mentions_from_the_ledger(closed, tmp_path):
    """ACME, a French business delivered at another site than its billing address, on a seller that opted for
    VAT on debits: its stored invoice names its SIREN, S1, BT-8 '5' and the site, and says so on the page."""
    from lxml import etree
    from pypdf import PdfReader
    import io

    from ledger.db import session_scope
    from ledger.imports import import_file
    from ledger.models import Customer
    from reports.invoice_document import check_facturx
    from tests.support.builders import write_csv

    ledger, settings, invoices = closed
    with session_scope(ledger) as session:
        row = session.get(Customer, "ACME")
        fields = [row.customer_id, row.name, row.email, f"{row.monthly_fee:f}", row.payment_method.value]
    header = ["customer_id", "name", "email", "monthly_fee", "payment_method", "siren", "billing_address",
              "delivery_address", "buyer_kind"]
    import_file("customers", write_csv(tmp_path / "acme.csv", header, [fields + [
        "73282932000074", "1 rue du Siège / 75008 Paris", "Entrepôt Nord / 12 allée des Quais / 59000 Lille", ""]]),
        engine=ledger)
    with session_scope(ledger) as session:
        assert session.get(Customer, "ACME").buyer_kind == "fr_business"  # the default a SIRET gives
    seller = settings.seller.model_copy(update={"vat_on_debits": True})
    issued = issue_documents(seller, settings.terms, settings.storage, month="2026-10", actor="test", engine=ledger)
    acme = invoices["ACME"].number
    assert acme in issued.stored and issued.refused == []
    pdf = (tmp_path / "store" / "invoices" / "2026" / "11" / f"{acme}.pdf").read_bytes()
    tree = etree.fromstring(check_facturx(pdf))
    ram = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
    assert tree.findtext(f".//{ram}BusinessProcessSpecifiedDocumentContextParameter/{ram}ID") == "S1"
    assert tree.findtext(f".//{ram}BuyerTradeParty/{ram}SpecifiedLegalOrganization/{ram}ID") == "732829320"
    assert tree.findtext(f".//{ram}BuyerTradeParty/{ram}GlobalID") == "73282932000074"
    assert tree.findtext(f".//{ram}ApplicableHeaderTradeSettlement/{ram}ApplicableTradeTax/{ram}DueDateTypeCode") == "5"
    assert tree.findtext(f".//{ram}ShipToTradeParty/{ram}PostalTradeAddress/{ram}CityName") == "Lille"
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\xa0", " ").split())
    for mention in ("SIREN : 732829320", "Nature de l'opération : prestations de services",
                    f"Adresse de livraison : {fields[1]} Entrepôt Nord 12 allée des Quais 59000 Lille",
                    "Option pour le paiement de la taxe d'après les débits."):
        assert mention in text, mention


def test_an_invoice_whose_vat_rate_no_document_carries_is_said_and_the_others_are_stored_and_mailed(closed, tmp_path):
    """A customer's rate of 100 % an older release stored: that invoice is refused in one line naming it and its
    customer; the others of the month are stored and mailed all the same."""
    from decimal import Decimal

    from sqlalchemy import update

    from ledger.db import session_scope
    from ledger.models import Invoice, InvoiceLine

    ledger, settings, invoices = closed
    beta = invoices["BETA"].number
    with session_scope(ledger) as session:
        invoice_id = session.query(Invoice).filter_by(number=beta).one().id
        session.execute(update(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).values(vat_rate=Decimal(1)))
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger)
    others = sorted(item.number for name, item in invoices.items() if name != "BETA")
    assert (sorted(issued.stored), sorted(issued.mails)) == (others, others)
    assert len(issued.refused) == 1 and issued.refused[0].startswith(f"{beta} (BETA): line ")
    assert "a VAT rate is from 0 to less than 1" in issued.refused[0] and "\n" not in issued.refused[0]
    assert (len(dispatch(settings.notifications, settings.platform, storage=settings.storage).sent),
            len(_mails(tmp_path))) == (2, 2)
