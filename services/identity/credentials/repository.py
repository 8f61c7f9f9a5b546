"""SQL of the credentials area: credentials, status lists and their row locks."""

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.identity.credentials.models import Credential, StatusList
from services.identity.keys.models import PartyKey
from services.identity.parties.models import Party
from services.identity.people.models import Person, PersonStatus


async def lock_party_row(session: AsyncSession, party_id: str) -> None:
    """Lock the party's row without reloading it (a caller may hold it with unsaved changes).

    The same row lock as the parties area's `lock`, which issuance takes first.
    """
    await session.exec(select(Party.id).where(Party.id == party_id).with_for_update())


async def get_party_key(session: AsyncSession, kid: str) -> PartyKey | None:
    """A party key by kid."""
    return await session.get(PartyKey, kid)


async def get_credential(session: AsyncSession, credential_id: uuid.UUID) -> Credential | None:
    """A credential by id."""
    return await session.get(Credential, credential_id)


async def lock_credential(session: AsyncSession, credential_id: uuid.UUID) -> Credential | None:
    """A credential by id, its row locked for a status change."""
    result = await session.exec(
        select(Credential)
        .where(Credential.id == credential_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def list_party_credentials(session: AsyncSession, party_id: str) -> Sequence[Credential]:
    """Every credential of a party, newest first."""
    result = await session.exec(
        select(Credential)
        .where(Credential.party_id == party_id)
        .order_by(col(Credential.issued_at).desc(), col(Credential.id))
    )
    return result.all()


async def published_tokens(session: AsyncSession, party_id: str, *, limit: int) -> Sequence[str]:
    """The compact credentials whose subject is the party itself, newest first, at most `limit`."""
    result = await session.exec(
        select(Credential.token)
        .where(Credential.party_id == party_id, Credential.subject == party_id)
        .order_by(col(Credential.issued_at).desc(), col(Credential.id))
        .limit(limit)
    )
    return result.all()


async def credentials_of_key(session: AsyncSession, kid: str) -> Sequence[Credential]:
    """Every credential of one key, newest first."""
    result = await session.exec(
        select(Credential)
        .where(Credential.kid == kid)
        .order_by(col(Credential.issued_at).desc(), col(Credential.id))
    )
    return result.all()


async def subject_tokens(session: AsyncSession, subject: str, *, limit: int) -> Sequence[str]:
    """The compact credentials of one subject (a person's device keys), newest first."""
    result = await session.exec(
        select(Credential.token)
        .where(Credential.subject == subject)
        .order_by(col(Credential.issued_at).desc(), col(Credential.id))
        .limit(limit)
    )
    return result.all()


async def lock_party_credentials(session: AsyncSession, party_id: str) -> Sequence[Credential]:
    """Every credential of a party, rows locked, in a stable order."""
    result = await session.exec(
        select(Credential)
        .where(Credential.party_id == party_id)
        .order_by(col(Credential.status_list_id), col(Credential.status_index))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.all()


async def lock_subject_credentials(session: AsyncSession, subject: str) -> Sequence[Credential]:
    """Every credential whose subject is this person (his device keys), rows locked."""
    result = await session.exec(
        select(Credential)
        .where(Credential.subject == subject)
        .order_by(col(Credential.status_list_id), col(Credential.status_index))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.all()


async def suspended_people(session: AsyncSession, subjects: Iterable[str]) -> set[str]:
    """Which of these credential subjects are people who are suspended now."""
    ids = []
    for subject in subjects:
        try:
            ids.append(uuid.UUID(subject))
        except ValueError:
            continue  # a party id: a party credential
    if not ids:
        return set()
    result = await session.exec(
        select(Person.id).where(col(Person.id).in_(ids), Person.status == PersonStatus.suspended)
    )
    return {str(person_id) for person_id in result.all()}


async def lock_status_lists(session: AsyncSession, ids: Iterable[int]) -> dict[int, StatusList]:
    """Status lists by id, rows locked in id order (one order everywhere: no deadlocks)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    result = await session.exec(
        select(StatusList)
        .where(col(StatusList.id).in_(wanted))
        .order_by(col(StatusList.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {status_list.id: status_list for status_list in result.all() if status_list.id}


async def get_status_list(session: AsyncSession, list_id: int) -> StatusList | None:
    """A status list by id."""
    return await session.get(StatusList, list_id)


async def claim_index(session: AsyncSession) -> tuple[int, int] | None:
    """Take the next free index of the newest list with room: (list id, index), or None.

    One UPDATE … RETURNING: the database hands each index out once however many
    transactions ask at the same time (PostgreSQL re-checks `next_index < size` on the
    row it waited for; SQLite serialises writers).
    """
    newest_with_room = (
        select(func.max(StatusList.id))
        .where(col(StatusList.next_index) < col(StatusList.size))
        .scalar_subquery()
    )
    statement = (
        update(StatusList)
        .where(col(StatusList.id) == newest_with_room)
        .where(col(StatusList.next_index) < col(StatusList.size))
        .values(next_index=col(StatusList.next_index) + 1)
        .returning(col(StatusList.id), col(StatusList.next_index))
    )
    row = (await session.exec(statement, execution_options={"synchronize_session": False})).first()
    if row is None:
        return None
    list_id, next_index = row
    return int(list_id), int(next_index) - 1


async def create_status_list(session: AsyncSession, *, size: int, taken: int) -> StatusList:
    """A new, all-VALID status list whose first `taken` indexes are already handed out."""
    status_list = StatusList(size=size, next_index=taken, statuses=bytes(size))
    session.add(status_list)
    await session.flush()
    return status_list
