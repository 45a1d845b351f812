"""Bad input is refused with a clear problem+json naming the field, and nothing is written.

Each test runs a table of cases against one server and reports every failing case.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import orjson

from tests.api.helpers import (
    TO,
    VALID,
    Case,
    api_routes,
    assert_problem,
    expect_problems,
    message_ids,
)
from tests.support import Tenant

MIB = 1024 * 1024


def without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != field}


def _send(tenant: Tenant) -> Any:
    return lambda payload: tenant.post("/v1/messages", payload)


def test_send_refuses_wrong_types_with_422_naming_the_field(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("to_is_a_number", {**VALID, "to": 31612345678}, 422, "validation_error", "to"),
        ("from_is_null", {**VALID, "from": None}, 422, "validation_error", "from"),
        ("body_is_a_list", {**VALID, "body": ["Hello"]}, 422, "validation_error", "body"),
        (
            "validity_is_text",
            {**VALID, "validity_seconds": "soon"},
            422,
            "validation_error",
            "validity_seconds",
        ),
        (
            "send_at_not_a_time",
            {**VALID, "send_at": "tomorrow"},
            422,
            "validation_error",
            "send_at",
        ),
        ("body_over_20000", {**VALID, "body": "a" * 20_001}, 422, "validation_error", "body"),
    ]
    expect_problems(_send(tenant), cases)
    assert message_ids(tenant) == []


def test_send_refuses_unknown_and_missing_fields(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("unknown_field", {**VALID, "priority": "high"}, 422, "validation_error", "priority"),
        ("missing_to", without("to"), 422, "validation_error", "to"),
        ("missing_from", without("from"), 422, "validation_error", "from"),
        ("missing_body", without("body"), 422, "validation_error", "body"),
    ]
    expect_problems(_send(tenant), cases)
    problem = tenant.post("/v1/messages", {**VALID, "priority": "high"}).json()
    assert "not a known field" in problem["detail"]
    assert "is required" in tenant.post("/v1/messages", without("to")).json()["detail"]
    assert message_ids(tenant) == []


def test_send_refuses_invalid_to_and_from(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("to_has_letters", {**VALID, "to": "call me"}, 400, "invalid_to", "to"),
        ("to_without_country_code", {**VALID, "to": "0612345678"}, 400, "invalid_to", "to"),
        ("to_too_short", {**VALID, "to": "+3161"}, 400, "invalid_to", "to"),
        ("from_12_alphanumerics", {**VALID, "from": "AcmeWidgets1"}, 400, "invalid_from", "from"),
        ("from_with_braces", {**VALID, "from": "Acme{}"}, 400, "invalid_from", "from"),
        ("from_blank", {**VALID, "from": "   "}, 400, "invalid_from", "from"),
    ]
    expect_problems(_send(tenant), cases)
    assert message_ids(tenant) == []


def test_send_refuses_empty_and_too_long_bodies(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("empty_body", {**VALID, "body": ""}, 400, "empty_body", "body"),
        ("11_gsm7_segments", {**VALID, "body": "a" * 1531}, 400, "body_too_long", "body"),
        ("11_ucs2_segments", {**VALID, "body": "ж" * 671}, 400, "body_too_long", "body"),
    ]
    expect_problems(_send(tenant), cases)
    assert message_ids(tenant) == []


def test_send_refuses_bad_channel_validity_callback_and_schedule(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("channel", {**VALID, "channel": "pigeon"}, 400, "unsupported_channel", "channel"),
        (
            "validity_zero",
            {**VALID, "validity_seconds": 0},
            400,
            "invalid_validity",
            "validity_seconds",
        ),
        (
            "validity_over_a_week",
            {**VALID, "validity_seconds": 8 * 24 * 3600},
            400,
            "invalid_validity",
            "validity_seconds",
        ),
        (
            "callback_ftp",
            {**VALID, "status_callback": "ftp://example.com/hook"},
            400,
            "invalid_status_callback",
            "status_callback",
        ),
        (
            "callback_relative",
            {**VALID, "status_callback": "/hooks"},
            400,
            "invalid_status_callback",
            "status_callback",
        ),
        (
            "send_at_over_a_year_ahead",
            {**VALID, "send_at": "2028-01-01T00:00:00Z"},
            400,
            "invalid_send_at",
            "send_at",
        ),
    ]
    expect_problems(_send(tenant), cases)
    assert message_ids(tenant) == []


def test_send_refuses_nul_characters_instead_of_failing(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("reference", {**VALID, "reference": "order\x001"}, 422, "validation_error", "reference"),
        (
            "status_callback",
            {**VALID, "status_callback": "https://example.com/\x00"},
            422,
            "validation_error",
            "status_callback",
        ),
    ]
    expect_problems(_send(tenant), cases)
    assert message_ids(tenant) == []


def test_body_of_exactly_ten_segments_is_accepted(tenant: Tenant) -> None:
    response = tenant.post("/v1/messages", {**VALID, "body": "a" * 1530})
    assert response.status_code == 202, response.text
    assert response.json()["segments"] == 10


def test_malformed_json_is_400_malformed_json(tenant: Tenant) -> None:
    def post(path: str) -> Any:
        return tenant.post(
            path, content=b'{"to": "+316', headers={"Content-Type": "application/json"}
        )

    cases: list[Case] = [
        ("send", "/v1/messages", 400, "malformed_json", None),
        ("batch", "/v1/messages/batch", 400, "malformed_json", None),
        ("numbers", "/v1/numbers", 400, "malformed_json", None),
    ]
    expect_problems(post, cases)
    assert message_ids(tenant) == []


def test_json_that_is_not_an_object_is_a_validation_error(tenant: Tenant) -> None:
    response = tenant.post("/v1/messages", content=b"[1, 2]")
    assert_problem(response, 422, "validation_error")
    assert message_ids(tenant) == []


def test_batch_of_10001_is_refused_and_nothing_written(tenant: Tenant) -> None:
    items = [{**VALID, "reference": str(i)} for i in range(10_001)]
    response = tenant.post("/v1/messages/batch", {"messages": items})
    problem = assert_problem(response, 400, "batch_too_large")
    assert problem["field"] == "messages"
    assert "10000" in problem["detail"] and "10001" in problem["detail"]
    shared = {"to": [TO] * 10_001, "from": "Acme", "body": "Hello"}
    assert_problem(tenant.post("/v1/messages/batch", shared), 400, "batch_too_large")
    assert message_ids(tenant) == []


def test_empty_batch_is_refused_in_both_forms(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("list_form", {"messages": []}, 400, "empty_batch", None),
        ("shared_form", {"to": [], "from": "Acme", "body": "Hi"}, 400, "empty_batch", None),
    ]
    expect_problems(lambda payload: tenant.post("/v1/messages/batch", payload), cases)
    assert tenant.post("/v1/messages/batch", {"messages": []}).json()["field"] == "messages"
    assert message_ids(tenant) == []


def test_batch_of_the_wrong_shape_is_a_validation_error(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("messages_not_a_list", {"messages": {"0": VALID}}, 422, "validation_error", "messages"),
        ("other_fields", {"messages": [VALID], "from": "Acme"}, 422, "validation_error", "from"),
        ("top_level_list", [VALID], 422, "validation_error", None),
        (
            "shared_to_with_a_number",
            {"to": [TO, 31612345678], "from": "Acme", "body": "Hi"},
            422,
            "validation_error",
            "to.1",
        ),
        (
            "shared_unknown_field",
            {"to": [TO], "from": "Acme", "body": "Hi", "urgent": True},
            422,
            "validation_error",
            "urgent",
        ),
    ]
    expect_problems(lambda payload: tenant.post("/v1/messages/batch", payload), cases)
    assert message_ids(tenant) == []


def _cursor(before: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"before": before})).decode().rstrip("=")


def test_list_refuses_bad_cursor_limit_status_to_and_times(tenant: Tenant) -> None:
    other_kind = _cursor("acc_01kjmma2g0f69a161eszg8pctk")
    cases: list[Case] = [
        ("cursor_garbage", {"cursor": "not-a-cursor!"}, 400, "invalid_cursor", "cursor"),
        ("cursor_of_an_account", {"cursor": other_kind}, 400, "invalid_cursor", "cursor"),
        ("cursor_not_json", {"cursor": "aGVsbG8"}, 400, "invalid_cursor", "cursor"),
        ("limit_zero", {"limit": 0}, 400, "invalid_limit", "limit"),
        ("limit_501", {"limit": 501}, 400, "invalid_limit", "limit"),
        ("limit_text", {"limit": "ten"}, 422, "validation_error", "limit"),
        ("status_unknown", {"status": "lost"}, 400, "invalid_status", "status"),
        ("to_not_a_number", {"to": "nobody"}, 400, "invalid_to", "to"),
        ("since_not_a_time", {"since": "yesterday"}, 422, "validation_error", "since"),
        ("until_not_a_time", {"until": "later"}, 422, "validation_error", "until"),
    ]
    expect_problems(lambda params: tenant.get("/v1/messages", params=params), cases)


def test_webhook_failures_refuse_bad_cursor_and_limit(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("cursor", {"cursor": "%%%"}, 400, "invalid_cursor", "cursor"),
        ("limit", {"limit": 0}, 400, "invalid_limit", "limit"),
    ]
    expect_problems(lambda params: tenant.get("/v1/webhooks/failures", params=params), cases)


def test_body_over_8_mib_is_413(tenant: Tenant) -> None:
    response = tenant.post("/v1/messages", {**VALID, "reference": "x" * (8 * MIB)})
    problem = assert_problem(response, 413, "request_too_large")
    assert str(8 * MIB) in problem["detail"]
    assert message_ids(tenant) == []


def test_streamed_body_over_8_mib_without_a_length_is_413(tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"to": "+31612345678", "from": "Acme", "body": "'
        for _ in range(9):
            yield b"x" * MIB
        yield b'"}'

    def post(path: str) -> Any:
        return tenant.post(path, content=chunks(), headers={"Content-Type": "application/json"})

    cases: list[Case] = [
        ("send", "/v1/messages", 413, "request_too_large", None),
        ("batch", "/v1/messages/batch", 413, "request_too_large", None),
    ]
    expect_problems(post, cases)
    assert message_ids(tenant) == []


def test_unknown_path_is_a_404_problem(tenant: Tenant) -> None:
    for path in ("/v1/nothing-here", "/nothing-here"):
        problem = assert_problem(tenant.get(path), 404, "not_found")
        assert "/openapi.json" in problem["detail"]


def test_wrong_method_is_a_405_problem(tenant: Tenant) -> None:
    assert_problem(tenant.put("/v1/messages", VALID), 405, "method_not_allowed")
    patch = tenant.client.patch("/v1/numbers", headers=tenant.headers)
    assert_problem(patch, 405, "method_not_allowed")
    assert message_ids(tenant) == []


def test_odd_ids_in_the_path_are_404_not_500(tenant: Tenant) -> None:
    def call(request: tuple[str, str]) -> Any:
        return tenant.client.request(request[0], request[1], headers=tenant.headers)

    cases: list[Case] = [
        ("get_message", ("GET", "/v1/messages/msg_%00"), 404, "message_not_found", None),
        ("cancel", ("DELETE", "/v1/messages/msg_%00"), 404, "message_not_found", None),
        ("delete_number", ("DELETE", "/v1/numbers/num_%00"), 404, "number_not_found", None),
        ("revoke_key", ("DELETE", "/v1/api-keys/key_%00"), 404, "api_key_not_found", None),
        (
            "replay",
            ("POST", "/v1/webhooks/failures/whk_%00/replay"),
            404,
            "delivery_not_found",
            None,
        ),
        ("long_id", ("GET", "/v1/messages/" + "m" * 5000), 404, "message_not_found", None),
    ]
    expect_problems(call, cases)


def test_nul_characters_in_other_requests_are_refused_not_a_500(tenant: Tenant) -> None:
    def call(request: tuple[str, str, dict[str, Any]]) -> Any:
        method, path, payload = request
        return tenant.client.request(method, path, json=payload, headers=tenant.headers)

    cases: list[Case] = [
        (
            "api_key_name",
            ("POST", "/v1/api-keys", {"name": "ci\x00"}),
            422,
            "validation_error",
            "name",
        ),
        (
            "webhook_url",
            ("PUT", "/v1/account/webhook", {"url": "https://example.com/\x00"}),
            422,
            "validation_error",
            "url",
        ),
        (
            "number_channel",
            ("POST", "/v1/numbers", {"number": "+14155550100", "channel": "sms\x00"}),
            422,
            "validation_error",
            "channel",
        ),
    ]
    expect_problems(call, cases)


def test_idempotency_key_with_control_characters_or_too_long_is_refused(tenant: Tenant) -> None:
    def call(key: str) -> Any:
        return tenant.post("/v1/messages", VALID, headers={"Idempotency-Key": key})

    cases: list[Case] = [
        ("nul", "abc\x00def", 422, "validation_error", "idempotency-key"),
        ("tab", "abc\tdef", 422, "validation_error", "idempotency-key"),
        ("256_chars", "k" * 256, 422, "validation_error", "idempotency-key"),
    ]
    expect_problems(call, cases)
    assert message_ids(tenant) == []


def test_add_number_refuses_bad_input(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("too_short", {"number": "12"}, 400, "invalid_number", "number"),
        ("name_too_long", {"number": "AcmeWidgets1"}, 400, "invalid_number", "number"),
        (
            "channel",
            {"number": "+14155550100", "channel": "fax"},
            400,
            "unsupported_channel",
            "channel",
        ),
        ("missing", {}, 422, "validation_error", "number"),
        ("an_integer", {"number": 14155550100}, 422, "validation_error", "number"),
    ]
    expect_problems(lambda payload: tenant.post("/v1/numbers", payload), cases)
    assert tenant.get("/v1/numbers").json()["data"] == []


def test_account_webhook_refuses_bad_url(tenant: Tenant) -> None:
    cases: list[Case] = [
        ("not_http", {"url": "ftp://example.com/hook"}, 400, "invalid_url", "url"),
        ("not_a_string", {"url": 5}, 422, "validation_error", "url"),
        ("missing", {}, 422, "validation_error", "url"),
    ]
    expect_problems(lambda payload: tenant.put("/v1/account/webhook", payload), cases)
    assert tenant.get("/v1/account/webhook").json()["url"] is None


HOSTILE_IDS = ("%00", "msg_%00%01", "z" * 300, "msg_0000000000000000000000000%E2%82%AC")
HOSTILE_BODIES: list[Any] = [None, {}, [1], "null", {"to": "\x00", "url": "\x00", "name": "\x00"}]
HOSTILE_QUERY = "?cursor=%00&to=%00&status=%00&since=%00&until=%00&limit=%00"


def test_no_route_answers_500_to_hostile_ids_bodies_or_queries(tenant: Tenant) -> None:
    failures: list[str] = []
    for method, path in api_routes(tenant.client.app):
        paths = {re.sub(r"\{[^}]+\}", bad, path) for bad in HOSTILE_IDS} | {path + HOSTILE_QUERY}
        for concrete in sorted(paths):
            for body in HOSTILE_BODIES:
                response = tenant.client.request(
                    method, concrete, json=body, headers=tenant.headers
                )
                if response.status_code >= 500:
                    failures.append(f"{method} {concrete[:60]} {body!r}: {response.text[:100]}")
    assert not failures, "\n".join(failures)
    assert message_ids(tenant) == []
