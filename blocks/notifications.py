"""`Notifications`: how notices reach customers, and alerts reach ops. SMTP when a host is set, else
`.eml` files in an outbox folder, so the embedded default shows every notice without a mail server.

It is also a Prefect notification block: the automations of `automations.yaml` call its `notify`
inside the Prefect server (which finds this class through the `prefect.collections` entry point),
so an ops alert goes out even when no worker runs: to the ops address, and to the ops webhook,
signed like the platform webhook, when one is set.
"""

from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl
import threading
import time
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Optional

from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field, SecretStr

from blocks.forms import (Text, absolute_path_problem, host_problem, http_url_problem,
                          mail_address_problem)

import lifecycle_config
from lifecycle_config import clock
from lifecycle_config.conditions import Unavailable
from policy.signing import signed_headers


#: alerts sent by this process lately (the Prefect server's), by subject and body, and when
_RECENT: dict[str, float] = {}
_RECENT_LOCK = threading.Lock()
RECENT_SECONDS = 3600.0


def _said_recently(subject: str, body: str) -> bool:
    """Whether this alert went out within RECENT_SECONDS; records it if not."""
    key = hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()
    now = time.monotonic()
    with _RECENT_LOCK:
        for old in [k for k, at in _RECENT.items() if now - at > RECENT_SECONDS]:
            del _RECENT[old]
        if key in _RECENT:
            return True
        _RECENT[key] = now
        return False


class OutboxUnwritable(Unavailable):
    """The outbox folder cannot take a mail (read-only, full, forbidden): the notice waits, and the line says
    what to do."""


class Notifications(NotificationBlock):
    """Customer notices and ops alerts: SMTP settings, or an outbox folder when no SMTP host is set."""

    _block_type_name = "Lifecycle Notifications"
    _block_type_slug = "lifecycle-notifications"
    _description = "Where notices to customers go: an SMTP server, or an outbox folder of .eml files."

    sender: Text(200, mail_address_problem) = Field("Support <support@example.com>", description="From address of every notice.")
    smtp_host: Optional[Text(253, host_problem)] = Field(None, description="SMTP server; empty means notices go to the outbox folder.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 with STARTTLS, 465 with SSL, 25 plain): "
                                                            "from 1 to 65535.")
    security: str = Field("starttls", description="starttls, ssl or none.", pattern="^(starttls|ssl|none)$")
    username: Optional[Text(200)] = Field(None, description="SMTP user, when the server wants one.")
    password: Optional[SecretStr] = Field(None, description="SMTP password (kept secret).")
    outbox_dir: Optional[Text(1024, absolute_path_problem)] = Field(None, description="Folder for .eml files; default $LIFECYCLE_HOME/outbox.")
    timeout_seconds: int = Field(30, ge=1, le=300, description="SMTP connection timeout, in seconds: from 1 to 300.")
    support_phone: Text(200) = Field("01 79 65 66 63", description="The number notices give customers to regularize "
                               "their situation (seed 001: 'contact us on 01 79 65 66 63').")
    ops_email: Text(200, mail_address_problem) = Field("Ops <ops@example.com>", description="Where ops alerts go (failed runs, a late "
                           "backup, approvals waiting): SMTP, or the outbox folder like notices.")
    finance_email: Optional[Text(200, mail_address_problem)] = Field(None, description="Where finance alerts go "
                               "(an invoice refused or in dispute on the e-invoicing platform); empty means the ops "
                               "address.")
    ops_webhook_url: Optional[Text(2048, http_url_problem)] = Field(None, description="Also POST each ops alert here as JSON {subject, body, "
                                           "sent_at} (a chat or paging webhook); empty means mail only.")
    ops_webhook_secret: Optional[SecretStr] = Field(None, description="HMAC-SHA256 key: the alert carries "
                                                    "X-Lifecycle-Signature: sha256=<hex> of its body.")

    def _message(self, to: str, subject: str, body: str, key: str,
                 attachments: list[tuple[str, bytes]] | None = None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="lifecycle.local")
        message["X-Lifecycle-Notice"] = key
        message.set_content(body)
        for filename, content in attachments or []:
            message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
        return message

    def send(self, to: str, subject: str, body: str, *, key: str,
             attachments: list[tuple[str, bytes]] | None = None) -> tuple[str, str]:
        """Send one notice (with its PDF attachments); returns (transport, where it went)."""
        message = self._message(to, subject, body, key, attachments)
        if not self.smtp_host:
            folder = Path(self.outbox_dir) if self.outbox_dir else lifecycle_config.outbox_dir()
            path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".eml")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(bytes(message))
            except OSError as error:
                raise OutboxUnwritable(f"the outbox folder {folder} cannot be written ({error.strerror or error}): "
                                       f"let this user write there, or set outbox_dir in the notifications "
                                       f"block") from None
            return "outbox", str(path)
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds)
        with client:
            if self.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password.get_secret_value() if self.password else "")
            client.send_message(message)
        return "smtp", f"{self.smtp_host}:{self.smtp_port}"

    async def notify(self, body: str, subject: str | None = None) -> None:
        """An ops alert, as a Prefect automation sends it: see `alert_ops`. The same alert (subject and body:
        they name the run and the event's time) is sent once: a server whose database was busy may run an
        automation's action twice for one event (Prefect redelivers), and ops would get it twice."""
        import anyio

        subject = subject or "lifecycle alert"
        if _said_recently(subject, body):
            self.logger.info("ops alert %r already sent for this event: not again", subject)
            return
        await anyio.to_thread.run_sync(self.alert_ops, subject, body)

    def alert_finance(self, subject: str, body: str) -> list[str]:
        """Send an alert to finance (`finance_email`, the ops address when none is set), by mail only: what
        finance must settle (an invoice the buyer refused) is no page for the on-call ops webhook."""
        stamp = datetime.now(timezone.utc)
        key = f"finance-alert-{stamp:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        return [self.send(self.finance_email or self.ops_email, subject, body, key=key)[1]]

    def alert_ops(self, subject: str, body: str) -> list[str]:
        """Send an alert to the ops address and the ops webhook; returns where it went. Each channel
        is tried even when the other fails; a failure is raised once both were tried."""
        went, problems = [], []
        stamp = datetime.now(timezone.utc)
        key = f"ops-alert-{stamp:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        try:
            went.append(self.send(self.ops_email, subject, body, key=key)[1])
        except Exception as error:  # noqa: BLE001 - reported below, after the webhook was tried
            problems.append(f"mail: {type(error).__name__}: {error}")
        if self.ops_webhook_url:
            import httpx

            payload = json.dumps({"subject": subject, "body": body, "sent_at": stamp.isoformat()},
                                 separators=(",", ":"), sort_keys=True).encode()
            secret = self.ops_webhook_secret.get_secret_value().encode() if self.ops_webhook_secret else b""
            headers = {"Content-Type": "application/json",
                       **signed_headers(secret, payload, int(clock.now().timestamp()))}
            try:
                response = httpx.post(self.ops_webhook_url, content=payload, headers=headers,
                                      timeout=self.timeout_seconds)
                response.raise_for_status()
                went.append(self.ops_webhook_url)
            except httpx.HTTPError as error:
                problems.append(f"webhook: {type(error).__name__}: {error}")
        if problems:
            message = "; ".join(problems)
            self.logger.error("ops alert %r not fully delivered: %s", subject, message)
            if self._raise_on_failure:
                raise NotificationError(log=message)
        return went
