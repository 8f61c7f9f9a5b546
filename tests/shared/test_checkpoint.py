"""C2SP tlog-checkpoint: the spec example, round trips, strict parsing, signed opening."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.tlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from shared.tlog.note import NoteError, Signer

# Example from the C2SP tlog-checkpoint spec; its public key is not published.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_TEXT + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOo"
    "RDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)

ORIGIN = "example.com/log"
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))


def test_spec_example_parses_and_formats_back_identically() -> None:
    checkpoint = parse_checkpoint(SPEC_TEXT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.format() == SPEC_TEXT


def test_spec_example_note_is_not_opened_without_the_logs_key() -> None:
    stranger = Signer("example.com/behind-the-sofa", Ed25519PrivateKey.generate()).verifier()
    with pytest.raises(NoteError, match="no signature"):
        open_checkpoint(SPEC_NOTE, stranger, "example.com/behind-the-sofa")


def test_format_writes_origin_size_hash_and_extensions_one_per_line() -> None:
    checkpoint = Checkpoint(ORIGIN, 5, ROOT, ("ext one", "ext two"))
    assert checkpoint.format() == f"{ORIGIN}\n5\n{ROOT_B64}\next one\next two\n"


def test_empty_tree_and_largest_size_round_trip() -> None:
    for size in (0, MAX_TREE_SIZE):
        checkpoint = Checkpoint(ORIGIN, size, ROOT)
        assert parse_checkpoint(checkpoint.format()) == checkpoint


def test_signed_checkpoint_opens_with_the_logs_key() -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT)
    assert open_checkpoint(sign_checkpoint(checkpoint, LOG), LOG.verifier(), ORIGIN) == checkpoint


def test_checkpoint_for_another_origin_is_refused() -> None:
    other = Signer("example.com/other", LOG.private_key)
    note = sign_checkpoint(Checkpoint("example.com/other", 42, ROOT), other)
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, other.verifier(), ORIGIN)


def test_checkpoint_signed_by_another_key_is_refused() -> None:
    impostor = Signer(ORIGIN, Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), impostor)
    with pytest.raises(NoteError):
        open_checkpoint(note, LOG.verifier(), ORIGIN)


def test_checkpoint_with_altered_size_is_refused() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 42, ROOT), LOG)
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), LOG.verifier(), ORIGIN)


def test_signed_text_that_is_not_a_checkpoint_is_refused() -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(LOG.sign(f"{ORIGIN}\n42\n"), LOG.verifier(), ORIGIN)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"{ORIGIN}\n42\n{ROOT_B64}", id="missing-final-newline"),
        pytest.param(f"{ORIGIN}\n42\n", id="no-root-hash"),
        pytest.param("", id="empty"),
        pytest.param(f"\n42\n{ROOT_B64}\n", id="empty-origin"),
        pytest.param(f"{ORIGIN}\n42\n{ROOT_B64}\n\n", id="empty-extension-line"),
        pytest.param(f"{ORIGIN}\n42\n{ROOT_B64}\next\n\next\n", id="blank-line-in-extensions"),
        pytest.param(f"{ORIGIN}\r\n42\r\n{ROOT_B64}\r\n", id="crlf"),
        pytest.param(f"{ORIGIN}\x00\n42\n{ROOT_B64}\n", id="control-character"),
        pytest.param(f"{ORIGIN}\n042\n{ROOT_B64}\n", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{ROOT_B64}\n", id="double-zero"),
        pytest.param(f"{ORIGIN}\n+42\n{ROOT_B64}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n-1\n{ROOT_B64}\n", id="negative"),
        pytest.param(f"{ORIGIN}\n 42\n{ROOT_B64}\n", id="leading-space"),
        pytest.param(f"{ORIGIN}\n42 \n{ROOT_B64}\n", id="trailing-space"),
        pytest.param(f"{ORIGIN}\n4_2\n{ROOT_B64}\n", id="underscore"),
        pytest.param(f"{ORIGIN}\n\u0664\u0662\n{ROOT_B64}\n", id="non-ascii-digits"),
        pytest.param(f"{ORIGIN}\n0x2a\n{ROOT_B64}\n", id="hexadecimal"),
        pytest.param(f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", id="size-over-64-bits"),
        pytest.param(f"{ORIGIN}\n{'9' * 5000}\n{ROOT_B64}\n", id="huge-size"),
        pytest.param(f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:31]).decode()}\n", id="short-hash"),
        pytest.param(f"{ORIGIN}\n42\n{base64.b64encode(ROOT + b'x').decode()}\n", id="long-hash"),
        pytest.param(f"{ORIGIN}\n42\n{ROOT_B64.rstrip('=')}\n", id="unpadded-hash"),
        pytest.param(f"{ORIGIN}\n42\n{ROOT_B64[:-2]}9=\n", id="non-canonical-hash"),
        pytest.param(f"{ORIGIN}\n42\n{ROOT.hex()}\n", id="hex-hash"),
        pytest.param(f"{ORIGIN}\n42\n {ROOT_B64}\n", id="space-before-hash"),
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        pytest.param("", 1, ROOT, (), id="empty-origin"),
        pytest.param("a\nb", 1, ROOT, (), id="multi-line-origin"),
        pytest.param(ORIGIN, -1, ROOT, (), id="negative-size"),
        pytest.param(ORIGIN, 2**64, ROOT, (), id="size-over-64-bits"),
        pytest.param(ORIGIN, 1, ROOT[:31], (), id="short-hash"),
        pytest.param(ORIGIN, 1, ROOT, ("",), id="empty-extension"),
        pytest.param(ORIGIN, 1, ROOT, ("a\nb",), id="multi-line-extension"),
        pytest.param(ORIGIN, 1, ROOT, ("\ud800",), id="not-utf8-extension"),
    ],
)
def test_checkpoints_that_cannot_be_written_are_refused_at_construction(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


LINE = st.text(
    st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32)]), min_size=1
)
CHECKPOINTS = st.builds(
    Checkpoint,
    origin=LINE,
    size=st.integers(0, MAX_TREE_SIZE),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(LINE, max_size=3).map(tuple),
)


@given(CHECKPOINTS)
def test_any_checkpoint_round_trips_through_format_and_parse(checkpoint: Checkpoint) -> None:
    assert parse_checkpoint(checkpoint.format()) == checkpoint


@given(CHECKPOINTS)
def test_any_checkpoint_round_trips_through_sign_and_open(checkpoint: Checkpoint) -> None:
    signer = Signer(ORIGIN, LOG.private_key)
    note = sign_checkpoint(checkpoint, signer)
    assert open_checkpoint(note, signer.verifier(), checkpoint.origin) == checkpoint


@given(st.text())
def test_parse_of_arbitrary_text_raises_only_checkpoint_error(text: str) -> None:
    try:
        checkpoint = parse_checkpoint(text)
    except CheckpointError:
        return
    assert checkpoint.format() == text


PLAUSIBLE_LINES = st.lists(
    st.sampled_from([ORIGIN, "0", "1", "01", "-1", ROOT_B64, ROOT_B64[:-1], "", " ", "\r"]) | LINE,
    max_size=6,
)


@given(PLAUSIBLE_LINES, st.booleans())
def test_parse_of_near_checkpoints_only_accepts_canonical_text(
    lines: list[str], final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    try:
        checkpoint = parse_checkpoint(text)
    except CheckpointError:
        return
    # Whatever is accepted has exactly one spelling: the one it was parsed from.
    assert checkpoint.format() == text
