"""The response cache: complete serialized GraphQL responses, served without executing.

What may be cached is decided by the schema (schema/cache_policy.py); this module keys, stores
and checks entries in the `responses` cache layer (Redis when `REDIS_URL` is set).

A key holds: the document's hash, the operation name, the variables (canonical JSON), the viewer
(user id and role, or `anonymous`), the catalog generation (replaced by every product edit) and
the version of the model serving the default config; a `personal` key also holds the viewer's
generation token from the recommendation service (replaced by each of their events). So no
viewer ever reads another's entry, an event or an edit invalidates at once on every process, and
a new model starts new entries. Only responses without errors are stored.

An entry is `etag \\n served \\n cost \\n body`: the body is `{"data": ...}`; `served` counts the
recommended items in it (counted again on each hit) and `cost` is the query's price, billed to the
client's rate-limit bucket on each hit as on execution. An entry that is not bytes, lacks a part or
whose ETag is not its body's hash is a miss (the document executes and the entry is replaced).
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
    body: bytes  # `{"data": ...}`
    etag: str  # a weak validator (`extensions` may differ): `W/"<sha256 of body, 32 hex>"`
    served: int = 0  # recommended items in the body
    cost: int = 0  # the query's price in rate-limit points

    def with_extensions(self, extensions: Mapping[str, Any]) -> bytes:
        """The body with an `extensions` entry (e.g. this request's `cost`)."""
        if not extensions:
            return self.body
        encoded = json.dumps(extensions, separators=(",", ":")).encode()
        return self.body[:-1] + b',"extensions":' + encoded + b"}"


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def encode_entry(body: bytes, served: int = 0, cost: int = 0) -> bytes:
    return b"\n".join((etag_of(body).encode(), str(served).encode(), str(cost).encode(), body))


def decode_entry(entry: Any) -> CachedResponse | None:
    """The response stored in `entry`, or None when it is not a well-formed entry."""
    if not isinstance(entry, bytes):
        return None
    parts = entry.split(b"\n", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    etag, served, cost, body = parts
    if not body.startswith(b"{") or not body.endswith(b"}"):
        return None
    response = CachedResponse(body, etag.decode("ascii", "replace"), int(served), int(cost))
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

    async def put(
        self, key: str, body: bytes, ttl_seconds: int, served: int = 0, cost: int = 0
    ) -> CachedResponse:
        """Store `body` for min(`ttl_seconds`, the cap); returns it with its ETag."""
        entry = encode_entry(body, served, cost)
        await self._cache.set(key, entry, ttl=max(1, min(ttl_seconds, self.ttl_cap_seconds)))
        return CachedResponse(body, etag_of(body), served, cost)

    async def catalog_changed(self) -> None:
        """A product was created, edited or archived: every cached response is stale."""
        await self._cache.set(CATALOG_GENERATION_KEY, uuid.uuid4().hex)

    async def close(self) -> None:
        await self._cache.close()
