"""Finance's monthly workbook of billable interventions, written with XlsxWriter in constant-memory mode.

It is what finance reconciles against the accounts, so its numbers are the ledger's to the cent, and
nothing that comes from data is ever a formula (a customer named `=HYPERLINK(...)` stays a name):
amounts are written as exact decimals with a EUR format. A finance person reads it without a guide:
headers and sheet names in the terms' language (French by default, English as an option), every
amount recomputable from its row (minutes x the hourly rate applied + the fixed fee), one Total row
of formulas per sheet and, on the Summary, one check cell (the Total TTC formula minus the ledger's
total) that is zero. Scripts read the code names: each column's identity is its code (the SUMMARY,
INTERVENTIONS... lists), and the About sheet maps every header to its code and holds the ledger's totals.
Rows stream from the ledger and each row leaves memory once the next one begins, so memory stays flat for
200,000 interventions, and the fingerprint of what the workbook says (not its bytes) tells whether a new
version is needed.
Why XlsxWriter and not openpyxl's write-only mode: the same workbook is written in about two thirds of the
time (benchmarks/RESULTS.md "Export against bare openpyxl"), and each cell is written by its type (a text is
never read as a formula, only a `Formula` of ours is one).
The Commitments sheet is the service side of the month: the clocks of every ticket closed in it, met or
missed, and the month's rate per request type and severity (docs/reference/policy.md "Service commitments").
"""

from __future__ import annotations

import hashlib
import re
import textwrap
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

EUR = '#,##0.00 "€";-#,##0.00 "€"'
DAY = "yyyy-mm-dd"
MOMENT = "yyyy-mm-dd hh:mm"
PERCENT = "0.0%"
DATETIME = "yyyy-mm-dd hh:mm:ss"  # a moment of the About sheet (the generation time)
#: the header row: white bold labels on blue, wrapped, at the top of their cell
HEADER = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#305496", "pattern": 1, "text_wrap": True,
          "valign": "top"}

LANGUAGES = ("fr", "en")

# each sheet's columns: (code name, width, number format); the code is the column's identity, the header
# is its label in the workbook's language (LABELS)
SUMMARY = [("customer_id", 14, None), ("name", 34, None), ("included_minutes", 12, None), ("used_minutes", 13, None),
           ("over_minutes", 13, None), ("subscription", 14, EUR), ("overage", 14, EUR), ("always_billed", 15, EUR),
           ("surcharge", 14, EUR), ("penalties", 14, EUR), ("invoices", 28, None), ("total_ht", 14, EUR),
           ("total_vat", 13, EUR), ("total_ttc", 14, EUR)]
INTERVENTIONS = [("started_at", 18, MOMENT), ("service_month", 10, None), ("customer_id", 14, None),
                 ("customer_name", 30, None), ("ticket", 12, None), ("engineer", 14, None), ("category", 20, None),
                 ("minutes", 10, None), ("free_minutes", 11, None), ("billed_minutes", 10, None),
                 ("hourly_rate", 13, EUR), ("fee", 12, EUR), ("amount_ht", 13, EUR), ("invoice", 14, None)]
INVOICES = [("number", 14, None), ("customer_id", 14, None), ("customer_name", 30, None), ("kind", 18, None),
            ("month", 10, None), ("status", 12, None), ("issued_on", 12, DAY), ("due_on", 12, DAY),
            ("total_ht", 14, EUR), ("total_vat", 13, EUR), ("total_ttc", 14, EUR), ("balance", 14, EUR),
            ("einvoice_status", 24, None), ("document", 34, None)]
CREDIT_NOTES = [("number", 14, None), ("customer_id", 14, None), ("customer_name", 30, None), ("credits", 14, None),
                ("issued_on", 12, DAY), ("reason", 40, None), ("total_ht", 14, EUR), ("total_vat", 13, EUR),
                ("total_ttc", 14, EUR), ("document", 34, None)]
CREDITS = [("on", 12, DAY), ("customer_id", 14, None), ("customer_name", 30, None), ("kind", 28, None),
           ("amount", 18, EUR), ("reference", 28, None)]
#: one row per clock of each ticket closed in the month (times in Paris wall-clock time)
COMMITMENTS = [("ticket_id", 22, None), ("customer_id", 16, None), ("customer_name", 30, None), ("type", 24, None),
               ("severity", 12, None), ("level", 10, None), ("received_at", 18, MOMENT), ("closed_at", 18, MOMENT),
               ("clock", 34, None), ("due_at", 18, MOMENT), ("stopped_at", 18, MOMENT), ("result", 24, None),
               ("service_credit", 16, EUR)]
