"""Loading the blocks a run needs: the saved documents, else defaults seeded from the environment.

`lifecycle up` registers the block types and saves a default document of each (named `lifecycle`)
without overwriting what ops edited in the UI. A run loads them; when a block was never saved (a
bare server, a test) it falls back to defaults, and variables set explicitly override a field for
that run (docs/reference/configuration.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.terms_block import PolicyTerms
from blocks.storage import ObjectStorage
from policy.calendar import today_paris
from policy.refusals import Refusal
from policy.window import earliest_date_problem
from policy.terms import Terms

BLOCK_NAME = "lifecycle"
BLOCK_TYPES = (PolicyTerms, ObjectStorage, PlatformControl, Notifications, Seller, EInvoicing)

log = logging.getLogger(__name__)


@dataclass
class Settings:
    terms: Terms
    storage: ObjectStorage
    platform: PlatformControl
    notifications: Notifications
    seller: Seller
    einvoicing: EInvoicing = field(default_factory=EInvoicing)  # no platform set: documents are mailed


class BlockInvalid(Refusal):
    """A saved block whose field lies outside its bounds (edited in the UI or through the API): the run stops in
    one line naming the block and the field, rather than work with the defaults or fail mid-way."""


def invalid_block_line(block_type, name: str, error: ValidationError) -> str:
    """One line naming the block, the field and why; the value given back cut short (policy.text.quoted) and a
    URL's password as *** (a database_url's): a text field's value may be long, or a secret."""
    import re

    from policy.text import quoted

    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "?"
    given = first.get("input")
    shown = quoted(re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", given)) if isinstance(given, str) else repr(given)[:60]
    why = first["msg"].removeprefix("Value error, ")
    bounds = allowed_range(block_type, field)
    return (f"the {block_type.get_block_type_slug()} block {name!r}: {field}: {why} (given {shown}"
            f"{f'; it takes {bounds}' if bounds else ''}): correct it in the UI (Blocks)")


def allowed_range(block_type, field: str) -> str | None:
    """`from LOW to HIGH`, the bounds a number of a block takes (its Field's ge and le), for the line that refuses
    a value out of them: whoever corrects the block reads what to type, not only which side was crossed."""
    info = block_type.model_fields.get(field)
    if info is None:
        return None
    low = next((bound.ge for bound in info.metadata if hasattr(bound, "ge")), None)
    high = next((bound.le for bound in info.metadata if hasattr(bound, "le")), None)
    return f"from {low} to {high}" if low is not None and high is not None else None


def _load(block_type, name: str):
    try:
        return block_type.load(name)
    except RuntimeError as error:  # Prefect's "due to failed validation", from pydantic's error
        if isinstance(error.__cause__, ValidationError):
            raise BlockInvalid(invalid_block_line(block_type, name, error.__cause__)) from None
        raise
    except ValueError:  # no such document
        log.info("no %s block named %r; using its defaults", block_type.get_block_type_slug(), name)
        return block_type()


def load_settings(name: str = BLOCK_NAME) -> Settings:
    """The blocks as they are now. Terms that leave no date window (an earliest_date after today) are refused
    here, naming the field, before any run uses them or the ledger keeps a copy of them (tasks.settings)."""
    terms = _load(PolicyTerms, name).to_terms()
    problem = earliest_date_problem(terms.earliest_date, today_paris())
    if problem:
        raise BlockInvalid(f"the {PolicyTerms.get_block_type_slug()} block {name!r}: earliest_date: {problem}: "
                           f"correct it in the UI (Blocks)")
    return Settings(
        terms=terms,
        storage=_load(ObjectStorage, name),
        platform=_load(PlatformControl, name),
        notifications=_load(Notifications, name),
        seller=_load(Seller, name),
        einvoicing=_load(EInvoicing, name),
    )


def register_defaults(name: str = BLOCK_NAME) -> list[str]:
    """Register every block type and save a default document where none exists; returns the saved ones."""
    saved = []
    for block_type in BLOCK_TYPES:
        block_type.register_type_and_schema()
        try:
            block_type.load(name)
        except RuntimeError as error:  # ops' document, out of bounds: kept for them to correct (a run says which)
            if isinstance(error.__cause__, ValidationError):
                continue
            raise
        except ValueError:
            block_type().save(name)
            saved.append(f"{block_type.get_block_type_slug()}/{name}")
    return saved
