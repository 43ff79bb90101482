"""The printed document: what the customer reads, drawn with reportlab on A4.

This module exists to draw the page, and only that: the figures come checked from figures.py, every
word from wording.py (the customer's catalogue), and pdfa.py turns the drawing into the PDF/A-3 that
carries the XML. The page is in French by default, with the mandatory mentions of the Code de
commerce (L441-9, L441-10, D441-5) and of the CGI (art. 242 nonies A: the HT basis of each VAT rate
when there are several). The TrueType fonts DejaVu Sans and Sans Bold, shipped with the product
(policy/fonts: Latin with its extensions A and B, Greek, Cyrillic and more, where reportlab's Vera had
Western Latin only), are embedded: PDF/A forbids the unembedded standard 14 fonts, so no table or canvas
is left on reportlab's Helvetica. What they cannot draw is refused where the text enters
(policy.text.undrawable_problem), never printed as boxes.
"""

from __future__ import annotations

import functools
import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from policy.text import DOCUMENT_FONT, DOCUMENT_FONT_BOLD
from reports.invoice_document.figures import Figures, InvoiceDocument, Party
from reports.invoice_document.wording import (LABELS, country_name, grouped_iban, legal_form, money, penalties,
                                              percent, quantity, short_date, title, unit_price)

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
INK = colors.HexColor("#1f2933")
ACCENT = colors.HexColor("#1f4e79")
MUTED = colors.HexColor("#52606d")
RULE = colors.HexColor("#c3cbd3")
STRIPE = colors.HexColor("#f2f5f8")
ALARM = colors.HexColor("#b3261e")
WATERMARK = colors.HexColor("#f6dcda")
MARGIN = 18 * mm


