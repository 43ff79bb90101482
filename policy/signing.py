"""How every webhook is signed, and how a served one tells a fresh request from a stale or forged one.

A webhook the product sends (the platform's switch, the ops alerts) carries, beside its historical
`X-Lifecycle-Signature: sha256=<hex HMAC of the body>`, the moment it was signed and a signature of
that moment with the body: `X-Lifecycle-Timestamp: <Unix seconds>` and
`X-Lifecycle-Signature-T: sha256=<hex HMAC of "<timestamp>.<body>">`. A receiver that checks the
second can refuse a request replayed later: the moment cannot be changed without the secret.

A webhook the product serves (the helpdesk's) requires the timestamped signature and refuses a
request signed more than `WINDOW_SECONDS` before or after its clock; one seen already within that
window is refused by its caller (the ledger keeps the signatures seen, `ledger/webhooks.py`).
Pure: the clock is an argument.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE = "X-Lifecycle-Signature"
TIMESTAMP = "X-Lifecycle-Timestamp"
SIGNATURE_T = "X-Lifecycle-Signature-T"
#: how far from the receiver's clock a request's moment may lie, either way (and how long its signature is kept)
WINDOW_SECONDS = 300
_STAMP = re.compile(r"[0-9]{1,12}")


class Refused(ValueError):
    """A served webhook's request that is not taken: `status` is the HTTP answer, the message one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def body_signature(secret: bytes, body: bytes) -> str:
    """`X-Lifecycle-Signature`: the HMAC of the body alone (kept as it is for receivers that check it)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def timed_signature(secret: bytes, body: bytes, timestamp: int | str) -> str:
    """`X-Lifecycle-Signature-T`: the HMAC of "<timestamp>.<body>"."""
    return "sha256=" + hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The three signature headers of a webhook the product sends, signed at `timestamp` (Unix seconds)."""
    return {SIGNATURE: body_signature(secret, body), TIMESTAMP: str(int(timestamp)),
            SIGNATURE_T: timed_signature(secret, body, int(timestamp))}


def check(secret: bytes, body: bytes, timestamp: str | None, signed: str | None, now: float) -> int:
    """The request's moment (Unix seconds) when its timestamped signature is right and the moment lies within
    `WINDOW_SECONDS` of `now`; `Refused` (401) otherwise, with the reason in one line. The signature is checked
    before the moment, so nobody learns anything of the clock without the secret."""
    if not timestamp or not signed:
        raise Refused(401, f"missing {TIMESTAMP} or {SIGNATURE_T}: sign \"<Unix seconds>.<body>\" with HMAC-SHA256 "
                           f"and send both (the body-only {SIGNATURE} is not enough)")
    timestamp = timestamp.strip()
    if not _STAMP.fullmatch(timestamp):
        raise Refused(401, f"{TIMESTAMP} is not Unix seconds")
    if not hmac.compare_digest(signed.strip().encode("ascii", "replace"),
                               timed_signature(secret, body, timestamp).encode("ascii")):
        raise Refused(401, f"bad {SIGNATURE_T} (sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">)")
    moment = int(timestamp)
    if moment < now - WINDOW_SECONDS:
        raise Refused(401, f"signed {int(now - moment)} s ago, more than the {WINDOW_SECONDS} s a request may be "
                           f"late: sign each request when it is sent")
    if moment > now + WINDOW_SECONDS:
        raise Refused(401, f"signed {int(moment - now)} s ahead of this server's clock, more than "
                           f"{WINDOW_SECONDS} s: check the sender's clock")
    return moment
