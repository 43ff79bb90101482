"""A read-only HTTP server for finance's workbooks and the invoices' PDFs when storage is a local folder.

The Prefect UI shows links as links; a `file://` link cannot be opened from a web page, so
`lifecycle up` serves the folder's `exports/` and `invoices/` over HTTP, on the address the UI
listens on (loopback by default: they hold customers' data, with no login; S3 storage gets
presigned URLs instead). Only what this installation wrote there is served, to GET and HEAD: the
workbooks its ledger records as exported and the documents of the invoices it holds, each checked against
what the ledger recorded of it. Nothing else (no backup, no half-written `.partial`, no file another
installation's CLI put under those folders); `/exports/` lists the workbooks, newest first.
"""

from __future__ import annotations

import html
import mimetypes
import threading
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from sqlalchemy.exc import SQLAlchemyError

from lifecycle.http_limits import BoundedHandler
from policy.calendar import PARIS

#: the only folders of the storage served: finance's workbooks and the invoices' PDFs
SERVED = ("exports", "invoices")


class NotOurs(Exception):
    """A recorded name whose file is not what this installation wrote there (another size or digest): said as
    such, never served."""


def _regular_inside(root: Path, key: str) -> Path | None:
    """The file of a recorded key when it is a regular file inside its served folder (not a symbolic link, not
    out of the folder once links are followed), else None."""
    path = root / key
    try:
        inside = any(path.resolve().is_relative_to((root / folder).resolve()) for folder in SERVED)
        return path if inside and not path.is_symlink() and path.is_file() else None
    except (ValueError, OSError):  # a NUL, a name longer than the filesystem takes
        return None


#: the SHA-256 of a workbook's file by (path, modification time in ns, size): read once while the file stays as it is
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest_of(path: Path) -> str:
    import hashlib

    status = path.stat()
    seen = (str(path), status.st_mtime_ns, status.st_size)
    if seen not in _DIGESTS:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if len(_DIGESTS) > 1000:
            _DIGESTS.clear()
        _DIGESTS[seen] = digest.hexdigest()
    return _DIGESTS[seen]


def _as_written(path: Path, size: int, sha: str | None) -> bool:
    """Whether a workbook's file is the one the ledger records: its SHA-256 when recorded (a same-size file written
    over it is not), else (exported before digests were recorded) its size."""
    return _digest_of(path) == sha if sha else path.stat().st_size == size


