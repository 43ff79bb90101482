"""A read-only HTTP server for finance's workbooks and the invoices' PDFs when storage is a local folder.

The Prefect UI shows links as links; a `file://` link cannot be opened from a web page, so
`lifecycle up` serves the folder's `exports/` and `invoices/` over HTTP, on the address the UI
listens on (loopback by default: they hold customers' data, with no login; S3 storage gets
presigned URLs instead). Nothing else is served (no backup, no half-written `.partial`), to GET and
HEAD; `/exports/` lists the workbooks, newest first.
"""

from __future__ import annotations

import html
import mimetypes
import threading
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from lifecycle.http_limits import BoundedHandler
from policy.calendar import PARIS

#: the only folders of the storage served: finance's workbooks and the invoices' PDFs
SERVED = ("exports", "invoices")


def workbooks(root: Path) -> list[Path]:
    """Every file under `root/exports`, newest first (by when it was written). A symbolic link is skipped, and
    so is anything that lies outside the folder once links are followed: the listing names only what is
    served (a link `exports/pw.xlsx -> /etc/passwd` would show the target's size and time)."""
    folder = root / "exports"
    if not folder.is_dir():
        return []
    inside = folder.resolve()
    files = [path for path in folder.rglob("*") if not path.is_symlink() and path.is_file()
             and not path.name.endswith(".partial") and path.resolve().is_relative_to(inside)]
    return sorted(files, key=lambda path: (path.stat().st_mtime, path.as_posix()), reverse=True)


def listing(root: Path) -> bytes:
    rows = []
    for path in workbooks(root):
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


def serve_exports(root: Path, host: str, port: int) -> ThreadingHTTPServer:
    root = root.resolve()

    class Handler(BoundedHandler):  # a request read within its time: no slow client keeps a thread
        def _answer(self, with_body: bool) -> None:
            relative = unquote(urlparse(self.path).path).lstrip("/")
            if relative.rstrip("/") == "exports":
                self._send(200, "text/html; charset=utf-8", listing(root), None, with_body)
                return
            # where the file really is, after `..` and symbolic links, decides: `exports/../backups/...`
            # begins like an export and is a customer's backup
            served = [(root / folder).resolve() for folder in SERVED]
            try:
                target = (root / relative).resolve()
                found = (not relative.endswith(".partial") and any(folder in target.parents for folder in served)
                         and target.is_file())
            except (ValueError, OSError):  # a NUL, a name longer than the filesystem takes: no export either
                found = False
            if not found:
                self.send_error(404, "no such export")
                return
            self._send(200, mimetypes.guess_type(target.name)[0] or "application/octet-stream", target.read_bytes(),
                       target.name, with_body)

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
