"""The Factur-X PDF: the printed document and its XML in one PDF/A-3 file, and the check of such a file.

This module exists for the container, not the content: it takes the drawing of pdf.py and the XML of
cii.py, made from the same checked figures, and has the `factur-x` library combine them (PDF/A-3 XMP,
`factur-x.xml` attached with AFRelationship Data); pypdf then finishes what factur-x leaves to do for
PDF/A-3b: an sRGB OutputIntent, the document information dictionary brought in line with the XMP
packet, link annotations flagged printable. `check_facturx` reads such a file back (the embedded XML
against the EN 16931 XSD, the XMP's PDF/A-3 claim) before it is stored or sent.

Limits: PDF/A-3b conformance is approached, not proven (no veraPDF here).
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

import facturx
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject,
                           TextStringObject)

from reports.invoice_document import cii
from reports.invoice_document.cii import GUIDELINE, RAM, RSM
from reports.invoice_document.figures import Figures, InvoiceDocument
from reports.invoice_document.pdf import draw
from reports.invoice_document.wording import title


def _srgb_profile() -> bytes:
    """An sRGB ICC profile made by LittleCMS through Pillow (a reportlab dependency).

    LittleCMS stamps its profiles version 4.3/4.4; PDF/A-3 (ISO 32000-1) names ICC.1:2004-10, version
    4.2, whose tags (mluc, para, sf32, XYZ, chrm) are all this profile uses: the header says 4.2. The
    profile ID (bytes 84-99) is left as LittleCMS wrote it, zero, which means "not computed"."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if profile[8] == 4 and profile[9] > 0x20:
        profile[8:12] = bytes([4, 0x20, 0, 0])
    return bytes(profile)


def _pdf_date(xmp_date: datetime | None) -> str:
    moment = xmp_date or datetime.now(timezone.utc)
    if moment.tzinfo is None:  # pypdf gives the XMP dates as naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def _finish_pdfa(pdf: bytes) -> bytes:
    """What factur-x leaves to do for PDF/A-3b: an OutputIntent (device RGB colours need one), the
    Info dictionary equal to the XMP packet (Producer, dates; no Keywords the XMP lacks), printable
    link annotations."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = b"%PDF-1.7"  # PDF/A-3 is ISO 32000-1 (/AF, associated files)
    icc = DecodedStreamObject()
    icc.set_data(_srgb_profile())
    icc[NameObject("/N")] = NumberObject(3)
    icc_ref = writer._add_object(icc.flate_encode())
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"),
        NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/RegistryName"): TextStringObject("http://www.color.org"),
        NameObject("/DestOutputProfile"): icc_ref,
    })
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([intent])
    for page in writer.pages:
        for annotation in page.get("/Annots", None) or []:
            annotation.get_object()[NameObject("/F")] = NumberObject(4)  # Print
    xmp = reader.xmp_metadata
    info = dict(reader.metadata or {})
    info.pop("/Keywords", None)  # factur-x's XMP has no pdf:Keywords
    info.pop("/Trapped", None)   # nor pdf:Trapped
    if xmp is not None:
        info["/Producer"] = xmp.pdf_producer or info.get("/Producer", "")
        info["/Creator"] = xmp.xmp_creator_tool or info.get("/Creator", "")
        info["/CreationDate"] = _pdf_date(xmp.xmp_create_date)
        info["/ModDate"] = _pdf_date(xmp.xmp_modify_date)
    writer.metadata = {key: str(value) for key, value in info.items()}
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def facturx_pdf(doc: InvoiceDocument) -> bytes:
    """The printed document with its CII XML embedded as `factur-x.xml` (EN 16931), as PDF/A-3b as
    reportlab + factur-x + pypdf make it (XMP pdfaid part 3 / B, sRGB OutputIntent, fonts embedded)."""
    figures = Figures.of(doc)  # checked once, read by both
    xml = cii.write(figures)
    pdf = draw(figures)
    metadata = {"author": doc.seller.name, "title": title(doc), "subject": f"{title(doc)} – {doc.buyer.name}"}
    combined = facturx.generate_from_binary(
        pdf, xml, flavor="factur-x", level="en16931", check_xsd=True,
        lang="fr-FR" if doc.language == "fr" else "en-GB", pdf_metadata=metadata,
        xmp_compression=False)  # PDF/A-1 forbade a filtered catalog XMP: plain text is safe everywhere
    return _finish_pdfa(combined)


def check_facturx(pdf_bytes: bytes) -> bytes:
    """The embedded EN 16931 XML of a Factur-X PDF, once checked; ValueError with a one-line reason."""
    try:
        reader = PdfReader(io.BytesIO(pdf_bytes))
        root = reader.trailer["/Root"]
    except Exception as error:  # pypdf raises many kinds on garbage
        raise ValueError(f"not a readable PDF: {_one_line(error)}") from error
    try:
        filename, xml = facturx.get_xml_from_pdf(pdf_bytes, check_xsd=False)
    except Exception as error:
        raise ValueError(f"no Factur-X XML could be extracted: {_one_line(error)}") from error
    if not xml or filename != "factur-x.xml":
        raise ValueError("the PDF embeds no factur-x.xml")
    try:
        tree = etree.fromstring(xml)
        facturx.xml_check_xsd(tree, flavor="factur-x", level="en16931")
    except Exception as error:
        raise ValueError(f"factur-x.xml is not valid against the EN 16931 XSD: {_one_line(error)}") from error
    guideline = tree.findtext(f"{{{RSM}}}ExchangedDocumentContext/{{{RAM}}}GuidelineSpecifiedDocumentContextParameter/"
                              f"{{{RAM}}}ID")
    if guideline != GUIDELINE:
        raise ValueError(f"factur-x.xml declares the guideline {guideline!r}, not {GUIDELINE}")
    metadata = root.get("/Metadata")
    if metadata is None:
        raise ValueError("the PDF has no XMP metadata")
    try:
        packet = etree.fromstring(metadata.get_object().get_data())
    except Exception as error:
        raise ValueError(f"the PDF's XMP metadata is not XML: {_one_line(error)}") from error
    pdfaid = "http://www.aiim.org/pdfa/ns/id/"
    parts = [element.text for element in packet.iter(f"{{{pdfaid}}}part")]
    parts += [value for element in packet.iter() if (value := element.get(f"{{{pdfaid}}}part"))]
    if "3" not in [(part or "").strip() for part in parts]:
        raise ValueError("the PDF's XMP metadata does not declare PDF/A-3 (pdfaid:part 3)")
    return xml


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__
