import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    BodyInfo,
    analyse,
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    gsm7_septet_length,
    is_gsm7,
    pack_gsm7,
    unpack_gsm7,
)

GSM_CHARS = [char for char in GSM7_BASIC if char != "\x1b"]
EXT_CHARS = list(GSM7_EXTENSION)
# "á" and "ç" look European but are not in the default alphabet; the dash and the
# curly apostrophe are what word processors put into texts.
NON_GSM_CHARS = ["á", "ç", "—", "\u2019", "ł", "ő", "中", "😀", "🇳🇱", "\t", "`"]

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS + EXT_CHARS), max_size=500)
# Lists, not st.text: a flag emoji sample is two code points.
mixed_text = st.lists(st.sampled_from(GSM_CHARS + EXT_CHARS + NON_GSM_CHARS), max_size=400).map(
    "".join
)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be", errors="surrogatepass")) // 2


def part_units(info: BodyInfo, part: str) -> int:
    return gsm7_septet_length(part) if info.encoding == "gsm7" else utf16_units(part)


# --- the alphabet itself ---------------------------------------------------------------


def test_basic_table_has_128_distinct_entries() -> None:
    assert len(GSM7_BASIC) == 128
    assert len(set(GSM7_BASIC)) == 128


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0x00, "COMMERCIAL AT"),
        (0x01, "POUND SIGN"),
        (0x02, "DOLLAR SIGN"),
        (0x03, "YEN SIGN"),
        (0x09, "LATIN CAPITAL LETTER C WITH CEDILLA"),
        (0x0B, "LATIN CAPITAL LETTER O WITH STROKE"),
        (0x10, "GREEK CAPITAL LETTER DELTA"),
        (0x11, "LOW LINE"),
        (0x15, "GREEK CAPITAL LETTER OMEGA"),
        (0x1A, "GREEK CAPITAL LETTER XI"),
        (0x1C, "LATIN CAPITAL LETTER AE"),
        (0x1E, "LATIN SMALL LETTER SHARP S"),
        (0x1F, "LATIN CAPITAL LETTER E WITH ACUTE"),
        (0x24, "CURRENCY SIGN"),
        (0x40, "INVERTED EXCLAMATION MARK"),
        (0x5B, "LATIN CAPITAL LETTER A WITH DIAERESIS"),
        (0x5F, "SECTION SIGN"),
        (0x60, "INVERTED QUESTION MARK"),
        (0x7B, "LATIN SMALL LETTER A WITH DIAERESIS"),
        (0x7F, "LATIN SMALL LETTER A WITH GRAVE"),
    ],
)
def test_basic_table_positions(code: int, name: str) -> None:
    assert unicodedata.name(GSM7_BASIC[code]) == name


def test_basic_table_control_positions() -> None:
    assert GSM7_BASIC[0x0A] == "\n"
    assert GSM7_BASIC[0x0D] == "\r"
    assert GSM7_BASIC[0x1B] == "\x1b"


def test_basic_table_rows() -> None:
    assert GSM7_BASIC[0x20:0x40] == " !\"#¤%&'()*+,-./0123456789:;<=>?"
    assert GSM7_BASIC[0x41:0x5B] == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert GSM7_BASIC[0x61:0x7B] == "abcdefghijklmnopqrstuvwxyz"
    assert GSM7_BASIC[0x00:0x10] == "@£$¥èéùìòÇ\nØø\rÅå"
    assert GSM7_BASIC[0x10:0x20] == "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"


def test_extension_table() -> None:
    assert GSM7_EXTENSION == {
        "\x0c": 0x0A,
        "^": 0x14,
        "{": 0x28,
        "}": 0x29,
        "\\": 0x2F,
        "[": 0x3C,
        "~": 0x3D,
        "]": 0x3E,
        "|": 0x40,
        "€": 0x65,
    }
    assert not set(GSM7_EXTENSION) & set(GSM7_BASIC)


@pytest.mark.parametrize("text", ["", "Hello, world!", "£5 @ 12:00 ¿sì? Δ", "{[~|]}^€\\\x0c"])
def test_is_gsm7_accepts_default_alphabet(text: str) -> None:
    assert is_gsm7(text) is True


@pytest.mark.parametrize("char", [*NON_GSM_CHARS, "\x1b", "\x00"])
def test_is_gsm7_rejects_other_characters(char: str) -> None:
    assert is_gsm7(f"ok {char} ok") is False


