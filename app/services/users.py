"""Customers and admins: registration, sign-in, look-ups."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import MIN_PASSWORD_LENGTH, hash_password, issue_token, verify_password
from app.errors import ErrorCode, ServiceError, bad_input
from app.models import Role, User
from app.services.catalog import Page, check_page_size
from app.settings import Settings

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_PASSWORD_LENGTH = 256


@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str


class UserService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def register(
        self, username: str, email: str, password: str, role: Role = Role.CUSTOMER
    ) -> SignedIn:
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
        try:
            async with self._sessions() as session, session.begin():
                session.add(user)
        except IntegrityError as exc:
            raise ServiceError(
                ErrorCode.CONFLICT, "This username or email is taken", "username"
            ) from exc
        return SignedIn(user, issue_token(self._settings, user.id, user.role))

    async def login(self, username: str, password: str) -> SignedIn:
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.username == username.strip()))
        if not await verify_password(user.password_hash if user else None, password) or not user:
            raise ServiceError(ErrorCode.UNAUTHENTICATED, "Wrong username or password", "password")
        return SignedIn(user, issue_token(self._settings, user.id, user.role))

    async def users_by_ids(self, ids: Sequence[int]) -> dict[int, User]:
        if not ids:
            return {}
        async with self._sessions() as session:
            users = (await session.scalars(select(User).where(User.id.in_(set(ids))))).all()
        return {user.id: user for user in users}

    async def list_users(self, first: int, after_id: int | None) -> Page[User]:
        check_page_size(first)
        statement = select(User).order_by(User.id).limit(first + 1)
        if after_id is not None:
            statement = statement.where(User.id > after_id)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return Page(items=rows[:first], has_next=len(rows) > first)
