"""Hypothesis strategies for SMPP PDUs, derived from the same field specs the codec uses."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import MessageState, TlvTag
from tidings.channels.smpp.fields import (
    SPEC_KEY,
    CString,
    Integer,
    OptionalParameters,
    ShortMessage,
    Spec,
)
from tidings.channels.smpp.pdu import Pdu, Response
from tidings.channels.smpp.tlv import FIXED_SIZES, Tlv

U32 = st.integers(0, 0xFFFFFFFF)
LATIN1_NO_NUL = st.characters(min_codepoint=1, max_codepoint=0xFF)
ASCII_PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def c_strings(spec: CString, alphabet: st.SearchStrategy[str] = LATIN1_NO_NUL) -> Any:
    if spec.sizes is not None:
        return st.one_of(*(st.text(alphabet, min_size=n, max_size=n) for n in spec.sizes))
    return st.text(alphabet, max_size=spec.max_size - 1)


def typed_tlvs() -> st.SearchStrategy[Tlv]:
    return st.one_of(
        st.text(ASCII_PRINTABLE, max_size=64).map(tlv.receipted_message_id),
        st.sampled_from(list(MessageState)).map(tlv.message_state),
        st.integers(0, 0xFFFF).map(tlv.sar_msg_ref_num),
        st.integers(0, 0xFF).map(tlv.sar_total_segments),
        st.integers(0, 0xFF).map(tlv.sar_segment_seqnum),
        st.binary(max_size=600).map(tlv.message_payload),
        st.builds(tlv.network_error_code, st.integers(0, 0xFF), st.integers(0, 0xFFFF)),
        st.integers(0, 0xFFFF).map(tlv.user_message_reference),
    )


def any_tlvs() -> st.SearchStrategy[Tlv]:
    """Typed TLVs and arbitrary (including vendor) tags that carry free-form values."""
    free_tag = st.integers(0, 0xFFFF).filter(
        lambda tag: tag not in FIXED_SIZES and tag != TlvTag.RECEIPTED_MESSAGE_ID
    )
    return st.one_of(typed_tlvs(), st.builds(Tlv, free_tag, st.binary(max_size=80)))


def spec_values(spec: Spec) -> Any:
    if isinstance(spec, Integer):
        return st.integers(0, (1 << (8 * spec.size)) - 1)
    if isinstance(spec, CString):
        return c_strings(spec)
    if isinstance(spec, ShortMessage):
        return st.binary(max_size=spec.max_size)
    assert isinstance(spec, OptionalParameters)
    return st.lists(any_tlvs(), max_size=5).map(tuple)


def pdus(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    """Any valid instance of ``cls``."""
    kwargs: dict[str, Any] = {"sequence_number": U32}
    if issubclass(cls, Response):
        kwargs["command_status"] = U32
    for field in dataclasses.fields(cls):
        if SPEC_KEY in field.metadata:
            kwargs[field.name] = spec_values(field.metadata[SPEC_KEY])
    return st.builds(cls, **kwargs)
