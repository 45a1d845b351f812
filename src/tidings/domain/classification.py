"""How a stored column is classified in the data map: declared next to each column.

Categories follow a fideslang-like taxonomy (`user.contact.phone_number`,
`system.operations`, ...). Role is the operator's role for that data set:
controller of account, billing and usage data; processor of accounts' messages
and contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["controller", "processor"]
LegalBasis = Literal[
    "contract",
    "legitimate_interest",
    "consent",
    "legal_obligation",
    "processor_instruction",
    "not_personal",
]


@dataclass(frozen=True)
class DataClass:
    category: str
    subject: str
    purpose: str
    basis: LegalBasis
    role: Role
    retention: str
    personal: bool = True

    def __post_init__(self) -> None:
        if not self.category or "." not in self.category:
            raise ValueError(f"category {self.category!r} must be a dotted taxonomy key")
        if self.personal and self.basis == "not_personal":
            raise ValueError("personal data needs a legal basis")


def not_personal(purpose: str = "operations", retention: str = "with_parent") -> DataClass:
    """A column that holds no personal data (ids, states, counters, timestamps of systems)."""
    return DataClass(
        category="system.operations",
        subject="none",
        purpose=purpose,
        basis="not_personal",
        role="controller",
        retention=retention,
        personal=False,
    )


INFO_KEY = "data_class"
