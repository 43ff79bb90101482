"""A finalised invoice, penalty invoice or credit note as a Factur-X PDF (EN 16931 profile).

The input is the ledger's document as plain frozen dataclasses (`InvoiceDocument`, built by
operations/invoice_documents.py); nothing here reads a database or talks to Prefect. One idea a module:

* `figures`: the document's model and its checks; `Figures.of(doc)` works out once what the XML and
  the page both read (the VAT breakdown, the sign amounts are shown with), and refuses in one line a
  document whose figures do not add up to the ledger's totals: never a silent fix;
* `wording`: the labels and sentences, from the customer's catalogue (policy.language), and how
  money, dates and quantities are written in the customer's language;
* `cii`: `cii_xml`, the UN/CEFACT Cross Industry Invoice (D16B) that an accounting system reads;
* `pdf`: `render_pdf`, the printed invoice (reportlab, A4, fonts embedded, the French mandatory
  mentions);
* `ubl`: `ubl_xml`, the same document as an OASIS UBL 2.1 Invoice or CreditNote, for a platform set to UBL;
* `pdfa`: `facturx_pdf`, both combined into one PDF/A-3 file, and `check_facturx`, which reads one back.
"""

from reports.invoice_document.cii import GUIDELINE, cii_xml
from reports.invoice_document.figures import (KINDS, LANGUAGES, DocumentLine, Figures, InvoiceDocument, Party,
                                              vat_breakdown)
from reports.invoice_document.pdf import render_pdf
from reports.invoice_document.pdfa import check_facturx, facturx_pdf
from reports.invoice_document.ubl import ubl_xml
from reports.invoice_document.wording import LABEL_MESSAGES, LABELS

__all__ = ["GUIDELINE", "KINDS", "LABELS", "LABEL_MESSAGES", "LANGUAGES", "DocumentLine", "Figures", "InvoiceDocument",
           "Party", "check_facturx", "cii_xml", "facturx_pdf", "render_pdf", "ubl_xml",
           "vat_breakdown"]