def test_septet_length_counts_extension_twice() -> None:
    assert gsm7_septet_length("") == 0
    assert gsm7_septet_length("abc") == 3
    assert gsm7_septet_length("€") == 2
    assert gsm7_septet_length("a{b}c") == 7


# --- analyse: GSM 7-bit --------------------------------------------------------------


def test_empty_body() -> None:
    assert analyse("") == BodyInfo("gsm7", 0, 1, ("",))


def test_short_gsm_body() -> None:
    assert analyse("Hello") == BodyInfo("gsm7", 5, 1, ("Hello",))


def test_gsm_160_is_one_segment() -> None:
    body = "a" * 160
    assert analyse(body) == BodyInfo("gsm7", 160, 1, (body,))


def test_gsm_161_is_two_segments_of_153() -> None:
    info = analyse("a" * 161)
    assert info.encoding == "gsm7"
    assert info.units == 161
    assert info.segments == 2
    assert [len(part) for part in info.parts] == [153, 8]


def test_gsm_306_is_two_segments() -> None:
    info = analyse("b" * 306)
    assert (info.units, info.segments) == (306, 2)
    assert [len(part) for part in info.parts] == [153, 153]


def test_gsm_307_is_three_segments() -> None:
    info = analyse("b" * 307)
    assert (info.units, info.segments) == (307, 3)
    assert [len(part) for part in info.parts] == [153, 153, 1]


def test_extension_chars_count_two_septets_for_the_single_segment_limit() -> None:
    assert analyse("a" * 158 + "€") == BodyInfo("gsm7", 160, 1, ("a" * 158 + "€",))
    info = analyse("a" * 159 + "€")
    assert (info.units, info.segments) == (161, 2)
    assert info.parts == ("a" * 153, "a" * 6 + "€")


def test_extension_char_is_never_split_across_segments() -> None:
    body = "x" * 152 + "€" + "y" * 10
    info = analyse(body)
    assert info.encoding == "gsm7"
    assert info.units == 164
    assert info.parts == ("x" * 152, "€" + "y" * 10)
    assert [gsm7_septet_length(part) for part in info.parts] == [152, 12]


def test_extension_char_exactly_filling_a_segment_stays() -> None:
    body = "x" * 151 + "€" + "y" * 10
    info = analyse(body)
    assert info.parts == ("x" * 151 + "€", "y" * 10)


def test_gsm_body_with_accents_stays_gsm() -> None:
    info = analyse("Café à Zürich: 5€")
    assert info.encoding == "gsm7"
    assert info.units == 18


# --- analyse: UCS-2 --------------------------------------------------------------------


def test_one_non_gsm_char_switches_whole_body_to_ucs2() -> None:
    body = "Price 5€ — ok"
    info = analyse(body)
    assert info.encoding == "ucs2"
    # In UCS-2 the euro sign is one code unit, not an escape sequence.
    assert info.units == len(body) == 13
    assert info.parts == (body,)


def test_ucs2_70_is_one_segment() -> None:
    body = "á" * 70
    assert analyse(body) == BodyInfo("ucs2", 70, 1, (body,))


def test_ucs2_71_is_two_segments_of_67() -> None:
    info = analyse("á" * 71)
    assert (info.encoding, info.units, info.segments) == ("ucs2", 71, 2)
    assert [len(part) for part in info.parts] == [67, 4]


def test_ucs2_134_is_two_segments() -> None:
    info = analyse("á" * 134)
    assert (info.units, info.segments) == (134, 2)
    assert [len(part) for part in info.parts] == [67, 67]


def test_ucs2_135_is_three_segments() -> None:
    info = analyse("á" * 135)
    assert (info.units, info.segments) == (135, 3)
    assert [len(part) for part in info.parts] == [67, 67, 1]


def test_emoji_counts_two_units() -> None:
    assert analyse("😀" * 35) == BodyInfo("ucs2", 70, 1, ("😀" * 35,))
    info = analyse("😀" * 36)
    assert (info.units, info.segments) == (72, 2)
    # 67 units cannot hold 34 emoji (68 units): the 34th moves to the next part.
    assert info.parts == ("😀" * 33, "😀" * 3)


def test_emoji_surrogate_pair_is_never_split_across_segments() -> None:
    body = "á" * 66 + "😀" + "é" * 10
    info = analyse(body)
    assert info.units == 78
    assert info.parts == ("á" * 66, "😀" + "é" * 10)


