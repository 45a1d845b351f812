"""Consent as a ledger: each event is immutable; the current state is derived from them.

Pure rules, no I/O. An event says that, on a channel (or on `all`), for a purpose, the
person `granted` a basis, `withdrew` consent or `objected` (GDPR Art. 7(3), Art. 21).
The state of one channel and purpose is the latest event that applies to it, where
events on `all` apply to every channel, with one rule that protects the person: after a
withdrawal or an objection only a fresh `granted` on the basis `consent` makes the
purpose valid again. A later contract or legitimate-interest claim (a soft opt-in) does
not undo a "no" (Art. 21(3): after an objection to direct marketing, no more of it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Channel = Literal["sms", "whatsapp", "viber", "messenger", "fax"]
Action = Literal["granted", "withdrawn", "objected"]
ConsentBasis = Literal["consent", "contract", "legitimate_interest"]
Source = Literal["api", "import", "keyword", "web_form", "console"]
KeywordKind = Literal["opt_out", "opt_out_all", "opt_in", "help"]

CHANNELS: tuple[str, ...] = get_args(Channel)
ALL = "all"
EVENT_CHANNELS: tuple[str, ...] = (*CHANNELS, ALL)
ACTIONS: tuple[str, ...] = get_args(Action)
BASES: tuple[str, ...] = get_args(ConsentBasis)
SOURCES: tuple[str, ...] = get_args(Source)
KEYWORD_KINDS: tuple[str, ...] = get_args(KeywordKind)
MARKETING = "marketing"
TRANSACTIONAL = "transactional"
BUILTIN_PURPOSES = (MARKETING, TRANSACTIONAL)
PURPOSE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""An account-defined purpose: lowercase letters, digits and _, starting with a letter."""
MARKETING_BASES = frozenset({"consent", "legitimate_interest"})
"""Direct marketing rests on consent, or on legitimate interest for a soft opt-in
(ePrivacy Directive Art. 13(2)); never on a contract."""


class ConsentError(ValueError):
    """An event that the rules refuse: `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    seq: int  # the order of recording, for events of the same moment
    channel: str
    purpose: str
    action: str
    basis: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class State:
    """Where one channel and purpose stand: `status` is granted, withdrawn, objected or none."""

    channel: str
    purpose: str
    status: str
    basis: str | None
    since: datetime | None
    event_id: str | None

    @property
    def valid(self) -> bool:
        return self.status == "granted"


def check_event(channel: str, purpose: str, action: str, basis: str, source: str) -> None:
    """Raise ConsentError naming the field when an event cannot be recorded."""
    if channel not in EVENT_CHANNELS:
        raise ConsentError("channel", f"'channel' must be one of {', '.join(EVENT_CHANNELS)}")
    if not PURPOSE_NAME.match(purpose):
        raise ConsentError(
            "purpose",
            "'purpose' must be marketing, transactional or a name of your own "
            "(lowercase letters, digits and _, starting with a letter, at most 64)",
        )
    if action not in ACTIONS:
        raise ConsentError("action", f"'action' must be one of {', '.join(ACTIONS)}")
    if basis not in BASES:
        raise ConsentError("basis", f"'basis' must be one of {', '.join(BASES)}")
    if source not in SOURCES:
        raise ConsentError("source", f"'source' must be one of {', '.join(SOURCES)}")
    if purpose == MARKETING and action == "granted" and basis not in MARKETING_BASES:
        raise ConsentError(
            "basis",
            "'basis' of a marketing grant must be consent, or legitimate_interest for a "
            "soft opt-in; marketing never rests on a contract",
        )


def _order(event: Event) -> tuple[datetime, int]:
    return (event.occurred_at, event.seq)


def state_of(events: Iterable[Event], channel: str, purpose: str) -> State:
    """The state of `channel` and `purpose` from every event (events on `all` count)."""
    status, basis, since, event_id = "none", None, None, None
    negative = False
    relevant = [e for e in events if e.purpose == purpose and e.channel in (channel, ALL)]
    for event in sorted(relevant, key=_order):
        if event.action == "granted":
            if negative and event.basis != "consent":
                continue  # a "no" is undone only by fresh consent
            negative = False
        else:
            negative = True
        status, basis, since, event_id = event.action, event.basis, event.occurred_at, event.id
    return State(channel, purpose, status, basis, since, event_id)


def states(events: Iterable[Event]) -> list[State]:
    """The state of every channel and purpose the events speak of (`all` expanded)."""
    listed = list(events)
    keys: set[tuple[str, str]] = set()
    for event in listed:
        channels = CHANNELS if event.channel == ALL else (event.channel,)
        keys.update((c, event.purpose) for c in channels)
    return [state_of(listed, c, p) for p, c in sorted((p, c) for c, p in keys)]


def may_send(
    events_by_number: Mapping[bytes, list[Event]], number: bytes, channel: str, purpose: str
) -> bool:
    """True when the number has a valid basis for this channel and purpose."""
    return state_of(events_by_number.get(number, ()), channel, purpose).valid


def is_suppressed(suppressed: Iterable[str], channel: str) -> bool:
    """`suppressed` is the channels (or `all`) a number opted out of."""
    return any(c in (channel, ALL) for c in suppressed)


# --- keywords ---------------------------------------------------------------------------

DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "opt_out": ("STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"),
    "opt_out_all": ("STOPALL",),
    "opt_in": ("START", "YES", "UNSTOP"),
    "help": ("HELP", "INFO"),
}
DEFAULT_REPLIES: dict[str, str] = {
    "help_reply": "Reply STOP to opt out, START to opt back in.",
    "opt_out_reply": "You are opted out and will get no more marketing messages. "
    "Reply START to opt back in.",
    "opt_in_reply": "You are opted in again. Reply STOP to opt out.",
}
MAX_KEYWORD = 32


def fold(text: str) -> str:
    """Case, surrounding space and accents removed: "  Stöp " -> "stop"."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    kind: str
    language: str


def match_keyword(
    body: str, languages: Mapping[str, Mapping[str, Iterable[str]]]
) -> KeywordMatch | None:
    """The keyword a whole inbound text is, if any: one word, folded, in any language.

    `languages` maps a language code to {kind: [keywords]}.
    """
    word = fold(body)
    if not word or any(c.isspace() for c in word):
        return None
    for language, kinds in languages.items():
        for kind in KEYWORD_KINDS:
            if any(fold(k) == word for k in kinds.get(kind, ())):
                return KeywordMatch(kind, language)
    return None


def check_keywords(languages: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
    """Each keyword one word of at most 32 characters, none with two meanings."""
    meaning: dict[str, str] = {}
    for language, kinds in languages.items():
        for kind in KEYWORD_KINDS:
            for keyword in kinds.get(kind, ()):
                where = f"languages.{language}.{kind}"
                folded = fold(keyword)
                if not folded or len(folded) > MAX_KEYWORD or any(c.isspace() for c in folded):
                    raise ConsentError(
                        where,
                        f"'{where}' holds {keyword!r}; a keyword is one word of 1 to "
                        f"{MAX_KEYWORD} characters",
                    )
                other = meaning.setdefault(folded, kind)
                if other != kind:
                    raise ConsentError(
                        where,
                        f"'{where}' holds {keyword!r}, which is also a {other} keyword; "
                        "give each word one meaning",
                    )