def workbooks(root: Path, engine) -> list[Path]:
    """The workbooks the ledger records as exported whose file is there, as written, at their key (its SHA-256
    the one recorded, or its size for a workbook exported before digests were), newest first (by when it was
    written). Nothing else under `exports/`: a file another installation's CLI put there (a master key's escrow
    copy, its own workbook) is neither listed nor served."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Export

    with session_scope(engine) as session:
        recorded = session.execute(select(Export.key, Export.bytes, Export.sha256)).all()
    files = [path for key, size, sha in recorded if (path := _regular_inside(root, key)) is not None
             and _as_written(path, size, sha)]
    return sorted(files, key=lambda path: (path.stat().st_mtime, path.as_posix()), reverse=True)


def recorded_file(root: Path, relative: str, engine) -> bytes | None:
    """The bytes to serve at `relative`, or None when this installation wrote nothing under that name: a
    workbook the ledger records as exported (its SHA-256 checked, or its size when exported before digests were
    recorded), an invoice's or credit note's document (its SHA-256 checked when recorded) or a deposit of it again
    after a rejection (`<number>-r<k>.pdf`, the ledger holding that deposit). NotOurs when the name is recorded and
    the file is not what was written."""
    import hashlib

    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Export, Invoice

    if "\x00" in relative or len(relative) > 1024:  # no key of ours: never sent to the database
        return None
    expected_size = expected_sha = None
    with session_scope(engine) as session:
        if relative.startswith("exports/"):
            row = session.execute(select(Export.bytes, Export.sha256).where(Export.key == relative).limit(1)).first()
            if row is None:
                return None
            expected_size, expected_sha = row
            if expected_sha:
                expected_size = None
        elif relative.startswith("invoices/"):
            invoice = session.scalar(select(Invoice).where(Invoice.document_key == relative).limit(1))
            if invoice is not None:
                expected_sha = invoice.document_sha256
            elif not _deposited_again(session, relative):
                return None
        else:
            return None
    path = _regular_inside(root, relative)
    if path is None:
        return None
    data = path.read_bytes()
    if (expected_size is not None and len(data) != expected_size) or \
            (expected_sha and hashlib.sha256(data).hexdigest() != expected_sha):
        raise NotOurs(relative)
    return data


def _deposited_again(session, relative: str) -> bool:
    """Whether `relative` is `invoices/YYYY/MM/<number>-r<k>.pdf`, the document of an invoice of the ledger
    rendered again for its k-th deposit after a rejection, and the ledger holds that deposit (ledger.keys)."""
    import re

    from sqlalchemy import select

    from ledger import keys
    from ledger.einvoicing import EinvoiceFlow
    from ledger.models import Invoice

    again = re.fullmatch(r"(.+)-r([1-9][0-9]{0,5})\.pdf", relative.rsplit("/", 1)[-1])
    invoice = again and session.scalar(select(Invoice).where(Invoice.number == again[1]))
    if not invoice or invoice.issued_on is None:
        return False
    deposit = int(again[2])
    return relative == keys.invoice_document_redeposit(invoice.number, invoice.issued_on, deposit) and \
        session.scalar(select(EinvoiceFlow.id).where(EinvoiceFlow.invoice_id == invoice.id,
                                                     EinvoiceFlow.deposit == deposit).limit(1)) is not None


def listing(root: Path, engine) -> bytes:
    rows = []
    for path in workbooks(root, engine):
        relative = path.relative_to(root).as_posix()
        written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).astimezone(PARIS)
        rows.append(f'<tr><td><a href="/{quote(relative)}">{html.escape(path.name)}</a></td>'
                    f"<td>{written:%Y-%m-%d %H:%M %Z}</td><td style='text-align:right'>{path.stat().st_size:,}</td></tr>")
    body = "\n".join(rows) or "<tr><td colspan=3>no workbook yet: the monthly close or `lifecycle run export` writes them</td></tr>"
    page = ("<!doctype html><meta charset=utf-8><title>Billable-interventions workbooks</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em 1em;text-align:left}</style>"
            "<h1>Billable-interventions workbooks</h1><p>Newest first.</p>"
            f"<table><tr><th>workbook</th><th>written (Europe/Paris)</th><th>bytes</th></tr>{body}</table>")
    return page.encode()


def serve_exports(root: Path, host: str, port: int, engine=None) -> ThreadingHTTPServer:
    """Serve what this installation wrote in the folder `root`: only the names its ledger (`engine`, else the
    home's) records, each checked against what it recorded of it (ledger.models.Export, Invoice)."""
    import sys

    from blocks.storage import FolderStore, ForeignStore
    from ledger.db import ledger_engine
    from operations.store_owner import this_installation

    root = root.resolve()
    engine = engine or ledger_engine()
    store = FolderStore(root)
    store.owner = lambda: this_installation(engine)
    try:  # the folder served is a store: marked now as this installation's, so no other installation writes in it
        store.mark()
    except OSError:  # a read-only folder: its layout may still tell (blocks.storage.storage_folder_holding)
        pass
    except ForeignStore as error:  # another installation's: nothing is written there (each write says so); what
        print(f"lifecycle: {error}", file=sys.stderr)  # this one wrote and recorded is still served as checked

    class Handler(BoundedHandler):  # a request read within its time: no slow client keeps a thread
        def _answer(self, with_body: bool) -> None:
            relative = unquote(urlparse(self.path).path).lstrip("/")
            try:
                if relative.rstrip("/") == "exports":
                    self._send(200, "text/html; charset=utf-8", listing(root, engine), None, with_body)
                    return
                # only a name the ledger records: `exports/../backups/...` or a key file put under exports/
                # by another installation's CLI is none
                data = recorded_file(root, relative, engine)
            except NotOurs:
                what = "workbook" if relative.startswith("exports/") else "document"
                self.send_error(409, f"not the {what} this installation wrote (the file at this name was changed "
                                     f"or replaced; it is not served)")
                return
            except (SQLAlchemyError, OSError):  # the ledger or the folder unreachable: one answer, no traceback
                self.send_error(503, "the ledger did not answer; try again")
                return
            if data is None:
                self.send_error(404, "no such export")
                return
            name = relative.rsplit("/", 1)[-1]
            self._send(200, mimetypes.guess_type(name)[0] or "application/octet-stream", data, name, with_body)

        def _send(self, status: int, kind: str, data: bytes, attachment: str | None, with_body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if attachment:
                self.send_header("Content-Disposition", f'attachment; filename="{attachment}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def do_GET(self):
            self._answer(with_body=True)

        def do_HEAD(self):
            self._answer(with_body=False)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="exports").start()
    return server