#: the small table below it, in its first columns: the month's rate per request type and severity; `rate`
#: is a formula of ours over the row's met and missed cells (widths are COMMITMENTS')
RATES = [("type", None, None), ("severity", None, None), ("clocks", None, None), ("met", None, None),
         ("missed", None, None), ("rate", None, PERCENT)]

HOURS = "0.00"
#: the Commitment metrics sheet: one row per ticket closed in the month (policy.commitment_metrics), grouped by
#: customer, type and severity so that each group's cells are one range; then the figures per group, formulas
#: of ours over those ranges (MEDIAN and PERCENTILE over the hours, SUM over the counts)
MEASURED = [("ticket_id", 22, None), ("customer_id", 16, None), ("type", 24, None), ("severity", 12, None),
            ("met", 10, None), ("missed", 10, None), ("response_hours", 16, HOURS), ("resolution_hours", 16, HOURS),
            ("paused_hours", 16, HOURS)]
METRICS = [("customer_id", None, None), ("type", None, None), ("severity", None, None), ("tickets", 10, None),
           ("met", None, None), ("missed", None, None), ("rate", 12, PERCENT), ("median_response", 18, HOURS),
           ("p90_response", 18, HOURS), ("median_resolution", 18, HOURS), ("p90_resolution", 18, HOURS),
           ("paused_hours", None, HOURS)]

#: code -> (French, English) header
LABELS: dict[str, tuple[str, str]] = {
    "customer_id": ("Client", "Customer"),
    "name": ("Raison sociale", "Company name"),
    "customer_name": ("Raison sociale", "Company name"),
    "included_minutes": ("Minutes incluses", "Included minutes"),
    "used_minutes": ("Minutes du forfait utilisées", "Quota minutes drawn"),  # drawn from the included minutes
    "over_minutes": ("Minutes au-delà du forfait", "Minutes beyond the plan"),
    "subscription": ("Abonnement HT", "Subscription excl. VAT"),
    "overage": ("Dépassement HT", "Overage excl. VAT"),
    "always_billed": ("Prestations facturées HT", "Billed services excl. VAT"),
    "surcharge": ("Frais de paiement HT", "Payment fees excl. VAT"),
    "penalties": ("Pénalités et indemnités", "Penalties and indemnities"),
    "invoices": ("Factures", "Invoices"),
    "total_ht": ("Total HT", "Total excl. VAT"),
    "total_vat": ("TVA", "VAT"),
    "total_ttc": ("Total TTC", "Total incl. VAT"),
    "started_at": ("Date et heure", "Date and time"),
    "service_month": ("Mois de service", "Service month"),
    "ticket": ("Ticket", "Ticket"),
    "engineer": ("Intervenant", "Engineer"),
    "category": ("Catégorie", "Category"),
    "minutes": ("Durée (min)", "Duration (min)"),
    "free_minutes": ("Minutes gratuites (forfait)", "Free minutes (plan)"),
    "billed_minutes": ("Minutes facturées", "Billed minutes"),
    "hourly_rate": ("Taux horaire HT appliqué", "Hourly rate applied excl. VAT"),
    "fee": ("Forfait HT", "Fixed fee excl. VAT"),
    "amount_ht": ("Montant HT", "Amount excl. VAT"),
    "invoice": ("Facture", "Invoice"),
    "number": ("Numéro", "Number"),
    "kind": ("Type", "Type"),
    "month": ("Mois facturé", "Month billed"),
    "status": ("Statut", "Status"),
    "issued_on": ("Émise le", "Issued on"),
    "due_on": ("Échéance", "Due on"),
    "balance": ("Reste à payer", "Left to pay"),
    # the last status the e-invoicing platform gave the invoice (XP Z12-012's code and label: "213 Rejetée")
    "einvoice_status": ("Statut plateforme (e-facture)", "E-invoicing platform status"),
    "document": ("Document (PDF)", "Document (PDF)"),
    "credits": ("Facture créditée", "Credited invoice"),
    "reason": ("Motif", "Reason"),
    "on": ("Date", "Date"),
    "amount": ("Montant (+ dû au client, − utilisé)", "Amount (+ owed to the customer, − used)"),
    "reference": ("Référence", "Reference"),
    "ticket_id": ("Ticket", "Ticket"),
    "type": ("Type de demande", "Request type"),
    "severity": ("Sévérité", "Severity"),
    "level": ("Niveau", "Level"),
    "received_at": ("Reçu le", "Received at"),
    "closed_at": ("Clos le", "Closed at"),
    "clock": ("Engagement", "Commitment"),
    "due_at": ("Échéance", "Due at"),
    "stopped_at": ("Horloge arrêtée le", "Clock stopped at"),
    "result": ("Résultat", "Result"),
    "clocks": ("Engagements comptés", "Clocks counted"),
    "met": ("Tenus", "Met"),
    "missed": ("Manqués", "Missed"),
    "rate": ("Taux de respect", "Rate met"),
    "service_credit": ("Crédit de service HT", "Service credit excl. VAT"),
    "response_hours": ("Première réponse (heures ouvrées)", "First response (working hours)"),
    "resolution_hours": ("Résolution (heures ouvrées)", "Resolution (working hours)"),
    "paused_hours": ("En pause (heures ouvrées)", "Paused (working hours)"),
    "tickets": ("Tickets", "Tickets"),
    "median_response": ("Première réponse : médiane (h ouvrées)", "First response: median (working h)"),
    "p90_response": ("Première réponse : 90e centile (h ouvrées)", "First response: 90th percentile (working h)"),
    "median_resolution": ("Résolution : médiane (h ouvrées)", "Resolution: median (working h)"),
    "p90_resolution": ("Résolution : 90e centile (h ouvrées)", "Resolution: 90th percentile (working h)"),
}

