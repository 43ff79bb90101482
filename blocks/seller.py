"""`Seller`: who issues the invoices, as the law wants it printed on each one, editable in the UI.

French invoices must name the seller with its legal form, share capital, address, SIREN/SIRET,
intra-community VAT number and RCS registration; seed 001 adds the vendor's bank details and a
payment link for card and direct-debit customers. The embedded default is a sample (a test IBAN,
a fictitious company), marked `sample` so that every invoice says SPECIMEN and `lifecycle up` and
each close say it is still in use until someone fills in the real one.
"""

from __future__ import annotations

from typing import Optional

from prefect.blocks.core import Block
from pydantic import Field, model_validator

from blocks.forms import Text, bic_problem, iban_problem, mail_address_problem, vat_number_problem
from policy.einvoicing import siren_problem
from policy.text import undrawable_problem

#: what the seller's details are as an invoice prints them: one line of text without control or invisible
#: characters (a NUL breaks the Factur-X XML, a bidi control reorders the printed name), and none the documents'
#: font cannot draw
Line = Text(200, undrawable_problem)


#: the identifiers an older release's sample carried (their keys did not hold) and the sample's today: a block
#: saved as the sample by that release still loads, with the valid ones
OLD_SAMPLE_IDS = {"siren": ("123456789", "123456782"), "siret": ("12345678900012", "12345678200010"),
                  "vat_number": ("FR32123456789", "FR11123456782"), "rcs": ("RCS Paris 123 456 789", "RCS Paris 123 456 782")}


#: what a payment link may name: the invoice, the customer, the amount to pay
LINK_FIELDS = ("number", "customer_id", "amount")


def link_template_problem(template: str) -> str | None:
    """Why `template` is no payment link (None: it is one): an https:// address whose only replacement
    fields are {number}, {customer_id} and {amount}, as written (no index, attribute, conversion or format:
    `{0}`, `{number.__class__}`, `{amount:>99999999}` would fail, leak or bloat every invoice)."""
    import string

    if not template.startswith("https://"):
        return "a payment link is an https:// address"
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as error:
        return f"not a template of replacement fields ({error}): write {{number}}, {{customer_id}} or {{amount}}"
    for name, spec, conversion in fields:
        if name not in LINK_FIELDS or spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return (f"{written[:40]!r} is not a field of a payment link: write {{number}}, {{customer_id}} or "
                    f"{{amount}}, as they are")
    return None


class Seller(Block):
    """The vendor as its invoices present it: legal identity, address, bank details, payment link."""

    _block_type_name = "Seller"
    _block_type_slug = "seller"
    _logo_url = None
    _description = "The vendor's legal identity, address and bank details, printed on every invoice."

    sample: bool = Field(True, description="True while these are the shipped sample details: every invoice then "
                         "carries a SPECIMEN band. Set it to false once the real details are filled in.")
    legal_name: Line = Field("Exemple SaaS SAS", description="Legal name (raison sociale).")
    legal_form: Optional[Line] = Field("SAS", description="Legal form: SAS, SARL, SA...")
    share_capital: Optional[Line] = Field("10 000 €", description="Share capital, as printed (capital social).")
    address_lines: list[Line] = Field(["10 rue de l'Exemple"], max_length=5, description="Street address, one entry "
                                      "per line: 5 lines at most.")
    postcode: Line = Field("75002", description="Postcode.")
    city: Line = Field("Paris", description="City.")
    country: Line = Field("FR", description="ISO 3166 country code.", pattern="^[A-Z]{2}$")
    # the sample's numbers are fictitious but valid (their keys hold), so a specimen passes the French rules
    siren: Text(200, siren_problem) = Field("123456782", description="SIREN (9 digits, its check digit holding).",
                                            pattern=r"^[0-9]{9}$")
    siret: Optional[Text(200, siren_problem)] = Field("12345678200010", description="SIRET of the issuing "
                                                      "establishment (14 digits: the SIREN, then the establishment's "
                                                      "5, its check digit holding).", pattern=r"^[0-9]{14}$")
    vat_number: Text(200, vat_number_problem) = Field("FR11123456782", description="Intra-community VAT number.")
    rcs: Optional[Line] = Field("RCS Paris 123 456 782", description="Trade register entry, as printed.")
    vat_on_debits: bool = Field(False, description="The vendor opted for VAT on debits (option pour le paiement de "
                                "la taxe d'après les débits): VAT is due when an invoice is issued, and every invoice "
                                "says so. False: VAT on services is due on receipt of the payment.")
    email: Text(200, mail_address_problem) = Field("facturation@example.com", description="Contact address for invoices; the From of invoice "
                       "mails stays the notifications block's sender.")
    iban: Text(200, iban_problem) = Field("FR76 3000 6000 0112 3456 7890 189", description="IBAN customers pay to (the sample is a "
                      "test IBAN).")
    bic: Text(200, bic_problem) = Field("AGRIFRPPXXX", description="BIC of that account.")
    payment_link_template: Optional[Text(200, link_template_problem)] = Field(
        "https://pay.example.com/invoices/{number}?customer={customer_id}",
        description="Payment link for card and SEPA customers; {number}, {customer_id} and {amount} are replaced. "
        "Empty: no link.")

    @model_validator(mode="before")
    @classmethod
    def _older_sample(cls, data):
        """A block still the sample, saved by a release whose sample SIREN had a wrong key, takes today's sample
        identifiers instead of failing to load (a real seller's numbers are never touched: `sample` is off)."""
        if isinstance(data, dict) and data.get("sample", True) and data.get("siren") == OLD_SAMPLE_IDS["siren"][0]:
            data = dict(data)
            for name, (old, new) in OLD_SAMPLE_IDS.items():
                if data.get(name) == old:
                    data[name] = new
        return data

    def payment_link(self, number: str, customer_id: str, amount) -> str | None:
        if not self.payment_link_template:
            return None
        return self.payment_link_template.format(number=number, customer_id=customer_id, amount=amount)
