"""The consent columns of an import file (`column=consent:CHANNEL[:PURPOSE]`): which
targets name one, and the answer a cell gives. Pure: the rows of a large import are read
in worker processes that load no database code; `import_consent` records the answers."""

from __future__ import annotations

from tidings.core.errors import InvalidInput
from tidings.domain.consent import MARKETING, ConsentError, check_event
from tidings.domain.contacts import ContactValueError

PREFIX = "consent:"
OPTED_OUT = "opted_out"  # a cell's answer; recorded as `withdrawn` plus a suppression entry
ANSWERS = {
    "yes": "granted",
    "y": "granted",
    "true": "granted",
    "1": "granted",
    "granted": "granted",
    "no": "withdrawn",
    "n": "withdrawn",
    "false": "withdrawn",
    "0": "withdrawn",
    "withdrawn": "withdrawn",
    "objected": "objected",
    "stop": OPTED_OUT,
    "opted_out": OPTED_OUT,
    "opt_out": OPTED_OUT,
    "opted out": OPTED_OUT,
    "unsubscribed": OPTED_OUT,
}


def is_consent(target: str) -> bool:
    return target.startswith(PREFIX)


def check_consent_target(target: str, column: str) -> str:
    """`consent:sms` or `consent:sms:marketing` -> the normal form `consent:sms:marketing`."""
    parts = target[len(PREFIX) :].split(":")
    channel = parts[0].strip().lower()
    purpose = parts[1].strip() if len(parts) > 1 else MARKETING
    try:
        if len(parts) > 2:
            raise ConsentError("map", "it has more than CHANNEL and PURPOSE")
        check_event(channel, purpose, "granted", "consent", "import")
    except ConsentError as exc:
        raise InvalidInput(
            f"'map' sends column {column!r} to {target!r}, which is not a consent target "
            f"(consent:CHANNEL or consent:CHANNEL:PURPOSE): {exc}",
            code="invalid_consent_target",
            extra={"field": "map"},
        ) from None
    return f"{PREFIX}{channel}:{purpose}"


def parse_answer(target: str, raw: object) -> str:
    """The action a cell records; ContactValueError for what is not a yes or a no."""
    if isinstance(raw, bool):
        return "granted" if raw else "withdrawn"
    text = str(raw).strip().lower() if isinstance(raw, str | int) else None
    action = ANSWERS.get(text) if text is not None else None
    if action is None:
        raise ContactValueError(
            target,
            f"must be yes, no, true, false, 1, 0, granted, withdrawn, objected or stop "
            f"(an opt-out) (got {str(raw)[:40]!r})",
        )
    return action