def test_emoji_exactly_filling_a_segment_stays() -> None:
    body = "á" * 65 + "😀" + "é" * 10
    info = analyse(body)
    assert info.parts == ("á" * 65 + "😀", "é" * 10)


def test_surrogate_code_points_in_str_are_kept_together() -> None:
    body = "á" * 66 + "\ud83d\ude00" + "é"
    info = analyse(body)
    assert info.encoding == "ucs2"
    assert info.units == 69
    body = "á" * 66 + "\ud83d\ude00" + "é" * 5
    info = analyse(body)
    assert info.parts == ("á" * 66, "\ud83d\ude00" + "é" * 5)


def test_a_lone_surrogate_counts_one_unit() -> None:
    assert analyse("\ud83d" + "é" * 69).units == 70
    assert analyse("\ud83d" + "é" * 69).segments == 1
    assert analyse("é" * 69 + "\udc00" + "é").parts == ("é" * 67, "é" * 2 + "\udc00" + "é")


def test_flag_emoji_counts_four_units() -> None:
    assert analyse("🇳🇱").units == 4


# --- analyse: properties ----------------------------------------------------------------


def check_analysis(body: str) -> None:
    info = analyse(body)
    assert "".join(info.parts) == body
    assert info.segments == len(info.parts)
    assert info.encoding == ("gsm7" if is_gsm7(body) else "ucs2")
    if info.encoding == "gsm7":
        assert info.units == gsm7_septet_length(body)
        single, multi = 160, 153
    else:
        assert info.units == utf16_units(body)
        single, multi = 70, 67
    if info.units <= single:
        assert info.parts == (body,)
        return
    sizes = [part_units(info, part) for part in info.parts]
    assert sum(sizes) == info.units
    assert all(0 < size <= multi for size in sizes)
    # Greedy filling: the first character of each next part would not have fitted.
    for part, size, following in zip(info.parts, sizes, info.parts[1:], strict=False):
        assert part
        assert size + part_units(info, following[0]) > multi


@given(gsm_text)
def test_gsm_analysis_properties(body: str) -> None:
    check_analysis(body)


@given(mixed_text)
def test_mixed_analysis_properties(body: str) -> None:
    check_analysis(body)


@given(st.text(max_size=300))
def test_arbitrary_text_analysis_properties(body: str) -> None:
    check_analysis(body)


# --- GSM 7-bit encode / decode ---------------------------------------------------------


def test_every_basic_char_round_trips() -> None:
    for code, char in enumerate(GSM7_BASIC):
        if char == "\x1b":
            continue
        assert encode_gsm7(char) == bytes([code])
        assert decode_gsm7(bytes([code])) == char


def test_every_extension_char_round_trips() -> None:
    for char, code in GSM7_EXTENSION.items():
        assert encode_gsm7(char) == bytes([0x1B, code])
        assert decode_gsm7(bytes([0x1B, code])) == char


def test_whole_alphabet_round_trips() -> None:
    text = "".join(GSM_CHARS + EXT_CHARS)
    encoded = encode_gsm7(text)
    assert len(encoded) == 127 + 2 * 10
    assert decode_gsm7(encoded) == text


def test_encode_gsm7_known_bytes() -> None:
    assert encode_gsm7("Hi @ £1 {x}") == bytes(
        [0x48, 0x69, 0x20, 0x00, 0x20, 0x01, 0x31, 0x20, 0x1B, 0x28, 0x78, 0x1B, 0x29]
    )


@pytest.mark.parametrize("text", ["á", "abc—", "\x1b", "😀", "\t"])
def test_encode_gsm7_rejects_non_gsm(text: str) -> None:
    with pytest.raises(ValueError, match="not in the GSM 7-bit alphabet"):
        encode_gsm7(text)


def test_decode_unknown_extension_code_falls_back_to_basic_char() -> None:
    assert decode_gsm7(bytes([0x1B, 0x41])) == "A"
    assert decode_gsm7(bytes([0x1B, 0x00, 0x62])) == "@b"


def test_decode_escape_escape_is_space() -> None:
    assert decode_gsm7(bytes([0x41, 0x1B, 0x1B, 0x42])) == "A B"


def test_decode_trailing_escape_is_space() -> None:
    assert decode_gsm7(bytes([0x41, 0x1B])) == "A "


