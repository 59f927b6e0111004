"""Customers, admins and visitors: registration, sign-in, visits, look-ups.

A visitor is a `users` row with role `visitor` and no username, email or password, made by
`start_visit`; its token lets it record events and read its own recommendations. When it
registers or signs in with that token, its events move to the account in the same transaction
(`EventService.move_visit`) and the visitor is marked merged: its token is refused from then on.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from app.auth import MIN_PASSWORD_LENGTH, hash_password, issue_token, verify_password
from app.database import Database, SessionFactory
from app.errors import ErrorCode, ServiceError, bad_input
from app.models import Impression, Interaction, Role, User
from app.services.catalog import Page, check_page_size
from app.services.events import EventService, StoredEvent
from app.settings import Settings

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_PASSWORD_LENGTH = 256


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user and their bearer token; `merged_events` counts the events of a visit
    moved to the account by this sign-in (0 without a visit)."""

    user: User
    token: str
    merged_events: int = 0


class UserService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        events: EventService | None = None,
    ) -> None:
        self._db = database
        self._sessions = database.writer
        self._settings = settings
        self._events = events or EventService(database, settings)

    async def start_visit(self) -> SignedIn:
        """A new visitor and its token (valid `VISITOR_TOKEN_TTL_DAYS`)."""
        visitor = User(role=Role.VISITOR.value)
        async with self._sessions() as session, session.begin():
            session.add(visitor)
        await self._db.wrote([visitor.id])
        ttl_minutes = self._settings.visitor_token_ttl_days * 24 * 60
        return SignedIn(visitor, issue_token(self._settings, visitor.id, visitor.role, ttl_minutes))

    async def visitor_active(self, visitor_id: int) -> bool:
        """True while visitor `visitor_id` exists and its visit was not merged into an account."""
        async with self._db.reader([visitor_id]) as session:
            merged = await session.execute(
                select(User.merged_into_id).where(
                    User.id == visitor_id, User.role == Role.VISITOR.value
                )
            )
            row = merged.first()
        return row is not None and row[0] is None

    async def register(
        self,
        username: str,
        email: str,
        password: str,
        role: Role = Role.CUSTOMER,
        visit: int | None = None,
    ) -> SignedIn:
        """A new account (never a visitor: pass `visit` to move visitor `visit`'s events to
        it, in the same transaction)."""
        if role == Role.VISITOR:
            raise bad_input("role", "Visitors are made by `startVisit`")
        username, email = username.strip(), email.strip().lower()
        if not USERNAME_PATTERN.match(username):
            raise bad_input(
                "username", "`username` must be 3 to 64 letters, digits, '.', '_' or '-'"
            )
        if len(email) > 254 or not EMAIL_PATTERN.match(email):
            raise bad_input("email", "`email` is not a valid email address")
        if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
            raise bad_input(
                "password",
                f"`password` must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            )
        async with self._sessions() as session:
            taken = await session.scalar(select(User.username).where(User.username == username))
            if taken:
                raise ServiceError(ErrorCode.CONFLICT, "This username is taken", "username")
            if await session.scalar(select(User.id).where(User.email == email)):
                raise ServiceError(ErrorCode.CONFLICT, "This email is already registered", "email")
        user = User(
            username=username, email=email, password_hash=await hash_password(password), role=role
        )
        moved: list[StoredEvent] = []
        try:
            async with self._sessions() as session, session.begin():
                session.add(user)
                if visit is not None:
                    await session.flush()
                    moved = await self._events.move_visit(session, visit, user.id)
        except IntegrityError as exc:
            raise ServiceError(
                ErrorCode.CONFLICT, "This username or email is taken", "username"
            ) from exc
        await self._db.wrote([user.id] if visit is None else [user.id, visit])
        await self._events.notify(moved)
        return SignedIn(user, issue_token(self._settings, user.id, user.role), len(moved))

    async def login(self, username: str, password: str, visit: int | None = None) -> SignedIn:
        """Sign in by password (visitors have none, so they never can); with `visit`, move
        visitor `visit`'s events to the account."""
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.username == username.strip()))
        if not await verify_password(user.password_hash if user else None, password) or not user:
            raise ServiceError(ErrorCode.UNAUTHENTICATED, "Wrong username or password", "password")
        moved: list[StoredEvent] = []
        if visit is not None and visit != user.id:
            async with self._sessions() as session, session.begin():
                moved = await self._events.move_visit(session, visit, user.id)
            await self._db.wrote([user.id, visit])
            await self._events.notify(moved)
        return SignedIn(user, issue_token(self._settings, user.id, user.role), len(moved))

    async def users_by_ids(self, ids: Sequence[int]) -> dict[int, User]:
        if not ids:
            return {}
        async with self._db.reader(ids) as session:
            users = (await session.scalars(select(User).where(User.id.in_(set(ids))))).all()
        return {user.id: user for user in users}

    async def list_users(self, first: int, after_id: int | None) -> Page[User]:
        check_page_size(first)
        statement = select(User).order_by(User.id).limit(first + 1)
        if after_id is not None:
            statement = statement.where(User.id > after_id)
        async with self._db.reader() as session:
            rows = (await session.scalars(statement)).all()
        return Page(items=rows[:first], has_next=len(rows) > first)


async def delete_idle_visitors(sessions: SessionFactory, token_ttl_days: int) -> int:
    """Delete visitors whose token has expired (created more than `token_ttl_days` ago) and who
    left nothing behind: no events (never recorded, or moved to an account) and no experiment
    impressions. Returns how many were deleted. Idempotent, so concurrent trainers may run it."""
    cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=token_ttl_days)
    async with sessions() as session, session.begin():
        deleted = await session.execute(
            delete(User).where(
                User.role == Role.VISITOR.value,
                User.created_at < cutoff,
                ~exists().where(Interaction.user_id == User.id),
                ~exists().where(Impression.user_id == User.id),
            )
        )
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]
