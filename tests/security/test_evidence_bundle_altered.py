"""Threat: whoever holds an evidence bundle (an insider at the port, a party to a dispute)
alters it before it reaches the court: a byte of a link, an acceptance, an event, a proof or
a key; a link taken out or moved; the file re-serialised with other members.

Every value of the bundle is signed, committed to the log with a proof, or recomputed, and
the file must be canonical JSON of known members, so each alteration is refused.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.release.evidence.verify import EvidenceFailed
from tests.release.evidence_bundles import Anchors, anchors, edited, export, picked_up
from tests.release.port import Port

Edit = Callable[[dict[str, Any]], None]


async def bundle_and_anchors(port: Port) -> tuple[bytes, Anchors]:
    chain = await picked_up(port)
    bundle = await export(port, chain)
    trusted = await anchors(port)
    trusted.verify(bundle)  # the untouched bundle verifies
    return bundle, trusted


def string_positions(bundle: bytes) -> Iterator[int]:
    """The first, middle and last byte of every string of the file (its values and names)."""
    inside, start = False, 0
    escaped = False
    for position, byte in enumerate(bundle):
        if inside and escaped:
            escaped = False
        elif inside and byte == ord("\\"):
            escaped = True
        elif byte == ord('"'):
            if inside and position > start:
                yield from {start, (start + position - 1) // 2, position - 1}
            inside, start = not inside, position + 1


async def test_a_flipped_byte_anywhere_is_refused(port: Port) -> None:
    bundle, trusted = await bundle_and_anchors(port)
    # Every 13th byte across the file, and the edges and middle of every string in it
    # (each token, hash, salt, event and member name); a run over every byte is in
    # docs/evidence.md.
    positions = sorted(set(range(0, len(bundle), 13)) | set(string_positions(bundle)))
    assert len(positions) > 2000
    passed = []
    for position in positions:
        altered = bytearray(bundle)
        altered[position] ^= 0x01
        try:
            trusted.verify(bytes(altered))
        except EvidenceFailed:
            continue
        passed.append(position)
    assert passed == []


def drop_link(seq: int) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        del document["links"][seq]

    return edit


def swap_links(first: int, second: int) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        links = document["links"]
        links[first], links[second] = links[second], links[first]

    return edit


def drop_event(event_type: str) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        events = document["events"]
        index = next(
            i for i, e in enumerate(events) if json.loads(e["event"])["type"] == event_type
        )
        del events[index]

    return edit


def forget_ack(document: dict[str, Any]) -> None:
    document["links"][1]["ack"] = None


def add_member(document: dict[str, Any]) -> None:
    document["note"] = "reviewed"


def move_the_verdict_moment(document: dict[str, Any]) -> None:
    event = json.loads(document["events"][-1]["event"])
    event["at"] = "2020-01-01T00:00:00+00:00"
    import rfc8785

    document["events"][-1]["event"] = rfc8785.dumps(event).decode()


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        (drop_link(4), "links"),
        (drop_link(2), "links"),
        (swap_links(1, 2), "links"),
        (swap_links(3, 4), "links"),
        (forget_ack, "links"),
        # The decision named the status lists it judged with: without it they are orphans.
        (drop_event("gate.decided"), "judged status lists"),
        (drop_event("inspection.drawn"), "draws"),
        (drop_event("link.accepted"), "links"),
        (drop_event("release.created"), "release"),
        (add_member, "format"),
        (move_the_verdict_moment, "events"),
    ],
    ids=[
        "last-link-removed",
        "middle-link-removed",
        "links-reordered",
        "assignment-moved",
        "acceptance-removed",
        "decision-removed",
        "draw-removed",
        "acceptance-event-removed",
        "release-event-removed",
        "unknown-member",
        "event-re-dated",
    ],
)
async def test_a_bundle_edited_and_re_serialised_is_refused(
    port: Port, edit: Edit, check: str
) -> None:
    bundle, trusted = await bundle_and_anchors(port)
    with pytest.raises(EvidenceFailed) as refusal:
        trusted.verify(edited(bundle, edit))
    assert refusal.value.check == check, refusal.value


async def test_a_bundle_that_is_not_canonical_json_is_refused(port: Port) -> None:
    bundle, trusted = await bundle_and_anchors(port)
    for variant in (
        json.dumps(json.loads(bundle), indent=2).encode(),
        bundle + b"\n",
        b" " + bundle,
        bundle.replace(b'"v":2', b'"v":2.0'),
        bundle[:-1] + b',"v":2}',
    ):
        with pytest.raises(EvidenceFailed) as refusal:
            trusted.verify(variant)
        assert refusal.value.check == "format"