@pytest.mark.parametrize("data", [b"\x80", b"A\xff", b"\x1b\x80"])
def test_decode_rejects_bytes_above_7_bits(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a 7-bit septet"):
        decode_gsm7(data)


@given(gsm_text)
def test_gsm7_round_trip(text: str) -> None:
    encoded = encode_gsm7(text)
    assert len(encoded) == gsm7_septet_length(text)
    assert max(encoded, default=0) <= 0x7F
    assert decode_gsm7(encoded) == text


# --- 7-bit packing ----------------------------------------------------------------------


def test_pack_known_vector() -> None:
    # The classic example from GSM 03.38 / SMS PDU documentation.
    assert pack_gsm7(encode_gsm7("hellohello")).hex() == "e8329bfd4697d9ec37"


def test_pack_eight_septets_fill_seven_octets() -> None:
    packed = pack_gsm7(b"\x7f" * 8)
    assert packed == b"\xff" * 7


def test_pack_with_fill_bits() -> None:
    assert pack_gsm7(b"\x41", fill_bits=1) == b"\x82"
    assert pack_gsm7(b"\x7f\x7f", fill_bits=6) == bytes([0xC0, 0xFF, 0x0F])
    assert pack_gsm7(b"", fill_bits=3) == b""


def test_unpack_known_vector() -> None:
    assert unpack_gsm7(bytes.fromhex("e8329bfd4697d9ec37"), 10) == encode_gsm7("hellohello")


def test_unpack_count_decides_trailing_padding() -> None:
    packed = pack_gsm7(b"\x01" * 7)
    assert len(packed) == 7
    assert unpack_gsm7(packed, 7) == b"\x01" * 7
    assert unpack_gsm7(packed, 8) == b"\x01" * 7 + b"\x00"


def test_pack_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not a 7-bit septet"):
        pack_gsm7(b"\x80")
    with pytest.raises(ValueError, match="fill_bits"):
        pack_gsm7(b"a", fill_bits=7)
    with pytest.raises(ValueError, match="fill_bits"):
        pack_gsm7(b"a", fill_bits=-1)


def test_unpack_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        unpack_gsm7(b"\x00", 2)
    with pytest.raises(ValueError, match="cannot hold"):
        unpack_gsm7(b"\x00", 1, fill_bits=2)
    with pytest.raises(ValueError, match="negative"):
        unpack_gsm7(b"", -1)
    with pytest.raises(ValueError, match="fill_bits"):
        unpack_gsm7(b"\x00", 0, fill_bits=8)


@given(st.binary(max_size=400).map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_unpack_round_trip(septets: bytes, fill_bits: int) -> None:
    packed = pack_gsm7(septets, fill_bits)
    if septets:
        assert len(packed) == -(-(fill_bits + 7 * len(septets)) // 8)
        # Fill bits are zero.
        assert packed[0] & ((1 << fill_bits) - 1) == 0
    assert unpack_gsm7(packed, len(septets), fill_bits) == septets


@given(gsm_text)
def test_text_survives_encode_pack_unpack_decode(text: str) -> None:
    septets = encode_gsm7(text)
    assert decode_gsm7(unpack_gsm7(pack_gsm7(septets), len(septets))) == text


# --- UCS-2 -------------------------------------------------------------------------------


def test_encode_ucs2_known_bytes() -> None:
    assert encode_ucs2("é") == b"\x00\xe9"
    assert encode_ucs2("A\u0431") == b"\x00\x41\x04\x31"
    assert encode_ucs2("😀") == b"\xd8\x3d\xde\x00"


def test_decode_ucs2_joins_surrogate_pair() -> None:
    assert decode_ucs2(b"\xd8\x3d\xde\x00\x00\x21") == "😀!"


def test_decode_ucs2_drops_odd_trailing_byte() -> None:
    assert decode_ucs2(b"\x00\x41\x00") == "A"
    assert decode_ucs2(b"\x00") == ""


def test_ucs2_lone_surrogate_passes_through() -> None:
    assert encode_ucs2("\ud83d") == b"\xd8\x3d"
    assert decode_ucs2(b"\xd8\x3d") == "\ud83d"


@given(st.text(max_size=300))
def test_ucs2_round_trip(text: str) -> None:
    encoded = encode_ucs2(text)
    assert len(encoded) == 2 * utf16_units(text)
    assert decode_ucs2(encoded) == text
