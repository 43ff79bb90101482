"""Every number of every settings block has bounds a person can read in its description: a timeout of -1,
NaN or infinity, a port of 0, a million retries or a part of 1 TB is refused when the block is built (saved
from the UI, or loaded: tests/integration/test_actionable_errors.py), never at the first use."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage


@pytest.mark.parametrize("block, field, value, said", [
    (PlatformControl, "timeout_seconds", -1, "greater than or equal to 0.1"),
    (PlatformControl, "timeout_seconds", float("nan"), "a finite number"),
    (PlatformControl, "timeout_seconds", float("inf"), "a finite number"),
    (PlatformControl, "timeout_seconds", 301, "less than or equal to 300"),
    (PlatformControl, "retries", -1, "greater than or equal to 0"),
    (PlatformControl, "retries", 11, "less than or equal to 10"),
    (Notifications, "smtp_port", 0, "greater than or equal to 1"),
    (Notifications, "smtp_port", 65536, "less than or equal to 65535"),
    (Notifications, "timeout_seconds", 0, "greater than or equal to 1"),
    (Notifications, "timeout_seconds", 10 ** 9, "less than or equal to 300"),
    (ObjectStorage, "multipart_chunk_mb", 4, "greater than or equal to 5"),
    (ObjectStorage, "multipart_chunk_mb", 1 << 20, "less than or equal to 5120"),
    (EInvoicing, "parallel_deposits", 0, "greater than or equal to 1"),
    (EInvoicing, "parallel_deposits", 17, "less than or equal to 16"),
])
def test_a_number_of_a_block_outside_its_bounds_is_refused_naming_the_field(block, field, value, said):
    with pytest.raises(ValidationError) as refused:
        block(**{field: value})
    [error] = refused.value.errors()
    assert error["loc"] == (field,) and error["msg"] == f"Input should be {said}"
    described = block.model_fields[field].description
    assert "from" in described  # the form says which numbers it takes


def test_the_defaults_and_the_bounds_themselves_are_taken():
    assert PlatformControl(timeout_seconds=0.1, retries=0).retries == 0
    assert PlatformControl(timeout_seconds=300, retries=10).timeout_seconds == 300
    assert Notifications(smtp_port=65535, timeout_seconds=300).smtp_port == 65535
    assert ObjectStorage(multipart_chunk_mb=5120).multipart_chunk_mb == 5120
    assert EInvoicing().parallel_deposits == 4 and EInvoicing(parallel_deposits=16).parallel_deposits == 16


@pytest.mark.parametrize("template, said", [
    ("https://pay.example.com/{0}", "'{0}' is not a field of a payment link"),
    ("https://pay.example.com/{", "not a template of replacement fields"),
    ("https://pay.example.com/{amount:>99999999}", "'{amount:>99999999}' is not a field of a payment link"),
    ("https://pay.example.com/{number.__class__}", "'{number.__class__}' is not a field of a payment link"),
    ("https://pay.example.com/{number!r}", "'{number!r}' is not a field of a payment link"),
    ("javascript:alert(1)//{number}", "a payment link is an https:// address"),
])
def test_a_payment_link_template_str_format_cannot_fill_is_refused_with_the_block(template, said):
    """A template that saved fine failed every invoice document of a close after the invoices were numbered."""
    from blocks.seller import Seller

    with pytest.raises(ValidationError, match=re.escape(said)):
        Seller(payment_link_template=template)


def test_a_payment_link_names_the_invoice_the_customer_and_the_amount():
    from blocks.seller import Seller

    seller = Seller(payment_link_template="https://pay.example.com/{number}?customer={customer_id}&amount={amount}&x={{y}}")
    assert seller.payment_link("2026-000001", "C001", "120.00") == (
        "https://pay.example.com/2026-000001?customer=C001&amount=120.00&x={y}")
