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
