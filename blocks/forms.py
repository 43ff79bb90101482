"""The forms a settings block's text fields take, checked when the block is built (saved from the UI, or
loaded), never at the first mail, upload or close that uses them: every text follows `policy.text`'s rules
(no control or invisible character, a bounded length), and a field with a form (a URL, a host, a path, an
SQL identifier, a mail address, an IBAN, a BIC, a VAT number) is refused in one line saying which form."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Callable

import lifecycle_config
from policy.text import checked, plain, quoted

#: a DNS host name: labels of letters, digits and hyphens (not at either end), 253 characters at most
HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                  r"[A-Za-z0-9])?)*\.?$")
#: an SQL identifier written without quotes (PostgreSQL keeps 63 characters of a name)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: ISO 9362: 4 letters (the bank), 2 letters (the country), 2 letters or digits (the place), and optionally 3
#: letters or digits (the branch)
BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
#: an intra-community VAT number: the country's two letters (EL for Greece, XI for Northern Ireland), then 2 to
#: 13 letters or digits
VAT = re.compile(r"^[A-Z]{2}[A-Z0-9]{2,13}$")
IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def http_url_problem(value: str) -> str | None:
    from urllib.parse import urlsplit

    if len(value) > 2048:
        return "is longer than 2048 characters"
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        return f"{quoted(value)} is not a web address: write http://host/path or https://host/path"
    return None


def host_problem(value: str) -> str | None:
    if len(value) > 253:
        return "is longer than 253 characters: a host name is at most 253"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if not HOST.match(value):
        return (f"{quoted(value)} is not a host name or an IP address: write smtp.example.com or 192.0.2.25, "
                f"with no scheme, port or path")
    return None


def absolute_path_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return f"{quoted(value)} is not an absolute path: write a folder starting with /"
    return None


def identifier_problem(value: str) -> str | None:
    if not IDENTIFIER.match(value):
        return (f"{quoted(value)} is not an SQL identifier: a letter or _ then letters, digits or _, 63 characters "
                f"at most")
    return None


def database_url_problem(value: str) -> str | None:
    problem = lifecycle_config.database_url_problem(value)
    return f"{lifecycle_config.escaped(value)} {problem}" if problem else None


def storage_url_problem(value: str) -> str | None:
    problem = lifecycle_config.storage_url_problem(value)
    return f"{quoted(value)} {problem}" if problem else None


def mail_address_problem(value: str) -> str | None:
    """Why `value` is not one mail address as the product's mails parse it (`Name <user@host>` or
    `user@host`): the From, the To of ops alerts."""
    from email.policy import default

    try:
        header = default.header_factory("To", value)
        addresses, defects = header.addresses, header.defects
    except Exception:  # noqa: BLE001 - the parser's own errors on a text that is no header at all
        addresses, defects = (), (True,)
    if defects or len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        return f"{quoted(value)} is not one mail address: write Name <user@example.com> or user@example.com"
    return None


def _compact(value: str) -> str:
    return value.replace(" ", "").upper()


def iban_problem(value: str) -> str | None:
    iban = _compact(value)
    if not IBAN.match(iban):
        return (f"{quoted(value)} is not an IBAN: two letters (the country), two check digits, then 11 to 30 "
                f"letters or digits (spaces allowed)")
    rearranged = iban[4:] + iban[:4]
    if int("".join(str(int(char, 36)) for char in rearranged)) % 97 != 1:
        return f"{quoted(value)} is not an IBAN: its check digits do not match (mod 97): check each character"
    return None


def bic_problem(value: str) -> str | None:
    if not BIC.match(value):
        return (f"{quoted(value)} is not a BIC (ISO 9362): 8 or 11 capitals and digits: the bank's 4 letters, the "
                f"country's 2, the place's 2, and optionally the branch's 3")
    return None


def vat_number_problem(value: str) -> str | None:
    vat = _compact(value)
    if not VAT.match(vat):
        return (f"{quoted(value)} is not an intra-community VAT number: the country's two letters then 2 to 13 "
                f"letters or digits")
    if vat.startswith("FR") and re.fullmatch(r"FR[0-9]{11}", vat):
        key, siren = int(vat[2:4]), int(vat[4:])
        if key != (12 + 3 * (siren % 97)) % 97:
            return (f"{quoted(value)} is not a French VAT number: its key {vat[2:4]} does not match the SIREN "
                    f"{vat[4:]} (it would be {(12 + 3 * (siren % 97)) % 97:02d})")
    return None


def Text(max_length: int, *checks: Callable[[str], str | None]):
    """A block's one-line text of at most `max_length` characters, of the forms `checks` say."""
    return Annotated[(str, plain(max_length), *(checked(check) for check in checks))]
