"""The reform's rules as plain functions, and the platform's API as the e-invoicing block speaks it (against a fake
platform on loopback: the platform lies outside the product)."""

from __future__ import annotations

import pytest

from blocks.einvoicing import DepositRefused, EInvoicing, PlatformUnreachable, statuses_of
from policy.einvoicing import (BuyerKind, ProcessingRule, Syntax, buyer_kind_of, effects_of, holds_arrears, label_of,
                               needs_attention, siren_problem, Effect)
from tests.support.fake_einvoicing import FakePlatform


@pytest.mark.parametrize("value, problem", [
    ("732829320", None),                       # a real SIREN's key
    ("73282932000074", None),                  # and a SIRET of it
    ("732829321", "732829321 is no SIREN: its check digit does not hold"),
    ("73282932000075", "73282932000075 is no SIRET: its check digit does not hold"),
    ("12345678", "a SIREN is 9 digits (a SIRET 14)"),
    ("７３２８２９３２０", "a SIREN is 9 digits (a SIRET 14)"),  # fullwidth digits are no SIREN
    ("73282932O", "a SIREN is 9 digits (a SIRET 14)"),
    ("000000000", "000000000 is no SIREN: no SIREN is all zeros"),            # its key holds: routed to nobody
    ("00000000000000", "00000000000000 is no SIREN: no SIREN is all zeros"),
])
def test_a_siren_is_nine_digits_whose_key_holds(value, problem):
    assert siren_problem(value) == problem


@pytest.mark.parametrize("siren, vat, kind", [
    ("732829320", None, BuyerKind.FR_BUSINESS),
    ("732829320", "DE123456789", BuyerKind.FR_BUSINESS),
    (None, "DE123456789", BuyerKind.FOREIGN_BUSINESS),
    (None, "fr44732829320", BuyerKind.PRIVATE),  # a French VAT number without a SIREN says nothing more
    (None, None, BuyerKind.PRIVATE),
])
def test_the_default_kind_of_a_buyer(siren, vat, kind):
    assert buyer_kind_of(siren, vat) == kind


def test_what_each_status_makes_the_product_do():
    assert label_of(213) == "Rejetée" and label_of(299, "Nouveau") == "Nouveau" and label_of(299) == "status 299"
    assert Effect.ALERT_OPS in effects_of(213) and Effect.REDEPOSIT_ALLOWED in effects_of(213)
    assert holds_arrears(210) and holds_arrears(207) and not holds_arrears(212) and not holds_arrears(None)
    assert effects_of(299) == () and not needs_attention(299) and needs_attention(213)


def test_statuses_the_platform_writes_badly_are_left_out():
    body = {"statuses": [{"code": 205, "label": "Approuvée", "at": "2026-11-03T10:00:00+01:00"},
                         {"code": "210", "at": "2026-11-03T10:00:00+01:00"},          # a code that is text
                         {"code": True, "at": "2026-11-03T10:00:00+01:00"},           # a boolean is no code
                         {"code": 207, "at": "2026-11-03T10:00:00"},                  # no offset: no instant
                         {"code": 207, "at": "yesterday"},
                         "213",
                         {"code": 200, "label": "Déposée", "at": "2026-11-02T09:00:00Z"}]}
    assert [(status.code, status.at.isoformat()) for status in statuses_of(body)] == [
        (200, "2026-11-02T09:00:00+00:00"), (205, "2026-11-03T10:00:00+01:00")]
    assert statuses_of({"statuses": None}) == [] and statuses_of({}) == []


def test_the_block_deposits_once_per_tracking_id_and_says_a_refusal_and_an_outage(monkeypatch):
    platform = FakePlatform(token="t0ken")
    with platform.running():
        monkeypatch.setenv("LIFECYCLE_EINVOICING_URL", platform.url)
        monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", "t0ken")
        block = EInvoicing(retries=1, timeout_seconds=5)
        first = block.deposit(tracking_id="2026-000007", name="2026-000007.pdf", syntax=Syntax.FACTUR_X,
                              rule=ProcessingRule.B2B, content=b"%PDF-1.7 one")
        platform.fail_next(1)  # a 503, then the platform answers: the retry is the same deposit
        again = block.deposit(tracking_id="2026-000007", name="2026-000007.pdf", syntax=Syntax.FACTUR_X,
                              rule=ProcessingRule.B2B, content=b"%PDF-1.7 one")
        assert (first.already_known, again.already_known, again.flow_id) == (False, True, first.flow_id)
        assert len(platform.deposits()) == 1 and platform.flow("2026-000007").content == b"%PDF-1.7 one"
        platform.refuse_deposits = "SIREN du destinataire inconnu"
        with pytest.raises(DepositRefused, match="HTTP 400: SIREN du destinataire inconnu"):
            block.deposit(tracking_id="2026-000008", name="2026-000008.pdf", syntax=Syntax.FACTUR_X,
                          rule=ProcessingRule.B2B, content=b"x")
        platform.drop_next(2)
        with pytest.raises(PlatformUnreachable, match="did not answer .* after 2 attempt"):
            block.statuses(first.flow_id)
        monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", "wrong")
        with pytest.raises(DepositRefused, match="HTTP 401"):
            block.deposit(tracking_id="2026-000009", name="x.pdf", syntax=Syntax.FACTUR_X, rule=ProcessingRule.B2B,
                          content=b"x")


def test_without_a_platform_nothing_is_configured(monkeypatch):
    monkeypatch.delenv("LIFECYCLE_EINVOICING_URL", raising=False)
    assert not EInvoicing().configured() and EInvoicing(base_url="https://pa.example.com/api/").url() == \
        "https://pa.example.com/api"
