"""A read-only HTTP server for finance's workbooks when storage is a local folder.

The Prefect UI shows links as links; a `file://` link cannot be opened from a web page, so
`lifecycle up` serves the folder's `exports/` over HTTP on loopback (S3 storage gets presigned
URLs instead). Nothing but files under `exports/` is served, and only to GET.
"""

from __future__ import annotations

import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


def serve_exports(root: Path, host: str, port: int) -> ThreadingHTTPServer:
    root = root.resolve()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            relative = unquote(urlparse(self.path).path).lstrip("/")
            target = (root / relative).resolve()
            if not relative.startswith("exports/") or root not in target.parents or not target.is_file():
                self.send_error(404, "no such export")
                return
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
            self.send_header("Content-Disposition", f'attachment; filename="{target.name}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="exports").start()
    return server
