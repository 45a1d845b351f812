"""Load the privacy policy (a shipped preset or a TOML file) and check it against the data map.

Which policy runs: the `TIDINGS_POLICY` environment variable, else `[privacy] policy` of the
config file, else the `baseline` preset. A value is a preset name (`icetrak`) or the path
of a TOML file (relative paths from the working directory).
"""

from __future__ import annotations

import os
import tomllib
from collections import defaultdict
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from sqlalchemy import MetaData

from tidings.core.config import Settings
from tidings.core.errors import ConfigError
from tidings.domain.classification import INFO_KEY, DataClass
from tidings.domain.policy import BASES, NAME, Policy, PolicyInvalid, Problem, validate
from tidings.privacy.document import parse_policy
from tidings.privacy.taxonomy import load_regions

DEFAULT_PRESET = "baseline"
POLICY_ENV = "TIDINGS_POLICY"


class PolicyError(ConfigError):
    """A policy that cannot be used; `problems` lists each reason when the file was read."""

    code = "invalid_policy"
    title = "Invalid privacy policy"

    def __init__(self, detail: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(detail)
        self.problems = problems


# --- finding and reading ---------------------------------------------------------------


def _presets() -> resources.abc.Traversable:
    return resources.files("tidings.privacy").joinpath("presets")


def preset_names() -> list[str]:
    """The presets shipped with Tidings, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _presets().iterdir()
        if entry.name.endswith(".toml")
    )


def load_preset(name: str) -> Policy:
    """A shipped preset by name (`ics`, `icetrak`, `bg`, `bulksms`, `baseline`)."""
    if name not in preset_names():
        raise PolicyError(
            f"unknown policy preset {name!r}; the presets are {', '.join(preset_names())} "
            "(or give the path of a TOML policy file)"
        )
    return _parse(_presets().joinpath(f"{name}.toml").read_text("utf-8"), f"preset {name!r}")


def load_file(path: Path) -> Policy:
    """A policy from a TOML file."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError(f"cannot read policy file {path}: {reason}") from None
    return _parse(text, f"policy file {path}")


def load_policy(source: str | Path) -> Policy:
    """A preset name or a file path. A bare name (letters, digits, _) is a preset unless no
    preset has it and a file of that name exists."""
    is_name = isinstance(source, str) and NAME.match(source) is not None
    if is_name and (source in preset_names() or not Path(source).is_file()):
        return load_preset(str(source))
    return load_file(Path(source))


def configured_source(
    settings: Settings | None = None, env: Mapping[str, str] | None = None
) -> str:
    """`TIDINGS_POLICY`, else the config file's `[privacy] policy`, else the default preset."""
    env = os.environ if env is None else env
    return env.get(POLICY_ENV) or (settings.policy if settings is not None else DEFAULT_PRESET)


def load_configured_policy(settings: Settings, env: Mapping[str, str] | None = None) -> Policy:
    """The policy this installation runs under (what the runtime calls)."""
    return load_policy(configured_source(settings, env))


def _parse(text: str, label: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{label} is not valid TOML: {exc}") from None
    try:
        return parse_policy(data)
    except PolicyInvalid as exc:
        count = len(exc.problems)
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise PolicyError(
            f"{label} has {count} problem{'s' if count != 1 else ''}:\n{lines}", exc.problems
        ) from None


# --- checking against the data map -----------------------------------------------------


def classified_columns(metadata: MetaData) -> list[tuple[str, DataClass | None]]:
    """(`table.column`, its classification or None) for every column of `metadata`."""
    return [
        (f"{table.name}.{column.name}", column.info.get(INFO_KEY))
        for table in metadata.sorted_tables
        for column in table.columns
    ]


def check(policy: Policy, metadata: MetaData) -> list[Problem]:
    """Everything that keeps `policy` from governing the data map in `metadata`.

    Reports: the policy's own inconsistencies (`validate`); columns without a
    classification; retention rules the data map uses that the policy does not define
    (naming the columns); purposes of personal columns without a legal basis, or with one
    that contradicts the column's role; rule fields that are not columns under that rule.
    """
    problems = validate(policy)
    columns = classified_columns(metadata)
    by_rule: dict[str, list[str]] = defaultdict(list)
    by_purpose: dict[str, list[tuple[str, DataClass]]] = defaultdict(list)
    for name, data in columns:
        if not isinstance(data, DataClass):
            problems.append(
                Problem(
                    f"data map {name}",
                    "the column has no data classification",
                    "Declare its DataClass beside the column in store/tables.py.",
                )
            )
            continue
        by_rule[data.retention].append(name)
        if data.personal:
            by_purpose[data.purpose].append((name, data))
    for rule_name, names in sorted(by_rule.items()):
        if policy.rule(rule_name) is None:
            problems.append(
                Problem(
                    f"data map {', '.join(names)}",
                    f"retention rule {rule_name!r} is not defined by the policy",
                    f'Add a [[rules]] entry with name = "{rule_name}".',
                )
            )
    for purpose, used in sorted(by_purpose.items()):
        problems.extend(_basis_problems(policy, purpose, used))
    problems.extend(_field_problems(policy, dict(columns)))
    problems.extend(_subprocessor_problems(policy))
    return problems


def _subprocessor_problems(policy: Policy) -> list[Problem]:
    """Regions and safeguards the policy's sub-processors name must be known ones."""
    regions = load_regions()
    problems: list[Problem] = []
    for index, item in enumerate(policy.subprocessors):
        where = f"[[subprocessors]] #{index + 1} ({item.name})"
        if item.region not in regions.regions:
            problems.append(
                Problem(
                    f"{where}, region",
                    f"region {item.region!r} is not known",
                    f"Use one of: {', '.join(sorted(regions.regions))}.",
                )
            )
        if item.safeguard and item.safeguard not in regions.safeguards:
            problems.append(
                Problem(
                    f"{where}, safeguard",
                    f"safeguard {item.safeguard!r} is not known",
                    f"Use one of: {', '.join(sorted(regions.safeguards))}.",
                )
            )
    return problems


def _basis_problems(
    policy: Policy, purpose: str, used: list[tuple[str, DataClass]]
) -> list[Problem]:
    where = f"data map {', '.join(name for name, _ in used)}"
    basis = policy.basis_for(purpose)
    if basis is None:
        return [
            Problem(
                where,
                f"purpose {purpose!r} has no legal basis in the policy",
                f"Add [basis.{purpose}] with basis = one of: {', '.join(BASES)}.",
            )
        ]
    roles = {data.role for _, data in used}
    if "processor" in roles and basis.basis != "processor_instruction":
        return [
            Problem(
                f"[basis.{purpose}]",
                f"Tidings processes this data for accounts as their processor ({where}), "
                f"yet the policy gives it basis {basis.basis!r}",
                'Set basis = "processor_instruction": the account is the controller.',
            )
        ]
    if "controller" in roles and basis.basis == "processor_instruction":
        return [
            Problem(
                f"[basis.{purpose}]",
                f"the operator is the controller of this data ({where}), "
                "so it needs a basis of its own",
                "Use contract, legitimate_interest, consent or legal_obligation.",
            )
        ]
    return []


def _field_problems(policy: Policy, columns: dict[str, DataClass | None]) -> list[Problem]:
    problems: list[Problem] = []
    for rule in policy.rules:
        for item in rule.fields:
            data = columns.get(item)
            under = sorted(
                n for n, d in columns.items() if d is not None and d.retention == rule.name
            )
            if item not in columns:
                problems.append(
                    Problem(
                        f"rule {rule.name!r}, fields",
                        f"{item} is not a column of the data map",
                        f"Columns under this rule: {', '.join(under) or 'none'}.",
                    )
                )
            elif data is not None and data.retention != rule.name:
                problems.append(
                    Problem(
                        f"rule {rule.name!r}, fields",
                        f"{item} is kept under rule {data.retention!r}, not {rule.name!r}",
                        f"Use columns under this rule: {', '.join(under) or 'none'}.",
                    )
                )
    return problems
