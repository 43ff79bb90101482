"""The e-invoicing platform's pushes: `POST /e-invoicing/statuses`, served beside the helpdesk's webhook, on its port.

The platform pushes a flow's statuses as it learns them: `{"flowId": ... (or "trackingId": ...), "statuses":
[{"code": 213, "label": "Rejetée", "at": ISO-8601 with its offset, "reason": optional}]}`, or a list of such
objects, signed as every webhook here (policy/signing.py) with the secret of the Prefect Secret block
`e-invoicing-webhook-secret` (made by `lifecycle up` when missing: copy it into the platform's settings; the
platform gets its own secret, so that it can never push helpdesk tickets, nor the helpdesk statuses). The
statuses are kept as polled ones are (operations.einvoicing.record_statuses: a status is its code at its time,
kept once: pushed twice, or pushed and polled, it is one), all or nothing, and their effects (ops and finance
alerts, the arrears hold) are applied by the next `e-invoicing` run, at most 15 minutes later in working hours:
a request never waits for a mail, and each effect is applied once, by one code path.

Answers: 200 `{"recorded": N, "known": M}`; 404 a flow this product never deposited; 400 a request that is no
such object (one line naming `e-invoicing:<record>:<field>`, record N being row N+1 as in the helpdesk's); 401 a
bad or missing signature, or one made more than 5 minutes from the product's clock; 409 a request taken
already; and the helpdesk webhook's bounds (size, time, headers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone

from policy.signing import SIGNATURE_T, TIMESTAMP, Refused, check

SECRET_BLOCK = "e-invoicing-webhook-secret"
PATH = "/e-invoicing/statuses"
LABEL = "e-invoicing"
#: the statuses one request may carry (a flow has a dozen in its whole life)
MAX_STATUSES = 1000
#: the longest id, label and reason taken (as the flows' columns and what an alert quotes)
MAX_ID, MAX_LABEL, MAX_REASON = 200, 80, 2000


def webhook_secret() -> bytes:
    """The platform's signing secret, in its own Secret block (lifecycle.helpdesk.stored_secret)."""
    from lifecycle.helpdesk import stored_secret

    return stored_secret(SECRET_BLOCK)


class _Malformed(ValueError):
    pass


def _text(value, where: str, most: int, *, lines: bool = False) -> str:
    """A text field of a push, refused in one line when it is no text, too long, not UTF-8, or holds a control
    or invisible character (a reason is quoted to ops: nothing in it may reorder or hide the mail's text)."""
    from policy.text import control_problem, quoted, utf8_problem

    if not isinstance(value, str):
        raise _Malformed(f"{where}: expected text, got {type(value).__name__ if value is not None else 'null'}")
    problem = utf8_problem(value, "send the text in UTF-8") or control_problem(value, lines=lines)
    if problem:
        raise _Malformed(f"{where}: {problem}")
    if len(value) > most:
        raise _Malformed(f"{where}: {quoted(value)} is longer than {most} characters")
    return value


def pushed_statuses(payload) -> list[tuple[str, str, list]]:
    """What a push carries, as (`flowId` or `trackingId`, its value, [PlatformStatus]) per record; _Malformed
    in one line otherwise."""
    from blocks.einvoicing import PlatformStatus, status_problem, stored_reason

    records = payload if isinstance(payload, list) else [payload]
    if not records or not all(isinstance(record, dict) for record in records):
        raise _Malformed('expected {"flowId" or "trackingId": ..., "statuses": [{"code", "label", "at", '
                         '"reason"}]} or a list of them')
    found, count = [], 0
    for number, record in enumerate(records, start=2):
        where = f"{LABEL}:{number}"
        unknown = sorted(set(record) - {"flowId", "trackingId", "statuses"})
        if unknown:
            raise _Malformed(f"{where}:{_text_of(unknown[0])}: unknown field: send flowId or trackingId, and "
                             f"statuses")
        keys = [key for key in ("flowId", "trackingId") if key in record]
        if len(keys) != 1:
            raise _Malformed(f"{where}: give the flow's flowId or its trackingId (one of them)")
        key = keys[0]
        value = record[key]
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        value = _text(value, f"{where}:{key}", MAX_ID)
        entries = record.get("statuses")
        if not isinstance(entries, list) or not entries:
            raise _Malformed(f"{where}:statuses: expected a list of statuses [{{\"code\", \"label\", \"at\", "
                             f"\"reason\"}}]")
        statuses = []
        for index, entry in enumerate(entries):
            place = f"{where}:statuses[{index}]"
            if not isinstance(entry, dict):
                raise _Malformed(f"{place}: expected an object {{\"code\", \"label\", \"at\", \"reason\"}}")
            extra = sorted(set(entry) - {"code", "label", "at", "reason"})
            if extra:
                raise _Malformed(f"{place}.{_text_of(extra[0])}: unknown field: code, label, at and reason are taken")
            code = entry.get("code")
            label = _text(entry["label"], f"{place}.label", MAX_LABEL) if entry.get("label") is not None else None
            at_text = _text(entry.get("at"), f"{place}.at", 64) if entry.get("at") is not None else None
            try:
                at = datetime.fromisoformat(at_text) if at_text is not None else None
            except ValueError:
                at = None
            problem = status_problem(code, at)  # the poll's check: a status is taken alike, polled or pushed
            if problem:
                raise _Malformed(f"{place}.{problem}")
            reason = (stored_reason(_text(entry["reason"], f"{place}.reason", MAX_REASON, lines=True))
                      if entry.get("reason") is not None else None)
            statuses.append(PlatformStatus(code, label, at, reason))
        count += len(statuses)
        if count > MAX_STATUSES:
            raise _Malformed(f"more than {MAX_STATUSES} statuses in one request: push them as they come")
        found.append((key, value, sorted(statuses, key=lambda status: status.at)))
    return found


