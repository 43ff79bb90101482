"""`lifecycle up --port N` listens on N, N+1 and N+2: a port in use is named before anything starts, with what
needs it, never "the Prefect server exited with code 1; see server.log"."""

from __future__ import annotations

import socket

from lifecycle.server import taken_port


def test_a_port_in_use_is_named_with_what_needs_it():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        assert taken_port("127.0.0.1", [(busy, "the helpdesk webhook")]) == (
            f"port {busy} on 127.0.0.1 is in use, and the helpdesk webhook needs it: stop what listens there, or "
            f"choose another --port (up uses N, N+1 and N+2)")
    assert taken_port("127.0.0.1", [(busy, "the helpdesk webhook")]) is None  # free again once closed


def test_a_port_past_65535_is_no_port():
    assert taken_port("127.0.0.1", [(65536, "the helpdesk webhook")]) == (
        "port 65536 (the helpdesk webhook) is no TCP port: give a --port from 1 to 65533 (up uses N, N+1 and N+2)")


def _prefect_like_server(home: str):
    """An HTTP server on loopback that answers as a Prefect server keeping its data in `home` would."""
    import json
    from tests.support.ports import serve_in_thread
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = {"/api/health": True, "/api/admin/settings": {"home": home}}.get(self.path)
            payload = json.dumps(body).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_thread(server)
    return server


def test_a_server_of_another_home_that_took_the_port_is_not_deployed_into(tmp_path):
    """The port was free when up looked, another process's server took it while up's was starting: that
    server answers, but up must not register its installation there."""
    import subprocess
    import sys

    import pytest

    from lifecycle.server import _wait_until_up

    other = _prefect_like_server(str(tmp_path / "someone-else"))
    starting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # ours, still starting
    try:
        api = f"http://127.0.0.1:{other.server_address[1]}/api"
        with pytest.raises(RuntimeError) as refused:
            _wait_until_up(api, starting, timeout=20, prefect_home=str(tmp_path / "ours"))
        assert str(refused.value) == (f"another Prefect server (its data in {tmp_path / 'someone-else'}) took {api} "
                                      f"while this one was starting: stop it, or choose another --port")
        _wait_until_up(api, starting, timeout=20, prefect_home=str(tmp_path / "someone-else"))  # its own: up
    finally:
        starting.kill()
        other.shutdown()
