"""The French e-invoicing reform as rules: who receives a document through the vendor's approved platform (PA),
what the platform's life-cycle statuses mean, and what each one makes the product do.

Since 1 September 2026 a French business customer's invoice is valid only once it went through an approved
platform; a foreign business's or a private person's invoice is mailed as before and its figures reported to
the tax administration through the same platform (e-reporting). The statuses are AFNOR XP Z12-012's life-cycle
codes; what each one does here is declarative data (`STATUSES`), read by the one engine `effects_of`, the way
the arrears ladder is: a code nobody listed is kept and shown, and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BuyerKind(StrEnum):
    """Who the customer is for the reform: decides whether its documents go through the platform."""
    FR_BUSINESS = "fr_business"            # a French VAT-liable company: its documents go through the platform
    FOREIGN_BUSINESS = "foreign_business"  # mailed; its figures go to e-reporting (international B2B)
    PRIVATE = "private"                    # a private person: mailed; e-reporting (B2C)


class ProcessingRule(StrEnum):
    """The platform's `processingRule` of a flow (XP Z12-013): domestic B2B, international B2B, B2C."""
    B2B = "B2B"
    B2B_INTERNATIONAL = "B2BInt"
    B2C = "B2C"


class Syntax(StrEnum):
    """The platform's `flowSyntax`: an invoice's format, or CDAR for a life-cycle message the vendor sends."""
    FACTUR_X = "Factur-X"
    UBL = "UBL"
    CII = "CII"
    CDAR = "CDAR"


class FlowKind(StrEnum):
    """What a flow the product deposits carries."""
    DOCUMENT = "document"          # an invoice or a credit note (its first deposit, or a new one after a rejection)
    STATUS = "status"              # a status the vendor sends on an invoice (212 Encaissée)
    E_REPORTING = "e_reporting"    # a period's transactions and payments outside domestic B2B


class FlowState(StrEnum):
    """Where the deposit of a flow stands: recorded before it is sent, so a kill never deposits it twice."""
    PENDING = "pending"        # recorded, not known to the platform yet (or the network refused it: tried again)
    DEPOSITED = "deposited"    # the platform took it (its flowId is kept)
    REFUSED = "refused"        # the platform refused the deposit itself (4xx): the reason is kept; not retried


ROUTES = {BuyerKind.FR_BUSINESS: ProcessingRule.B2B, BuyerKind.FOREIGN_BUSINESS: ProcessingRule.B2B_INTERNATIONAL,
          BuyerKind.PRIVATE: ProcessingRule.B2C}


def goes_through_platform(kind: BuyerKind) -> bool:
    """A document of this buyer is deposited on the platform (instead of being mailed) when a platform is set."""
    return kind == BuyerKind.FR_BUSINESS


def reported(kind: BuyerKind) -> bool:
    """This buyer's transactions and payments go to e-reporting (outside domestic B2B)."""
    return kind != BuyerKind.FR_BUSINESS


# --- identifiers -----------------------------------------------------------------------------------------