def _text_of(name: str) -> str:
    """A name or value the platform sent, as an error line gives it back: quoted, escaped once for the reader
    (lifecycle_config.escaped, the product's one rule: what a terminal would act on or hide as an escape, any
    other character as itself) and cut. Escaped here and quoted again with repr, a `é` read `'\\xe9'`."""
    from lifecycle_config import escaped

    return escaped(name)


def receive(body: bytes, signed: Mapping[str, str], secret: bytes, *, max_bytes: int, engine=None) -> tuple[int, dict]:
    """What the endpoint answers to one request (its body and headers): (HTTP status, JSON body)."""
    from sqlalchemy.exc import IntegrityError

    from lifecycle.helpdesk import parse
    from lifecycle_config import clock

    if len(body) > max_bytes:
        return 413, {"error": f"{len(body):,} bytes, more than the {max_bytes:,} a request may have"}
    now = clock.now()
    try:
        moment = check(secret, body, signed.get(TIMESTAMP), signed.get(SIGNATURE_T), now.timestamp())
        parse(body)  # the helpdesk's refusals: not JSON, a key twice, nested too deep, NaN
        # numbers as numbers (a code is one); a whole number of more than 18 digits is none a status takes: it
        # is refused at its field, never as "not JSON" with Python's advice on its digit limit
        payload = json.loads(body.decode("utf-8", "surrogateescape"),
                             parse_int=lambda text: int(text) if len(text.lstrip("-")) <= 18 else text)
        pushed = pushed_statuses(payload)
    except Refused as refused:
        return refused.status, {"error": str(refused).replace("a ticket object or a list of them",
                                                              "a status push or a list of them")}
    except _Malformed as malformed:
        return 400, {"error": str(malformed)}
    except ValueError as error:
        return 400, {"error": f"not JSON: {str(error).splitlines()[0][:200]}"}
    taken = signed.get(SIGNATURE_T).strip()
    signed_at = datetime.fromtimestamp(moment, timezone.utc)
    for attempt in range(2):
        try:
            return _record(pushed, taken, signed_at, now, engine)
        except IntegrityError:  # a poll kept one of these statuses at the same moment: known on the second try
            if attempt:
                raise
    raise AssertionError("unreachable")


def _record(pushed, taken: str, signed_at: datetime, now: datetime, engine) -> tuple[int, dict]:
    """Keep the pushed statuses with the request's signature, all or nothing: (HTTP status, JSON body)."""
    from sqlalchemy import select

    from ledger import audit
    from ledger.db import session_scope
    from ledger.einvoicing import EinvoiceFlow
    from ledger.webhooks import AlreadySeen, take
    from operations.einvoicing import record_statuses
    from policy.einvoicing import FlowState

    recorded = known = 0
    try:
        with session_scope(engine, write=True) as session:
            take(session, "e-invoicing", taken, signed_at, now)
            for number, (key, value, statuses) in enumerate(pushed, start=2):
                column = EinvoiceFlow.flow_id if key == "flowId" else EinvoiceFlow.tracking_id
                flow = session.scalar(select(EinvoiceFlow).where(column == value,
                                                                 EinvoiceFlow.state == FlowState.DEPOSITED))
                if flow is None:
                    raise _Unknown(f"{LABEL}:{number}:{key}: no flow {_text_of(value)} was deposited by this "
                                   f"product")
                kept = record_statuses(session, flow, statuses)
                recorded, known = recorded + len(kept), known + len(statuses) - len(kept)
                if kept:
                    audit.record(session, "einvoice_statuses_pushed", customer_id=flow.customer_id, before=None,
                                 after={"tracking_id": flow.tracking_id, "statuses": [s.code for s in kept]},
                                 actor="webhook:e-invoicing")
    except _Unknown as unknown:
        return 404, {"error": str(unknown)}
    except AlreadySeen as seen:
        return 409, {"error": str(seen)}
    return 200, {"recorded": recorded, "known": known}


class _Unknown(LookupError):
    pass
