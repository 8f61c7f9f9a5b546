"""The add-checkpoint body: one spelling per request, and only ProtocolError for junk."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.tlog.witness_protocol import (
    MAX_PROOF_LINES,
    ProtocolError,
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_size_body,
)

NOTE = "example.test/log\n5\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u2014 k AAAA\n"
hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_LINES)


@given(old=st.integers(min_value=1, max_value=2**64 - 1), proof=hashes)
def test_a_request_reads_back_as_written(old: int, proof: list[bytes]) -> None:
    parsed = parse_add_checkpoint(format_add_checkpoint(old, proof, NOTE))
    assert (parsed.old_size, list(parsed.proof), parsed.note) == (old, proof, NOTE)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_parsed_or_refused_with_protocol_error(body: bytes) -> None:
    try:
        parsed = parse_add_checkpoint(body)
    except ProtocolError:
        return
    assert format_add_checkpoint(parsed.old_size, parsed.proof, parsed.note) == body


@pytest.mark.parametrize(
    "body",
    [
        b"old 0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n" + NOTE.encode(),  # proof from 0
        b"old 18446744073709551616\n\n" + NOTE.encode(),  # 2**64
        b"old  1\n\n" + NOTE.encode(),
        b"old 1\r\n\n" + NOTE.encode(),
        b"old 1\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\n" + NOTE.encode(),
    ],
)
def test_bodies_outside_the_protocol_are_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_add_checkpoint(body)


def test_too_many_proof_lines_are_not_written() -> None:
    with pytest.raises(ProtocolError):
        format_add_checkpoint(1, [b"\0" * 32] * 64, NOTE)


@pytest.mark.parametrize("text", ["", "12", "012\n", "-1\n", "1 \n", "18446744073709551616\n"])
def test_a_409_size_body_is_one_decimal_and_a_newline(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_size_body(text)
    assert parse_size_body("0\n") == 0
    assert parse_size_body("20852163\n") == 20852163
