"""Runs smpp34's codec in its own process for the interop tests.

smpp34 is a Rust extension that has been seen to crash the interpreter at exit after
client use, so the test process never imports it. This worker reads one JSON request
per line on stdin and answers one JSON line on stdout:

    {"op": "encode", "type": "submit_sm" | "deliver_sm", "fields": {...}}
        -> {"hex": "..."}
    {"op": "decode", "hex": "..."}
        -> {"type": "SubmitSm" | "DeliverSm" | "RawPdu", "fields": {...}}
    any failure -> {"error": "..."}

Octet values travel as hex; TLVs as [[tag, hex], ...].
"""

from __future__ import annotations

import json
import sys
from typing import Any

import smpp34

_MESSAGE_FIELDS = (
    "command_id",
    "sequence_number",
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "protocol_id",
    "priority_flag",
    "schedule_delivery_time",
    "validity_period",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "sm_length",
)


def _encode(request: dict[str, Any]) -> dict[str, Any]:
    fields = dict(request["fields"])
    cls: type[smpp34.SubmitSm] | type[smpp34.DeliverSm] = (
        smpp34.SubmitSm if request["type"] == "submit_sm" else smpp34.DeliverSm
    )
    source = fields.pop("source_addr")
    destination = fields.pop("destination_addr")
    message = bytes.fromhex(fields.pop("short_message"))
    tlvs = [smpp34.Tlv(tag, bytes.fromhex(value)) for tag, value in fields.pop("tlvs")]
    pdu = cls(source, destination, message, tlvs=tlvs, **fields)
    return {"hex": pdu.encode().hex()}


def _decode(request: dict[str, Any]) -> dict[str, Any]:
    pdu = smpp34.decode(bytes.fromhex(request["hex"]))
    if isinstance(pdu, smpp34.RawPdu):
        fields = {
            "command_length": pdu.command_length,
            "command_id": pdu.command_id,
            "command_status": pdu.command_status,
            "sequence_number": pdu.sequence_number,
            "body": pdu.body.hex(),
        }
        return {"type": "RawPdu", "fields": fields}
    fields = {name: getattr(pdu, name) for name in _MESSAGE_FIELDS}
    fields["short_message"] = pdu.short_message.hex()
    fields["tlvs"] = [[item.tag, item.value.hex()] for item in pdu.tlvs]
    return {"type": type(pdu).__name__, "fields": fields}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = _encode(request) if request["op"] == "encode" else _decode(request)
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
