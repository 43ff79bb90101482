"""`PolicyTerms`: the policy's numbers as a Block, so ops and finance edit them in the UI.

The fields are those of `policy.terms.Terms`, declared once there with their defaults and seed
clauses; this block only makes them editable and stored by Prefect.
"""

from __future__ import annotations

from pydantic import create_model
from prefect.blocks.core import Block

from policy.terms import Terms

_Fields = create_model(
    "PolicyTermsFields",
    __base__=Block,
    __module__=__name__,
    **{name: (info.annotation, info) for name, info in Terms.model_fields.items()},
)


class PolicyTerms(_Fields):
    """Every number of the support policy: quota, rates, surcharges, standby, arrears, retention.
    Each field says which clause of the seed policies it comes from."""

    _block_type_name = "Policy Terms"
    _block_type_slug = "policy-terms"
    _logo_url = None
    _description = "The support policy's numbers (quota, rates, surcharges, standby, arrears, retention)."

    def to_terms(self) -> Terms:
        return Terms(**{name: getattr(self, name) for name in Terms.model_fields})