#: sheet code -> (French, English) name, in the workbook's order; all but About are the data sheets
SHEETS: dict[str, tuple[str, str]] = {
    "summary": ("Synthèse", "Summary"),
    "interventions": ("Interventions", "Interventions"),
    "invoices": ("Factures", "Invoices"),
    "credit_notes": ("Avoirs", "Credit notes"),
    "credits": ("Crédits clients", "Customer credits"),
    "commitments": ("Engagements", "Commitments"),
    "metrics": ("Mesures des engagements", "Commitment metrics"),
    "about": ("À propos", "About"),
}
COLUMNS = {"summary": SUMMARY, "interventions": INTERVENTIONS, "invoices": INVOICES, "credit_notes": CREDIT_NOTES,
           "credits": CREDITS, "commitments": COMMITMENTS, "metrics": MEASURED}
#: the second table of a sheet, below its first: its headers are mapped on About too
SECOND_TABLES = {"commitments": RATES, "metrics": METRICS}

#: the ledger's words in a column, as a finance person says them (sheet code -> column code -> word -> labels)
VALUES: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "invoices": {
        "kind": {"monthly": ("Mensuelle", "Monthly"), "penalty": ("Pénalités de retard", "Late-payment penalties"),
                 "imported": ("Importée", "Imported"), "credit_note": ("Avoir", "Credit note")},
        "status": {"draft": ("Brouillon", "Draft"), "open": ("À payer", "Open"), "paid": ("Payée", "Paid"),
                   "disputed": ("Contestée", "Disputed"), "written_off": ("Passée en perte", "Written off"),
                   "void": ("Annulée", "Void")},
    },
    "credits": {
        "kind": {"overpayment": ("Trop-perçu", "Overpayment"),
                 "credit_note": ("Avoir au-delà du solde", "Credit note beyond the balance"),
                 "applied": ("Imputé sur facture", "Applied to an invoice"), "refund": ("Remboursement", "Refund")},
    },
    # the product's own vocabulary (policy.vocabulary, the terms' commitment names); a word without a label
    # (a commitment the terms added) is shown as it is
    "commitments": {
        "type": {"blocking_bug": ("Bug bloquant", "Blocking bug"), "bug": ("Bug non bloquant", "Non-blocking bug"),
                 "evolution": ("Évolution", "Evolution"), "new_feature": ("Nouvelle fonctionnalité", "New feature"),
                 "question": ("Question", "Question"), "assistance": ("Assistance", "Assistance"),
                 "customization": ("Personnalisation", "Customization"), "other": ("Autre", "Other")},
        "severity": {"critical": ("Critique", "Critical"), "major": ("Majeure", "Major"),
                     "minor": ("Mineure", "Minor")},
        "clock": {"first_response": ("Première réponse", "First response"),
                  "blocking_workaround": ("Contournement (bug bloquant)", "Workaround (blocking bug)"),
                  "delivery": ("Livraison", "Delivery"),
                  "new_feature": ("Nouvelle fonctionnalité (information)", "New feature (information)")},
        # a closed ticket's clocks have stopped: met or missed, or information for a floor
        "result": {"met": ("Tenu", "Met"), "missed": ("Manqué", "Missed"),
                   "information": ("Information", "Information")},
    },
}

