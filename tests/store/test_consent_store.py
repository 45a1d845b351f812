"""The ledger and suppression list, keyed by blind index, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.store import consent as consent_store
from tidings.store.database import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B = "acc_a", "acc_b"
N1, N2 = b"\x01" * 16, b"\x02" * 16


def _event(
    n: int, account: str, index: bytes, action: str, channel: str = "sms"
) -> dict[str, object]:
    return {
        "id": f"cev_{n:026d}",
        "account_id": account,
        "number_index": index,
        "contact_id": None,
        "channel": channel,
        "purpose": "marketing",
        "action": action,
        "basis": "consent",
        "source": "api",
        "evidence_enc": None,
        "policy_version": "baseline@1",
        "occurred_at": NOW,
        "recorded_at": NOW,
    }


def _suppress(conn: object, index: bytes, channel: str, account: str = A) -> None:
    consent_store.suppress(
        conn,  # type: ignore[arg-type]
        account_id=account,
        number_index=index,
        channel=channel,
        source="keyword",
        event_id="cev_x",
        now=NOW,
    )


def test_facts_for_many_numbers_in_one_statement_stay_within_the_account(db: Database) -> None:
    with db.write() as conn:
        consent_store.insert_events(
            conn,
            [
                _event(1, A, N1, "granted"),
                _event(2, A, N2, "withdrawn"),
                _event(3, B, N1, "granted"),
            ],
        )
        _suppress(conn, N2, "sms")
        _suppress(conn, N1, "all", account=B)
    with db.read() as conn:
        events, suppressed = consent_store.consent_facts(
            conn, A, [N1, N2, N1], ["marketing"], with_ledger=True
        )
        only_suppressed = consent_store.consent_facts(conn, A, [N1, N2], [], with_ledger=False)
    assert {k: [e.action for e in v] for k, v in events.items()} == {
        N1: ["granted"],
        N2: ["withdrawn"],
    }
    assert suppressed == {N2: {"sms"}}
    assert only_suppressed == ({}, {N2: {"sms"}})


def test_opt_out_of_all_then_opt_in_on_one_channel_keeps_the_others(db: Database) -> None:
    with db.write() as conn:
        _suppress(conn, N1, "sms")
        _suppress(conn, N1, "all")
        assert consent_store.suppressed_channels(conn, A, N1) == {"all"}
        _suppress(conn, N1, "viber")  # already covered by all
        assert consent_store.suppressed_channels(conn, A, N1) == {"all"}
        lifted = consent_store.unsuppress(
            conn,
            account_id=A,
            number_index=N1,
            channel="sms",
            source="keyword",
            event_id="cev_y",
            now=NOW,
        )
        assert lifted
        assert consent_store.suppressed_channels(conn, A, N1) == {
            "whatsapp",
            "viber",
            "messenger",
            "fax",
        }
        assert not consent_store.unsuppress(
            conn,
            account_id=A,
            number_index=N1,
            channel="sms",
            source="keyword",
            event_id="cev_z",
            now=NOW,
        )
