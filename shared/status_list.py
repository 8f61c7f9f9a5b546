"""IETF Token Status Lists: the list's encoding (draft-ietf-oauth-status-list, "Status List").

The identity service packs and encodes the lists it publishes; the release service
decodes them (`shared.credentials.decode_status_list_token` verifies the token around
the list). Each entry takes ``bits`` bits (1, 2, 4 or 8); entries fill each byte from its
least significant bit up (entry ``i`` of a 2-bit list sits in byte ``i // 4`` at bit
``2 * (i % 4)``); the byte array is compressed with DEFLATE in the ZLIB format (RFC 1950)
and written as base64url without padding (``lst``).

Decoding is strict: canonical base64url only, a ZLIB stream (not raw DEFLATE, not gzip,
no preset dictionary) that ends exactly where the data ends, and a cap on the
decompressed size so that a few kilobytes cannot expand into gigabytes (a "zip bomb").

Hand-written because the draft's codec is a few lines and no maintained Python library
implements it with these refusals; pack/unpack use ``bytes.translate`` and big-integer
arithmetic so a 65,536-entry list takes well under a millisecond.
"""

from __future__ import annotations

import binascii
import zlib
from enum import IntEnum
from typing import Final, Literal

from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

__all__ = [
    "ALLOWED_BITS",
    "MAX_STATUS_LIST_BYTES",
    "STATUS_LIST_MEDIA_TYPE",
    "STATUS_LIST_TYP",
    "StatusListError",
    "StatusListErrorCode",
    "StatusValue",
    "check_bits",
    "decode_lst",
    "encode_lst",
    "pack",
    "unpack",
]

STATUS_LIST_TYP: Final = "statuslist+jwt"
STATUS_LIST_MEDIA_TYPE: Final = "application/statuslist+jwt"

ALLOWED_BITS: Final = (1, 2, 4, 8)

#: The most a decoded status list may take, packed: 1 MiB is 4 Mi entries at 2 bits,
#: far beyond any list this project issues, yet small enough to bound the work.
MAX_STATUS_LIST_BYTES: Final = 1 << 20


class StatusValue(IntEnum):
    """Status Types of draft-ietf-oauth-status-list."""

    VALID = 0x00
    INVALID = 0x01
    SUSPENDED = 0x02


StatusListErrorCode = Literal["status_list_malformed", "status_list_too_large"]


class StatusListError(ValueError):
    """An ``lst`` or a packed list was refused; ``code`` is stable."""

    def __init__(self, code: StatusListErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: StatusListErrorCode = code
        self.detail = detail


# --- the Status List codec ------------------------------------------------------------------


def check_bits(bits: object) -> int:
    """``bits`` if it is an allowed entry size; StatusListError otherwise."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise StatusListError("status_list_malformed", f"bits must be one of {ALLOWED_BITS}")
    return bits


def _field_tables(bits: int) -> list[bytes]:
    """For each position j in a byte, a table mapping a byte to its j-th field's value."""
    mask = (1 << bits) - 1
    return [bytes((value >> (bits * j)) & mask for value in range(256)) for j in range(8 // bits)]


def _shift_tables(bits: int) -> list[bytes]:
    """For each position j in a byte, a table mapping a field value to its shifted bits."""
    return [bytes(((value << (bits * j)) & 0xFF) for value in range(256)) for j in range(8 // bits)]


_FIELDS = {bits: _field_tables(bits) for bits in ALLOWED_BITS}
_SHIFTS = {bits: _shift_tables(bits) for bits in ALLOWED_BITS}


def pack(statuses: bytes, bits: int) -> bytes:
    """Pack one status value per byte into the draft's byte array (LSB first)."""
    check_bits(bits)
    if statuses and max(statuses) >= 1 << bits:
        raise StatusListError("status_list_malformed", f"a status does not fit in {bits} bits")
    per_byte = 8 // bits
    if per_byte == 1:
        return bytes(statuses)
    padded = bytes(statuses) + bytes(-len(statuses) % per_byte)
    # The fields of one byte never overlap, so OR-ing the shifted fields of every
    # position is plain addition; Python's big integers do it in C.
    total = 0
    for j, table in enumerate(_SHIFTS[bits]):
        total |= int.from_bytes(padded[j::per_byte].translate(table), "little")
    return total.to_bytes(len(padded) // per_byte, "little")


def unpack(packed: bytes, bits: int) -> bytes:
    """Unpack the draft's byte array into one status value per byte (8 // bits per byte)."""
    check_bits(bits)
    per_byte = 8 // bits
    if per_byte == 1:
        return bytes(packed)
    out = bytearray(len(packed) * per_byte)
    for j, table in enumerate(_FIELDS[bits]):
        out[j::per_byte] = packed.translate(table)
    return bytes(out)


def encode_lst(packed: bytes) -> str:
    """ZLIB-compress (highest level, as the draft recommends) and base64url-encode."""
    return urlsafe_b64encode(zlib.compress(packed, 9)).decode("ascii")


def decode_lst(lst: object, *, max_bytes: int = MAX_STATUS_LIST_BYTES) -> bytes:
    """The packed byte array of an ``lst``; refuses bad base64url or ZLIB, and big output."""
    if not isinstance(lst, str) or not lst:
        raise StatusListError("status_list_malformed", "lst must be a non-empty string")
    # DEFLATE grows incompressible data by only a few bytes per 64 KiB and base64 adds a
    # third, so a longer lst cannot hold an allowed list: refused before any work.
    if len(lst) > (max_bytes // 3 + 64) * 4 + 64:
        raise StatusListError("status_list_too_large", "lst is longer than any allowed list")
    if not lst.isascii():
        raise StatusListError("status_list_malformed", "lst is not canonical base64url")
    try:
        compressed = urlsafe_b64decode(lst.encode("ascii"))
    except (ValueError, binascii.Error):
        raise StatusListError("status_list_malformed", "lst is not canonical base64url") from None
    # wbits=15: exactly the ZLIB format (RFC 1950), neither raw DEFLATE nor gzip.
    inflater = zlib.decompressobj(wbits=15)
    try:
        packed = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise StatusListError("status_list_malformed", "lst is not a ZLIB stream") from None
    if len(packed) > max_bytes or (inflater.unconsumed_tail and not inflater.eof):
        raise StatusListError("status_list_too_large", f"the list expands beyond {max_bytes} bytes")
    if not inflater.eof:
        raise StatusListError("status_list_malformed", "the ZLIB stream is truncated")
    if inflater.unused_data:
        raise StatusListError("status_list_malformed", "data follows the ZLIB stream")
    if not packed:
        raise StatusListError("status_list_malformed", "the list is empty")
    return packed
