"""Migrations build exactly the tables the models describe."""

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

import services.identity.models
import services.release.models  # noqa: F401  (registers the release tables)
from shared.db import create_engine
from tests.conftest import Database

RELEASE_TABLES = {
    "used_gate_passes",
    "releases",
    "release_holds",
    "links",
    "gate_decisions",
    "gate_outs",
    "judged_status_lists",
    "access_log",
    "yard_entries",
    "inspection_keys",
    "inspection_draws",
    "inspections",
    "inspection_policies",
    "inspection_capacity_days",
    "alerts",
    "visit_sites",
    "visit_team_members",
    "visit_slots",
    "alert_changes",
    "monitoring_rules",
    "monitoring_cursors",
    "monitoring_marks",
    "webhook_subscriptions",
    "webhook_outbox",
    "webhook_dispatcher_lead",
    "webhook_deliveries",
}
# The access log's monthly partitions on PostgreSQL (docs/access-log.md): parts of one table.
PARTITION = re.compile(r"access_log_(default|y\d{4}m\d{2})")
IDENTITY_TABLES = {
    "parties",
    "people",
    "party_keys",
    "credentials",
    "status_lists",
    "signing_keys",
    "used_assertions",
    "key_notices",
    "alerts",
    "alert_changes",
    "monitoring_rules",
    "monitoring_cursors",
    "monitoring_marks",
    "person_suspensions",
    "screening_documents",
    "integrity_matches",
}


@pytest.mark.parametrize("service", ["identity", "release"])
async def test_migrated_tables_match_the_models(
    databases: dict[str, Database], service: str
) -> None:
    database = databases[service]
    engine = create_engine(database.url, schema=database.schema)
    try:
        async with engine.connect() as conn:
            described = await conn.run_sync(
                lambda sync: {
                    table: {column["name"] for column in inspect(sync).get_columns(table)}
                    for table in inspect(sync).get_table_names()
                    if table != "alembic_version" and not PARTITION.fullmatch(table)
                }
            )
    finally:
        await engine.dispose()
    expected_tables = {"audit_events", "audit_tiles", "audit_checkpoints", "audit_tree"}
    if service == "identity":
        expected_tables |= IDENTITY_TABLES
    else:
        expected_tables |= RELEASE_TABLES
    assert set(described) == expected_tables
    for table in expected_tables:
        model_columns = {column.name for column in SQLModel.metadata.tables[table].columns}
        assert described[table] == model_columns, table


@pytest.mark.parametrize("service", ["identity", "release"])
def test_every_revision_id_fits_alembics_version_column(service: str) -> None:
    # alembic_version.version_num is VARCHAR(32): PostgreSQL refuses a longer id at
    # migration time (SQLite does not), so it is checked here on both backends.
    versions = Path(__file__).parent.parent / "services" / service / "migrations" / "versions"
    revisions = []
    for path in sorted(versions.glob("*.py")):
        found = re.search(r'^revision: str = "([^"]+)"', path.read_text(), re.MULTILINE)
        if found:
            revisions.append(found.group(1))
    assert revisions, versions
    assert [r for r in revisions if len(r) > 32] == []
