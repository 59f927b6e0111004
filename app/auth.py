"""Password hashing (argon2) and JWT access tokens (HS256 with expiry, issuer and audience)."""

import asyncio
import functools
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import DEV_JWT_SECRET, Settings

MIN_PASSWORD_LENGTH = 10
MIN_SECRET_LENGTH = 32
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("timing-equaliser-password")


async def hash_password(password: str) -> str:
    """argon2id hash, computed in a worker thread (about 50 ms of CPU)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (`password_hash` None)."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    expires_at: float = math.inf
    """Unix time (seconds) when the token stops being valid."""


class InvalidToken(Exception):
    pass


def weak_secret_reason(settings: Settings) -> str | None:
    """Why `JWT_SECRET` is unfit for production, or None when it is fine."""
    if settings.jwt_secret == DEV_JWT_SECRET:
        return "JWT_SECRET is not set"
    if len(settings.jwt_secret) < MIN_SECRET_LENGTH:
        return f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters"
    return None


def issue_token(
    settings: Settings, user_id: int, role: str, ttl_minutes: float | None = None
) -> str:
    """An HS256 JWT for `user_id` valid `ttl_minutes` (default `JWT_TTL_MINUTES`)."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=ttl_minutes or settings.jwt_ttl_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def decode_token(settings: Settings, token: str) -> TokenClaims:
    """Raise InvalidToken for a bad signature, expiry, issuer, audience or shape.

    A client sends the same token with every request, so a verified token's claims are kept
    (bounded): only its expiry is checked again."""
    claims = _verified_claims(
        token, settings.jwt_secret, settings.jwt_audience, settings.jwt_issuer
    )
    if claims.expires_at <= time.time():
        raise InvalidToken("Signature has expired")
    return claims


@functools.lru_cache(maxsize=10_000)
def _verified_claims(token: str, secret: str, audience: str, issuer: str) -> TokenClaims:
    """The claims of `token` when its signature, audience, issuer and shape are right and it
    has not expired yet; InvalidToken otherwise (not cached)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
        return TokenClaims(
            user_id=int(claims["sub"]),
            role=str(claims.get("role", "customer")),
            expires_at=float(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken(str(exc)) from exc
