"""The identity service's monitoring rules over its audit log (docs/monitoring.md).

Repeated failed sign-ins (per person, and per source address: one address guessing many
usernames), repeated wrong second-factor codes (confirming a factor, or a gate pass asked
with a code), every integrity match (a person suspended for integrity registered again,
`integrity.match_found`), which becomes a high alert to port security at once, and the
reads of what port security keeps here (`security.read`, monitoring/reads.py): a burst of
them by one person or client, port security's own included, and refused attempts by
someone outside port security (who wants to know what is watched?).
"""

from datetime import datetime
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.monitoring.reads import SECURITY_READ
from shared.audit.models import AuditEvent
from shared.monitoring import evidence
from shared.monitoring.audit_rules import AuditCountRule
from shared.monitoring.models import Severity
from shared.monitoring.rules import Arrived, Finding, Rule, RuleSet, Thresholds, WindowCount
from shared.monitoring.sources import AUDIT_LOG, facts_of

SIGN_IN_REFUSED = "person.sign_in_refused"
#: Refusals that are a wrong guess (not a suspended person or an unenrolled factor).
WRONG_GUESSES = frozenset({"invalid_credentials", "otp_invalid"})


class FailedSignInsPerson(AuditCountRule):
    """Wrong passwords or codes for one person."""

    name = "failed_sign_ins_person"
    kind = "failed_sign_ins"
    severity = Severity.medium
    description = "Repeated failed sign-ins (wrong password or code) for one person."
    event_types = frozenset({SIGN_IN_REFUSED})
    defaults = WindowCount(count=5, window_seconds=900)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Wrong guesses for a known person."""
        return facts.get("reason") in WRONG_GUESSES and facts.get("person_id") is not None

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The person."""
        return f"person:{facts['person_id']}", "failed sign-ins"


class FailedSignInsAddress(AuditCountRule):
    """Wrong passwords or codes from one address, whoever they were for."""

    name = "failed_sign_ins_address"
    kind = "failed_sign_ins"
    severity = Severity.medium
    description = "Repeated failed sign-ins from one source address (any usernames)."
    event_types = frozenset({SIGN_IN_REFUSED})
    defaults = WindowCount(count=20, window_seconds=900)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Wrong guesses from an address."""
        return facts.get("reason") in WRONG_GUESSES and bool(facts.get("address"))

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The address."""
        return f"address:{facts['address']}", "failed sign-ins"


class FailedSecondFactor(AuditCountRule):
    """Wrong second-factor codes for one person (confirming a factor, or for a gate pass)."""

    name = "failed_second_factor"
    kind = "failed_second_factor"
    severity = Severity.high
    description = "Repeated wrong second-factor (TOTP) codes for one person."
    event_types = frozenset({"person.totp_confirm_refused", "gate_pass.refused"})
    defaults = WindowCount(count=5, window_seconds=900)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Wrong codes for a known person."""
        return facts.get("reason") == "otp_invalid" and facts.get("person_id") is not None

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The person."""
        return f"person:{facts['person_id']}", "wrong codes"


class SecurityReadBurst(AuditCountRule):
    """Very many reads of alerts, rules, figures or exposure by one person or client."""

    name = "lookup_burst"
    kind = "lookup_burst"
    severity = Severity.medium
    description = (
        "A burst of reads of alerts, monitoring rules, figures or a party's exposure by one"
        " person or client, port security's own included."
    )
    event_types = frozenset({SECURITY_READ})
    defaults = WindowCount(count=200, window_seconds=600)

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The reader."""
        actor = facts.get("actor")
        return (str(actor), "reads") if actor else None


class RefusedSecurityReads(AuditCountRule):
    """Attempts refused (403, or a party not found) to read what port security keeps."""

    name = "refused_security_reads"
    kind = "refused_security_reads"
    severity = Severity.high
    description = (
        "Refused attempts to read or act on alerts, rules, figures or another party's"
        " exposure: someone outside port security wants to know what is watched."
    )
    event_types = frozenset({SECURITY_READ})
    defaults = WindowCount(count=3, window_seconds=3600)

    def counts(self, event_type: str, facts: dict[str, Any]) -> bool:
        """Refusals: a 403, or another party's exposure answered as not found."""
        return facts.get("outcome") in ("refused", "not_found")

    def key_of(self, facts: dict[str, Any]) -> tuple[str, str] | None:
        """The one refused."""
        actor = facts.get("actor")
        return (str(actor), "refused reads") if actor else None


class NoThresholds(Thresholds):
    """A rule that alerts on every event it watches has nothing to set but `enabled`."""


class IntegrityReRegistration(Rule):
    """Each `integrity.match_found`: a person suspended for integrity registered again."""

    name = "integrity_re_registration"
    kind = "integrity.re_registration"
    severity = Severity.high
    description = (
        "A person suspended for integrity reasons is registered again, at another party or"
        " under another name (an integrity match): one alert per match."
    )
    sources: ClassVar[frozenset[str]] = frozenset({AUDIT_LOG})
    thresholds_model: ClassVar[type[Thresholds]] = NoThresholds
    defaults = NoThresholds()
    event_type = "integrity.match_found"

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """One finding per match (deduplicated by its event)."""
        if arrived is None:
            return []  # the log is followed in order, each event once: nothing to sweep
        events = [
            (event, facts_of(event))
            for event in arrived.rows
            if isinstance(event, AuditEvent) and event.event_type == self.event_type
        ]
        findings = []
        for event, facts in events:
            person = facts.get("person_id")
            matched = facts.get("matched_person_ids") or []
            findings.append(
                Finding(
                    subject=f"person:{person}",
                    summary=(
                        f"person {person} of {facts.get('party_id')} matches"
                        f" {len(matched)} person(s) suspended for integrity"
                    ),
                    facts={
                        "person_id": person,
                        "party_id": facts.get("party_id"),
                        "matched_person_ids": matched,
                        "matched_party_ids": facts.get("matched_party_ids") or [],
                    },
                    evidence=evidence.audit_events([event.event_id]),
                    dedup_key=f"{self.name}|{event.event_id}",
                )
            )
        return findings


def identity_rules() -> RuleSet:
    """The identity service's rules."""
    return RuleSet.of(
        FailedSignInsPerson(),
        FailedSignInsAddress(),
        FailedSecondFactor(),
        IntegrityReRegistration(),
        SecurityReadBurst(),
        RefusedSecurityReads(),
    )
