"""cosignature/v1 lines: published vectors, an independent Ed25519 check, strict parsing."""

import base64
import hashlib

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.tlog.checkpoint import Checkpoint, sign_checkpoint
from shared.tlog.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    QuorumError,
    cosigner_key_id,
    merge_signature_lines,
    parse_cosigner_key,
    require_quorum,
    verify_cosignatures,
)
from shared.tlog.note import NoteError, Signer, parse_verifier_key

# transparency-dev/formats note/note_cosigv1_test.go: a native cosignature/v1 (type 0x04)
# verifier key, accepted by the Go reference.
GO_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# Same file, TestCosignatureTimestamp: a cosignature whose timestamp is 1727964367.
GO_SIGNATURE = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFi"
    "EBYJXORmnFBOBA=="
)
# The C2SP tlog-cosignature spec's signed-message example.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_MESSAGE = b"cosignature/v1\ntime 1679315147\n" + SPEC_TEXT.encode()

SEED = hashlib.sha256(b"cosigner").digest()


def signer() -> CosignatureSigner:
    return CosignatureSigner("witness.test/w1", Ed25519PrivateKey.from_private_bytes(SEED))


def test_the_go_reference_vkey_parses_and_its_key_id_matches() -> None:
    verifier = parse_cosigner_key(GO_VKEY)
    assert verifier.name == "remora.n621.de"
    assert verifier.key_id.hex() == "da77ade7"
    assert verifier.vkey == GO_VKEY


def test_the_go_reference_signature_carries_its_timestamp_big_endian() -> None:
    raw = base64.b64decode(GO_SIGNATURE)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1727964367


def test_a_line_is_an_ed25519_signature_over_the_spec_message_checked_by_pynacl() -> None:
    # Independent check: PyNaCl (libsodium) verifies what `cryptography` signed, over the
    # message the spec spells out byte for byte.
    line = signer().cosign(SPEC_TEXT, 1679315147)
    name, encoded = line.removeprefix("\u2014 ").rstrip("\n").split(" ")
    raw = base64.b64decode(encoded)
    public = nacl.signing.SigningKey(SEED).verify_key
    assert name == "witness.test/w1"
    assert raw[:4] == hashlib.sha256(b"witness.test/w1\n\x04" + bytes(public)).digest()[:4]
    assert raw[4:12] == (1679315147).to_bytes(8, "big")
    public.verify(SPEC_MESSAGE, raw[12:])


def test_pynacl_made_cosignature_verifies_here() -> None:
    key = nacl.signing.SigningKey(SEED)
    signature = key.sign(SPEC_MESSAGE).signature
    kid = cosigner_key_id("w", bytes(key.verify_key))
    line = (
        "\u2014 w " + base64.b64encode(kid + (1679315147).to_bytes(8, "big") + signature).decode()
    )
    note = SPEC_TEXT + "\n" + line + "\n"
    assert verify_cosignatures(note, [CosignatureVerifier("w", bytes(key.verify_key))]) == {
        "w": 1679315147
    }


def log_note() -> tuple[str, Signer]:
    log = Signer("example.test/log", Ed25519PrivateKey.from_private_bytes(b"\1" * 32))
    return sign_checkpoint(Checkpoint("example.test/log", 5, b"\7" * 32), log), log


def test_cosignatures_and_the_log_signature_live_in_one_note() -> None:
    note, log = log_note()
    text = note[: note.rfind("\n\n") + 1]
    witnesses = [
        CosignatureSigner(f"w{n}", Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32))
        for n in range(1, 4)
    ]
    cosigned = merge_signature_lines(
        note, [w.cosign(text, 1000 + n) for n, w in enumerate(witnesses)]
    )
    # The log's verifier ignores the cosignatures; the witnesses' ignore the log's.
    assert log.verifier().verify(cosigned) == text
    verifiers = [w.verifier() for w in witnesses]
    assert require_quorum(cosigned, verifiers, 3) == {"w1": 1000, "w2": 1001, "w3": 1002}
    with pytest.raises(QuorumError):
        require_quorum(note, verifiers, 1)
    # A line added twice counts once.
    assert merge_signature_lines(cosigned, [cosigned.splitlines(keepends=True)[-1]]) == cosigned


def test_a_cosignature_is_not_a_log_signature_and_back() -> None:
    note, log = log_note()
    text = note[: note.rfind("\n\n") + 1]
    # Same key, other type: a cosigner key built from the log key counts no log signature.
    as_cosigner = CosignatureVerifier(log.name, log.public_key)
    with pytest.raises(QuorumError):
        require_quorum(note, [as_cosigner], 1)
    # And a cosignature does not pass as the log's signature.
    cosigned_only = text + "\n" + CosignatureSigner(log.name, log.private_key).cosign(text, 1)
    with pytest.raises(NoteError):
        log.verifier().verify(cosigned_only)


def test_a_tampered_cosignature_from_a_trusted_witness_refuses_the_note() -> None:
    note, _ = log_note()
    text = note[: note.rfind("\n\n") + 1]
    line = signer().cosign(text, 42)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # the timestamp, which the signature covers
    forged = line.split(" ")[0] + " " + line.split(" ")[1] + " " + base64.b64encode(raw).decode()
    with pytest.raises(NoteError):
        verify_cosignatures(note + forged + "\n", [signer().verifier()])


@pytest.mark.parametrize(
    "key",
    [
        "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # wrong key ID
        "remora.n621.de+da77ade7+AevN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # type 0x01
        "remora.n621.de+da77ade7",
        "remora n621+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+DA77ADE7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    ],
)
def test_malformed_cosigner_keys_are_refused(key: str) -> None:
    with pytest.raises(NoteError):
        parse_cosigner_key(key)


def test_a_log_key_is_not_a_cosigner_key() -> None:
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    parse_verifier_key(vkey)
    with pytest.raises(NoteError):
        parse_cosigner_key(vkey)
