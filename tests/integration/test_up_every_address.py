"""`lifecycle up --host 0.0.0.0`, as ops start it for the other machines of a deployment: it listens on every
address of the machine, but every link it hands out (the UI's, the workbook downloads', the webhooks', server.json's
for this home's commands) names the machine itself, which a browser, a helpdesk or a client can reach."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.up import Up

pytestmark = pytest.mark.prefect


def test_up_on_every_address_hands_out_links_that_name_the_machine(tmp_path):
    """Issue 24 (L3): `up --host 0.0.0.0` printed `the UI is at http://0.0.0.0:PORT`, gave the helpdesk
    `POST http://0.0.0.0:PORT+2/...`, put http://0.0.0.0:PORT+1 in every workbook link of the runs' notices and
    artifacts and http://0.0.0.0:PORT/api in server.json, which this home's commands use: no address of any
    machine. The server still listens on every address."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    machine = socket.gethostname()  # as the docs say: the machine's name, or 127.0.0.1 where even it cannot resolve it
    try:
        socket.getaddrinfo(machine, None)
    except OSError:
        machine = "127.0.0.1"
    up = Up(home, port)
    try:
        lines = up.start("--host", "0.0.0.0")
        record = json.loads((home / "server.json").read_text())
        ui = httpx.get(f"http://{machine}:{port}/api/health", timeout=30)
        local = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=30)  # still listening on every address
    finally:
        up.stop()
    links = re.findall(r"https?://[^\s,)]+", "\n".join(lines))
    assert links and [link for link in links if not link.startswith(f"http://{machine}:")] == [], lines
    assert f"ready: the UI is at http://{machine}:{port} " in "\n".join(lines)
    assert any(line.startswith(f"helpdesk webhook: POST http://{machine}:{port + 2}/") for line in lines), lines
    assert "listening on every address (0.0.0.0)" in "\n".join(lines)
    assert (record["api_url"], record["downloads"]) == (f"http://{machine}:{port}/api", f"http://{machine}:{port + 1}")
    assert record["config"]["LIFECYCLE_DOWNLOAD_URL"] == f"http://{machine}:{port + 1}"
    assert (ui.status_code, local.status_code) == (200, 200)
    from ledger.installation import claim_of
    from lifecycle_config.databases import engine_for

    # the ledger's claim records where the server listens: a worker of another machine is its client by any name
    assert claim_of(engine_for(f"sqlite:///{home / 'ledger.db'}"))["api_url"] == f"http://0.0.0.0:{port}/api"
