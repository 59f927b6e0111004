"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

A request may send `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` instead of
(or with) its `query`. The hash is the SHA-256 of the document text, hex, lower case.

* Hash only: the document is looked up in the trusted manifests, then in this process's memo,
  then in the `documents` cache layer (Redis when `REDIS_URL` is set, so every process knows
  what one was told). Unknown: `PERSISTED_QUERY_NOT_FOUND`, and Apollo Client sends the document
  once with its hash.
* Hash and document: the hash must be the document's (`PERSISTED_QUERY_HASH_MISMATCH`), the
  document at most `PERSISTED_QUERY_MAX_BYTES` (`PERSISTED_QUERY_TOO_LARGE`); it is stored for
  `PERSISTED_QUERY_TTL_SECONDS` and executed.
* `PERSISTED_QUERIES_ONLY=true` (trusted documents): only documents of the manifests run, by
  hash or by text; anything else is `PERSISTED_QUERY_NOT_IN_LIST` and nothing is stored.

A manifest is a JSON object `{"<sha256 hex>": "<document>", ...}`: the `persisted-documents.json`
that GraphQL Code Generator's client preset writes (a `sha256:` prefix on keys is accepted).
Every entry is verified when loaded: a key that is not its document's hash stops start-up.
"""

import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app.cache import Cache
from app.errors import ErrorCode, ServiceError
from app.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
# The web app's operations: written by `npm run codegen`, copied into web/dist by `npm run build`.
WEB_MANIFESTS = (
    PROJECT_ROOT / "web" / "dist" / "persisted-documents.json",
    PROJECT_ROOT / "web" / "src" / "gql" / "persisted-documents.json",
)
HASH = re.compile(r"^[0-9a-f]{64}$")
MEMO_SIZE = 1024


def document_hash(document: str) -> str:
    """The APQ identifier of a document: SHA-256 of its UTF-8 text, hex."""
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """The {hash: document} entries of a manifest file, each hash verified."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"persisted query manifest {path}: cannot read it ({error})") from error
    if not isinstance(raw, Mapping):
        raise ValueError(f"persisted query manifest {path}: must be a JSON object")
    documents: dict[str, str] = {}
    for key, document in raw.items():
        digest = str(key).removeprefix("sha256:").lower()
        if not isinstance(document, str) or document_hash(document) != digest:
            raise ValueError(f"persisted query manifest {path}: {key} is not its document's hash")
        documents[digest] = document
    return documents


def manifest_paths(settings: Settings) -> list[Path]:
    """`PERSISTED_QUERY_MANIFESTS` (comma-separated, relative to the working directory), plus
    the web app's generated manifests that exist."""
    paths = [Path(part.strip()) for part in settings.persisted_query_manifests.split(",")]
    paths = [path for path in paths if str(path) not in ("", ".")]
    listed = {path.resolve() for path in paths}
    paths.extend(path for path in WEB_MANIFESTS if path.exists() and path.resolve() not in listed)
    return paths


def _error(code: ErrorCode, message: str) -> ServiceError:
    return ServiceError(code, message)


class PersistedQueries:
    """Resolves a request's document from its `query` and `extensions.persistedQuery`."""

    def __init__(
        self,
        cache: Cache,
        *,
        trusted: Mapping[str, str] | None = None,
        only_trusted: bool = False,
        max_bytes: int = 20_000,
        ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self._cache = cache
        self._trusted = dict(trusted or {})
        self._only_trusted = only_trusted
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._memo: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings, cache: Cache) -> "PersistedQueries":
        """Loads and verifies the manifests (ValueError for a bad one)."""
        trusted: dict[str, str] = {}
        for path in manifest_paths(settings):
            trusted.update(load_manifest(path))
        log.info("trusted documents loaded", extra={"documents": len(trusted)})
        return cls(
            cache,
            trusted=trusted,
            only_trusted=settings.persisted_queries_only,
            max_bytes=settings.persisted_query_max_bytes,
            ttl_seconds=settings.persisted_query_ttl_seconds,
        )

    async def close(self) -> None:
        await self._cache.close()

    def check_servable(self) -> None:
        """RuntimeError when trusted mode has no document to run (the server would refuse all)."""
        if self._only_trusted and not self._trusted:
            raise RuntimeError(
                "PERSISTED_QUERIES_ONLY=true but no trusted documents: build the web app "
                "(npm run build writes its manifest) or set PERSISTED_QUERY_MANIFESTS"
            )

    @property
    def trusted_hashes(self) -> Iterable[str]:
        return self._trusted.keys()

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to execute (None when the request has neither query nor hash); raises
        `ServiceError` with a PERSISTED_QUERY_* code (or BAD_USER_INPUT) when it cannot run."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self._only_trusted:
                if document_hash(query) not in self._trusted:
                    raise self._not_in_list()
            return query
        digest = self._hash_of(persisted)
        if query is not None:
            return await self._register(digest, query)
        if (document := self._trusted.get(digest)) is not None:
            return document
        if self._only_trusted:
            raise self._not_in_list()
        if (document := self._memo.get(digest)) is not None:
            self._memo.move_to_end(digest)
            return document
        stored = await self._cache.get(digest)
        if isinstance(stored, str) and document_hash(stored) == digest:
            self._remember(digest, stored)
            return stored
        raise _error(ErrorCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")

    async def _register(self, digest: str, query: str) -> str:
        if len(query.encode()) > self._max_bytes:
            raise _error(
                ErrorCode.PERSISTED_QUERY_TOO_LARGE,
                f"The document is larger than {self._max_bytes} bytes",
            )
        if document_hash(query) != digest:
            raise _error(
                ErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
                "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query",
            )
        if digest in self._trusted:
            return query
        if self._only_trusted:
            raise self._not_in_list()
        if digest not in self._memo:
            await self._cache.set(digest, query, ttl=self._ttl)
        self._remember(digest, query)
        return query

    def _remember(self, digest: str, document: str) -> None:
        self._memo[digest] = document
        self._memo.move_to_end(digest)
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    @staticmethod
    def _hash_of(persisted: Any) -> str:
        digest = persisted.get("sha256Hash") if isinstance(persisted, Mapping) else None
        version = persisted.get("version", 1) if isinstance(persisted, Mapping) else None
        if version != 1 or not isinstance(digest, str) or not HASH.match(digest.lower()):
            raise ServiceError(
                ErrorCode.BAD_USER_INPUT,
                "`extensions.persistedQuery` must be {version: 1, sha256Hash: <64 hex digits>}",
                "extensions.persistedQuery",
            )
        return digest.lower()

    @staticmethod
    def _not_in_list() -> ServiceError:
        return _error(
            ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
            "This server runs only trusted documents (PERSISTED_QUERIES_ONLY); this one is not "
            "in its manifests",
        )
