"""Published models: where artifact files live, which version of each config is current, and
the lease that lets one trainer at a time publish.

An artifact is a folder written by `engine.artifacts.save` (arrays as .npy plus manifest.json,
never pickle), named `<config>/<version>-<token>` under `MODEL_DIR`. Publishing is atomic: the
trainer writes into `MODEL_DIR/.staging/<token>`, the store renames it into place (and with
`MODEL_STORE=database` also copies its files into `model_files` in one transaction), and only then
is a row inserted into `model_versions`: the announcement every API process polls. A trainer that
dies mid-round leaves at most a staging folder, never an announced version.
"""

import asyncio
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import ModelFile, ModelVersion, TrainerLock, utcnow
from app.settings import Settings

log = logging.getLogger(__name__)
STAGING = ".staging"


@dataclass(frozen=True)
class Announcement:
    """A published version of one engine config; `trained_at` is aware UTC."""

    config: str
    version: int
    artifact: str
    watermark: int
    trained_at: datetime
    published_at: datetime
    summary: dict[str, Any]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ModelAnnouncements:
    """The `model_versions` table: the newest version of a config is the one to serve."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def latest_versions(self, configs: Sequence[str]) -> dict[str, int]:
        """{config: newest version} for the configs that have one (one indexed query)."""
        statement = (
            select(ModelVersion.config, func.max(ModelVersion.version))
            .where(ModelVersion.config.in_(list(configs)))
            .group_by(ModelVersion.config)
        )
        async with self._sessions() as session:
            return {config: version for config, version in await session.execute(statement)}

    async def get(self, config: str, version: int) -> Announcement | None:
        statement = select(ModelVersion).where(
            ModelVersion.config == config, ModelVersion.version == version
        )
        async with self._sessions() as session:
            row = await session.scalar(statement)
        return _announcement(row) if row else None

    async def latest(self, config: str) -> Announcement | None:
        statement = (
            select(ModelVersion)
            .where(ModelVersion.config == config)
            .order_by(ModelVersion.version.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(statement)
        return _announcement(row) if row else None

    async def announce(
        self,
        config: str,
        version: int,
        artifact: str,
        watermark: int,
        trained_at: datetime,
        summary: dict[str, Any],
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(ModelVersion).values(
                    config=config,
                    version=version,
                    artifact=artifact,
                    watermark=watermark,
                    trained_at=trained_at.astimezone(UTC).replace(tzinfo=None),
                    published_at=utcnow(),
                    summary=summary,
                )
            )

    async def superseded(self, config: str, keep: int) -> list[str]:
        """Artifacts of `config` older than its newest `keep` versions (oldest first)."""
        statement = (
            select(ModelVersion.artifact)
            .where(ModelVersion.config == config)
            .order_by(ModelVersion.version.desc())
            .offset(keep)
        )
        async with self._sessions() as session:
            return list(reversed((await session.scalars(statement)).all()))


def _announcement(row: ModelVersion) -> Announcement:
    return Announcement(
        config=row.config,
        version=row.version,
        artifact=row.artifact,
        watermark=row.watermark,
        trained_at=_aware(row.trained_at),
        published_at=_aware(row.published_at),
        summary=dict(row.summary),
    )


class ArtifactStore:
    """Artifact folders under `MODEL_DIR`, mirrored into the database when `MODEL_STORE=database`
    (replicas on other hosts then download a version into their own `MODEL_DIR` before loading)."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._root = settings.model_dir.resolve()
        self._in_database = settings.model_store == "database"
        self._sessions = sessions

    @property
    def root(self) -> Path:
        return self._root

    def staging(self) -> Path:
        """A fresh, not yet existing folder on the same filesystem as the published ones."""
        (self._root / STAGING).mkdir(parents=True, exist_ok=True)
        return self._root / STAGING / uuid.uuid4().hex

    def local(self, artifact: str) -> Path:
        return self._root / artifact

    async def put(self, artifact: str, staged: Path) -> None:
        """Move a complete staged folder into place under the name `artifact`."""
        if self._in_database:
            files = await asyncio.to_thread(_read_files, staged)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    insert(ModelFile),
                    [{"artifact": artifact, "name": name, "data": data} for name, data in files],
                )
        target = self.local(artifact)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)

    async def path(self, artifact: str) -> Path:
        """The local folder of a published artifact, downloaded first when it lives only in the
        database (into staging, then renamed: a folder in place is always complete)."""
        target = self.local(artifact)
        if target.exists() or not self._in_database:
            return target
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(ModelFile.name, ModelFile.data).where(ModelFile.artifact == artifact)
                )
            ).all()
        if not rows:
            raise FileNotFoundError(f"artifact {artifact} has no files in the database")
        await asyncio.to_thread(_write_files, self.staging(), target, [tuple(r) for r in rows])
        return target

    async def remove(self, artifacts: Sequence[str]) -> None:
        """Delete superseded artifacts (a process still mapping one keeps its pages)."""
        if not artifacts:
            return
        if self._in_database:
            async with self._sessions() as session, session.begin():
                await session.execute(delete(ModelFile).where(ModelFile.artifact.in_(artifacts)))
        for artifact in artifacts:
            await asyncio.to_thread(shutil.rmtree, self.local(artifact), True)

    async def forget_local(self, artifact: str) -> None:
        """Delete this host's downloaded copy of `artifact` (only with `MODEL_STORE=database`:
        the database keeps the files; with `local` the trainer prunes the shared folder)."""
        if self._in_database:
            await asyncio.to_thread(shutil.rmtree, self.local(artifact), True)

    def clean_staging(self) -> None:
        """Remove staging folders left by a trainer that died mid-round."""
        shutil.rmtree(self._root / STAGING, ignore_errors=True)


def _read_files(folder: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir()) if path.is_file()]


def _write_files(staged: Path, target: Path, files: list[tuple[str, bytes]]) -> None:
    staged.mkdir(parents=True)
    for name, data in files:
        if Path(name).name != name:
            raise ValueError(f"artifact file name {name!r} is not a plain file name")
        (staged / name).write_bytes(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staged, target)
    except OSError:
        shutil.rmtree(staged, ignore_errors=True)  # another process put it in place first
        if not target.exists():
            raise


class TrainerLease:
    """A row of `trainer_locks` held by one trainer until `expires_at`; works the same on SQLite
    and PostgreSQL (a conditional UPDATE, or an INSERT that only one writer wins)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], seconds: int, name: str = "trainer"
    ) -> None:
        self._sessions = sessions
        self._seconds = seconds
        self._name = name
        self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def acquire(self) -> bool:
        """Take (or renew) the lease; False while another trainer holds an unexpired one."""
        now = utcnow()
        expires = now + timedelta(seconds=self._seconds)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TrainerLock)
                .where(
                    TrainerLock.name == self._name,
                    or_(TrainerLock.holder == self.holder, TrainerLock.expires_at < now),
                )
                .values(holder=self.holder, expires_at=expires)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    insert(TrainerLock).values(
                        name=self._name, holder=self.holder, expires_at=expires
                    )
                )
        except IntegrityError:
            return False
        return True

    async def release(self) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(TrainerLock).where(
                    TrainerLock.name == self._name, TrainerLock.holder == self.holder
                )
            )
