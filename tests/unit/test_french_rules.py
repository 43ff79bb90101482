"""The French rules (BR-FR-*) read on a document's XML before it leaves: every document this product writes keeps
them, and each rule, broken, is named with what is wrong."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree

from policy.money import vat_of
from reports.invoice_document import cii_xml
from reports.invoice_document.french_rules import NS, french_rule_failures
from tests.unit.test_invoice_document import BUYER, BUYER_BE, CREDIT, EXPECTED, MONTHLY, SELLER

RAM = "{" + NS["ram"] + "}"


def failures(doc, kind="fr_business", debits=None):
    return french_rule_failures(cii_xml(doc), kind, vat_on_debits=doc.vat_on_debits if debits is None else debits)


def edited(doc, edit) -> bytes:
    """The document's XML, changed as no document of ours is (a rule our writer cannot break is still read)."""
    tree = etree.fromstring(cii_xml(doc))
    edit(tree)
    return etree.tostring(tree)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_document_we_write_keeps_the_french_rules(name):
    doc = EXPECTED[name][0]
    kind = "fr_business" if doc.buyer.siren else "foreign_business"
    with_address = dataclasses.replace(doc, buyer=dataclasses.replace(doc.buyer, email="ap@example.be"))
    assert failures(with_address, kind) == []


def test_br_fr_01_02_the_number_is_at_most_35_characters_of_the_allowed_set():
    assert failures(dataclasses.replace(MONTHLY, number="2026-" + "0" * 31)) == [
        "BR-FR-01: the number (BT-1) '2026-0000000000000000000000000000000' is longer than 35 characters"]
    assert failures(dataclasses.replace(MONTHLY, number="2026 000123")) == [
        "BR-FR-02: the number (BT-1) '2026 000123' holds other characters than letters, digits and + - _ /"]
    assert failures(dataclasses.replace(CREDIT, credited_number="F.2026.1")) == [
        "BR-FR-02: the credited invoice's number (BT-25) 'F.2026.1' holds other characters than letters, digits "
        "and + - _ /"]


def test_br_fr_03_dates_are_of_the_years_2000_to_2099():
    assert failures(dataclasses.replace(MONTHLY, due_date=date(2100, 1, 1))) == [
        "BR-FR-03: BT-9 '21000101' is no date of the years 2000 to 2099 (YYYYMMDD)"]


def test_br_fr_04_the_document_type_is_one_the_french_rules_accept():
    def retype(tree):
        tree.find(f".//{RAM}TypeCode").text = "326"  # a partial invoice: not in the French list
    assert french_rule_failures(edited(MONTHLY, retype), "fr_business") == [
        "BR-FR-04: the document type (BT-3) '326' is not one the French rules accept"]


def test_br_fr_05_06_the_notes_pmt_pmd_aab_are_there_once():
    def drop_aab_double_pmd(tree):
        header = tree.find("rsm:ExchangedDocument", NS)
        notes = header.findall(f"{RAM}IncludedNote")
        header.remove(next(note for note in notes if note.findtext(f"{RAM}SubjectCode") == "AAB"))
        pmd = next(note for note in notes if note.findtext(f"{RAM}SubjectCode") == "PMD")
        pmd.addnext(etree.fromstring(etree.tostring(pmd)))
    assert french_rule_failures(edited(MONTHLY, drop_aab_double_pmd), "fr_business") == [
        "BR-FR-06: the note PMD (BT-21) is there 2 times",
        "BR-FR-05: no note AAB (BT-21) states the discount for early payment, or its absence"]


def test_br_fr_08_the_billing_mode_is_there_and_known():
    def drop(tree):
        context = tree.find("rsm:ExchangedDocumentContext", NS)
        context.remove(context.find(f"{RAM}BusinessProcessSpecifiedDocumentContextParameter"))
    assert french_rule_failures(edited(MONTHLY, drop), "fr_business") == [
        "BR-FR-08: no billing mode (BT-23; ours is S1, services)"]

    def unknown(tree):
        tree.find(f".//{RAM}BusinessProcessSpecifiedDocumentContextParameter/{RAM}ID").text = "A1"
    assert french_rule_failures(edited(MONTHLY, unknown), "fr_business") == [
        "BR-FR-08: the billing mode (BT-23) 'A1' is not one of the French list"]


