"""What a monitoring rule is, and the settings port security gives it.

A rule looks at rows of the logs a service follows (`sources`: the release service's access
log, either service's audit log) and says which alerts they call for (`Finding`s). The
runner hands it the rows that arrived since its last look (`arrived`), and, on a schedule,
nothing (`arrived=None`): then the rule judges its whole window. Most rules count rows per
subject within a window, so a row the runner saw late (a transaction that committed after a
later one) is still counted the next time the subject is judged, or at the next sweep.

Thresholds are a pydantic model per rule (its defaults are the documented defaults; unknown
or out-of-range values are 422 `thresholds_invalid`); `enabled` switches a rule off.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.monitoring.models import MonitoringRule, Severity
from shared.problems import InvalidInput

logger = structlog.get_logger(__name__)


class Thresholds(BaseModel):
    """A rule's thresholds; every rule's model derives from this one."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowCount(Thresholds):
    """At least `count` matching rows of one subject within `window_seconds`."""

    count: int = Field(ge=1, le=100_000)
    window_seconds: int = Field(ge=60, le=90 * 86400)


@dataclass(frozen=True)
class Finding:
    """An alert a rule calls for; `dedup_key` makes it one per rule, subject and window."""

    subject: str | None
    summary: str
    facts: dict[str, Any]
    evidence: list[dict[str, Any]]
    dedup_key: str
    severity: Severity | None = None  # the rule's own unless given


@dataclass(frozen=True)
class Arrived:
    """Rows that arrived in one followed log since the runner's last look."""

    source: str
    rows: Sequence[Any]


class Rule:
    """A rule: override `thresholds_model`, `defaults` and `check`."""

    name: ClassVar[str]
    kind: ClassVar[str]
    severity: ClassVar[Severity]
    description: ClassVar[str]
    sources: ClassVar[frozenset[str]] = frozenset()
    thresholds_model: ClassVar[type[Thresholds]]
    defaults: ClassVar[Thresholds]

    async def check(
        self,
        session: AsyncSession,
        thresholds: Any,
        *,
        arrived: Arrived | None,
        now: datetime,
    ) -> list[Finding]:
        """The alerts the rows (or, with None, the whole window) call for."""
        raise NotImplementedError


@dataclass(frozen=True)
class RuleSettings:
    """A rule's effective settings: stored by port security, or its defaults."""

    rule: Rule
    enabled: bool
    thresholds: Thresholds
    changed_by: str | None = None
    changed_at: datetime | None = None


@dataclass
class RuleSet:
    """A service's rules, by name."""

    rules: Mapping[str, Rule] = field(default_factory=dict)

    @classmethod
    def of(cls, *rules: Rule) -> "RuleSet":
        """The set of these rules (names must be unique)."""
        by_name = {rule.name: rule for rule in rules}
        if len(by_name) != len(rules):
            raise ValueError("two rules share a name")
        return cls(by_name)

    def get(self, name: str) -> Rule | None:
        """The rule of this name, or None."""
        return self.rules.get(name)

    def effective(self, stored: Mapping[str, MonitoringRule]) -> list[RuleSettings]:
        """Every rule with its settings (stored thresholds over the defaults)."""
        settings = []
        for name, rule in self.rules.items():
            row = stored.get(name)
            if row is None:
                settings.append(RuleSettings(rule, True, rule.defaults))
                continue
            try:
                stored_values = {**rule.defaults.model_dump(), **row.thresholds}
                thresholds = parse_thresholds(rule, stored_values)
            except InvalidInput:
                # Stored under an older form of the rule: its defaults rather than no rule.
                logger.warning("monitoring_thresholds_unreadable", rule=name)
                thresholds = rule.defaults
            settings.append(
                RuleSettings(rule, row.enabled, thresholds, row.changed_by, row.changed_at)
            )
        return settings


def parse_thresholds(rule: Rule, values: Mapping[str, Any]) -> Thresholds:
    """The rule's thresholds from JSON values; 422 `thresholds_invalid` when they do not fit."""
    try:
        return rule.thresholds_model.model_validate(dict(values))
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise InvalidInput(
            "thresholds_invalid", f"thresholds of {rule.name} refused", errors=problems
        ) from None
