"""`Notifications`: how notices reach customers. SMTP when a host is set, else `.eml` files in an
outbox folder, so the embedded default shows every notice without a mail server."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Optional

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class Notifications(Block):
    """Customer notices: SMTP settings, or an outbox folder when no SMTP host is set."""

    _block_type_name = "Lifecycle Notifications"
    _block_type_slug = "lifecycle-notifications"
    _description = "Where notices to customers go: an SMTP server, or an outbox folder of .eml files."

    sender: str = Field("Support <support@example.com>", description="From address of every notice.")
    smtp_host: Optional[str] = Field(None, description="SMTP server; empty means notices go to the outbox folder.")
    smtp_port: int = Field(587, description="SMTP port (587 with STARTTLS, 465 with SSL, 25 plain).")
    security: str = Field("starttls", description="starttls, ssl or none.", pattern="^(starttls|ssl|none)$")
    username: Optional[str] = Field(None, description="SMTP user, when the server wants one.")
    password: Optional[SecretStr] = Field(None, description="SMTP password (kept secret).")
    outbox_dir: Optional[str] = Field(None, description="Folder for .eml files; default $LIFECYCLE_HOME/outbox.")
    timeout_seconds: int = Field(30, description="SMTP connection timeout.")

    def _message(self, to: str, subject: str, body: str, key: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="lifecycle.local")
        message["X-Lifecycle-Notice"] = key
        message.set_content(body)
        return message

    def send(self, to: str, subject: str, body: str, *, key: str) -> tuple[str, str]:
        """Send one notice; returns (transport, where it went)."""
        message = self._message(to, subject, body, key)
        if not self.smtp_host:
            from lifecycle import config

            folder = Path(self.outbox_dir) if self.outbox_dir else config.outbox_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", key) + ".eml")
            path.write_bytes(bytes(message))
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
