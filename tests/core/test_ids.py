from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.ids import _encode, id_timestamp_ms, is_valid_id, new_id, new_ids


def test_ids_sort_by_time_and_carry_their_prefix() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [new_id("msg", start + timedelta(milliseconds=i)) for i in range(200)]
    assert ids == sorted(ids)
    assert all(is_valid_id(i, "msg") for i in ids)
    assert not is_valid_id(ids[0], "acc")
    assert id_timestamp_ms(ids[5]) == int((start + timedelta(milliseconds=5)).timestamp() * 1000)


def test_ids_are_unique_within_a_millisecond() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert len({new_id("msg", at) for _ in range(10_000)}) == 10_000


def test_ids_are_uuidv7_underneath() -> None:
    text = new_id("acc", datetime(2026, 1, 1, tzinfo=UTC)).split("_")[1]
    number = 0
    for c in text:
        number = number * 32 + "0123456789abcdefghjkmnpqrstvwxyz".index(c)
    value = uuid.UUID(int=number)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        new_id("xyz", datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("bad", ["msg_", "msg", "msg_0000", "msg_" + "u" * 26, "acc_" + "0" * 26])
def test_malformed_ids_are_not_valid(bad: str) -> None:
    assert not is_valid_id(bad, "msg")


def test_ids_made_many_at_once_are_the_same_kind_of_id() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    many = new_ids("con", at, 5_000)
    assert len(set(many)) == 5_000
    assert all(
        is_valid_id(i, "con") and id_timestamp_ms(i) == id_timestamp_ms(new_id("con", at))
        for i in many
    )
    for text in (many[0].split("_")[1], many[-1].split("_")[1]):
        number = 0
        for c in text:
            number = number * 32 + "0123456789abcdefghjkmnpqrstvwxyz".index(c)
        value = uuid.UUID(int=number)
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
    with pytest.raises(ValueError):
        new_ids("xyz", at, 1)


def test_ids_made_many_at_once_spell_their_value_as_one_id_does() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    one = new_id("msg", at)
    for text in new_ids("msg", at, 2_000):
        assert text[:14] == one[:14]  # prefix and milliseconds
        number = 0
        for c in text.split("_")[1]:
            number = number * 32 + "0123456789abcdefghjkmnpqrstvwxyz".index(c)
        assert number < 1 << 128
        value = uuid.UUID(int=number)
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert number >> 80 == int(at.timestamp() * 1000)
        assert f"msg_{_encode(number)}" == text
