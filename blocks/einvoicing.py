"""`EInvoicing`: the vendor's approved e-invoicing platform (PA), as this product speaks to it.

The API is modelled on AFNOR XP Z12-013's flow service: a document (or a life-cycle message) is deposited as a
flow, multipart `flowInfo` (JSON) + `file`, under a tracking id the platform keeps; the platform answers with its
`flowId`, 409 with the same `flowId` for a tracking id it already has (so a deposit sent twice after a kill is
one deposit), and gives each flow's statuses on `GET /v1/flows/{flowId}`. A vendor whose platform speaks
otherwise maps it here, in one place. Without `base_url` (nor `LIFECYCLE_EINVOICING_URL`) nothing is deposited
and documents are mailed as before.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Literal, Optional

from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from pydantic import Field

import lifecycle_config
from blocks.forms import Text, http_url_problem
from lifecycle_config.conditions import Unavailable
from policy.einvoicing import ProcessingRule, Syntax

URL_VARIABLE = "LIFECYCLE_EINVOICING_URL"
TOKEN_VARIABLE = "LIFECYCLE_EINVOICING_TOKEN"


class PlatformUnreachable(Unavailable):
    """The platform did not answer, or answered 5xx/429 after the retries: the flow stays pending for the next
    run (a condition of the world, never a failed close)."""


class PlatformSilent(PlatformUnreachable):
    """The platform did not answer at all (the network, a time-out, 5xx/429) after the retries: asking it about
    the next flow in the same run would wait as long again, so a run leaves the rest for the next run.
    `answered`: its last try got an HTTP status (5xx, 429): the platform is there, and what failed may be this
    one flow only (a status poll goes on with the next flows for a while)."""

    def __init__(self, message: str, answered: bool = False):
        super().__init__(message)
        self.answered = answered


class DepositRefused(RuntimeError):
    """The platform refused the deposit itself (4xx other than 409), with its reason: not retried."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Deposit:
    flow_id: str
    already_known: bool   # the platform had this tracking id already (409): a deposit of an earlier, killed run


@dataclass(frozen=True)
class PlatformStatus:
    code: int
    label: str | None
    at: datetime
    reason: str | None


@lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None):
    """The certificates httpx would load for one request (SSL_CERT_FILE, SSL_CERT_DIR, else certifi's), loaded
    once per process: loading them was most of a deposit's time (0.05 s quiet, 0.5 s on a loaded machine, for
    each of a month's thousands of documents)."""
    import httpx

    return httpx.create_ssl_context(verify=True, trust_env=True)


