"""Every table of Tidings. Each column declares its data classification beside its definition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tidings.domain.classification import INFO_KEY, DataClass, not_personal
from tidings.domain.retention import LIFECYCLE_KEY, Lifecycle, Ref

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UTC_TS = DateTime(timezone=True)


def col(name: str, type_: Any, data: DataClass, *args: Any, **kw: Any) -> Column[Any]:
    return Column(name, type_, *args, info={INFO_KEY: data}, **kw)


OPS = not_personal()

# Controller data: the operator's customers (accounts) and their users.
ACCOUNT_NAME = DataClass(
    "user.name", "account_holder", "account_management", "contract", "controller", "account_data"
)
ACCOUNT_SECRET = not_personal("security")
USER_EMAIL = DataClass(
    "user.contact.email",
    "account_user",
    "account_management",
    "contract",
    "controller",
    "account_data",
)
USER_CREDENTIAL = DataClass(
    "user.authorization.credentials",
    "account_user",
    "authentication",
    "contract",
    "controller",
    "account_data",
)
USER_EMAIL_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "account_user",
    "authentication",
    "contract",
    "controller",
    "account_data",
)
OWNED_NUMBER = DataClass(
    "user.contact.phone_number",
    "account_holder",
    "message_routing",
    "contract",
    "controller",
    "account_data",
)
OWNED_NUMBER_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "account_holder",
    "message_routing",
    "contract",
    "controller",
    "account_data",
)
# Processor data: what accounts send and receive.
PARTY_NUMBER = DataClass(
    "user.contact.phone_number",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "message_metadata",
)
PARTY_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "message_metadata",
)
MESSAGE_BODY = DataClass(
    "user.content.message",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "message_content",
)
CUSTOMER_REFERENCE = DataClass(
    "user.unique_id.customer_reference",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "message_metadata",
)
WEBHOOK_PAYLOAD = DataClass(
    "user.content.message",
    "message_party",
    "event_notification",
    "processor_instruction",
    "processor",
    "webhook_delivery",
)
SUBJECT_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "message_party",
    "encryption",
    "processor_instruction",
    "processor",
    "data_key",
)
# A country or calling-code region identifies no one; statistics group by it.
REGION = not_personal("statistics")

accounts = Table(
    "accounts",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("name_enc", LargeBinary, ACCOUNT_NAME, nullable=False),
    col("status", String(16), OPS, nullable=False, default="active"),
    col("webhook_url", Text, OPS, nullable=True),
    col("webhook_secret_enc", LargeBinary, ACCOUNT_SECRET, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("closed_at", UTC_TS, OPS, nullable=True),
)

data_keys = Table(
    "data_keys",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False, index=True),
    col("scope", String(16), OPS, nullable=False),  # "account" or "subject"
    # A subject's blind index (as in messages.*_index); NULL for an account key and once
    # the key is destroyed, so an erased subject is no longer linked to anything.
    col("subject_index", LargeBinary, SUBJECT_INDEX, nullable=True),
    col("wrapped", LargeBinary, ACCOUNT_SECRET, nullable=True),  # NULL once destroyed
    col("created_at", UTC_TS, OPS, nullable=False),
    col("destroyed_at", UTC_TS, OPS, nullable=True),
    Index("ix_data_keys_account_id_subject_index", "account_id", "subject_index"),
)

users = Table(
    "users",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, ForeignKey("accounts.id"), nullable=False, index=True),
    col("email_enc", LargeBinary, USER_EMAIL, nullable=False),
    col("email_index", LargeBinary, USER_EMAIL_INDEX, nullable=False, unique=True),
    col("password_hash", String(255), USER_CREDENTIAL, nullable=False),
    col("role", String(16), OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, ForeignKey("accounts.id"), nullable=False, index=True),
    col("name", String(100), OPS, nullable=False),
    col("prefix", String(16), OPS, nullable=False, unique=True),
    col("secret_hash", LargeBinary, ACCOUNT_SECRET, nullable=False),
    col("scopes", String(200), OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("revoked_at", UTC_TS, OPS, nullable=True),
)

numbers = Table(
    "numbers",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, ForeignKey("accounts.id"), nullable=False, index=True),
    col("channel", String(16), OPS, nullable=False),
    col("number_enc", LargeBinary, OWNED_NUMBER, nullable=False),
    col("number_index", LargeBinary, OWNED_NUMBER_INDEX, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    UniqueConstraint("channel", "number_index"),
)

messages = Table(
    "messages",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("direction", String(8), OPS, nullable=False),
    col("channel", String(16), OPS, nullable=False),
    col("sender_enc", LargeBinary, PARTY_NUMBER, nullable=True),  # NULL once pseudonymised
    col("sender_index", LargeBinary, PARTY_INDEX, nullable=False),
    col("recipient_enc", LargeBinary, PARTY_NUMBER, nullable=True),  # NULL once pseudonymised
    col("recipient_index", LargeBinary, PARTY_INDEX, nullable=False),
    col("body_enc", LargeBinary, MESSAGE_BODY, nullable=True),  # NULL once redacted
    col("encoding", String(8), OPS, nullable=False),
    col("segments", Integer, OPS, nullable=False),
    col("status", String(16), OPS, nullable=False),
    col("error_code", String(64), OPS, nullable=True),
    col("error_message", Text, OPS, nullable=True),
    col("price", Numeric(12, 5), OPS, nullable=True),
    col("reference", String(128), CUSTOMER_REFERENCE, nullable=True),
    col("status_callback", Text, OPS, nullable=True),
    col("connector", String(64), OPS, nullable=True),
    col("connector_message_id", String(128), OPS, nullable=True),
    col("attempts", Integer, OPS, nullable=False, default=0),
    col("send_at", UTC_TS, OPS, nullable=True),
    col("expires_at", UTC_TS, OPS, nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("sent_at", UTC_TS, OPS, nullable=True),
    col("delivered_at", UTC_TS, OPS, nullable=True),
    col("updated_at", UTC_TS, OPS, nullable=False),
    # The region of the subject's number (ISO code, or "+<calling code>" when a calling code
    # spans several regions): kept when the message is anonymised, for statistics.
    col("region", String(8), REGION, nullable=True),
    col("anonymised_at", UTC_TS, OPS, nullable=True),
    Index("ix_messages_account_id_id", "account_id", "id"),
    Index("ix_messages_account_id_status", "account_id", "status"),
    Index("ix_messages_account_id_recipient_index", "account_id", "recipient_index"),
    Index("ix_messages_account_id_sender_index", "account_id", "sender_index"),
    Index("ix_messages_connector_ref", "connector", "connector_message_id"),
)

message_events = Table(
    "message_events",
    metadata,
    col(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        OPS,
        primary_key=True,
        autoincrement=True,
    ),
    col("message_id", String(32), OPS, nullable=False, index=True),
    col("status", String(16), OPS, nullable=False),
    col("at", UTC_TS, OPS, nullable=False),
    col("detail", String(200), OPS, nullable=True),
)

dispatch_queue = Table(
    "dispatch_queue",
    metadata,
    col("message_id", String(32), OPS, primary_key=True),
    col("run_at", UTC_TS, OPS, nullable=False, index=True),
    col("lease_until", UTC_TS, OPS, nullable=True),
    col("lease_owner", String(64), OPS, nullable=True),
    col("tried_connectors", String(500), OPS, nullable=False, default=""),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    col("account_id", String(32), OPS, primary_key=True),
    col("key", String(255), OPS, primary_key=True),
    col("request_hash", LargeBinary, OPS, nullable=False),
    col("message_id", String(32), OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False, index=True),
    col("message_id", String(32), OPS, nullable=True),
    col("event", String(32), OPS, nullable=False),
    col("url", Text, OPS, nullable=False),
    col("payload_enc", LargeBinary, WEBHOOK_PAYLOAD, nullable=False),
    col("state", String(16), OPS, nullable=False),  # pending, delivered, dead
    col("attempts", Integer, OPS, nullable=False, default=0),
    col("next_attempt_at", UTC_TS, OPS, nullable=False),
    col("lease_until", UTC_TS, OPS, nullable=True),
    col("last_error", Text, OPS, nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("delivered_at", UTC_TS, OPS, nullable=True),
    Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
    # Erasure and anonymisation find a message's deliveries by it.
    Index("ix_webhook_deliveries_message_id", "message_id"),
)

# --- legal holds and the retention sweep ------------------------------------------------
# A hold is the operator's own record (controller), kept on a legal obligation; its subject
# is a keyed blind index of the phone number, never the number.
HOLD_SUBJECT = DataClass(
    "user.unique_id.pseudonymous",
    "message_party",
    "legal_holds",
    "legal_obligation",
    "controller",
    "account_data",
)
HOLD_TEXT = DataClass(
    "user.content.legal_hold",
    "message_party",
    "legal_holds",
    "legal_obligation",
    "controller",
    "account_data",
)

legal_holds = Table(
    "legal_holds",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False, index=True),
    col("subject_index", LargeBinary, HOLD_SUBJECT, nullable=True),  # NULL: the whole account
    col("held_from", UTC_TS, OPS, nullable=True),  # records from this moment (NULL: any)
    col("held_until", UTC_TS, OPS, nullable=True),  # records before this moment (NULL: any)
    col("reason_enc", LargeBinary, HOLD_TEXT, nullable=False),
    col("authority_enc", LargeBinary, HOLD_TEXT, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("released_at", UTC_TS, OPS, nullable=True),
)

retention_runs = Table(
    "retention_runs",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("now", UTC_TS, OPS, nullable=False),  # the moment the sweep judged expiry at
    col("policy_name", String(64), OPS, nullable=False),
    col("policy_version", String(32), OPS, nullable=False),
    col("started_at", UTC_TS, OPS, nullable=False),
    col("finished_at", UTC_TS, OPS, nullable=True),  # NULL: running, or interrupted
)

retention_audit = Table(
    "retention_audit",
    metadata,
    col("run_id", String(32), OPS, primary_key=True),
    col("rule", String(64), OPS, primary_key=True),
    col("data_set", String(64), OPS, primary_key=True),
    col("action", String(16), OPS, primary_key=True),
    col("count", BigInteger, OPS, nullable=False, default=0),
    col("updated_at", UTC_TS, OPS, nullable=False),
)


# --- retention: each data set's anchors, account, subjects and parent ---------------------
# The sweep (tidings.privacy.retention) reads these with the column classifications above:
# a rule's period counts from the anchor named here; an anchor not named never happens for
# that data set. The account is the contract: its closing ends the relationship.
def _lifecycle(table: Table, lifecycle: Lifecycle) -> None:
    table.info[LIFECYCLE_KEY] = lifecycle


_ACCOUNT_CLOSED = Ref("account_id", "accounts", "closed_at")
_OF_ACCOUNT: dict[str, str | Ref] = {
    "collected": "created_at",
    "account_closed": _ACCOUNT_CLOSED,
    "relationship_end": _ACCOUNT_CLOSED,
}
_lifecycle(
    accounts,
    Lifecycle(
        anchors={
            "collected": "created_at",
            "account_closed": "closed_at",
            "relationship_end": "closed_at",
        },
        account="id",
    ),
)
# What belongs to an account goes with it. While any hold of the account is active,
# these rows stay (no `at`): held records need their account, keys and holds.
for _table in (users, api_keys, numbers, data_keys, legal_holds):
    _lifecycle(
        _table,
        Lifecycle(anchors=_OF_ACCOUNT, account="account_id", parent=Ref("account_id", "accounts")),
    )
_lifecycle(
    messages,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "last_activity": "updated_at"},
        account="account_id",
        at="created_at",
        subjects=("sender_index", "recipient_index"),
    ),
)
_lifecycle(
    webhook_deliveries,
    Lifecycle(
        anchors=_OF_ACCOUNT,
        account="account_id",
        at="created_at",
        parent=Ref("message_id", "messages"),
    ),
)
# What a message leaves behind goes with it: its events, queue entry and idempotency key.
_lifecycle(
    message_events,
    Lifecycle(anchors={"collected": "at"}, account="", parent=Ref("message_id", "messages")),
)
_lifecycle(
    dispatch_queue,
    Lifecycle(anchors={}, account="", key="message_id", parent=Ref("message_id", "messages")),
)
_lifecycle(
    idempotency_keys,
    Lifecycle(
        anchors={"collected": "created_at"},
        account="account_id",
        key="key",
        parent=Ref("message_id", "messages"),
    ),
)

# Audit of erasures: who asked, when, what was counted; never a number, a body or an index.
erasures = Table(
    "erasures",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False, index=True),
    col("scope", String(16), OPS, nullable=False),  # subject, user, account
    col("outcome", String(16), OPS, nullable=False),  # erased, held
    col("requested_by", String(64), OPS, nullable=False),
    col("keys_destroyed", Integer, OPS, nullable=False),
    col("messages", Integer, OPS, nullable=False),
    col("messages_deleted", Integer, OPS, nullable=False),
    col("work_canceled", Integer, OPS, nullable=False),
    col("webhooks_deleted", Integer, OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
)
