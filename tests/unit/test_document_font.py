"""The documents' font: DejaVu Sans, shipped with the product and embedded in every PDF, prints the names of
Central and Eastern Europe (probe19b: Vera printed boxes for ź ř ș Ţ ő); what it cannot draw (CJK, most emoji)
or lay out (right-to-left scripts) is refused where the text enters, in one line, never printed as boxes."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from ledger.imports import ImportRejected, import_file
from policy.text import DOCUMENT_FONT, DOCUMENT_FONT_BOLD, control_problem, undrawable_problem
from reports.invoice_document import facturx_pdf
from tests.support.builders import write_csv
from tests.support.sqlite_ledger import sqlite_ledger
from tests.unit.test_invoice_document import BUYER, CREDIT, MONTHLY

NAME = "Zakład Łódź Sp. z o.o. – Dvořák București Ţară Győr"
STREET = "ul. Piotrkowska 12"
HEADER = ["customer_id", "name", "email", "monthly_fee", "payment_method", "billing_address"]


def test_the_fonts_are_the_products_own_with_their_license():
    assert DOCUMENT_FONT.is_file() and DOCUMENT_FONT_BOLD.is_file()
    assert "Bitstream" in (DOCUMENT_FONT.parent / "LICENSE").read_text()


@pytest.mark.parametrize("text", [NAME, "Świętokrzyska 5, Kraków", "Příliš žluťoučký kůň", "Ştefan Ţiţeica, Iaşi",
                                  "Őrség Üzletház Kft.", "Αθήνα", "Москва", "Straße 3 €"])
def test_the_letters_of_europe_are_drawable(text):
    assert undrawable_problem(text) is None
    assert control_problem(text, printed=True) is None


@pytest.mark.parametrize("text, char", [("ACME 東京", "U+6771 CJK UNIFIED IDEOGRAPH-6771"),
                                        ("ACME 🦄", "U+1F984 UNICORN FACE"), ("ACME ก", "U+0E01 THAI CHARACTER KO KAI")])
def test_what_the_font_cannot_draw_is_refused_naming_it(text, char):
    assert undrawable_problem(text) == (
        f"holds the character {char} (at character 6), not drawable by the documents' font (DejaVu Sans): an "
        f"invoice would print a box; type the text without it")
    assert control_problem(text) is None  # a text no document prints (a ticket's, a log's) keeps it


def test_a_right_to_left_script_is_refused_the_documents_print_left_to_right():
    assert "right-to-left character U+05E9 HEBREW LETTER SHIN (at character 1)" in undrawable_problem("שלום")


def test_a_customer_the_font_cannot_print_is_refused_at_its_row_in_one_line(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    path = write_csv(tmp_path / "customers.csv", HEADER, [
        ["PL1", NAME, "pl1@example.com", "500.00", "sepa", f"{STREET}\n90-001 Łódź\nPL"],
        ["JP1", "株式会社東京", "jp1@example.com", "500.00", "sepa", ""],
        ["EM1", "Unicorn 🦄 Ltd", "em1@example.com", "500.00", "sepa", ""],
        ["AD1", "Addr Ltd", "ad1@example.com", "500.00", "sepa", "1 東京 street\n100-0001 Tokyo\nJP"]])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", path, engine=ledger)
    assert rejected.value.errors == [
        "customers.csv:3:name: holds the character U+682A CJK UNIFIED IDEOGRAPH-682A (at character 1), not drawable "
        "by the documents' font (DejaVu Sans): an invoice would print a box; type the text without it",
        "customers.csv:4:name: holds the character U+1F984 UNICORN FACE (at character 9), not drawable by the "
        "documents' font (DejaVu Sans): an invoice would print a box; type the text without it",
        "customers.csv:5:billing_address: an address holds no control or invisible character: its line 1 holds the "
        "character U+6771 CJK UNIFIED IDEOGRAPH-6771 (at character 3), not drawable by the documents' font (DejaVu "
        "Sans): an invoice would print a box; type the text without it"]
    assert all("\n" not in error for error in rejected.value.errors)
    from lifecycle.cli import app

    result = CliRunner().invoke(app, ["import", "customers", str(path)])
    assert result.exit_code != 0
    assert "customers.csv:3:name: holds the character U+682A" in result.stderr
    # the Polish row alone goes in
    alone = write_csv(tmp_path / "polish.csv", HEADER, [
        ["PL1", NAME, "pl1@example.com", "500.00", "sepa", f"{STREET}\n90-001 Łódź\nPL"]])
    assert import_file("customers", alone, engine=ledger).inserted == 1


def test_a_credit_note_reason_the_font_cannot_print_is_refused():
    from policy.corrections import CorrectionRefused, credit_note
    from policy.invoicing import Line
    from decimal import Decimal as D

    lines = [Line("Abonnement", "subscription", D(1), D("100.00"), D("100.00"), D("0.20"))]
    with pytest.raises(CorrectionRefused, match="--reason holds the character U\\+1F984 UNICORN FACE"):
        credit_note(lines, D("120.00"), D("0.00"), amount=D("12.00"), reason="geste 🦄")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils' pdftotext reads the printed page")
@pytest.mark.parametrize("doc", [MONTHLY, CREDIT], ids=["invoice", "credit_note"])
def test_a_polish_czech_romanian_hungarian_name_prints_with_the_font_embedded(doc, tmp_path):
    buyer = dataclasses.replace(BUYER, name=NAME, address_lines=(STREET,), postcode="90-001", city="Łódź",
                                country="PL", siren=None, vat_number=None)
    pdf = facturx_pdf(dataclasses.replace(doc, buyer=buyer))
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())  # the buyer's box wraps the name over two lines
    assert NAME in text and "90-001 Łódź" in text and "Pologne" in text
    fonts = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object().get("/FontDescriptor")
            assert descriptor is not None and "/FontFile2" in descriptor.get_object(), font  # embedded TrueType
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    assert fonts == {"DejaVuSans", "DejaVuSans-Bold"}