def luhn_valid(digits: str) -> bool:
    """The Luhn check a SIREN (9 digits) and a SIRET (14) carry in their last digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return total % 10 == 0


def siren_problem(value: str) -> str | None:
    """Why `value` is no SIREN or SIRET (None: it is one): 9 or 14 ASCII digits whose Luhn key holds, not a SIREN
    of zeros. (La Poste's
    establishments, whose SIRET follow another key, are no customers of a SaaS vendor's support desk.)"""
    if not (value.isascii() and value.isdigit() and len(value) in (9, 14)):
        return "a SIREN is 9 digits (a SIRET 14)"
    if value[:9] == "000000000":  # its Luhn key holds, but INSEE gives no such number: routed to nobody
        return f"{value} is no SIREN: no SIREN is all zeros"
    if not luhn_valid(value[:9]):
        return f"{value[:9]} is no SIREN: its check digit does not hold"
    if len(value) == 14 and not luhn_valid(value):
        return f"{value} is no SIRET: its check digit does not hold"
    return None


def buyer_kind_of(siren: str | None, vat_number: str | None) -> BuyerKind:
    """The default kind of a customer whose file gives none: a SIREN makes it a French business, a VAT number
    of another country a foreign one, anything else a private person."""
    if siren:
        return BuyerKind.FR_BUSINESS
    if vat_number and not vat_number.upper().startswith("FR"):
        return BuyerKind.FOREIGN_BUSINESS
    return BuyerKind.PRIVATE


def buyer_kind_problem(kind: BuyerKind, siren: str | None) -> str | None:
    """Why a customer of this kind cannot carry this SIREN (None: it can). A French business's documents go
    through the platform, which routes them by the buyer's SIREN: without one (or with a wrong one) they cannot
    leave. A SIREN whose key is wrong is refused for every kind, where it is read (a wrong SIREN printed on an
    invoice is wrong whoever the buyer is)."""
    if kind == BuyerKind.FR_BUSINESS:
        if not siren:
            return "a fr_business customer needs its siren (its documents go through the platform, routed by it)"
        problem = siren_problem(siren)
        if problem:
            return f"a fr_business customer needs a valid siren: {problem}"
    return None


# --- the life of a document on the platform ----------------------------------------------------------------

class Effect(StrEnum):
    """What a status makes the product do, once, when it is first seen."""
    ALERT_OPS = "alert_ops"             # ops are told (with the platform's reason)
    ALERT_FINANCE = "alert_finance"     # finance is told
    HOLD_ARREARS = "hold_arrears"       # the arrears escalation stops on that invoice, as for a dispute
    REDEPOSIT_ALLOWED = "redeposit"     # finance may correct the data and deposit the document again


@dataclass(frozen=True)
class StatusRule:
    label: str                      # XP Z12-012's French label, as platforms and finance say it
    effects: tuple[Effect, ...] = ()
    attention: bool = False         # listed in the polling run's artifact as needing someone


STATUSES: dict[int, StatusRule] = {
    200: StatusRule("Déposée"),
    201: StatusRule("Émise par la plateforme"),
    202: StatusRule("Reçue par la plateforme"),
    203: StatusRule("Mise à disposition"),
    204: StatusRule("Prise en charge"),
    205: StatusRule("Approuvée"),
    206: StatusRule("Approuvée partiellement"),
    207: StatusRule("En litige", (Effect.HOLD_ARREARS, Effect.ALERT_FINANCE), attention=True),
    208: StatusRule("Suspendue", attention=True),
    209: StatusRule("Complétée"),
    210: StatusRule("Refusée", (Effect.HOLD_ARREARS, Effect.ALERT_FINANCE), attention=True),
    211: StatusRule("Paiement transmis"),
    212: StatusRule("Encaissée"),
    213: StatusRule("Rejetée", (Effect.ALERT_OPS, Effect.REDEPOSIT_ALLOWED), attention=True),
    214: StatusRule("Visée"),
    220: StatusRule("Annulée", attention=True),
    221: StatusRule("Erreur de routage", (Effect.ALERT_OPS, Effect.REDEPOSIT_ALLOWED), attention=True),
    501: StatusRule("Irrecevable", (Effect.ALERT_OPS, Effect.REDEPOSIT_ALLOWED), attention=True),
}

DEPOSITED, CASHED, REJECTED, REFUSED, DISPUTED = 200, 212, 213, 210, 207


def label_of(code: int, given: str | None = None) -> str:
    """A status's label: XP Z12-012's for a known code, else what the platform said, else the bare code."""
    rule = STATUSES.get(code)
    return rule.label if rule else (given or f"status {code}")


def effects_of(code: int) -> tuple[Effect, ...]:
    """What a status makes the product do (nothing for a code nobody listed)."""
    rule = STATUSES.get(code)
    return rule.effects if rule else ()


def holds_arrears(code: int | None) -> bool:
    """An invoice whose last status is this one is out of the arrears escalation (refused by the buyer, in
    dispute), as a disputed invoice is."""
    return code is not None and Effect.HOLD_ARREARS in effects_of(code)


def needs_attention(code: int | None) -> bool:
    rule = STATUSES.get(code) if code is not None else None
    return bool(rule and rule.attention)
