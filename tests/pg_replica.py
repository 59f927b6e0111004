"""A real PostgreSQL streaming replica of the local test server, for the read-replica tests.

`pg_basebackup -R` copies the primary into a temporary directory and a second server runs on it
as a hot standby on a free loopback port; it streams the primary's WAL from then on. PostgreSQL
refuses to run as root, so as root the directory belongs to, and the commands run as, the
`postgres` OS user. The primary must accept replication connections from 127.0.0.1
(`host replication all 127.0.0.1/32 trust` in pg_hba.conf; .ci/run adds it).
"""

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

PORTS = range(18632, 18700)
# Settings a hot standby needs at least as high as its primary's.
STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
CATCH_UP_SECONDS = 60
MEMORY_DIR = Path("/dev/shm")  # copied and removed in a blink, spares the shared disk


def scratch_parent() -> str | None:
    """Where the replica's directory goes: memory when there is room, else the temp dir."""
    if MEMORY_DIR.is_dir() and shutil.disk_usage(MEMORY_DIR).free > 2 * 1024**3:
        return str(MEMORY_DIR)
    return None


def postgres_bin_dir(major: int) -> Path | None:
    """The folder of `pg_basebackup` and `pg_ctl` for PostgreSQL `major`, or None."""
    candidates = [os.environ.get("POSTGRES_BIN_DIR", ""), f"/usr/lib/postgresql/{major}/bin"]
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_basebackup").exists():
            if (Path(candidate) / "pg_ctl").exists():
                return Path(candidate)
    return None


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


async def replayed_lsn(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn"))
    finally:
        await connection.close()


@dataclass
class StreamingReplica:
    """A hot standby of the server at `primary_dsn` on 127.0.0.1:`port`."""

    primary_dsn: str
    bin_dir: Path
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        """SQLAlchemy URL of `database` on the replica."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    async def create(cls, primary_dsn: str, bin_dir: Path) -> "StreamingReplica":
        """Base-back-up the primary and start the standby (stop it with `remove`)."""
        primary = await asyncpg.connect(primary_dsn)
        try:
            minimums = {name: await primary.fetchval(f"SHOW {name}") for name in STANDBY_MINIMUMS}
        finally:
            await primary.close()
        directory = Path(tempfile.mkdtemp(prefix="recommender-replica-", dir=scratch_parent()))
        replica = cls(primary_dsn, bin_dir, directory, free_port())
        try:
            replica._chown(directory)
            replica._run(
                "pg_basebackup", "-d", primary_dsn, "-D", str(replica.data), "-R",
                "-X", "stream", "-c", "fast",
                failure="pg_basebackup failed: the primary must accept replication connections "
                "from 127.0.0.1 (pg_hba.conf `host replication all 127.0.0.1/32 trust`, "
                "wal_level replica, max_wal_senders > 0; .ci/run sets this up)",
            )  # fmt: skip
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(replica.port),
                "unix_socket_directories": f"'{directory}'",
                "hot_standby": "on",
                "fsync": "off",
                "shared_buffers": "'16MB'",
                **minimums,
            }
            config = "".join(f"{name} = {value}\n" for name, value in settings.items())
            replica._write("postgresql.conf", config)
            replica._write("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n")
            replica._write("pg_ident.conf", "")
            replica.start()
        except BaseException:
            replica.remove()
            raise
        return replica

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"),
            "-w", "-t", "60", "start",
            failure="the replica server did not start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def remove(self) -> None:
        """Stop the server (if running) and delete its directory."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_owner(), str(self.bin_dir / "pg_ctl"), "-D", str(self.data),
                 "-m", "immediate", "-w", "stop"],
                capture_output=True,
                check=False,
            )  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)

    async def caught_up(self) -> None:
        """Return once the replica has replayed everything the primary had written on entry."""
        primary = await asyncpg.connect(self.primary_dsn)
        try:
            target = int(await primary.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
        finally:
            await primary.close()
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while await replayed_lsn(self.dsn) < target:
            if time.monotonic() > deadline:
                raise AssertionError("the replica did not catch up with the primary")
            await asyncio.sleep(0.05)

    async def pause_replay(self) -> None:
        """Stop applying WAL (it is still received): the replica keeps its current state."""
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.execute("SELECT pg_wal_replay_pause()")
            deadline = time.monotonic() + CATCH_UP_SECONDS
            while await connection.fetchval("SELECT pg_get_wal_replay_pause_state()") != "paused":
                if time.monotonic() > deadline:
                    raise AssertionError("the replica did not pause replay")
                await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def resume_replay(self) -> None:
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.execute("SELECT pg_wal_replay_resume()")
        finally:
            await connection.close()
        await self.caught_up()

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _write(self, name: str, content: str) -> None:
        path = self.data / name
        path.write_text(content)
        self._chown(path)

    def _run(self, program: str, *args: str, failure: str = "") -> None:
        command = [*self._as_owner(), str(self.bin_dir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{failure or program + ' failed'}:\n{result.stderr.strip()}")