class EInvoicing(Block):
    """Where issued invoices and credit notes of French business customers are deposited, and their life read."""

    _block_type_name = "E-Invoicing"
    _block_type_slug = "e-invoicing"
    _logo_url = None
    _description = ("The vendor's approved e-invoicing platform (PA): documents of French business customers are "
                    "deposited there instead of mailed; statuses are read back.")

    base_url: Optional[Text(2048, http_url_problem)] = Field(
        None, description="The platform's API, e.g. https://pa.example.com/api (flows under {base_url}/v1/flows). "
        "Empty: no platform, documents are mailed as before. LIFECYCLE_EINVOICING_URL overrides it for one run.")
    token: Optional[Secret] = Field(None, description="A Secret block holding the platform's API token (sent as "
                                    "Authorization: Bearer). LIFECYCLE_EINVOICING_TOKEN overrides it for one run.")
    format: Literal["Factur-X", "UBL", "CII"] = Field("Factur-X", description="The format of the documents "
                                                      "deposited: Factur-X (the PDF with its XML), CII (that XML "
                                                      "alone) or UBL (an OASIS UBL 2.1 Invoice or CreditNote).")
    timeout_seconds: float = Field(20, ge=0.1, le=300, allow_inf_nan=False,
                                   description="Timeout per request, in seconds: from 0.1 to 300.")
    retries: int = Field(3, ge=0, le=10, description="Retries after the first attempt when the network or the "
                         "platform fails (5xx, 429): from 0 to 10.")
    parallel_deposits: int = Field(4, ge=1, le=16, description="Documents a run deposits at once: a deposit "
                                   "mostly waits on the platform's answer, so a month's documents go this many at a "
                                   "time (1: one after the other): from 1 to 16.")

    # --- what a run uses ----------------------------------------------------------------------------------

    def url(self) -> str | None:
        """The platform's base URL for this run (the variable wins), None when no platform is set."""
        explicit = lifecycle_config.setting(URL_VARIABLE)
        if explicit:
            problem = http_url_problem(explicit)
            if problem:
                raise lifecycle_config.Misconfigured(f"{URL_VARIABLE}={lifecycle_config.escaped(explicit)[:80]} "
                                                     f"{problem}")
            return explicit.rstrip("/")
        return self.base_url.rstrip("/") if self.base_url else None

    def configured(self) -> bool:
        return self.url() is not None

    def _token(self) -> str:
        import os

        explicit = os.environ.get(TOKEN_VARIABLE)
        if explicit:
            return explicit
        return str(self.token.get()) if self.token is not None else ""

    def _request(self, method: str, path: str, **options):
        """One call with the retries: network errors, 5xx and 429 are tried again, then said as unreachable."""
        import os

        import httpx

        url = self.url()
        if url is None:
            raise PlatformUnreachable("no e-invoicing platform is set (the e-invoicing block's base_url)")
        headers = {"Authorization": f"Bearer {self._token()}"}
        last, answered = "", False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.2 * 2 ** attempt, 5.0))
            try:
                response = httpx.request(method, url + path, headers=headers, timeout=self.timeout_seconds,
                                         verify=_ssl_context(os.environ.get("SSL_CERT_FILE"),
                                                             os.environ.get("SSL_CERT_DIR")), **options)
            except httpx.HTTPError as error:
                last, answered = f"{type(error).__name__}: {error}"[:200], False
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last, answered = f"HTTP {response.status_code}", True
                continue
            return response
        raise PlatformSilent(f"the e-invoicing platform at {url} did not answer ({last}) after "
                             f"{self.retries + 1} attempt(s): what waits is sent by the next run", answered)

    def deposit(self, *, tracking_id: str, name: str, syntax: Syntax, rule: ProcessingRule,
                content: bytes) -> Deposit:
        """Deposit one flow; a tracking id the platform already has is that earlier deposit (409)."""
        info = json.dumps({"trackingId": tracking_id, "name": name, "flowSyntax": str(syntax),
                           "processingRule": str(rule)})
        response = self._request("POST", "/v1/flows", files={
            "flowInfo": (None, info, "application/json"),
            "file": (name, content, "application/pdf" if name.endswith(".pdf") else "application/xml")})
        body = _json(response)
        if 400 <= response.status_code < 500 and response.status_code != 409:
            reason = body.get("reason") if isinstance(body.get("reason"), str) else response.text[:200]
            # kept and printed as a polled status's reason is: one line, its control characters as their codes (a
            # proxy's HTML page forged lines in the run's output; an ESC in a reason drove the terminal)
            raise DepositRefused(stored_reason(f"HTTP {response.status_code}: {reason or 'no reason given'}", 500),
                                 response.status_code)
        # anything else is the platform taking it (2xx), knowing it (409) or an answer we cannot read: never a
        # refusal, which would let `--redeposit` send the same document twice
        flow_id = _flow_id(body.get("flowId"))
        if response.status_code not in (200, 201, 202, 409) or flow_id is None:
            raise _not_understood(tracking_id, f"HTTP {response.status_code}, "
                                  + ("no usable flowId" if response.status_code in (200, 201, 202, 409)
                                     else "neither taken nor refused"))
        if response.status_code == 409:
            self._confirm(tracking_id, flow_id)
        return Deposit(flow_id, already_known=response.status_code == 409)

    def _confirm(self, tracking_id: str, flow_id: str) -> None:
        """A 409 names the flow the platform holds for this tracking id: ask that flow whose it is, so that a
        flowId of another document is never taken as this one's deposit."""
        from urllib.parse import quote

        response = self._request("GET", f"/v1/flows/{quote(flow_id, safe='')}")
        body = _json(response) if response.status_code == 200 else {}
        if str(body.get("trackingId")) != tracking_id:
            raise _not_understood(tracking_id, f"HTTP 409 names flow {flow_id[:40]!r}, which is not this "
                                  f"document's")

    def statuses(self, flow_id: str, tracking_id: str | None = None) -> list[PlatformStatus]:
        """The statuses the platform gives for a flow, oldest first. An answer that names another flow (its
        `flowId`, or a `trackingId` not this document's) is not understood: its statuses are another
        document's, and a 210 there took this invoice out of the arrears escalation."""
        from urllib.parse import quote

        response = self._request("GET", f"/v1/flows/{quote(flow_id, safe='')}")
        if response.status_code != 200:
            raise PlatformUnreachable(f"the e-invoicing platform answered HTTP {response.status_code} for flow "
                                      f"{flow_id[:40]!r}")
        body = _json(response)
        named = [str(body[key])[:40] for key, own in (("flowId", flow_id), ("trackingId", tracking_id))
                 if own is not None and body.get(key) is not None and str(body.get(key)) != own]
        if named:
            raise PlatformUnreachable(f"the platform's answer for flow {flow_id[:40]!r} was not understood (it names "
                                      f"{' and '.join(repr(name) for name in named)}, another flow): read again by "
                                      f"the next run")
        if not isinstance(body.get("statuses"), list):
            raise PlatformUnreachable(f"the platform's answer for flow {flow_id[:40]!r} was not understood (no "
                                      f"list of statuses): read again by the next run")
        return statuses_of(body)


