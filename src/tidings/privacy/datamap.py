"""The data map: every table as a data set, built from the classification of its columns.

Nothing here is typed by hand: the data sets are the tables of `metadata` (so a new table
appears by itself), each column's category, subject, purpose, basis, role and retention rule
come from its DataClass, and how a column is protected is read from how it is stored
(`*_enc` bytes are encrypted, `*_index` bytes are keyed blind indexes, `*_hash` a one-way
hash). `describe` adds what the policy in force says: the legal basis of each purpose and
the period of each retention rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Column, LargeBinary, MetaData

from tidings.domain.classification import INFO_KEY, DataClass
from tidings.domain.policy import Policy
from tidings.privacy.notice import rule_words
from tidings.privacy.taxonomy import Taxonomy

Protection = Literal["encrypted", "blind_index", "hashed", "plain"]
PROTECTION_WORDS: dict[str, str] = {
    "encrypted": "encrypted at rest (AES-GCM, per-account key)",
    "blind_index": "keyed blind index (HMAC): a pseudonym, the value cannot be read back",
    "hashed": "one-way hash (argon2id)",
    "plain": "stored readable",
}


def protection_of(column: Column[Any]) -> Protection:
    """How a column keeps its value, read from its type and the naming rule of tables.py."""
    if isinstance(column.type, LargeBinary) and column.name.endswith("_enc"):
        return "encrypted"
    if isinstance(column.type, LargeBinary) and column.name.endswith("_index"):
        return "blind_index"
    if column.name.endswith("_hash"):
        return "hashed"
    return "plain"


@dataclass(frozen=True)
class DataItem:
    """One classified column."""

    table: str
    column: str
    data: DataClass
    protection: Protection

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class DataSet:
    """One table and its columns."""

    name: str
    items: tuple[DataItem, ...]

    @property
    def personal(self) -> tuple[DataItem, ...]:
        return tuple(i for i in self.items if i.data.personal)

    @property
    def roles(self) -> tuple[str, ...]:
        """The operator's roles for the personal data of this set (empty: none is personal)."""
        return tuple(sorted({i.data.role for i in self.personal}))

    @property
    def role(self) -> str:
        """`controller`, `processor`, `controller+processor`, or `none` (no personal data)."""
        return "+".join(self.roles) or "none"

    def values(self, attribute: str) -> tuple[str, ...]:
        """The distinct values of one DataClass attribute over the personal columns, sorted."""
        return tuple(sorted({str(getattr(i.data, attribute)) for i in self.personal}))


@dataclass(frozen=True)
class DataMap:
    data_sets: tuple[DataSet, ...]
    unclassified: tuple[str, ...]

    def items(self) -> Iterator[DataItem]:
        for data_set in self.data_sets:
            yield from data_set.items

    def personal(self, role: str | None = None) -> list[DataItem]:
        return [
            i for i in self.items() if i.data.personal and (role is None or i.data.role == role)
        ]

    def data_set(self, name: str) -> DataSet | None:
        return next((d for d in self.data_sets if d.name == name), None)


def build_data_map(metadata: MetaData) -> DataMap:
    """Every table of `metadata` as a data set, in a stable (alphabetical) order."""
    data_sets: list[DataSet] = []
    unclassified: list[str] = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        items: list[DataItem] = []
        for column in table.columns:
            data = column.info.get(INFO_KEY)
            if not isinstance(data, DataClass):
                unclassified.append(f"{table.name}.{column.name}")
                continue
            # str(): SQLAlchemy names are a str subclass that JSON encoders refuse as keys.
            items.append(DataItem(str(table.name), str(column.name), data, protection_of(column)))
        data_sets.append(DataSet(str(table.name), tuple(items)))
    return DataMap(tuple(data_sets), tuple(unclassified))


def taxonomy_problems(data_map: DataMap, taxonomy: Taxonomy) -> list[str]:
    """Columns whose category or data subject the taxonomy does not know."""
    problems = [f"column {c} has no data classification" for c in data_map.unclassified]
    for item in data_map.items():
        if item.data.category not in taxonomy.categories:
            problems.append(
                f"column {item.name}: category {item.data.category!r} is not in the taxonomy; "
                "add it to tidings/privacy/data/taxonomy.toml or use a known one"
            )
        if item.data.subject not in taxonomy.subjects:
            problems.append(
                f"column {item.name}: data subject {item.data.subject!r} is not in the "
                "taxonomy; add it under [subjects] in tidings/privacy/data/taxonomy.toml"
            )
    return problems


def describe(data_map: DataMap, policy: Policy, taxonomy: Taxonomy) -> dict[str, Any]:
    """The data map as plain data, with the legal bases and periods of `policy`."""
    columns: dict[str, DataClass | None] = {i.name: i.data for i in data_map.items()}
    data_sets = []
    for data_set in data_map.data_sets:
        entries = []
        for item in data_set.items:
            data = item.data
            basis = policy.basis_for(data.purpose) if data.personal else None
            rule = policy.rule(data.retention)
            entries.append(
                {
                    "column": item.name,
                    "personal": data.personal,
                    "category": data.category,
                    "category_name": taxonomy.categories[data.category].name
                    if data.category in taxonomy.categories
                    else data.category,
                    "subject": data.subject,
                    "purpose": data.purpose,
                    "basis": basis.basis if basis else data.basis,
                    "article": basis.article if basis else None,
                    "role": data.role,
                    "retention": data.retention,
                    "period": str(rule.period) if rule and rule.period else None,
                    "retention_words": rule_words(rule, columns) if rule else None,
                    "protection": item.protection,
                }
            )
        data_sets.append(
            {
                "name": data_set.name,
                "role": data_set.role,
                "personal": bool(data_set.personal),
                "categories": list(data_set.values("category")),
                "subjects": list(data_set.values("subject")),
                "purposes": list(data_set.values("purpose")),
                "retention": list(data_set.values("retention")),
                "columns": entries,
            }
        )
    return {"policy": policy.name, "version": policy.version, "data_sets": data_sets}
