"""C2SP tlog-proof receipts: the spec example, round trips, verification and tampering."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.tlog.checkpoint import MAX_TREE_SIZE, Checkpoint, CheckpointError, sign_checkpoint
from shared.tlog.note import NoteError, Signer
from shared.tlog.receipt import (
    HEADER,
    MAX_PROOF_HASHES,
    Receipt,
    ReceiptError,
    format_receipt,
    parse_receipt,
    verify_receipt,
)

# Example from the C2SP tlog-proof spec (signatures elided there, so it only parses).
SPEC_CHECKPOINT = (
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "— example.com/fancylog hI2DJw[...]1roloI=\n"
    "— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "— witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "— witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
)
SPEC_HASHES = [
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=",
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=",
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=",
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=",
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=",
]
SPEC_EXTRA = "YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ"
SPEC_PROOF = (
    "c2sp.org/tlog-proof@v1\n"
    f"extra {SPEC_EXTRA}\n"
    "index 73894\n" + "".join(f"{h}\n" for h in SPEC_HASHES) + "\n" + SPEC_CHECKPOINT
)

ORIGIN = "example.com/log"
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
ENTRIES = [f"event {i}".encode() for i in range(7)]


# A deliberately naive RFC 6962 reference (section 2.1), independent of shared.tlog.merkle.
def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def make_receipt(index: int, entries: list[bytes] = ENTRIES, extra: bytes | None = None) -> str:
    leaves = [_leaf(e) for e in entries]
    note = sign_checkpoint(Checkpoint(ORIGIN, len(leaves), _mth(leaves)), LOG)
    return format_receipt(index, _path(index, leaves), note, extra)


# --- the spec example -------------------------------------------------------------------


def test_spec_example_parses() -> None:
    receipt = parse_receipt(SPEC_PROOF)
    assert receipt.extra == base64.b64decode(SPEC_EXTRA)
    assert receipt.index == 73894
    assert receipt.proof == tuple(base64.b64decode(h) for h in SPEC_HASHES)
    assert receipt.checkpoint == SPEC_CHECKPOINT


def test_spec_example_formats_back_identically() -> None:
    receipt = parse_receipt(SPEC_PROOF)
    assert receipt.format() == SPEC_PROOF
    assert (
        format_receipt(receipt.index, receipt.proof, receipt.checkpoint, receipt.extra)
        == SPEC_PROOF
    )


def test_spec_example_with_elided_signatures_does_not_verify() -> None:
    with pytest.raises(NoteError, match="malformed"):
        verify_receipt(SPEC_PROOF, b"", LOG.verifier(), "example.com/fancylog")


# --- layout -----------------------------------------------------------------------------


def test_receipt_without_extra_has_header_then_index_line() -> None:
    text = make_receipt(2)
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[1] == "index 2"
    assert all(len(base64.b64decode(line)) == 32 for line in lines[2:5])
    assert lines[5] == ""
    assert lines[6] == ORIGIN


def test_single_leaf_tree_has_empty_proof() -> None:
    text = make_receipt(0, [b"only"])
    assert text.startswith(f"{HEADER}\nindex 0\n\n{ORIGIN}\n1\n")
    assert verify_receipt(text, b"only", LOG.verifier(), ORIGIN).size == 1


# --- verification -----------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(ENTRIES)))
def test_receipt_for_every_leaf_verifies(index: int) -> None:
    checkpoint = verify_receipt(make_receipt(index), ENTRIES[index], LOG.verifier(), ORIGIN)
    assert checkpoint.size == len(ENTRIES)
    assert checkpoint.origin == ORIGIN


def test_extra_data_is_carried_but_not_authenticated() -> None:
    text = make_receipt(3, extra=b"vrf proof")
    assert parse_receipt(text).extra == b"vrf proof"
    altered = text.replace(base64.b64encode(b"vrf proof").decode(), base64.b64encode(b"x").decode())
    assert verify_receipt(altered, ENTRIES[3], LOG.verifier(), ORIGIN).size == len(ENTRIES)


def test_other_entry_data_is_refused() -> None:
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(make_receipt(3), ENTRIES[4], LOG.verifier(), ORIGIN)


def test_tampered_proof_hash_is_refused() -> None:
    receipt = parse_receipt(make_receipt(3))
    bad = bytes([receipt.proof[1][0] ^ 1]) + receipt.proof[1][1:]
    proof = (receipt.proof[0], bad, *receipt.proof[2:])
    text = format_receipt(receipt.index, proof, receipt.checkpoint)
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(text, ENTRIES[3], LOG.verifier(), ORIGIN)


@pytest.mark.parametrize("proof_change", ["drop-last", "add-one", "swap"])
def test_reshaped_proof_is_refused(proof_change: str) -> None:
    receipt = parse_receipt(make_receipt(3))
    proof = list(receipt.proof)
    if proof_change == "drop-last":
        proof.pop()
    elif proof_change == "add-one":
        proof.append(bytes(32))
    else:
        proof[0], proof[1] = proof[1], proof[0]
    text = format_receipt(receipt.index, proof, receipt.checkpoint)
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(text, ENTRIES[3], LOG.verifier(), ORIGIN)


def test_tampered_index_is_refused() -> None:
    text = make_receipt(2).replace("\nindex 2\n", "\nindex 3\n")
    with pytest.raises(ReceiptError, match="inclusion proof"):
        verify_receipt(text, ENTRIES[2], LOG.verifier(), ORIGIN)


def test_index_outside_the_tree_is_refused() -> None:
    text = make_receipt(6).replace("\nindex 6\n", "\nindex 7\n")
    with pytest.raises(ReceiptError, match="outside"):
        verify_receipt(text, ENTRIES[6], LOG.verifier(), ORIGIN)


def test_tampered_checkpoint_is_refused() -> None:
    text = make_receipt(2).replace(f"\n{ORIGIN}\n7\n", f"\n{ORIGIN}\n8\n")
    with pytest.raises(NoteError, match="invalid signature"):
        verify_receipt(text, ENTRIES[2], LOG.verifier(), ORIGIN)


def test_checkpoint_re_signed_by_another_key_is_refused() -> None:
    receipt = parse_receipt(make_receipt(2))
    impostor = Signer(ORIGIN, Ed25519PrivateKey.generate())
    text = receipt.checkpoint.split("\n\n")[0] + "\n"
    forged = format_receipt(receipt.index, receipt.proof, impostor.sign(text))
    with pytest.raises(NoteError, match="no signature"):
        verify_receipt(forged, ENTRIES[2], LOG.verifier(), ORIGIN)


def test_receipt_from_another_log_is_refused() -> None:
    with pytest.raises(CheckpointError, match="origin"):
        verify_receipt(make_receipt(2), ENTRIES[2], LOG.verifier(), "example.com/other")


# --- strict parsing ---------------------------------------------------------------------

GOOD = make_receipt(2, extra=b"ctx")
NOTE = parse_receipt(GOOD).checkpoint
HASH = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(GOOD.replace(HEADER, "c2sp.org/tlog-proof@v2"), id="wrong-version"),
        pytest.param(GOOD.replace(HEADER, HEADER + " "), id="header-trailing-space"),
        pytest.param("\n" + GOOD, id="leading-blank-line"),
        pytest.param(GOOD.replace("\r", "").replace("\n", "\r\n"), id="crlf"),
        pytest.param(GOOD.replace("extra Y3R4", "extra Y3R"), id="bad-extra-base64"),
        pytest.param(GOOD.replace("extra Y3R4", "extra "), id="empty-extra"),
        pytest.param(GOOD.replace("extra Y3R4", "extra  Y3R4"), id="extra-double-space"),
        pytest.param(GOOD.replace("index 2\n", "index 2\nextra Y3R4\n"), id="extra-after-index"),
        pytest.param(GOOD.replace("extra Y3R4\n", "extra Y3R4\nextra Y3R4\n"), id="two-extras"),
        pytest.param(GOOD.replace("index 2", "index 02"), id="leading-zero"),
        pytest.param(GOOD.replace("index 2", "index -2"), id="negative-index"),
        pytest.param(GOOD.replace("index 2", "index  2"), id="index-double-space"),
        pytest.param(GOOD.replace("index 2", "index"), id="index-without-number"),
        pytest.param(GOOD.replace("index 2", f"index {2**64}"), id="index-over-64-bits"),
        pytest.param(GOOD.replace("index 2\n", ""), id="no-index"),
        pytest.param(GOOD.replace("index 2\n", f"index 2\n{HASH[:-1]}\n"), id="bad-hash"),
        pytest.param(GOOD.replace("index 2\n", f"index 2\n{HASH[:-4]}\n"), id="short-hash"),
        pytest.param(GOOD.replace("index 2\n", f"index 2\n {HASH}\n"), id="indented-hash"),
        pytest.param(GOOD.split("\n\n")[0], id="no-checkpoint"),
        pytest.param(GOOD.split("\n\n")[0] + "\n\n", id="empty-checkpoint"),
        pytest.param(GOOD.split("\n\n")[0] + "\n", id="no-blank-line"),
        pytest.param(GOOD[:-1], id="checkpoint-missing-final-newline"),
    ],
)
def test_malformed_receipts_are_refused(text: str) -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(text)


def test_more_proof_hashes_than_a_64_bit_tree_needs_are_refused() -> None:
    text = f"{HEADER}\nindex 0\n" + f"{HASH}\n" * (MAX_PROOF_HASHES + 1) + "\n" + NOTE
    with pytest.raises(ReceiptError, match="more than"):
        parse_receipt(text)
    with pytest.raises(ReceiptError, match="more than"):
        format_receipt(0, [bytes(32)] * (MAX_PROOF_HASHES + 1), NOTE)


@pytest.mark.parametrize(
    ("index", "proof", "checkpoint", "extra"),
    [
        pytest.param(-1, [], NOTE, None, id="negative-index"),
        pytest.param(2**64, [], NOTE, None, id="index-over-64-bits"),
        pytest.param(0, [bytes(31)], NOTE, None, id="short-hash"),
        pytest.param(0, [], NOTE, b"", id="empty-extra"),
        pytest.param(0, [], "", None, id="empty-checkpoint"),
    ],
)
def test_receipts_that_cannot_be_written_are_refused(
    index: int, proof: list[bytes], checkpoint: str, extra: bytes | None
) -> None:
    with pytest.raises(ReceiptError):
        format_receipt(index, proof, checkpoint, extra)


RECEIPTS = st.builds(
    Receipt,
    index=st.integers(0, MAX_TREE_SIZE),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_HASHES).map(tuple),
    checkpoint=st.just(NOTE),
    extra=st.none() | st.binary(min_size=1),
)


@given(RECEIPTS)
def test_any_receipt_round_trips_through_format_and_parse(receipt: Receipt) -> None:
    assert parse_receipt(receipt.format()) == receipt


@given(st.text())
def test_parse_refuses_arbitrary_text_with_receipt_error_only(text: str) -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(text)


@given(st.data())
def test_parse_of_mutated_receipts_raises_only_receipt_error(data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(GOOD) - 1))
    mutated = GOOD[:i] + data.draw(st.text(max_size=3)) + GOOD[i + 1 :]
    try:
        receipt = parse_receipt(mutated)
    except ReceiptError:
        return
    # Accepted text must be the one spelling of what it parsed to.
    assert receipt.format() == mutated