def test_br_fr_09_10_the_sellers_siren_is_there_valid_and_begins_its_siret():
    seller = dataclasses.replace(SELLER, siren="123456789", siret="12345678900012")
    assert failures(dataclasses.replace(MONTHLY, seller=seller)) == [
        "BR-FR-LC-01: the seller's SIREN (BT-30) 123456789 is no SIREN: its check digit does not hold",
        "BR-FR-LC-01: the seller's SIRET (BT-29) 12345678900012 is no SIRET: its check digit does not hold"]
    other = dataclasses.replace(SELLER, siret="73282932000074")
    assert failures(dataclasses.replace(MONTHLY, seller=other)) == [
        "BR-FR-09: the seller's SIRET (BT-29) '73282932000074' is not 14 digits beginning with its SIREN "
        "'123456782'"]

    def drop(tree):
        tree.find(f".//{RAM}SellerTradeParty").remove(tree.find(f".//{RAM}SellerTradeParty/"
                                                                 f"{RAM}SpecifiedLegalOrganization"))
    assert french_rule_failures(edited(MONTHLY, drop), "fr_business")[0] == (
        "BR-FR-10: the seller's SIREN (BT-30) is missing")


def test_br_fr_11_a_french_business_buyer_has_a_valid_siren_the_others_need_none():
    no_siren = dataclasses.replace(MONTHLY, buyer=dataclasses.replace(BUYER, siren=None))
    assert failures(no_siren) == ["BR-FR-11: the buyer's SIREN (BT-47) is missing"]
    assert failures(no_siren, "private") == []
    wrong = dataclasses.replace(MONTHLY, buyer=dataclasses.replace(BUYER, siren="987654321"))
    assert failures(wrong, "private") == [  # a wrong SIREN is wrong whoever the buyer is
        "BR-FR-LC-01: the buyer's SIREN (BT-47) 987654321 is no SIREN: its check digit does not hold"]


def test_br_fr_12_the_buyers_electronic_address_is_there():
    english = EXPECTED["english"][0]
    assert english.buyer is BUYER_BE and failures(english, "foreign_business") == [
        "BR-FR-12: the buyer's electronic address (BT-49) is missing"]


def test_br_fr_16_a_vat_rate_france_does_not_have_is_refused():
    lines = tuple(dataclasses.replace(line, vat_rate=Decimal("0.21")) for line in MONTHLY.lines)
    total_vat = vat_of(MONTHLY.total_ht, lines[0].vat_rate)
    doc = dataclasses.replace(MONTHLY, lines=lines, total_vat=total_vat, total_ttc=MONTHLY.total_ht + total_vat)
    assert set(failures(doc)) == {"BR-FR-16: the VAT rate 21% is not a French rate"}


def test_br_fr_co_05_a_credit_note_names_the_credited_invoice_with_its_date():
    assert failures(dataclasses.replace(CREDIT, credited_issue_date=None)) == [
        "BR-FR-CO-05: a credit note names the invoice it credits (BT-25) with its date (BT-26)"]


def test_br_fr_co_07_due_no_earlier_than_issued():
    assert failures(dataclasses.replace(MONTHLY, due_date=date(2026, 11, 30))) == [
        "BR-FR-CO-07: due on 2026-11-30 (BT-9), before its issue on 2026-12-01 (BT-2)"]


def test_br_fr_lc_02_the_vat_point_code_says_the_sellers_option():
    assert failures(MONTHLY, debits=True) == [
        "BR-FR-LC-02: the VAT point code (BT-8) is '72', not '5': the seller opted for VAT on debits"]
    assert failures(dataclasses.replace(MONTHLY, vat_on_debits=True), debits=False) == [
        "BR-FR-LC-02: the VAT point code (BT-8) is '5', not '72': the seller did not opt for VAT on debits"]
