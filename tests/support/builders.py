"""Small helpers that write import files and a platform database for tests, the way users would."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import MetaData, insert

CUSTOMER_HEADER = ["customer_id", "name", "email", "monthly_fee", "payment_method", "billing_cycle",
                   "contract_start", "vat_rate", "included_minutes", "dunning_exempt"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


class ErrorCell(str):
    """An .xlsx error cell (`t="e"`: `#N/A`, `#REF!`) for `xlsx_as_written`."""


#: how `xlsx_as_written` stores a text: in the shared strings (Excel's way), inline (openpyxl's), or either one
#: as rich text, split in two runs (the second bold) where the text's first `_x` begins
STRING_FORMS = ("shared", "inline", "shared-rich", "inline-rich")


def xlsx_as_written(path: Path, header: list[str], rows: list[list], form: str = "shared") -> Path:
    """An .xlsx whose texts are written in its XML exactly as given: `Evil_x202E_txt` is the text Excel shows as
    Evil, U+202E, txt (OOXML's escape; openpyxl would write no escape of its own but reads none either). Texts
    are stored as `form` says; an `ErrorCell` is an error cell. The least package Excel and openpyxl open."""
    import zipfile
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    strings: list[str] = []

    def runs(text: str) -> str:
        if not form.endswith("rich"):
            return f'<t xml:space="preserve">{escape(text)}</t>'
        cut = text.find("_x") if text.find("_x") > 0 else len(text) // 2
        return (f'<r><t xml:space="preserve">{escape(text[:cut])}</t></r>'
                f'<r><rPr><b/></rPr><t xml:space="preserve">{escape(text[cut:])}</t></r>')

    def cell(reference: str, value) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, ErrorCell):
            return f'<c r="{reference}" t="e"><v>{escape(value)}</v></c>'
        if form.startswith("inline"):
            return f'<c r="{reference}" t="inlineStr"><is>{runs(str(value))}</is></c>'
        strings.append(runs(str(value)))
        return f'<c r="{reference}" t="s"><v>{len(strings) - 1}</v></c>'

    body = "".join(f'<row r="{number}">' + "".join(cell(f"{get_column_letter(column)}{number}", value)
                                                    for column, value in enumerate(values, start=1)) + "</row>"
                   for number, values in enumerate([header, *rows], start=1))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relations = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    kinds = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kinds}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{kinds}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kinds}.sharedStrings+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships"><Relationship Id="rId1" Type="{relations}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{relations}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships"><Relationship Id="rId1" Type="{relations}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{relations}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>{body}</sheetData>'
            '</worksheet>'),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">' + "".join(f"<si>{text}</si>" for text in strings) + "</sst>"),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
    return path


def customer(customer_id: str, *, name: str | None = None, fee: str = "500.00", method: str = "sepa",
             cycle: str = "monthly", start: str = "", vat: str = "0.20", minutes: str = "", exempt: str = "false"):
    return [customer_id, name or f"Client {customer_id}", f"{customer_id.lower()}@example.com", fee, method, cycle,
            start, vat, minutes, exempt]


def platform(url: str, tenants: list[str]):
    """A platform database shaped like the demo's, with every flag on."""
    from lifecycle_config.databases import engine_for
    from lifecycle.demo import platform_tables

    engine = engine_for(url)
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(tables["tenants"]), [
            {"tenant_id": tenant, "name": tenant, "admin_enabled": True, "platform_enabled": True,
             "operations_enabled": True} for tenant in tenants
        ])
    return engine
