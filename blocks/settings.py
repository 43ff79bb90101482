"""Loading the blocks a run needs: the saved documents, else defaults seeded from the environment.

`lifecycle up` registers the block types and saves a default document of each (named `lifecycle`)
without overwriting what ops edited in the UI. A run loads them; when a block was never saved (a
bare server, a test) it falls back to defaults, and variables set explicitly override a field for
that run (docs/reference/configuration.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.terms_block import PolicyTerms
from blocks.storage import ObjectStorage
from policy.terms import Terms

BLOCK_NAME = "lifecycle"
BLOCK_TYPES = (PolicyTerms, ObjectStorage, PlatformControl, Notifications, Seller)

log = logging.getLogger(__name__)


@dataclass
class Settings:
    terms: Terms
    storage: ObjectStorage
    platform: PlatformControl
    notifications: Notifications
    seller: Seller


def _load(block_type, name: str):
    try:
        return block_type.load(name)
    except ValueError:  # no such document
        log.info("no %s block named %r; using its defaults", block_type.get_block_type_slug(), name)
        return block_type()


def load_settings(name: str = BLOCK_NAME) -> Settings:
    terms_block = _load(PolicyTerms, name)
    return Settings(
        terms=terms_block.to_terms(),
        storage=_load(ObjectStorage, name),
        platform=_load(PlatformControl, name),
        notifications=_load(Notifications, name),
        seller=_load(Seller, name),
    )


def register_defaults(name: str = BLOCK_NAME) -> list[str]:
    """Register every block type and save a default document where none exists; returns the saved ones."""
    saved = []
    for block_type in BLOCK_TYPES:
        block_type.register_type_and_schema()
        try:
            block_type.load(name)
        except ValueError:
            block_type().save(name)
            saved.append(f"{block_type.get_block_type_slug()}/{name}")
    return saved
