"""JSON read strictly: a duplicated member or a NaN/Infinity constant is refused.

Signed tokens and evidence files must mean one thing to every reader. RFC 7515 §5.2 and
RFC 8259 allow a parser to keep the last of two members with one name, and two parsers
disagreeing on a duplicated `alg`, `kid` or a bundle's member is exactly how checks get
bypassed; Python's `json` also accepts `NaN` and `Infinity`, which are not JSON.
"""

import json
from typing import Any


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every reader: `json.loads` with hooks would build a new one per call.
DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def loads(text: str) -> Any:
    """The JSON value of `text`; ValueError (json.JSONDecodeError included) if it is not one."""
    return DECODER.decode(text)
