"""The data taxonomy (categories and data subjects) and the regions, read from package data.

The terms live in `privacy/data/taxonomy.toml` and `privacy/data/regions.toml`, not in code:
the data map, the record of processing and the notice read them from there.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Term:
    """One category or data subject: its key, a title, a phrase for sentences, what it means."""

    key: str
    name: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Taxonomy:
    categories: Mapping[str, Term]
    subjects: Mapping[str, Term]

    def category_label(self, key: str) -> str:
        term = self.categories.get(key)
        return term.label if term else key

    def subject_label(self, key: str) -> str:
        term = self.subjects.get(key)
        return term.label if term else key.replace("_", " ")

    def problems(self) -> list[str]:
        """Keys whose parent is not declared (`user.contact.email` needs `user.contact`)."""
        return [
            f"category {key!r} has no parent {key.rsplit('.', 1)[0]!r} in the taxonomy"
            for key in self.categories
            if "." in key and key.rsplit(".", 1)[0] not in self.categories
        ]


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    law: str
    adequate: frozenset[str]


@dataclass(frozen=True)
class Safeguard:
    code: str
    name: str
    article: str


@dataclass(frozen=True)
class Regions:
    regions: Mapping[str, Region]
    safeguards: Mapping[str, Safeguard]

    def needs_safeguard(self, home: str, region: str) -> bool:
        """Does data going from `home` to `region` cross a border?"""
        return region != home

    def adequacy_covers(self, home: str, region: str) -> bool:
        found = self.regions.get(home)
        return found is not None and region in found.adequate


def _read(name: str) -> dict[str, Any]:
    text = resources.files("tidings.privacy").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


def _terms(raw: Mapping[str, Any]) -> dict[str, Term]:
    return {
        key: Term(
            key, entry["name"], entry.get("label", entry["name"]), entry.get("description", "")
        )
        for key, entry in raw.items()
    }


@cache
def load_taxonomy() -> Taxonomy:
    data = _read("taxonomy.toml")
    return Taxonomy(_terms(data.get("categories", {})), _terms(data.get("subjects", {})))


@cache
def load_regions() -> Regions:
    data = _read("regions.toml")
    regions = {
        code: Region(
            code, entry["name"], entry.get("law", ""), frozenset(entry.get("adequate", ()))
        )
        for code, entry in data.get("regions", {}).items()
    }
    safeguards = {
        code: Safeguard(code, entry["name"], entry.get("article", ""))
        for code, entry in data.get("safeguards", {}).items()
    }
    return Regions(regions, safeguards)
