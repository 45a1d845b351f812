"""Every table of Tidings. Each column declares its data classification beside its definition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    "user_data",
)
USER_CREDENTIAL = DataClass(
    "user.authorization.credentials",
    "account_user",
    "authentication",
    "contract",
    "controller",
    "user_data",
)
USER_EMAIL_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "account_user",
    "authentication",
    "contract",
    "controller",
    "user_data",
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
    # (by account alone too: the index below starts with it)
    col("account_id", String(32), OPS, nullable=False),
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
    col("encoding", String(8), OPS, nullable=False),
    col("segments", Integer, OPS, nullable=False),
    col("status", String(16), OPS, nullable=False),
    col("error_code", String(64), OPS, nullable=True),
    col("error_message", Text, OPS, nullable=True),
    col("price", Numeric(12, 5), OPS, nullable=True),
    col("reference", String(128), CUSTOMER_REFERENCE, nullable=True),
    # transactional, marketing or an account's own purpose (see domain/consent.py)
    col("purpose", String(64), OPS, nullable=False, server_default="transactional"),
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
    # No index names a column that changes on the message's way (status, the operator's
    # id, the times): its status changes three times (sending, sent, delivered), and
    # PostgreSQL rewrites a row in place (HOT: no index entry anywhere) only when no indexed
    # column changed. Listing by status reads the account's newest messages (queries.py);
    # the validity sweep has its own table, `validity_watch`; receipts find their message
    # through its parts (`message_parts`). PostgreSQL's partitions leave room in each page
    # for the rewrites (fillfactor: partitions.py).
    Index("ix_messages_account_id_id", "account_id", "id"),
    Index("ix_messages_account_id_recipient_index", "account_id", "recipient_index"),
    Index("ix_messages_account_id_sender_index", "account_id", "sender_index"),
)

# Messages handed to an operator with a validity period, by when it ends: the validity
# sweep's worklist (pipeline/validity.py). A row is written when a message becomes `sent`
# and removed when the sweep has looked at it, whatever the message's status by then.
validity_watch = Table(
    "validity_watch",
    metadata,
    col("message_id", String(32), OPS, primary_key=True),
    col("expires_at", UTC_TS, OPS, nullable=False, index=True),
)

# The text of a message, apart from its record: redacting it deletes this narrow row, so
# the sweep never rewrites the wide message row (and its five indexes) to empty one field.
message_bodies = Table(
    "message_bodies",
    metadata,
    col("message_id", String(32), OPS, primary_key=True),
    col("body_enc", LargeBinary, MESSAGE_BODY, nullable=False),
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
    col("message_id", String(32), OPS, nullable=False),
    col("status", String(16), OPS, nullable=False),
    col("at", UTC_TS, OPS, nullable=False),
    col("detail", String(200), OPS, nullable=True),
    # A message's history is read by its id. On PostgreSQL the events' primary key is
    # (message_id, id) (migrations 0017, 0023: the table is partitioned by message_id) and
    # serves that itself; SQLite keys them by id alone and needs this index.
    Index("ix_message_events_message_id", "message_id").ddl_if(dialect="sqlite"),
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

# The operator's privacy registers (GDPR Art. 30): sub-processors, recipient categories,
# privacy contacts and the supervisory authority. Organisations are not personal data; the
# DPO's or privacy contact's name and details are, and are published by law in every notice
# (Art. 13(1)(b), 37(7) GDPR), so they are kept readable.
REGISTER = not_personal("records_of_processing")
PRIVACY_CONTACT_NAME = DataClass(
    "user.name", "operator_staff", "privacy_contact", "legal_obligation", "controller", "register"
)
PRIVACY_CONTACT_EMAIL = DataClass(
    "user.contact.email",
    "operator_staff",
    "privacy_contact",
    "legal_obligation",
    "controller",
    "register",
)
PRIVACY_CONTACT_PHONE = DataClass(
    "user.contact.phone_number",
    "operator_staff",
    "privacy_contact",
    "legal_obligation",
    "controller",
    "register",
)
PRIVACY_CONTACT_ADDRESS = DataClass(
    "user.contact.address",
    "operator_staff",
    "privacy_contact",
    "legal_obligation",
    "controller",
    "register",
)

privacy_subprocessors = Table(
    "privacy_subprocessors",
    metadata,
    col("id", String(32), REGISTER, primary_key=True),
    col("name", String(200), REGISTER, nullable=False),
    col("service", String(200), REGISTER, nullable=False),
    col("region", String(16), REGISTER, nullable=False),
    col("safeguard", String(32), REGISTER, nullable=True),
    col("applies_to", String(16), REGISTER, nullable=False),  # controller, processor, all
    col("created_at", UTC_TS, REGISTER, nullable=False),
)

privacy_recipients = Table(
    "privacy_recipients",
    metadata,
    col("id", String(32), REGISTER, primary_key=True),
    col("name", String(200), REGISTER, nullable=False),
    col("purpose", String(500), REGISTER, nullable=True),
    col("region", String(16), REGISTER, nullable=True),
    col("safeguard", String(32), REGISTER, nullable=True),
    col("created_at", UTC_TS, REGISTER, nullable=False),
)

privacy_contacts = Table(
    "privacy_contacts",
    metadata,
    col("id", String(32), REGISTER, primary_key=True),
    col("kind", String(32), REGISTER, nullable=False),  # dpo, privacy_contact, representative
    col("name", String(200), PRIVACY_CONTACT_NAME, nullable=False),
    col("email", String(320), PRIVACY_CONTACT_EMAIL, nullable=True),
    col("phone", String(64), PRIVACY_CONTACT_PHONE, nullable=True),
    col("address", String(500), PRIVACY_CONTACT_ADDRESS, nullable=True),
    col("created_at", UTC_TS, REGISTER, nullable=False),
)

privacy_authority = Table(
    "privacy_authority",
    metadata,
    col("id", String(16), REGISTER, primary_key=True),  # one row: "authority"
    col("name", String(300), REGISTER, nullable=False),
    col("country", String(100), REGISTER, nullable=True),
    col("url", String(500), REGISTER, nullable=True),
    col("note", String(1000), REGISTER, nullable=True),
    col("updated_at", UTC_TS, REGISTER, nullable=False),
)

# --- contacts: each account's phonebook; the account is controller, Tidings processor -------

CONTACT_NUMBER = DataClass(
    "user.contact.phone_number",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
CONTACT_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
CONTACT_NAME = DataClass(
    "user.name",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
CONTACT_EMAIL = DataClass(
    "user.contact.email",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
CONTACT_ATTRIBUTE = DataClass(
    "user.custom",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
# Derived from the number's prefix and shared by every number of that range (see
# tests/store/test_data_map.py for why these may be stored readable).
CONTACT_NUMBER_RANGE = DataClass(
    "user.location.imprecise",
    "contact",
    "contact_management",
    "processor_instruction",
    "processor",
    "contact_data",
)
# Account-defined labels (list names, tags, field keys): the account's own vocabulary.
CONTACT_LABEL = not_personal("contact_management", "contact_data")

contact_fields = Table(
    "contact_fields",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("key", String(64), CONTACT_LABEL, nullable=False),
    col("label", String(100), CONTACT_LABEL, nullable=True),
    col("type", String(16), OPS, nullable=False),
    col("options", Text, CONTACT_LABEL, nullable=True),  # JSON list of an enum's values
    col("created_at", UTC_TS, OPS, nullable=False),
    UniqueConstraint("account_id", "key"),
)

contacts = Table(
    "contacts",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("number_enc", LargeBinary, CONTACT_NUMBER, nullable=False),
    col("number_index", LargeBinary, CONTACT_INDEX, nullable=False),
    col("region", String(8), CONTACT_NUMBER_RANGE, nullable=True),
    col("carrier", String(100), CONTACT_NUMBER_RANGE, nullable=True),
    col("time_zones", String(200), CONTACT_NUMBER_RANGE, nullable=True),
    col("first_name_enc", LargeBinary, CONTACT_NAME, nullable=True),
    col("last_name_enc", LargeBinary, CONTACT_NAME, nullable=True),
    col("email_enc", LargeBinary, CONTACT_EMAIL, nullable=True),
    col("email_index", LargeBinary, CONTACT_INDEX, nullable=True),
    col("language_enc", LargeBinary, CONTACT_ATTRIBUTE, nullable=True),
    col("fields_enc", LargeBinary, CONTACT_ATTRIBUTE, nullable=True),  # JSON object
    col("import_id", String(32), OPS, nullable=True),  # the import that last wrote the row
    col("import_line", Integer, OPS, nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
    UniqueConstraint("account_id", "number_index"),
    Index("ix_contacts_account_id_id", "account_id", "id"),
    Index("ix_contacts_account_id_email_index", "account_id", "email_index"),
    Index("ix_contacts_account_id_region", "account_id", "region"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    col("contact_id", String(32), OPS, primary_key=True),
    col("tag", String(64), CONTACT_LABEL, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    Index("ix_contact_tags_account_id_tag", "account_id", "tag"),
)

contact_field_values = Table(
    "contact_field_values",
    metadata,
    col("contact_id", String(32), OPS, primary_key=True),
    col("field_key", String(64), CONTACT_LABEL, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("value_index", LargeBinary, CONTACT_INDEX, nullable=False),
    Index("ix_contact_field_values_lookup", "account_id", "field_key", "value_index"),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("name", String(100), CONTACT_LABEL, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    UniqueConstraint("account_id", "name"),
)

list_members = Table(
    "list_members",
    metadata,
    col("list_id", String(32), OPS, primary_key=True),
    col("contact_id", String(32), OPS, primary_key=True, index=True),
    col("account_id", String(32), OPS, nullable=False),
    col("added_at", UTC_TS, OPS, nullable=False),
)

contact_imports = Table(
    "contact_imports",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False, index=True),
    col("state", String(16), OPS, nullable=False),  # pending, running, completed, failed
    col("format", String(8), OPS, nullable=False),  # csv, jsonl
    col("filename", String(255), CONTACT_LABEL, nullable=True),
    col("list_id", String(32), OPS, nullable=True),
    col("mapping", Text, CONTACT_LABEL, nullable=False),  # JSON: column -> field
    col("spool_path", Text, OPS, nullable=False),
    col("encoding", String(16), OPS, nullable=True),
    col("delimiter", String(1), OPS, nullable=True),
    col("size_bytes", BigInteger, OPS, nullable=False),
    col("offset_bytes", BigInteger, OPS, nullable=False),  # the durable cursor
    col("next_line", Integer, OPS, nullable=False),
    col("rows_created", Integer, OPS, nullable=False),
    col("rows_updated", Integer, OPS, nullable=False),
    col("rows_failed", Integer, OPS, nullable=False),
    col("resumed", Integer, OPS, nullable=False),
    col("lease_owner", String(64), OPS, nullable=True),
    col("lease_until", UTC_TS, OPS, nullable=True),
    col("error", Text, OPS, nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
    col("finished_at", UTC_TS, OPS, nullable=True),
)

contact_import_errors = Table(
    "contact_import_errors",
    metadata,
    col(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        OPS,
        primary_key=True,
        autoincrement=True,
    ),
    col("import_id", String(32), OPS, nullable=False),
    col("line", Integer, OPS, nullable=False),
    col("column", String(200), CONTACT_LABEL, nullable=True),
    col("reason", Text, OPS, nullable=False),  # never quotes the rejected value
    Index("ix_contact_import_errors_import_id_line", "import_id", "line"),
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

# The parts a message was submitted as, each with the operator's id and its own receipt: a
# message the peer took whole has one. Receipts find their message here, by that id.
message_parts = Table(
    "message_parts",
    metadata,
    col("message_id", String(32), OPS, primary_key=True),
    col("part_number", Integer, OPS, primary_key=True),
    col("connector", String(64), OPS, nullable=False),
    col("connector_message_id", String(128), OPS, nullable=True),
    col("status", String(16), OPS, nullable=False),
    col("error_code", String(64), OPS, nullable=True),
    col("submitted_at", UTC_TS, OPS, nullable=True),
    col("done_at", UTC_TS, OPS, nullable=True),
    Index("ix_message_parts_connector_ref", "connector_message_id", "connector"),
)

# Connectors and routes created at runtime through /v1/admin (the config file's are not here).
connector_configs = Table(
    "connector_configs",
    metadata,
    col("name", String(64), OPS, primary_key=True),
    col("type", String(32), OPS, nullable=False),
    col("settings_json", Text, not_personal("security"), nullable=False),  # holds bind password
    col("created_at", UTC_TS, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
)

route_configs = Table(
    "route_configs",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("prefix", String(16), OPS, nullable=False),
    col("connector", String(64), OPS, nullable=False),
    col("priority", Integer, OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
)

# What each worker node last saw of its connectors (state, binds, in-flight, errors), so an
# API-only process can show them: one row per node and connector, replaced every few seconds.
connector_reports = Table(
    "connector_reports",
    metadata,
    col("node", String(128), OPS, primary_key=True),
    col("connector", String(64), OPS, primary_key=True),
    col("state_json", Text, OPS, nullable=False),
    col("reported_at", UTC_TS, OPS, nullable=False),
)

# SMPP server: account credentials, receipts asked for, and deliver_sm waiting for a bind.
smpp_credentials = Table(
    "smpp_credentials",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, ForeignKey("accounts.id"), nullable=False, index=True),
    col("system_id", String(16), OPS, nullable=False, unique=True),
    col("password_hash", String(255), ACCOUNT_SECRET, nullable=False),  # argon2id
    col("max_binds", Integer, OPS, nullable=False),
    col("max_tps", Integer, OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("revoked_at", UTC_TS, OPS, nullable=True),
)

# Caps over all SMPP credentials of one account (no row: each credential's own caps only).
smpp_account_limits = Table(
    "smpp_account_limits",
    metadata,
    col("account_id", String(32), OPS, ForeignKey("accounts.id"), primary_key=True),
    col("max_binds", Integer, OPS, nullable=False),
    col("max_tps", Integer, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
)

smpp_receipt_requests = Table(
    "smpp_receipt_requests",
    metadata,
    col("message_id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("mode", Integer, OPS, nullable=False),  # registered_delivery & 3: 1 any final, 2 failure
    col("created_at", UTC_TS, OPS, nullable=False),
)

smpp_outbox = Table(
    "smpp_outbox",
    metadata,
    col(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        OPS,
        primary_key=True,
        autoincrement=True,
    ),
    col("account_id", String(32), OPS, nullable=False),
    col("kind", String(16), OPS, nullable=False),  # receipt, inbound
    col("message_id", String(32), OPS, nullable=False),
    col("payload_enc", LargeBinary, WEBHOOK_PAYLOAD, nullable=False),
    col("attempts", Integer, OPS, nullable=False, default=0),
    col("lease_until", UTC_TS, OPS, nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    Index("ix_smpp_outbox_account_id_id", "account_id", "id"),
)

# Consent. The ledger of an account's recipients is processor data, keyed by the number's
# blind index within the account so it outlives the contact; the ledger of the operator's
# own marketing to account users is controller data. One shape, two tables: the data map
# records one role per column.
CONSENT_INDEX = DataClass(
    "user.unique_id.pseudonymous",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "consent_records",
)
CONSENT_EVIDENCE = DataClass(
    "user.privacy_preferences",
    "message_party",
    "message_delivery",
    "processor_instruction",
    "processor",
    "consent_records",
)
USER_CONSENT_EVIDENCE = DataClass(
    "user.privacy_preferences",
    "account_user",
    "account_management",
    "contract",
    "controller",
    "marketing_consent",
)

consent_events = Table(
    "consent_events",
    metadata,
    col(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        OPS,
        primary_key=True,
        autoincrement=True,
    ),  # the order of recording: breaks ties between events of the same moment
    col("id", String(32), OPS, nullable=False, unique=True),
    col("account_id", String(32), OPS, nullable=False),
    col("number_index", LargeBinary, CONSENT_INDEX, nullable=False),
    col("contact_id", String(32), OPS, nullable=True),
    col("channel", String(16), OPS, nullable=False),
    col("purpose", String(64), OPS, nullable=False),
    col("action", String(16), OPS, nullable=False),
    col("basis", String(32), OPS, nullable=False),
    col("source", String(16), OPS, nullable=False),
    col("evidence_enc", LargeBinary, CONSENT_EVIDENCE, nullable=True),
    col("policy_version", String(64), OPS, nullable=False),
    col("occurred_at", UTC_TS, OPS, nullable=False),
    col("recorded_at", UTC_TS, OPS, nullable=False),
    Index("ix_consent_events_account_id_number_index", "account_id", "number_index"),
    Index("ix_consent_events_account_id_contact_id", "account_id", "contact_id"),
)

suppressions = Table(
    "suppressions",
    metadata,
    col("account_id", String(32), OPS, primary_key=True),
    col("number_index", LargeBinary, CONSENT_INDEX, primary_key=True),
    col("channel", String(16), OPS, primary_key=True),  # a channel, or "all"
    col("source", String(16), OPS, nullable=False),
    col("event_id", String(32), OPS, nullable=False),
    col("created_at", UTC_TS, OPS, nullable=False),
)

consent_settings = Table(
    "consent_settings",
    metadata,
    col("account_id", String(32), OPS, primary_key=True),
    col("transactional", String(8), OPS, nullable=False),  # to opted-out numbers: allow, refuse
    col("confirm_by_reply", Boolean, OPS, nullable=False),
    col("keywords", Text, OPS, nullable=True),  # JSON by language; NULL: the defaults
    col("updated_at", UTC_TS, OPS, nullable=False),
)

user_consent_events = Table(
    "user_consent_events",
    metadata,
    col(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        OPS,
        primary_key=True,
        autoincrement=True,
    ),  # the order of recording: breaks ties between events of the same moment
    col("id", String(32), OPS, nullable=False, unique=True),
    col("account_id", String(32), OPS, nullable=False),
    col("user_id", String(32), OPS, nullable=False, index=True),
    col("channel", String(16), OPS, nullable=False),
    col("purpose", String(64), OPS, nullable=False),
    col("action", String(16), OPS, nullable=False),
    col("basis", String(32), OPS, nullable=False),
    col("source", String(16), OPS, nullable=False),
    col("evidence_enc", LargeBinary, USER_CONSENT_EVIDENCE, nullable=True),
    col("policy_version", String(64), OPS, nullable=False),
    col("occurred_at", UTC_TS, OPS, nullable=False),
    col("recorded_at", UTC_TS, OPS, nullable=False),
    # when the user withdrew (or objected to) this channel and purpose: the `withdrawn`
    # anchor of every earlier event of it and of the withdrawal itself
    col("withdrawn_at", UTC_TS, OPS, nullable=True),
)

# The API's access log: who called which route, when, from where (security and abuse
# prevention, the operator's legitimate interest). The client IP is encrypted under the
# account's data key.
ACCESS_IP = DataClass(
    "user.device.ip_address",
    "account_user",
    "api_security",
    "legitimate_interest",
    "controller",
    "access_log",
)

api_access_log = Table(
    "api_access_log",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=False),
    col("key_id", String(32), OPS, nullable=False),
    col("method", String(8), OPS, nullable=False),
    col("route", String(200), OPS, nullable=False),  # the template: /v1/messages/{message_id}
    col("status", Integer, OPS, nullable=False),
    col("ip_enc", LargeBinary, ACCESS_IP, nullable=True),
    col("at", UTC_TS, OPS, nullable=False),
    Index("ix_api_access_log_account_id_id", "account_id", "id"),
)


# Inquiries of prospects through the public form (pre-contractual, the operator's own):
# encrypted under the operator's data key (see tidings.accounts.inquiries).
def _inquiry(category: str) -> DataClass:
    return DataClass(category, "prospect", "inquiries", "contract", "controller", "inquiry")


inquiries = Table(
    "inquiries",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("name_enc", LargeBinary, _inquiry("user.name"), nullable=False),
    col("email_enc", LargeBinary, _inquiry("user.contact.email"), nullable=False),
    col("phone_enc", LargeBinary, _inquiry("user.contact.phone_number"), nullable=True),
    col("company_enc", LargeBinary, _inquiry("user.workplace"), nullable=True),
    col("message_enc", LargeBinary, _inquiry("user.content.message"), nullable=False),
    # what the sender saw and sent from: IP, user agent, the notice's name and version
    col("evidence_enc", LargeBinary, _inquiry("user.privacy_preferences"), nullable=False),
    # keyed blind index of the client address: the form's rate limit counts by it
    col("source_index", LargeBinary, _inquiry("user.device.ip_address"), nullable=True),
    col("created_at", UTC_TS, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
    Index("ix_inquiries_source_index_created_at", "source_index", "created_at"),
)


# Requests of courts and state authorities for data, and what was disclosed (the operator's
# own register, kept on a legal obligation). Every text may name a person: encrypted under
# the operator's data key, which an account's erasure does not destroy (see
# tidings.privacy.authority_requests). The subject's number has a blind index within the
# account, as the messages and holds use.
def _authority_request(category: str) -> DataClass:
    return DataClass(
        category,
        "request_subject",
        "court_information",
        "legal_obligation",
        "controller",
        "court_information",
    )


AUTHORITY_TEXT = _authority_request("user.content.authority_request")

authority_requests = Table(
    "authority_requests",
    metadata,
    col("id", String(32), OPS, primary_key=True),
    col("account_id", String(32), OPS, nullable=True, index=True),  # NULL: no one account
    col("authority_enc", LargeBinary, AUTHORITY_TEXT, nullable=False),
    col("reference_enc", LargeBinary, AUTHORITY_TEXT, nullable=True),  # their case number
    col("legal_basis_enc", LargeBinary, AUTHORITY_TEXT, nullable=False),
    col("request_enc", LargeBinary, AUTHORITY_TEXT, nullable=False),  # what was asked
    col("subject_enc", LargeBinary, _authority_request("user.contact.phone_number")),
    col("subject_index", LargeBinary, _authority_request("user.unique_id.pseudonymous")),
    col("disclosure_enc", LargeBinary, AUTHORITY_TEXT, nullable=True),  # what was disclosed
    col("received_at", UTC_TS, OPS, nullable=False),  # the day the request arrived (UTC)
    col("answered_at", UTC_TS, OPS, nullable=True),  # NULL: not answered yet
    col("created_at", UTC_TS, OPS, nullable=False),
    col("updated_at", UTC_TS, OPS, nullable=False),
)

# Accounting: a monthly usage statement per account, immutable once issued (see
# tidings.billing). It holds counts and amounts only: the account id is what makes it a
# customer's billing record (a customer may be a natural person, a sole trader), and it stays
# readable because the statement must outlive the account and be found by it. No foreign
# key to accounts: a statement outlives its account's deletion.
BILLED_ACCOUNT = DataClass(
    "user.financial.invoice",
    "account_holder",
    "accounting",
    "legal_obligation",
    "controller",
    "accounting",
)
ACCOUNTING = not_personal("accounting", "accounting")

account_statements = Table(
    "account_statements",
    metadata,
    col("id", String(32), ACCOUNTING, primary_key=True),
    col("account_id", String(32), BILLED_ACCOUNT, nullable=False),
    col("period", String(7), ACCOUNTING, nullable=False),  # YYYY-MM (UTC calendar month)
    col("period_start", UTC_TS, ACCOUNTING, nullable=False),
    col("period_end", UTC_TS, ACCOUNTING, nullable=False),  # exclusive
    col("currency", String(3), ACCOUNTING, nullable=False),
    col("messages", Integer, ACCOUNTING, nullable=False),
    col("segments", Integer, ACCOUNTING, nullable=False),
    col("total", Numeric(18, 5), ACCOUNTING, nullable=False),
    col("issued_at", UTC_TS, ACCOUNTING, nullable=False),
    UniqueConstraint("account_id", "period"),  # one statement per account and month, ever
    Index("ix_account_statements_period", "period"),  # a month's statements, all accounts
)

account_statement_lines = Table(
    "account_statement_lines",
    metadata,
    col("statement_id", String(32), not_personal("accounting"), primary_key=True),
    col("channel", String(16), not_personal("accounting"), primary_key=True),
    col("direction", String(8), not_personal("accounting"), primary_key=True),
    col("messages", Integer, not_personal("accounting"), nullable=False),
    col("segments", Integer, not_personal("accounting"), nullable=False),
    col("unit_price", Numeric(12, 5), not_personal("accounting"), nullable=False),  # a segment
    col("amount", Numeric(18, 5), not_personal("accounting"), nullable=False),
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
for _table in (
    users,
    api_keys,
    numbers,
    legal_holds,
    smpp_credentials,
):
    _lifecycle(
        _table,
        Lifecycle(anchors=_OF_ACCOUNT, account="account_id", parent=Ref("account_id", "accounts")),
    )
_lifecycle(
    smpp_account_limits,
    Lifecycle(
        anchors={"account_closed": _ACCOUNT_CLOSED, "relationship_end": _ACCOUNT_CLOSED},
        account="account_id",
        key="account_id",
        parent=Ref("account_id", "accounts"),
    ),
)
_lifecycle(
    data_keys,
    Lifecycle(
        anchors=_OF_ACCOUNT,
        account="account_id",
        parent=Ref("account_id", "accounts"),
        key_material=True,
    ),
)
_lifecycle(
    messages,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "last_activity": "updated_at"},
        account="account_id",
        at="created_at",
        subjects=("sender_index", "recipient_index"),
        busy={"status": ("scheduled", "queued", "sending")},  # not yet handed over
        keyed=True,
        anonymised="anonymised_at",
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
# What a message leaves behind goes with it: its text, events, queue entry and idempotency key.
_lifecycle(
    message_bodies,
    Lifecycle(
        anchors={},
        account="",
        key="message_id",
        parent=Ref("message_id", "messages"),
        fields_of=Ref("message_id", "messages"),
    ),
)
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

# Contacts: the account's phonebook goes with the account; a contact's tags, field values and
# list memberships go with the contact.
_lifecycle(
    contacts,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "last_activity": "updated_at"},
        account="account_id",
        at="created_at",
        subjects=("number_index",),
    ),
)
for _table in (contact_fields, contact_lists, contact_imports):
    _lifecycle(
        _table,
        Lifecycle(anchors=_OF_ACCOUNT, account="account_id", at="created_at"),
    )
for _table in (contact_tags, contact_field_values):
    _lifecycle(
        _table,
        Lifecycle(
            anchors={"account_closed": _ACCOUNT_CLOSED, "relationship_end": _ACCOUNT_CLOSED},
            account="account_id",
            key="contact_id",
            parent=Ref("contact_id", "contacts"),
        ),
    )
_lifecycle(
    contact_import_errors,
    Lifecycle(anchors={}, account="", parent=Ref("import_id", "contact_imports")),
)
# deliver_sm owed to an account's SMPP binds: like webhook deliveries, they go with their
# message or when their own period ends.
_lifecycle(
    smpp_outbox,
    Lifecycle(
        anchors=_OF_ACCOUNT,
        account="account_id",
        at="created_at",
        parent=Ref("message_id", "messages"),
    ),
)
# Consent: the ledger and the suppression list are keyed by the number's index, so a subject
# hold finds them and they outlive the contact.
_lifecycle(
    consent_events,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "collected": "occurred_at"},
        account="account_id",
        at="occurred_at",
        subjects=("number_index",),
    ),
)
_lifecycle(
    suppressions,
    Lifecycle(
        anchors=_OF_ACCOUNT,
        account="account_id",
        key="event_id",
        at="created_at",
        subjects=("number_index",),
    ),
)
_lifecycle(
    user_consent_events,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "collected": "occurred_at", "withdrawn": "withdrawn_at"},
        account="account_id",
        at="occurred_at",
        parent=Ref("user_id", "users"),
    ),
)
# The register's privacy contacts live as long as the register names them (rule `register`
# follows the record): no anchor, and no account: they are the operator's own.
_lifecycle(privacy_contacts, Lifecycle(anchors={}, account=""))

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

# The access log counts from each request; it goes with its account.
_lifecycle(
    api_access_log,
    Lifecycle(
        anchors={**_OF_ACCOUNT, "collected": "at"},
        account="account_id",
        at="at",
        parent=Ref("account_id", "accounts"),
    ),
)
# Inquiries are the operator's own (no account): they count from their own dates.
_lifecycle(
    inquiries,
    Lifecycle(
        anchors={"collected": "created_at", "last_activity": "updated_at"},
        account="",
        at="created_at",
    ),
)

# Requests of courts and authorities count from when they were recorded; a hold of their
# account (or of their subject, over the days they were received) keeps them.
_lifecycle(
    authority_requests,
    Lifecycle(
        anchors={"collected": "created_at"},
        account="account_id",
        at="received_at",
        subjects=("subject_index",),
    ),
)
# A statement counts from its issue alone: it survives the messages it was computed from
# and its account's closing and deletion. Any hold of its account keeps it; its lines go
# with it.
_lifecycle(
    account_statements,
    Lifecycle(anchors={"collected": "issued_at"}, account="account_id"),
)
_lifecycle(
    account_statement_lines,
    Lifecycle(
        anchors={},
        account="",
        key="statement_id",
        parent=Ref("statement_id", "account_statements"),
    ),
)
