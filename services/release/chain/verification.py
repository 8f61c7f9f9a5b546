"""Verifying a release's chain with the evidence the identity service gives.

`verify` fetches what the identity service says of the parties involved (their keys and
credentials, through the directory) and runs the verifier (`verify.py`) on the chain as it
stands or would stand; `facts_of` and `stored` put a release and its link rows in the
verifier's terms, and `refused` is the problem for a chain that does not verify.
"""

from collections.abc import Sequence
from datetime import datetime

from services.release.chain.models import Link
from services.release.chain.tokens import kid_of
from services.release.chain.verify import (
    ChainFailure,
    ChainReport,
    Evidence,
    ReleaseFacts,
    StoredLink,
    parties_needed,
    verify_chain,
)
from services.release.identity_directory import IdentityDirectory
from services.release.releases.models import Release
from services.release.settings import ReleaseSettings
from shared import jose
from shared.problems import Problem


class ChainRefused(Problem):
    """422: the chain the step would produce does not verify; `seq` names the failing link."""

    status = 422


def refused(failure: ChainFailure) -> ChainRefused:
    """The problem for a report's first failure."""
    return ChainRefused(failure.code, f"link {failure.seq}: {failure.detail}", seq=failure.seq)


def facts_of(release: Release) -> ReleaseFacts:
    """What every link of the release must agree with."""
    return ReleaseFacts(
        release_id=str(release.id),
        container=release.container,
        terminal=release.terminal_id,
        shipping_line=release.shipping_line_id,
        first_party=release.first_party_id,
        valid_until=int(release.valid_until.timestamp()),
        reference=release.reference,
    )


def stored(link: Link) -> StoredLink:
    """A stored link as the verifier sees it, judged at its receipt."""
    return StoredLink(
        seq=link.seq,
        jws=link.jws,
        status=link.status,
        ack=link.ack,
        receiver_party=link.receiver_party,
        received_at=link.created_at.timestamp(),
        ack_received_at=(
            link.decided_at.timestamp() if link.ack is not None and link.decided_at else None
        ),
    )


async def verify(
    directory: IdentityDirectory,
    facts: ReleaseFacts,
    links: Sequence[StoredLink],
    *,
    settings: ReleaseSettings,
    now: datetime,
    complete: bool,
) -> ChainReport:
    """Fetch what the identity service says of the parties involved, then verify.

    Only parties something vouches for are fetched (`parties_needed`): the receiver of a link
    being received now is fetched when the verifier, having verified that link's signature,
    names it (`ChainReport.unfetched`), and the chain is verified again. A kid that no
    credential held carries may be a key certified since the last fetch: then the signer's
    (or acknowledger's) credentials are fetched again, once (and no more often than the
    directory's recheck time allows), and the chain verified again.
    """
    parties = parties_needed(facts, links)

    def judge(evidence: Evidence) -> ChainReport:
        return verify_chain(
            facts,
            links,
            evidence=evidence,
            now=now.timestamp(),
            max_links=settings.max_chain_links,
            complete=complete,
            cache=directory.verifier_cache,
            max_iat_age=settings.link_max_age_at_receipt_seconds,
            max_lifetime=settings.link_lifetime_days * 86400,
        )

    async def judge_vouched(kids: Sequence[tuple[str, str]] = ()) -> ChainReport:
        # Each round adds a party that a verified signature named: at most one per link.
        for _ in range(len(links) + 1):
            report = judge(await directory.evidence(parties, kids=kids))
            if report.unfetched is None or report.unfetched in parties:
                return report
            parties.add(report.unfetched)
        return report

    report = await judge_vouched()
    if report.failure is None or report.failure.code not in _UNKNOWN_KEY:
        return report
    return await judge_vouched(_signing_kids(links, parties))


_UNKNOWN_KEY = frozenset({"link_key_unknown", "ack_key_unknown"})


def _signing_kids(links: Sequence[StoredLink], parties: set[str]) -> list[tuple[str, str]]:
    """(party, kid) of every link's signer and acknowledger, as the tokens claim, for the
    parties already vouched for (a kid of anyone else costs no fetch)."""
    kids: list[tuple[str, str]] = []
    for link in links:
        try:
            _, claims = jose.peek(link.jws)
        except jose.TokenError:
            continue
        signer, kid = claims.get("from"), kid_of(link.jws)
        if isinstance(signer, str) and signer in parties and kid:
            kids.append((signer, kid))
        ack_kid = kid_of(link.ack)
        if ack_kid and link.receiver_party in parties:
            kids.append((link.receiver_party, ack_kid))
    return kids