#: our own words: (French, English)
WORDS = {
    "total": ("Total", "Total"),
    "total.sheets": ("Total des {sheets} feuilles", "Total of the {sheets} sheets"),
    "check": ("Écart avec le grand livre (doit être 0,00)", "Difference with the ledger (must be 0.00)"),
    "summary.empty": ("Aucune intervention facturable ni facture pour {month}.",
                      "No billable intervention or invoice for {month}."),
    "interventions.empty": ("Aucune intervention n'a été valorisée par la clôture de {month}.",
                            "No intervention was priced in the {month} close."),
    "invoices.empty": ("Aucune facture pour {month}.", "No invoice for {month}."),
    "credit_notes.empty": ("Aucun avoir émis en {month}.", "No credit note issued in {month}."),
    "credits.empty": ("Aucun mouvement de crédit client en {month}.", "No customer credit movement in {month}."),
    "commitments.empty": ("Aucun ticket clos en {month}.", "No ticket closed in {month}."),
    "commitments.rates": ("Taux de respect des engagements en {month} par type de demande et sévérité : "
                          "tenus ÷ (tenus + manqués), hors engagements pour information",
                          "Commitments met in {month} by request type and severity: "
                          "met ÷ (met + missed), informational clocks left out"),
    "commitments.no_severity": ("(non renseignée)", "(not set)"),
    "metrics.empty": ("Aucun ticket clos en {month}.", "No ticket closed in {month}."),
    "metrics.title": ("Mesures de {month} par client, type de demande et sévérité, en heures ouvrées depuis la "
                      "réception (temps en pause déduit) ; médianes et 90e centiles sur les tickets qui ont le moment",
                      "{month} in figures by customer, request type and severity, in working hours from arrival "
                      "(time paused deducted); medians and 90th percentiles over the tickets that have the moment"),
}

#: minute counts a Total row adds up (besides the EUR columns)
COUNTS = ("included_minutes", "used_minutes", "over_minutes", "minutes", "free_minutes", "billed_minutes")
#: EUR columns a total of would mean nothing
NOT_SUMMED = ("hourly_rate",)
#: Summary columns whose grand total is a formula on the sheet and the ledger's value on About
TOTALLED = [name for name, _, style in SUMMARY if style == EUR] + ["included_minutes", "used_minutes", "over_minutes"]


def summed(columns) -> list[str]:
    """The columns a sheet's Total row adds up."""
    return [name for name, _, style in columns
            if (style == EUR and name not in NOT_SUMMED) or name in COUNTS]


def label(code: str, language: str) -> str:
    return LABELS[code][LANGUAGES.index(language)]


def sheet_name(code: str, language: str) -> str:
    return SHEETS[code][LANGUAGES.index(language)]


def word(key: str, language: str, **values) -> str:
    return WORDS[key][LANGUAGES.index(language)].format(**values)


@dataclass
class Written:
    path: Path
    fingerprint: str
    rows: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    interventions: int = 0


#: the parts of the saved workbook that hold the data sheets (Summary, Interventions, Invoices, Credit notes,
#: Customer credits, Commitments: every sheet but About, the last), in sheet order
def _data_sheets(count: int) -> tuple[str, ...]:
    """The parts of the `count` data sheets (every sheet but the About, which is written last)."""
    return tuple(f"xl/worksheets/sheet{index}.xml" for index in range(1, count + 1))


