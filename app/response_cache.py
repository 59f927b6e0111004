"""The response cache: complete serialized GraphQL responses, served without executing.

What may be cached is decided by the schema (schema/cache_policy.py); this module keys, stores
and checks entries in the `responses` cache layer (Redis when `REDIS_URL` is set).

A key holds: the document's hash, the operation name, the variables (canonical JSON), the viewer
(user id and role, or `anonymous`), the catalog generation (replaced by every product edit) and
the version of the model serving the default config; a `personal` key also holds the viewer's
generation token from the recommendation service (replaced by each of their events). So no
viewer ever reads another's entry, an event or an edit invalidates at once on every process, and
a new model starts new entries. Only responses without errors are stored.

An entry is `etag \\n served \\n body` (`served`: recommended items in it, counted again on each
hit); an entry that is not bytes, lacks a part or whose ETag is not its body's hash is a miss
(the document executes and the entry is replaced).
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.auth import TokenClaims
from app.cache import Cache
from app.services.recommendations import RecommendationService

CATALOG_GENERATION_KEY = "catalog-generation"


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    etag: str  # a strong validator: `"<sha256 of body, 32 hex>"`
    served: int = 0  # recommended items in the body


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def encode_entry(body: bytes, served: int = 0) -> bytes:
    return b"\n".join((etag_of(body).encode(), str(served).encode(), body))


def decode_entry(entry: Any) -> CachedResponse | None:
    """The response stored in `entry`, or None when it is not a well-formed entry."""
    if not isinstance(entry, bytes):
        return None
    parts = entry.split(b"\n", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2]:
        return None
    etag, served, body = parts
    response = CachedResponse(body, etag.decode("ascii", "replace"), int(served))
    return response if etag_of(body) == response.etag else None


class ResponseCache:
    """Keys, reads and writes complete responses; `ttl_cap_seconds` 0 turns it off."""

    def __init__(
        self,
        cache: Cache,
        recommendations: RecommendationService,
        ttl_cap_seconds: int,
        personal: bool = True,
    ) -> None:
        self._cache = cache
        self._recommendations = recommendations
        self.ttl_cap_seconds = ttl_cap_seconds
        self.personal = personal  # False: personal documents always execute

    @property
    def enabled(self) -> bool:
        return self.ttl_cap_seconds > 0

    async def key(
        self,
        scope: str,
        query_hash: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        viewer: TokenClaims | None,
    ) -> str | None:
        """The entry's key; None when this response must not be cached (personal without a
        viewer, or personal caching off)."""
        model = self._recommendations.model()
        parts: list[Any] = [
            query_hash,
            operation_name or "",
            variables or {},
            f"{viewer.user_id}:{viewer.role}" if viewer else "anonymous",
            await self._cache.get(CATALOG_GENERATION_KEY, counted=False) or "0",
            model.version if model else 0,
        ]
        if scope == "personal":
            if viewer is None or not self.personal:
                return None
            parts.append(await self._recommendations.generation(viewer.user_id))
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
        return f"{scope}:{hashlib.sha256(canonical.encode()).hexdigest()}"

    async def get(self, key: str) -> CachedResponse | None:
        return decode_entry(await self._cache.get(key))

    async def put(self, key: str, body: bytes, ttl_seconds: int, served: int = 0) -> CachedResponse:
        """Store `body` for min(`ttl_seconds`, the cap); returns it with its ETag."""
        entry = encode_entry(body, served)
        await self._cache.set(key, entry, ttl=max(1, min(ttl_seconds, self.ttl_cap_seconds)))
        return CachedResponse(body, etag_of(body), served)

    async def catalog_changed(self) -> None:
        """A product was created, edited or archived: every cached response is stale."""
        await self._cache.set(CATALOG_GENERATION_KEY, uuid.uuid4().hex)

    async def close(self) -> None:
        await self._cache.close()