#: the longest flowId taken (the ledger's column)
MAX_FLOW_ID = 200


def _flow_id(value) -> str | None:
    """The platform's flowId as the ledger keeps it, or None when it is no plausible id: not text (nor a whole
    number), empty, longer than MAX_FLOW_ID, or holding a control or invisible character."""
    from policy.text import text_problem

    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or text_problem(value, MAX_FLOW_ID) is not None:
        return None
    return value


def _not_understood(tracking_id: str, why: str) -> PlatformUnreachable:
    return PlatformUnreachable(f"the platform's answer to deposit {tracking_id} was not understood ({why}): it "
                               f"stays pending; ask the platform")


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


#: the earliest moment a status may have (no terms allow an earlier day: lifecycle_config.clock.EARLIEST)
EARLIEST_STATUS = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: how far past now a platform's clock may be (its clock and ours differ a little, never by days)
AHEAD = timedelta(days=1)


class Statuses(list):
    """The statuses of a flow, oldest first, with how many entries the platform gave that were not understood
    (left out, counted: a poll says them)."""
    not_understood: int = 0


def status_problem(code, at: datetime | None) -> str | None:
    """Why a status the platform gives (polled or pushed: one check for both) is not taken: its code is no
    XP Z12-012 status code (a whole number 100..999, not a boolean), or its time has no offset or lies outside
    2000-01-01 .. a day after now (the later of the product's clock and the machine's: a status is stamped by
    the platform's real clock). None when it is taken."""
    from lifecycle_config import clock

    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
        return "code: expected XP Z12-012's status code, a number such as 213"
    if at is None or at.tzinfo is None:
        return "at: expected an ISO-8601 moment with its offset (2026-11-03T10:15:00+01:00)"
    latest = max(clock.now(), datetime.now(timezone.utc)) + AHEAD
    try:
        plausible = EARLIEST_STATUS <= at <= latest
    except OverflowError:
        plausible = False
    if not plausible:
        return f"at: {at.isoformat()[:40]} is before 2000-01-01 or more than a day ahead of now"
    return None


def stored_reason(reason: str, most: int = 2000) -> str:
    """The platform's reason as the ledger keeps it (polled or pushed): one line (line breaks and tabs become
    spaces, so that a reason never forges a line of a run's output), every other control or invisible character
    written as its code (`\\u202e`), at most `most` characters."""
    from policy.text import LINE_BREAKS, invisible

    text = "".join(" " if char in LINE_BREAKS or char == "\t" else char for char in reason)
    text = "".join(f"\\u{ord(char):04x}" if ord(char) < 32 or 0x7F <= ord(char) <= 0x9F or invisible(char)
                   or 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    return text[:most]


def _moment(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def statuses_of(body: dict) -> Statuses:
    """The statuses of a flow as the platform writes them (`{"statuses": [{"code", "label", "at", "reason"}]}`),
    oldest first; an entry that is not a status (`status_problem`) is left out and counted."""
    found = Statuses()
    for entry in body.get("statuses") or []:
        at = _moment(entry.get("at")) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or status_problem(entry.get("code"), at) is not None:
            found.not_understood += 1
            continue
        label = entry.get("label") if isinstance(entry.get("label"), str) else None
        reason = entry.get("reason") if isinstance(entry.get("reason"), str) else None
        found.append(PlatformStatus(entry["code"], label and label[:80], at, reason and stored_reason(reason)))
    found.sort(key=lambda status: status.at)
    return found