def _fingerprint(path: Path, about: list[tuple[str, Any]], data_sheets: int) -> str:
    """What the workbook says, without when it was made: the XML of the data sheets (XlsxWriter writes the
    same bytes for the same rows; the zip around them carries timestamps) and the About sheet's values
    except the generation time and flow run. Hashing the written parts costs a fraction of hashing every
    row as it is written."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in _data_sheets(data_sheets):
            with archive.open(name) as part:
                while chunk := part.read(1 << 20):
                    digest.update(chunk)
    digest.update(repr([(key, value) for key, value in about if key not in ("generated_at", "flow_run_id")]).encode())
    return digest.hexdigest()


class Formula(str):
    """A formula of ours (a Total's SUM, a rate, the Summary's check): the only text written as a formula. A
    text of the ledger is always written as text, whatever it begins with (OWASP: formula injection)."""


#: the `_` of `_xHHHH_`, OOXML's escape of a character XML cannot hold (`_x001B_` is ESC): Excel decodes it in
#: every text of a workbook it opens, so a text that holds it literally (a name typed `evil_x001B_[2J`) showed
#: another text. OOXML escapes that `_` itself as `_x005F_`.
_ESCAPE_LIKE = re.compile(r"_(?=[xX][0-9A-Fa-f]{4}_)")
#: the control characters XML cannot hold, written as their `_xHHHH_` (tab and line feed stay as they are)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def as_typed(value: Any) -> Any:
    """`value`, a text written so that Excel shows it as typed (its `_xHHHH_` kept literally); else as it is."""
    if value.__class__ is str and ("_x" in value or "_X" in value):
        return _ESCAPE_LIKE.sub("_x005F_", value)
    return value


class _Worksheet(Worksheet):
    """XlsxWriter's worksheet, with our escape of a text's `_xHHHH_`: XlsxWriter escapes only the lower-case
    `_x`, and runs two expressions over every text; ours escapes `_X` too (as_typed), and runs them only on a
    text that holds `_x`, `_X` or a character that is not printable (the export's hot path: 200,000 rows).
    XlsxWriter calls it on every text of a cell in constant-memory mode (3.x); test_workbook_escapes checks it."""

    @staticmethod
    def _escape_control_characters(data):
        if data.__class__ is not str:
            return data
        data = as_typed(data)
        if not data.isprintable():
            data = _CONTROL.sub(lambda match: f"_x{ord(match.group()):04X}_", data)
        if data[:3] == "<r>" and data[-4:] == "</r>":
            # XlsxWriter would write such a text as raw rich-text XML: its `<` is written as its escape instead
            data = "_x003C_" + data[1:]
        return data


class _Book:
    """The XlsxWriter workbook and its formats: one Format per look, shared by every cell that has it."""

    #: every text is written as text: XlsxWriter would otherwise write a text beginning with `=` as a formula,
    #: a numeric text as a number and a URL as a link (write_string never does; these say it for write())
    OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
               "strings_to_urls": False}

    def __init__(self, path: Path):
        self.workbook = xlsxwriter.Workbook(str(path), {**self.OPTIONS, "tmpdir": str(path.parent)})
        self._formats: dict[tuple[str | None, bool], Any] = {}
        self.header = self.workbook.add_format(HEADER)
        self.sheets = 0

    def format(self, number_format: str | None, bold: bool = False):
        """The Format of a number format (None: the default) in bold or not; None for a plain cell."""
        key = (number_format, bold)
        if key not in self._formats:
            properties: dict[str, Any] = {"num_format": number_format} if number_format else {}
            if bold:
                properties["bold"] = True
            self._formats[key] = self.workbook.add_format(properties) if properties else None
        return self._formats[key]

    def add_sheet(self, name: str) -> "_Sheet":
        self.sheets += 1
        return _Sheet(self, self.workbook.add_worksheet(name, worksheet_class=_Worksheet))

    def close(self) -> None:
        self.workbook.close()


#: rows of a worksheet (Excel's and XlsxWriter's limit: XlsxWriter ignores a cell below it and says nothing)
SHEET_ROWS = 1_048_576
#: interventions one Interventions sheet holds: its header row, the rows, a blank row and the Total row (and,
#: on the last of several, the row that adds up every sheet's Total)
INTERVENTION_ROWS = SHEET_ROWS - 4


class SheetFull(ValueError):
    """A row past a worksheet's last one: written, it would be lost without a word."""


class _Sheet:
    """A worksheet written from top to bottom, one row after the other (constant-memory mode writes each row
    to disk when the next one begins): `row` is the next row's index, from 0."""

    def __init__(self, book: _Book, worksheet):
        self.book, self.worksheet, self.row = book, worksheet, 0
        self.day, self.moment = book.format(DAY), book.format(DATETIME)

    def append(self, values: list[Any], formats: list[Any] | None = None) -> None:
        """Write one row, each cell by its value's type, with its column's format; None leaves a cell empty."""
        row, worksheet = self.row, self.worksheet
        if row >= SHEET_ROWS:
            raise SheetFull(f"sheet {worksheet.name} is full: a sheet holds {SHEET_ROWS:,} rows")
        for column, value in enumerate(values):
            if value is None:
                continue
            cell_format = formats[column] if formats else None
            kind = value.__class__
            if kind is str:
                worksheet.write_string(row, column, value, cell_format)
            elif kind is Formula:
                # no result stored beside it (XlsxWriter's default is 0): LibreOffice then computes it on
                # opening, as Excel does, instead of showing a 0 it takes for Excel's own result
                worksheet.write_formula(row, column, value, cell_format, "")
            elif kind is datetime:
                worksheet.write_datetime(row, column, value, cell_format or self.moment)
            elif kind is date:
                worksheet.write_datetime(row, column, value, cell_format or self.day)
            elif kind is bool:
                worksheet.write_boolean(row, column, value, cell_format)
            elif isinstance(value, (int, float, Decimal)):
                worksheet.write_number(row, column, value, cell_format)
            else:
                worksheet.write_string(row, column, str(value), cell_format)
        self.row += 1

    def skip(self) -> None:
        """A blank row."""
        self.row += 1

    def auto_filter(self, columns: int, rows: int) -> None:
        """A filter on the header row over the first `rows` rows (the header's included)."""
        self.worksheet.autofilter(0, 0, max(rows - 1, 0), columns - 1)


def _sheet(book: _Book, code: str, language: str, part: int = 1) -> _Sheet:
    """A data sheet and its header row: the labels wrapped in a row tall enough to show them whole, frozen,
    and repeated on every printed page; printed on A4, one page wide (landscape when wide). `part` > 1 is a
    continuation of the sheet, named `Interventions (2)`."""
    columns = COLUMNS[code]
    sheet = book.add_sheet(sheet_name(code, language) + (f" ({part})" if part > 1 else ""))
    widths = [width for _, width, _ in columns]
    for index, (_, width, _) in enumerate(SECOND_TABLES.get(code, [])):
        if width is not None:
            widths += [8] * (index + 1 - len(widths))
            widths[index] = max(widths[index], width)
    for index, width in enumerate(widths):
        sheet.worksheet.set_column(index, index, width)
    sheet.worksheet.freeze_panes(1, 0)
    lines = max(len(textwrap.wrap(label(name, language), max(width - 3, 4))) for name, width, _ in columns)
    sheet.worksheet.set_row(0, 15 * lines + 3)
    _print_setup(sheet, sum(width for _, width, _ in columns))
    sheet.worksheet.repeat_rows(0)  # the header on every printed page
    _header(sheet, [name for name, _, _ in columns], language)
    return sheet


#: the widest sheet (in column width units, characters of the default font) an A4 page holds upright at a
#: readable scale; a wider one prints landscape
PORTRAIT_WIDTH = 100
A4 = 9  # the paper size code of OOXML's pageSetup


def _print_setup(sheet: _Sheet, width: float) -> None:
    """As finance prints: A4, every column on one page width (as many pages down as the rows need),
    landscape when the columns are wider than a portrait page."""
    sheet.worksheet.set_paper(A4)
    if width > PORTRAIT_WIDTH:
        sheet.worksheet.set_landscape()
    else:
        sheet.worksheet.set_portrait()
    sheet.worksheet.fit_to_pages(1, 0)


def _header(sheet: _Sheet, names: list[str], language: str) -> None:
    """A header row: the columns' labels, white on blue, wrapped."""
    sheet.append([label(name, language) for name in names], [sheet.book.header] * len(names))


class _RowWriter:
    """Appends rows with each column's number format (a Total row's in bold).

    Dates without a format of their column get DAY, moments DATETIME: a number format of a date is what
    makes a spreadsheet show a date."""

    def __init__(self, sheet: _Sheet, columns):
        self.sheet = sheet
        self.formats = [sheet.book.format(style) for _, _, style in columns]
        self.bold = [sheet.book.format(style, bold=True) for _, _, style in columns]

    def append(self, values: list[Any], bold: bool = False) -> None:
        """Append a row. A text is always text (`_xHHHH_` kept literally); only a Formula is a formula."""
        self.sheet.append(values, self.bold if bold else self.formats)


def _total_row(writer: _RowWriter, columns, first: int, last: int, language: str) -> int:
    """A blank row, then the Total row: a SUM formula over rows first..last for each summed column (0 when
    there is no row). Returns the Total row's number."""
    names = [name for name, _, _ in columns]
    adds = set(summed(columns))
    values: list[Any] = []
    for index, name in enumerate(names):
        letter = xl_col_to_name(index)
        if index == 0:
            values.append(word("total", language))
        elif name in adds:
            values.append(Formula(f"=SUM({letter}{first}:{letter}{last})") if last >= first else 0)
        else:
            values.append(None)
    writer.sheet.skip()
    writer.append(values, bold=True)
    return last + 2


def _table(book: _Book, code: str, records: Iterable[dict], month: str, language: str,
           totals: list[tuple[str, Any]]) -> int:
    """A sheet of `records` (dicts by code; a generator is consumed once, row by row, so a sheet of every
    invoice of a large month is never held whole), its ledger words translated, then its Total row; a
    sentence instead when there is nothing. The ledger's sums go to `totals` (for About)."""
    columns = COLUMNS[code]
    sheet = _sheet(book, code, language)
    writer = _RowWriter(sheet, columns)
    names = [name for name, _, _ in columns]
    which = LANGUAGES.index(language)
    words = {name: {value: labels[which] for value, labels in table.items()}
             for name, table in VALUES.get(code, {}).items()}
    adds = summed(columns)
    sums = {name: Decimal("0.00") for name in adds}
    count = 0
    for record in records:
        count += 1
        values = []
        for name in names:
            value = record[name]
            if name in words:
                value = words[name].get(value, value)
            values.append(value)
        writer.append(values)
        for name in adds:
            sums[name] += record[name] or 0
    sheet.auto_filter(len(columns), count + 1)
    if count:
        _total_row(writer, columns, 2, count + 1, language)
    else:
        sheet.append([word(f"{code}.empty", language, month=month)])
    totals += [(f"total.{code}.{name}", sums[name]) for name in adds]
    return count


def write_workbook(path: Path, *, month: str, summary: Iterable[dict], interventions: Iterable[list],
                   invoices: Iterable[dict], about: list[tuple[str, Any]], credit_notes: list[dict] | None = None,
                   credits: list[dict] | None = None, commitments: list[dict] | None = None,
                   measured: list[dict] | None = None, language: str = "fr",
                   sheet_rows: int = SHEET_ROWS) -> Written:
    """Write the seven sheets, in `language` ("fr" or "en"). `interventions` yields rows in the INTERVENTIONS
    column order (lists, the hot path: 200,000 rows and more) and may be a generator, consumed once; the
    other sheets take dicts by code name, the Summary and the Invoices (one row a customer, an invoice) as
    generators too."""
    if language not in LANGUAGES:
        raise ValueError(f"workbook language {language!r}: one of {', '.join(LANGUAGES)}")
    credit_notes, credits, commitments = credit_notes or [], credits or [], commitments or []
    book = _Book(path)

    # Summary: one row per customer, the Total row (formulas), and the check cell against the ledger's total
    sheet = _sheet(book, "summary", language)
    writer = _RowWriter(sheet, SUMMARY)
    names = [name for name, _, _ in SUMMARY]
    totals = {name: Decimal("0.00") if name not in COUNTS else 0 for name in TOTALLED}
    customers = 0
    for record in summary:
        customers += 1
        writer.append([record[name] for name in names])
        for name in TOTALLED:
            totals[name] += record[name]
    last = customers + 1
    sheet.auto_filter(len(SUMMARY), last)
    if not customers:
        writer.append([word("summary.empty", language, month=month)] + [None] * (len(names) - 1))
    total_row = _total_row(writer, SUMMARY, 2, last, language) + (0 if customers else 1)
    ttc = names.index("total_ttc")
    ledger_ttc = totals["total_ttc"]
    check = Formula(f"=ROUND({xl_col_to_name(ttc)}{total_row}"
                    f"{'-' if ledger_ttc >= 0 else '+'}{format(abs(ledger_ttc), 'f')},2)")
    bold = book.format(None, bold=True)
    sheet.append([word("check", language)] + [None] * (ttc - 1) + [check],
                 [bold] * ttc + [book.format(EUR, bold=True)])

    # Interventions: streamed, continued on `Interventions (2)`, ... when a sheet is full (a large vendor's
    # month: a worksheet holds 1,048,576 rows), each sheet with its Total row, the last one adding them up
    parts = _interventions_sheets(book, interventions, month, language, sheet_rows)
    count = sum(rows for _, rows in parts)
    sheet_totals: list[tuple[str, Any]] = []
    rows = customers + count
    rows += _table(book, "invoices", invoices, month, language, sheet_totals)
    rows += _table(book, "credit_notes", credit_notes, month, language, sheet_totals)
    rows += _table(book, "credits", credits, month, language, sheet_totals)
    # the service side's two sheets are written by their own module (it builds on this one's helpers)
    from reports.workbook_commitments import commitments_sheet, metrics_sheet

    rows += commitments_sheet(book, commitments, month, language)
    rows += metrics_sheet(book, measured or [], month, language)

    # About: the run's and the terms' values, then what scripts need: the language, each sheet's name and each
    # header's code name, and the ledger's totals (the Summary's as total.<code>)
    about = list(about) + [("language", language)]
    about += [(f"sheet.{code}", sheet_name(code, language)) for code in SHEETS]
    about += [(f"sheet.interventions.{part}", name) for part, (name, _) in enumerate(parts[1:], start=2)]
    mapped: dict[str, str] = {}  # a header both tables of a sheet have is one code
    for code, columns in COLUMNS.items():
        for name, _, _ in columns + SECOND_TABLES.get(code, []):
            key = f"column.{sheet_name(code, language)}.{label(name, language)}"
            if mapped.setdefault(key, name) != name:
                raise ValueError(f"{key} names two columns: {mapped[key]} and {name}")
    about += list(mapped.items())
    about += [(f"total.{name}", totals[name]) for name in TOTALLED] + sheet_totals
    sheet = book.add_sheet(sheet_name("about", language))
    sheet.worksheet.set_column(0, 0, 52)
    sheet.worksheet.set_column(1, 1, 60)
    _print_setup(sheet, 52 + 60)
    money = [None, book.format(EUR)]
    for key, value in about:
        sheet.append([key, value], money if key.startswith("total.") and isinstance(value, Decimal) else None)

    data_sheets = book.sheets - 1
    book.close()
    return Written(path, _fingerprint(path, about, data_sheets), rows, {name: totals[name] for name in TOTALLED},
                   count)


def _interventions_sheets(book: _Book, interventions: Iterable[list], month: str, language: str,
                          sheet_rows: int) -> list[tuple[str, int]]:
    """Write the interventions on as many sheets as they need, `sheet_rows` rows each at most; returns each
    sheet's name and its number of interventions. Each sheet ends with its Total row; when there are several,
    the last one then adds up every sheet's Total, so finance reads the month's total in one cell."""
    per_sheet = sheet_rows - 4  # header, blank row, Total row, the Total of the sheets
    if per_sheet < 1:
        raise ValueError(f"a sheet of {sheet_rows} rows holds no intervention")
    parts: list[tuple[str, int]] = []
    totals: list[int] = []  # each sheet's Total row (1-based)
    sheet = _sheet(book, "interventions", language)
    writer, count = _RowWriter(sheet, INTERVENTIONS), 0
    for values in interventions:
        if count == per_sheet:
            sheet.auto_filter(len(INTERVENTIONS), count + 1)
            totals.append(_total_row(writer, INTERVENTIONS, 2, count + 1, language))
            parts.append((sheet.worksheet.name, count))
            sheet = _sheet(book, "interventions", language, part=len(parts) + 1)
            writer, count = _RowWriter(sheet, INTERVENTIONS), 0
        writer.append(values)
        count += 1
    sheet.auto_filter(len(INTERVENTIONS), count + 1)
    if count:
        totals.append(_total_row(writer, INTERVENTIONS, 2, count + 1, language))
    else:  # only ever the first sheet: a continuation begins with a row
        sheet.append([word("interventions.empty", language, month=month)])
    parts.append((sheet.worksheet.name, count))
    if len(parts) > 1:
        adds = set(summed(INTERVENTIONS))
        values: list[Any] = [word("total.sheets", language, sheets=len(parts))]
        for index, (name, _, _) in enumerate(INTERVENTIONS[1:], start=1):
            letter = xl_col_to_name(index)
            values.append(Formula("=" + "+".join(f"'{part}'!{letter}{row}" for (part, _), row in zip(parts, totals)))
                          if name in adds else None)
        writer.append(values, bold=True)
    return parts
