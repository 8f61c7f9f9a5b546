"""C2SP signed notes: Go sumdb/note vectors, strict parsing and hostile input."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.tlog.note import (
    MAX_SIGNATURES,
    NoteError,
    Signer,
    Verifier,
    b64decode_strict,
    key_id,
    parse_signer_key,
    parse_verifier_key,
    signer_key,
    verifier_key,
)

# Published vectors from golang.org/x/mod/sumdb/note (note.go package doc, note_test.go).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTG"
    "wnWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = TEXT + "\n" + PETER_SIG

# Example from the C2SP signed-note spec; its public key is not published.
SPEC_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONr"
    "MouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


@pytest.fixture
def peter() -> Verifier:
    return parse_verifier_key(PETER_VKEY)


@pytest.fixture
def enoch() -> Verifier:
    return parse_verifier_key(ENOCH_VKEY)


def fresh_signer(name: str = "example.com/log") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


# --- Go vectors -------------------------------------------------------------------------


def test_go_verifier_key_parses_with_its_published_key_id(peter: Verifier) -> None:
    assert peter.name == "PeterNeumann"
    assert peter.key_id == bytes.fromhex("c74f20a3")
    assert verifier_key(peter.name, peter.public_key) == PETER_VKEY


def test_key_id_is_sha256_of_name_newline_type_byte_and_key(peter: Verifier) -> None:
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + peter.public_key).digest()[:4]
    assert key_id("PeterNeumann", peter.public_key) == expected == bytes.fromhex("c74f20a3")


def test_go_signer_key_derives_the_go_verifier_key(peter: Verifier) -> None:
    signer = parse_signer_key(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.verifier() == peter
    assert signer_key(signer.name, signer.private_key) == PETER_SKEY


def test_signing_go_text_with_go_signer_key_is_byte_identical() -> None:
    assert parse_signer_key(PETER_SKEY).sign(TEXT) == PETER_NOTE


def test_go_signed_note_verifies_and_returns_its_text(peter: Verifier) -> None:
    assert peter.verify(PETER_NOTE) == TEXT


def test_cosigned_go_note_verifies_for_each_key_ignoring_the_other(
    peter: Verifier, enoch: Verifier
) -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert peter.verify(note) == TEXT
    assert enoch.verify(note) == TEXT


@pytest.mark.parametrize(
    "key",
    [
        # Wrong key length, and unknown signature type, each with a matching key ID.
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_go_bad_verifier_keys_with_adjusted_key_id_are_refused(key: str) -> None:
    with pytest.raises(NoteError):
        parse_verifier_key(key)


@pytest.mark.parametrize(
    ("key", "parse"),
    [(PETER_VKEY, parse_verifier_key), (PETER_SKEY, parse_signer_key)],
    ids=["verifier", "signer"],
)
def test_every_proper_substring_of_a_key_is_refused(
    key: str, parse: Callable[[str], object]
) -> None:
    for i in range(len(key)):
        for j in range(i + 1, len(key) + 1):
            if (i, j) == (0, len(key)):
                continue
            with pytest.raises(NoteError):
                parse(key[i:j])


@pytest.mark.parametrize(
    ("key", "parse"),
    [(PETER_VKEY, parse_verifier_key), (PETER_SKEY, parse_signer_key)],
    ids=["verifier", "signer"],
)
def test_changing_any_character_of_a_key_is_refused(
    key: str, parse: Callable[[str], object]
) -> None:
    for i, ch in enumerate(key):
        with pytest.raises(NoteError):
            parse(key[:i] + chr(ord(ch) + 1) + key[i + 1 :])


# --- key formats ------------------------------------------------------------------------


def test_uppercase_key_id_is_refused() -> None:
    with pytest.raises(NoteError, match="lowercase"):
        parse_verifier_key(PETER_VKEY.replace("c74f20a3", "C74F20A3"))


def test_verifier_key_of_fresh_key_round_trips() -> None:
    signer = fresh_signer()
    encoded = verifier_key(signer.name, signer.public_key)
    assert parse_verifier_key(encoded) == signer.verifier()
    assert parse_signer_key(signer_key(signer.name, signer.private_key)).verifier() == (
        signer.verifier()
    )


@pytest.mark.parametrize(
    "name",
    ["", "a+b", "a b", "a\tb", "a\nb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\u2028b", "\ud800"],
)
def test_invalid_key_names_are_refused_everywhere(name: str) -> None:
    key = Ed25519PrivateKey.generate()
    public_key = key.public_key().public_bytes_raw()
    with pytest.raises(NoteError):
        Signer(name, key)
    with pytest.raises(NoteError):
        Verifier(name, public_key)
    with pytest.raises(NoteError):
        verifier_key(name, public_key)
    with pytest.raises(NoteError):
        signer_key(name, key)


def test_public_key_of_wrong_length_is_refused() -> None:
    with pytest.raises(NoteError):
        Verifier("example.com/log", bytes(31))
    with pytest.raises(NoteError):
        verifier_key("example.com/log", bytes(33))


# --- verification failures --------------------------------------------------------------


def test_tampered_text_is_refused(peter: Verifier) -> None:
    tampered = PETER_NOTE.replace("cryptography", "cryptograph", 1)
    with pytest.raises(NoteError, match="invalid signature"):
        peter.verify(tampered)


def test_note_signed_only_by_another_key_is_refused(peter: Verifier) -> None:
    with pytest.raises(NoteError, match="no signature"):
        peter.verify(TEXT + "\n" + ENOCH_SIG)


def test_same_name_with_another_key_is_refused() -> None:
    impostor = fresh_signer("PeterNeumann")
    with pytest.raises(NoteError, match="no signature"):
        parse_verifier_key(PETER_VKEY).verify(impostor.sign(TEXT))


def test_our_signature_under_another_name_is_ignored(peter: Verifier) -> None:
    renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(NoteError, match="no signature"):
        peter.verify(TEXT + "\n" + renamed)


def test_unknown_signatures_sharing_our_name_or_key_id_are_ignored(peter: Verifier) -> None:
    # Enoch's signature bytes under Peter's name: same name, other key ID.
    same_name = ENOCH_SIG.replace("EnochRoot", "PeterNeumann")
    # Peter's signature bytes under another name: same key ID, other name.
    same_id = PETER_SIG.replace("PeterNeumann", "PeterNeumann2")
    assert peter.verify(TEXT + "\n" + same_name + same_id + PETER_SIG) == TEXT


def test_corrupt_signature_from_our_key_refuses_the_note_even_beside_a_good_one(
    peter: Verifier,
) -> None:
    corrupt = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError, match="invalid signature"):
        peter.verify(TEXT + "\n" + corrupt)
    with pytest.raises(NoteError, match="invalid signature"):
        peter.verify(TEXT + "\n" + PETER_SIG + corrupt)


def test_signature_of_wrong_length_from_our_key_is_refused(peter: Verifier) -> None:
    raw = base64.b64decode(PETER_SIG.split(" ")[2])
    short = "— PeterNeumann " + base64.b64encode(raw[:-1]).decode() + "\n"
    with pytest.raises(NoteError, match="invalid signature"):
        peter.verify(TEXT + "\n" + short)


def test_up_to_the_signature_limit_is_accepted(peter: Verifier) -> None:
    assert peter.verify(TEXT + "\n" + PETER_SIG * MAX_SIGNATURES) == TEXT


def test_more_signatures_than_the_limit_are_refused(peter: Verifier) -> None:
    with pytest.raises(NoteError, match="more than"):
        peter.verify(TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1))


@pytest.mark.parametrize(
    "note",
    [
        pytest.param(TEXT, id="no-signatures"),
        pytest.param(TEXT + "\n", id="blank-line-only"),
        pytest.param(TEXT + "\n" + PETER_SIG[:-1], id="missing-final-newline"),
        pytest.param("\x01" + PETER_NOTE, id="control-character"),
        pytest.param("\r" + PETER_NOTE, id="carriage-return"),
        pytest.param("\udcff" + PETER_NOTE, id="not-utf8"),
        pytest.param(TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG, id="crlf"),
        pytest.param(TEXT + "\n" + PETER_SIG + "Unexpected line.\n", id="trailing-line"),
        pytest.param(TEXT + "\n" + PETER_SIG + "\n", id="trailing-blank-line"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"), id="space"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Pe+er"), id="plus"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("— ", "- "), id="hyphen-not-em-dash"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("— ", "—"), id="no-space-after-dash"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("— ", " — "), id="leading-space"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("n x08", "nx08"), id="no-space-before-sig"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("n x08", "n  x08"), id="double-space"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("AM=", "AM"), id="missing-padding"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("AM=", "AN="), id="non-canonical-bits"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("/", "_"), id="url-safe-alphabet"),
        pytest.param(TEXT + "\n" + "— PeterNeumann \n", id="empty-signature"),
        pytest.param(TEXT + "\n" + "— PeterNeumann x08gow==\n", id="key-id-only"),
        pytest.param(TEXT + "\n" + "— PeterNeumann\n", id="name-only"),
    ],
)
def test_malformed_notes_are_refused(peter: Verifier, note: str) -> None:
    with pytest.raises(NoteError, match="malformed"):
        peter.verify(note)


def test_spec_example_note_is_well_formed_and_its_unknown_key_ignored() -> None:
    # The spec does not publish the key, so a verifier with the same name can only
    # report that no signature of its own was found, which proves the note parsed.
    stranger = fresh_signer("quasimodo.example/salvatore").verifier()
    with pytest.raises(NoteError, match="no signature"):
        stranger.verify(SPEC_NOTE)


# --- signing ----------------------------------------------------------------------------


def test_signed_note_has_blank_line_and_em_dash_signature_line() -> None:
    signer = fresh_signer()
    note = signer.sign("hello\n")
    text, sig_line = note.split("\n\n")
    assert text == "hello"
    assert sig_line.startswith("\u2014 example.com/log ")
    raw = base64.b64decode(sig_line.split(" ")[2])
    assert raw[:4] == signer.key_id
    assert len(raw) == 4 + 64


def test_text_with_blank_lines_round_trips() -> None:
    signer = fresh_signer()
    text = "first\n\nthird\n\n"
    assert signer.verifier().verify(signer.sign(text)) == text


@pytest.mark.parametrize("text", ["", "no newline", "tab\there\n", "nul\x00\n", "\ud800\n"])
def test_signing_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        fresh_signer().sign(text)


NOTE_SAFE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32) if c != 10])
)
SIGNER = fresh_signer()


@given(NOTE_SAFE_TEXT)
def test_any_allowed_text_round_trips_through_sign_and_verify(body: str) -> None:
    text = body + "\n"
    assert SIGNER.verifier().verify(SIGNER.sign(text)) == text


@given(st.text())
def test_verify_refuses_arbitrary_text_with_note_error_only(note: str) -> None:
    with pytest.raises(NoteError):
        SIGNER.verifier().verify(note)


@given(st.data())
def test_verify_refuses_mutated_signed_notes_with_note_error_only(data: st.DataObject) -> None:
    note = SIGNER.sign("example.com/log\n7\n" + "A" * 43 + "=\n")
    i = data.draw(st.integers(0, len(note) - 1))
    replacement = data.draw(st.text(max_size=3))
    mutated = note[:i] + replacement + note[i + 1 :]
    try:
        SIGNER.verifier().verify(mutated)
    except NoteError:
        return
    # Only a change confined to the signature that still decodes identically could pass,
    # and canonical base64 rules that out: the note must be unchanged.
    assert mutated == note


# --- strict base64 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["AB", "AB=", "AB==CD==", "AB=A", "AR==", "A-_=", "QUJD\n", "Ä==="]
)
def test_strict_base64_refuses_non_canonical_input(text: str) -> None:
    with pytest.raises(ValueError):
        b64decode_strict(text)


@given(st.binary())
def test_strict_base64_accepts_standard_encoding(data: bytes) -> None:
    assert b64decode_strict(base64.b64encode(data).decode()) == data
