"""Batch items checked without the model read exactly as the model reads them, and
anything the model would refuse or read differently is left to it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tidings.api.routers.messages import _parse_batch, to_request
from tidings.api.schemas import SendMessage
from tidings.api.send_items import plain_request
from tidings.pipeline.accept import MessageRequest

FIELDS = (
    "to",
    "from",
    "from_",
    "body",
    "channel",
    "send_at",
    "validity_seconds",
    "status_callback",
    "reference",
    "purpose",
    "colour",
)
# Around every limit of the model: lengths, control characters, lone surrogates, types.
texts = st.one_of(
    st.sampled_from(["", "+31612345678", "Acme", "sms", "marketing", "https://e.x/cb", "é"]),
    st.text(max_size=70),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=70),
    st.integers(min_value=0, max_value=2200).map(lambda n: "x" * n),
    st.sampled_from(["a\x00b", "tab\there", "line\n", "del\x7f", "\ud800", "ok\udfff"]),
)
values = st.one_of(
    texts,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["2026-03-01T12:00:00Z", "600", 600.0]),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
# Mostly valid: one field at a time near or past its limit.
fine = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc"]), max_size=8)
near_valid = st.fixed_dictionaries(
    {"to": fine.filter(bool), "from": fine.filter(bool), "body": st.one_of(fine, texts)},
    optional={
        "channel": st.one_of(fine, texts),
        "validity_seconds": st.one_of(st.none(), st.integers(), values),
        "status_callback": st.one_of(st.none(), fine, texts),
        "reference": st.one_of(st.none(), fine, texts),
        "purpose": st.one_of(fine, texts),
        "send_at": values,
        "colour": values,
    },
)
items = st.one_of(
    near_valid,
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=len(FIELDS)),
    st.fixed_dictionaries(
        {"to": texts, "from": texts, "body": texts},
        optional={name: values for name in FIELDS[4:10]},
    ),
    st.sampled_from([None, [], "text", 1]),
)


def model_reading(item: Any) -> MessageRequest | None:
    try:
        return to_request(SendMessage.model_validate(item))
    except ValidationError:
        return None


@settings(max_examples=3000, deadline=None)
@given(items)
def test_a_plain_item_reads_as_the_model_reads_it(item: Any) -> None:
    plain = plain_request(item)
    if plain is not None:
        assert plain == model_reading(item)


@pytest.mark.parametrize(
    "item",
    [
        {"to": "+31612345678", "from": "Acme", "body": "Hello"},
        {"to": "+31612345678", "from": "Acme", "body": "Grüße\n\t€ 😀", "reference": None},
        {
            "to": "+31612345678",
            "from": "Acme",
            "body": "x" * 20_000,
            "channel": "sms",
            "validity_seconds": 600,
            "status_callback": "https://example.com/cb",
            "reference": "r" * 128,
            "purpose": "marketing",
        },
    ],
)
def test_the_usual_items_are_plain(item: dict[str, Any]) -> None:
    assert plain_request(item) is not None
    assert plain_request(item) == model_reading(item)


def test_a_batch_reads_alike_with_and_without_plain_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = {"to": "+31612345678", "from": "Acme", "body": "Hi", "reference": "r"}
    batches = [
        [good, {**good, "validity_seconds": 60}],
        [good, {**good, "send_at": "2026-03-01T12:00:00Z"}],  # one for the model: all are
        [good, {**good, "to": ""}, {**good, "colour": 1}, "x", {**good, "body": None}],
    ]
    plain = [_parse_batch({"messages": orjson.loads(orjson.dumps(b))}, 100) for b in batches]
    monkeypatch.setattr("tidings.api.routers.messages.plain_request", lambda _: None)
    model = [_parse_batch({"messages": orjson.loads(orjson.dumps(b))}, 100) for b in batches]
    assert plain == model
    assert [len(errors) for _, _, errors in model] == [0, 0, 4]
