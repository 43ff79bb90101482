"""Every text field of every settings block follows policy.text's rules, and a field with a form (a URL, a host,
a path, an SQL identifier, a mail address, an IBAN, a BIC, a VAT number) is refused when the block is built
(saved from the UI, or loaded), in one line naming the field and the form, never at the first mail, upload or
close that uses it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.storage import ObjectStorage


def refusal(block, **fields) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as refused:
        block(**fields)
    [error] = refused.value.errors()
    return error["loc"], error["msg"].removeprefix("Value error, ")


@pytest.mark.parametrize("block, field, value, said", [
    (Notifications, "outbox_dir", "outbox", "'outbox' is not an absolute path: write a folder starting with /"),
    (Notifications, "outbox_dir", "/srv/out\x00box", "holds the control character U+0000 (at character 9): type the "
                                                    "text without it"),
    (Notifications, "smtp_host", "smtp.example.com\r\nRCPT TO:<x@evil>", "holds a line break (U+000D at character "
                                                                         "17): this value is one line"),
    (Notifications, "smtp_host", "a" * 254, "is longer than 253 characters"),
    (Notifications, "smtp_host", "smtp://mail.example.com:25", "'smtp://mail.example.com:25' is not a host name or an "
                                                              "IP address: write smtp.example.com or 192.0.2.25, with "
                                                              "no scheme, port or path"),
    (Notifications, "username", "ops\u202e", "holds the invisible character U+202E RIGHT-TO-LEFT OVERRIDE (at "
                                             "character 4; it reorders or hides text): type the text without it"),
    (Notifications, "ops_webhook_url", "file:///etc/passwd", "'file:///etc/passwd' is not a web address: write "
                                                             "http://host/path or https://host/path"),
    (Notifications, "sender", "support", "'support' is not one mail address: write Name <user@example.com> or "
                                         "user@example.com"),
    (Notifications, "ops_email", "a@example.com, b@example.com", "'a@example.com, b@example.com' is not one mail "
                                                                 "address: write Name <user@example.com> or "
                                                                 "user@example.com"),
    (PlatformControl, "webhook_url", "javascript:alert(1)", "'javascript:alert(1)' is not a web address: write "
                                                            "http://host/path or https://host/path"),
    (PlatformControl, "database_url", "mysql://db/platform", "'mysql://db/platform' names the driver 'mysql', which "
                                                             "this product does not drive: write sqlite:///path/to/"
                                                             "file.db or postgresql+psycopg://user@host/database "
                                                             "(postgresql:// also)"),
    (PlatformControl, "tenant_table", "tenants; DROP TABLE x", "'tenants; DROP TABLE x' is not an SQL identifier: a "
                                                               "letter or _ then letters, digits or _, 63 characters "
                                                               "at most"),
    (PlatformControl, "tenant_column", "1tenant", "'1tenant' is not an SQL identifier: a letter or _ then letters, "
                                                  "digits or _, 63 characters at most"),
    (ObjectStorage, "url", "/srv/objects", "'/srv/objects' is not a storage URL: write file:///absolute/path or "
                                           "s3://bucket/prefix"),
    (ObjectStorage, "region", "eu-west-3\n", "holds a line break (U+000A at character 10): this value is one line"),
    (Seller, "iban", "FR76 3000 6000 0112 3456 7890 188", "'FR76 3000 6000 0112 3456 7890 188' is not an IBAN: its "
                                                          "check digits do not match (mod 97): check each character"),
    (Seller, "iban", "12345", "'12345' is not an IBAN: two letters (the country), two check digits, then 11 to 30 "
                              "letters or digits (spaces allowed)"),
    (Seller, "bic", "AGRIFRPPXX", "'AGRIFRPPXX' is not a BIC (ISO 9362): 8 or 11 capitals and digits: the bank's 4 "
                                  "letters, the country's 2, the place's 2, and optionally the branch's 3"),
    (Seller, "vat_number", "123456789", "'123456789' is not an intra-community VAT number: the country's two letters "
                                        "then 2 to 13 letters or digits"),
    (Seller, "vat_number", "FR33123456789", "'FR33123456789' is not a French VAT number: its key 33 does not match "
                                            "the SIREN 123456789 (it would be 32)"),
    (Seller, "siren", "123456780", "123456780 is no SIREN: its check digit does not hold"),
    (Seller, "siret", "12345678200011", "12345678200011 is no SIRET: its check digit does not hold"),
    (Seller, "email", "facturation", "'facturation' is not one mail address: write Name <user@example.com> or "
                                     "user@example.com"),
])
def test_a_text_of_a_block_not_of_its_form_is_refused_naming_the_field(block, field, value, said):
    assert refusal(block, **{field: value}) == ((field,), said)


def test_a_seller_address_has_at_most_five_lines():
    loc, said = refusal(Seller, address_lines=["line"] * 6)
    assert loc == ("address_lines",) and said == "List should have at most 5 items after validation, not 6"
    assert "5 lines at most" in Seller.model_fields["address_lines"].description


def test_the_defaults_and_real_values_of_each_form_are_taken():
    for block in (Notifications, PlatformControl, ObjectStorage, Seller):
        block()
    Notifications(outbox_dir="/var/lib/lifecycle/outbox", smtp_host="192.0.2.25", username="ops",
                  ops_webhook_url="https://hooks.example.com/T0/B0", sender="support@example.com",
                  ops_email='"Ops, on call" <ops@example.com>')
    Notifications(smtp_host="2001:db8::25")
    PlatformControl(webhook_url="http://127.0.0.1:8080/flags", tenant_table="_Tenants2", tenant_column="tenant_id",
                    database_url="postgresql+psycopg://app@db/platform")
    ObjectStorage(url="s3://backups/lifecycle", endpoint_url="http://127.0.0.1:9000", region="eu-west-3")
    ObjectStorage(url="file:///srv/objects")
    Seller(iban="DE89370400440532013000", bic="COBADEFF", vat_number="DE123456789", email="Compta <c@example.de>",
           address_lines=["1", "2", "3", "4", "5"])
    Seller(iban="fr76 3000 6000 0112 3456 7890 189", vat_number="BE0123456749")


def test_a_storage_url_is_checked_as_lifecycle_storage_url_is(monkeypatch):
    import lifecycle_config

    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", "/srv/objects")
    with pytest.raises(lifecycle_config.Misconfigured) as refused:
        lifecycle_config.storage_url()
    assert str(refused.value) == ("LIFECYCLE_STORAGE_URL='/srv/objects' is not a storage URL: write "
                                  "file:///absolute/path or s3://bucket/prefix")


def test_a_policy_terms_text_is_given_back_cut_short():
    from policy.terms import Terms

    loc, said = refusal(Terms, public_holidays_subdivision="9" * 5000)
    assert loc == ("public_holidays_subdivision",)
    assert said.startswith(f"not a subdivision of France in the holidays package: {'9' * 40 + '…'!r} (5,000 "
                           f"characters) (one of ")


def test_a_saved_block_out_of_its_form_is_told_in_one_line_cut_short_without_a_password():
    from blocks.settings import invalid_block_line

    with pytest.raises(ValidationError) as refused:
        PlatformControl(database_url="mysql://app:s3cret@db/" + "p" * 500)
    line = invalid_block_line(PlatformControl, "lifecycle", refused.value)
    assert "s3cret" not in line and "\n" not in line and len(line) < 400, line
    assert line.startswith("the platform-control block 'lifecycle': database_url: 'mysql://app:***@db/") and \
        line.endswith("characters)): correct it in the UI (Blocks)"), line


def test_a_seller_block_saved_as_an_older_releases_sample_loads_with_the_valid_sample_identifiers():
    older = Seller(siren="123456789", siret="12345678900012", vat_number="FR32123456789", rcs="RCS Paris 123 456 789")
    assert (older.siren, older.siret, older.vat_number, older.rcs) == ("123456782", "12345678200010", "FR11123456782",
                                                                       "RCS Paris 123 456 782")
    assert refusal(Seller, sample=False, siren="123456789") == (("siren",), "123456789 is no SIREN: its check digit "
                                                                           "does not hold")
    assert Seller().vat_on_debits is False