@functools.cache
def _fonts() -> None:
    """DejaVu Sans and Sans Bold, shipped with the product, registered as embedded TrueType (subset) fonts."""
    pdfmetrics.registerFont(TTFont(FONT, str(DOCUMENT_FONT)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(DOCUMENT_FONT_BOLD)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def _style(name: str, size: float = 8.5, bold: bool = False, color=INK, align: int = 0,
           leading: float | None = None, space_after: float = 0) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=FONT_BOLD if bold else FONT, fontSize=size,
                          leading=leading or size * 1.3, textColor=color, alignment=align, spaceAfter=space_after)


def _table_style(commands: list[tuple]) -> TableStyle:
    """A table's style, its cell font DejaVu Sans: reportlab's default, Helvetica, would be declared unembedded."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(text, style)


def _x(text: str) -> str:
    return escape(text)


def _address(party: Party, language: str) -> list[str]:
    lines = [_x(line) for line in party.address_lines if line.strip()]
    lines.append(_x(f"{party.postcode} {party.city}".strip()))
    if party.country != "FR":
        lines.append(_x(country_name(party.country, language)))
    return lines


def _seller_lines(seller: Party, language: str) -> list[str]:
    words = LABELS[language]
    form = legal_form(seller, language)
    lines = [_x(form)] if form else []
    lines += _address(seller, language)
    sep = words["sep"]
    ids = [f"SIREN{sep} {seller.siren}"]
    if seller.siret:
        ids.append(f"SIRET{sep} {seller.siret}")
    lines.append(_x(" · ".join(ids)))
    if seller.vat_number:
        lines.append(_x(f"{words['vat_id']}{sep} {seller.vat_number}"))
    if seller.rcs:
        lines.append(_x(seller.rcs))
    if seller.email:
        lines.append(_x(seller.email))
    return lines


def _footer_parts(seller: Party, language: str) -> list[str]:
    parts = [part for part in (seller.name, legal_form(seller, language), seller.rcs) if part]
    parts.append(f"SIRET {seller.siret}" if seller.siret else f"SIREN {seller.siren}")
    if seller.vat_number:
        parts.append(f"{LABELS[language]['col_vat']} {seller.vat_number}")
    return parts


class _NumberedCanvas(rl_canvas.Canvas):
    """Holds the pages back until the end, to print "Page n/N" on each."""

    def __init__(self, *args, **kwargs):
        kwargs["initialFontName"] = FONT  # else reportlab declares an (unembedded) Helvetica
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(A4[0] - MARGIN, 10 * mm, f"Page {self._pageNumber}/{total}")
            super().showPage()
        super().save()


def _decorate(canvas: rl_canvas.Canvas, doc_template, document: InvoiceDocument) -> None:
    """Each page: the footer (seller's legal identity) and, for a sample seller, the SPECIMEN marks."""
    width, height = A4
    words = LABELS[document.language]
    canvas.saveState()
    if document.sample_seller:
        canvas.setFillColor(WATERMARK)
        canvas.setFont(FONT_BOLD, 96)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(40)
        canvas.drawCentredString(0, -30, "SPECIMEN")
        canvas.rotate(-40)
        canvas.translate(-width / 2, -height / 2)
        canvas.setFillColor(ALARM)
        canvas.rect(0, height - 11 * mm, width, 11 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(FONT_BOLD, 10)
        canvas.drawCentredString(width / 2, height - 7 * mm, words["specimen"])
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, 15 * mm, width - MARGIN, 15 * mm)
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT, 7)
    # the legal identity is never cut: what does not fit beside the page number goes on a second line
    parts = _footer_parts(document.seller, document.language)
    room = width - 2 * MARGIN - 22 * mm
    first = []
    while parts and (not first or pdfmetrics.stringWidth(" – ".join(first + parts[:1]), FONT, 7) <= room):
        first.append(parts.pop(0))
    canvas.drawString(MARGIN, 10 * mm, " – ".join(first))
    if parts:
        canvas.drawString(MARGIN, 7 * mm, " – ".join(parts))
    canvas.restoreState()


def render_pdf(doc: InvoiceDocument) -> bytes:
    """The printed document: A4, fonts embedded, French by default; long documents flow onto further
    pages with the table header repeated. Same document, same bytes (reportlab's invariant mode)."""
    return draw(Figures.of(doc))


def draw(figures: Figures) -> bytes:
    """`render_pdf` of figures already checked."""
    doc = figures.document
    _fonts()
    lang = doc.language
    words = LABELS[lang]
    sign = figures.sign
    body = _style("body")
    small = _style("small", 7.5, color=MUTED)
    right = _style("right", align=TA_RIGHT)
    bold = _style("bold", bold=True)
    cell = _style("cell", 8.5)
    cell_right = _style("cell_right", 8.5, align=TA_RIGHT)
    head_cell = _style("head", 8, bold=True, color=colors.white)
    head_right = _style("head_right", 8, bold=True, color=colors.white, align=TA_RIGHT)
    width = A4[0] - 2 * MARGIN

    # the heading: seller on the left, the document's identity on the right
    seller = [_p(_x(doc.seller.name), _style("seller", 13, bold=True, color=ACCENT, space_after=2))]
    seller += [_p(line, _style("seller_line", 8, leading=10.5)) for line in _seller_lines(doc.seller, lang)]
    is_credit = doc.kind == "credit_note"
    identity = [_p(words["credit_note" if is_credit else "invoice"], _style("title", 22, True, ACCENT, TA_RIGHT, 26)),
                _p(f"<b>{words['number']} {_x(doc.number)}</b>", _style("number", 11, align=TA_RIGHT, space_after=4))]
    sep = words["sep"]
    identity.append(_p(f"{words['issued']}{sep} {short_date(doc.issue_date, lang)}", right))
    if doc.due_date:
        identity.append(_p(f"<b>{words['due']}{sep} {short_date(doc.due_date, lang)}</b>", right))
    if is_credit:
        identity.append(_p(_x(words["credits"].format(number=doc.credited_number)), right))
    heading = Table([[seller, identity]], colWidths=[width * 0.55, width * 0.45])
    heading.setStyle(_table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                 ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))

    # the buyer, in a box on the right (window envelope side); references on the left
    buyer = [_p(words["billed_to"], _style("billed", 8, True, MUTED, space_after=2)),
             _p(f"<b>{_x(doc.buyer.name)}</b>", _style("buyer_name", 10, leading=13))]
    buyer += [_p(line, body) for line in _address(doc.buyer, lang)]
    buyer_ids = []
    if doc.buyer.siren:
        buyer_ids.append(f"SIREN{sep} {doc.buyer.siren}")
    if doc.buyer.vat_number:
        buyer_ids.append(f"{words['vat_id']}{sep} {doc.buyer.vat_number}")
    buyer += [_p(_x(line), small) for line in buyer_ids]
    refs = [_p(f"{words['customer_ref']}{sep} <b>{_x(doc.buyer_reference)}</b>", body)]
    if doc.service_period:
        start, end = (short_date(day, lang) for day in doc.service_period)
        refs.append(_p(_x(words["period"].format(start=start, end=end)), body))
    if doc.kind != "penalty":  # a penalty is no supply: no nature of operation to state
        refs.append(_p(words["operation"], small))
    else:  # a penalty invoice says what it bills instead (the payment terms' legal mention is another thing)
        refs.append(Spacer(1, 3))
        refs.append(_p(f"<b>{words['penalty_subtitle']}</b>", body))
    if doc.delivery is not None:  # a 2026 mention: where the services are delivered, when not billed there
        refs.append(Spacer(1, 3))
        refs.append(_p(f"{words['delivered_at']}{sep}", _style("delivered", 8, True, MUTED, space_after=1)))
        refs += [_p(line, small) for line in [_x(doc.delivery.name), *_address(doc.delivery, lang)]]
    parties = Table([[refs, buyer]], colWidths=[width * 0.5, width * 0.5])
    parties.setStyle(_table_style([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
        ("BOX", (1, 0), (1, 0), 0.6, RULE), ("BACKGROUND", (1, 0), (1, 0), STRIPE),
        ("LEFTPADDING", (1, 0), (1, 0), 8), ("TOPPADDING", (1, 0), (1, 0), 6), ("BOTTOMPADDING", (1, 0), (1, 0), 7)]))

    # the lines
    table = [[_p(words["col_desc"], head_cell), _p(words["col_qty"], head_right), _p(words["col_price"], head_right),
              _p(words["col_vat"], head_right), _p(words["col_amount"], head_right)]]
    for line in doc.lines:
        category = figures.category(line.vat_rate)
        table.append([_p(_x(line.description), cell), _p(quantity(line, lang), cell_right),
                      _p(unit_price(line.unit_price * sign, lang), cell_right),
                      _p("–" if category == "O" else percent(line.vat_rate, lang), cell_right),
                      _p(money(line.amount_ht * sign, lang), cell_right)])
    lines = Table(table, colWidths=[width - 98 * mm, 16 * mm, 30 * mm, 16 * mm, 36 * mm], repeatRows=1)
    lines.setStyle(_table_style([
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE]),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))

    # the totals
    totals = [[words["total_ht"], money(doc.total_ht * sign, lang)]]
    for category, rate, basis, tax in figures.vat:
        label = {"O": words["vat_row_o"], "E": words["vat_row_e"]}.get(category) or words["vat_row"].format(
            rate=percent(rate, lang))
        if len(figures.vat) > 1:  # several rates: the HT basis of each is a mandatory mention (CGI 242 nonies A)
            label += f" ({words['basis']} {money(basis * sign, lang)})"
        totals.append([label, money(tax * sign, lang)])
    ttc_row = len(totals)
    totals.append([words["total_ttc"], money(doc.total_ttc * sign, lang)])
    if doc.prepaid:  # a credit applied before issue: shown deducted, the net is what remains to pay
        totals.append([words["prepaid"], money(-doc.prepaid, lang)])
    totals.append([words["net_credit" if is_credit else "net"], money(figures.due * sign, lang)])
    total_rows = [[_p(_x(label), body), _p(amount, cell_right)] for label, amount in totals[:-1]]
    total_rows.append([_p(f"<b>{_x(totals[-1][0])}</b>", _style("net", 10, color=colors.white)),
                       _p(f"<b>{totals[-1][1]}</b>", _style("net_amount", 10, color=colors.white, align=TA_RIGHT))])
    summary = Table(total_rows, colWidths=[58 * mm, 34 * mm], hAlign="RIGHT")
    summary.setStyle(_table_style([
        ("LINEABOVE", (0, ttc_row), (-1, ttc_row), 0.6, RULE),
        ("BACKGROUND", (0, -1), (-1, -1), ACCENT), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, -1), (-1, -1), 5), ("BOTTOMPADDING", (0, -1), (-1, -1), 6)]))

    # payment and mentions
    payment = [_p(words["payment"].upper(), _style("section", 8, True, ACCENT, space_after=3)),
               _p(_x(doc.payment_terms), body),
               _p(_x(words["transfer"].format(iban=grouped_iban(doc.iban), bic=doc.bic.strip().upper())), bold)]
    if not is_credit:
        payment.append(_p(_x(words["reference"].format(number=doc.number)), small))
    if doc.payment_link:
        link = _x(doc.payment_link)
        payment.append(_p(words["pay_online"].format(
            link=f'<link href="{link}" color="#1f4e79"><u>{link}</u></link>'), body))
    mentions = []
    if "O" in figures.categories:
        mentions.append(words["mention_o"])
    if "E" in figures.categories:
        mentions.append(words["mention_e"])
    if doc.vat_on_debits and "S" in figures.categories:  # a 2026 mention, when the seller opted
        mentions.append(words["vat_on_debits"])
    mentions.append(penalties(doc))
    mentions.append(words["no_discount"])
    mention_style = _style("mention", 7.5, color=MUTED, leading=9.5, space_after=2)
    notes = [_p(_x(doc.note), _style("note", 8.5, space_after=4))] if doc.note else []

    story = [heading, Spacer(1, 8 * mm), parties, Spacer(1, 7 * mm), lines, Spacer(1, 4 * mm),
             KeepTogether([summary]), Spacer(1, 6 * mm), *notes,
             KeepTogether(payment + [Spacer(1, 4 * mm)] + [_p(_x(text), mention_style) for text in mentions])]

    buffer = io.BytesIO()
    top = MARGIN + (8 * mm if doc.sample_seller else 0)
    template = SimpleDocTemplate(
        # the frame pads its content by 6 pt: the content spans MARGIN to MARGIN, like the footer
        buffer, pagesize=A4, leftMargin=MARGIN - 6, rightMargin=MARGIN - 6, topMargin=top, bottomMargin=20 * mm,
        title=title(doc), author=doc.seller.name, subject=f"{title(doc)} – {doc.buyer.name}",
        creator="support-lifecycle", invariant=1, lang="fr-FR" if lang == "fr" else "en-GB")
    decorate = functools.partial(_decorate, document=doc)
    template.build(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()
