"""ISO 6346 container numbers: owner code, category, serial number and check digit.

A number is 3 owner letters, a category letter (U freight container, J detachable
equipment, Z trailer or chassis), 6 serial digits and a check digit, e.g. CSQU3054383.
Hand-written: the algorithm is a dozen lines and no maintained library offers it.

The check digit is the weighted sum (letter values A=10 upwards skipping 11, 22 and 33;
weights 2**position) mod 11, with remainder 10 written as 0. It is weaker than it looks,
and callers should not treat a matching digit as proof that a number was read right:

- remainders 0 and 10 share the digit 0, so a change that moves the remainder between
  them goes unnoticed;
- two letters whose values differ by 11 or 22 (A/K/U, B/L, C/M, ... P/Z) weigh the same
  mod 11, so swapping one for the other in the owner code or category goes unnoticed.

Every other single substituted character, and every single substituted serial digit
apart from the 0/10 case, changes the digit.
"""

from __future__ import annotations

import re
import string

__all__ = ["CATEGORIES", "check_digit", "is_valid", "normalise", "parse"]

#: Equipment category identifiers: U freight container, J detachable equipment, Z trailer.
CATEGORIES = frozenset("UJZ")


def _letter_values() -> dict[str, int]:
    # Values run from 10 and skip the multiples of 11 (ISO 6346 calculation step 1).
    values: dict[str, int] = {}
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


_LETTER_VALUES = _letter_values()
_BODY = re.compile(r"[A-Z]{4}[0-9]{6}")
_WHITESPACE_AND_DASHES = re.compile(r"[\s\-]+")


def check_digit(owner_category_serial: str) -> int:
    """The check digit of the first 10 characters (owner, category, serial), e.g. 'CSQU305438'."""
    if not _BODY.fullmatch(owner_category_serial):
        raise ValueError("expected 4 capital letters and 6 digits, e.g. 'CSQU305438'")
    total = 0
    for position, char in enumerate(owner_category_serial):
        value = _LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value << position  # weight 2**position
    return total % 11 % 10


def normalise(text: str) -> str:
    """Upper-case ``text`` and drop spaces and dashes ('csqu 305438-3' -> 'CSQU3054383')."""
    cleaned = _WHITESPACE_AND_DASHES.sub("", text)
    # Only ASCII is upper-cased: str.upper() would turn e.g. the dotless i (U+0131) into
    # 'I' and let a look-alike number through as a real one.
    return cleaned.upper() if cleaned.isascii() else cleaned


def parse(number: str) -> str:
    """Normalise and validate a container number; return it as 11 characters or raise ValueError."""
    text = normalise(number)
    if not text.isascii():
        # Look-alikes such as full-width digits or a dotless i are refused, not mapped.
        raise ValueError(
            f"container number {_shown(number)} may only contain letters A-Z and digits 0-9"
        )
    if len(text) != 11:
        raise ValueError(
            f"container number {_shown(number)} must be 11 characters: owner code (3 letters), "
            "category (U, J or Z), serial number (6 digits) and check digit"
        )
    owner, category, serial, digit = text[:3], text[3], text[4:10], text[10]
    if not (owner.isalpha() and owner.isupper()):
        raise ValueError(f"container number {_shown(number)}: owner code must be 3 letters")
    if category not in CATEGORIES:
        raise ValueError(f"container number {_shown(number)}: category must be U, J or Z")
    if not serial.isdigit():
        raise ValueError(f"container number {_shown(number)}: serial number must be 6 digits")
    if not digit.isdigit():
        raise ValueError(f"container number {_shown(number)}: check digit must be a digit")
    expected = check_digit(text[:10])
    if int(digit) != expected:
        raise ValueError(
            f"container number {_shown(number)}: check digit is {digit}, expected {expected}"
        )
    return text


def is_valid(number: str) -> bool:
    """True when parse(number) would succeed."""
    try:
        parse(number)
    except ValueError:
        return False
    return True


def _shown(text: str) -> str:
    # Echo enough to find the typo, not an unbounded attacker-chosen string.
    return repr(text) if len(text) <= 24 else repr(text[:21] + "...")
