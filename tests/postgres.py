"""PostgreSQL for the tests: a fresh database per test on whatever server can be had.

The server, once per session, in this order:

1. ``HERALD_TEST_DATABASE_URL`` (``postgresql+asyncpg://user@host:port/db``): that server;
2. the local server on 127.0.0.1:5432 (trust auth, user ``postgres`` then ``root``), as on
   Herald's development and CI machines;
3. a throwaway server from Debian's binaries (``/usr/lib/postgresql/*/bin/initdb`` and
   ``pg_ctl``) in a temporary directory on a free port, run as the ``postgres`` user when
   the tests run as root; stopped and removed at the end.

If none can be had, :func:`postgres_server` yields a string saying why, and the tests that
need PostgreSQL (:func:`require_postgres`) fail under CI (``CI`` set, as ``.ci/run`` does:
CI machines have PostgreSQL) and skip, saying why, elsewhere. Each test gets its own database (``herald_t_<random>``),
dropped afterwards; where the server refuses ``CREATE DATABASE``, the URL's own database
is used and the inbox tables are dropped before and after each test.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import URL, make_url

from streams.platform.embedded import find_free_port

__all__ = [
    "PostgresServer",
    "in_ci",
    "inbox_database_url",
    "postgres_server",
    "require_postgres",
    "throwaway_postgres",
]

_LOCAL = ("127.0.0.1", 5432)
_CONNECT_TIMEOUT = 3.0


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    database: str  # a database to connect to for CREATE/DROP DATABASE
    password: str | None = None
    can_create: bool = True
    origin: str = ""
    notes: list[str] = field(default_factory=list)

    def url(self, database: str | None = None) -> str:
        return URL.create(
            "postgresql+asyncpg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database or self.database,
        ).render_as_string(hide_password=False)

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database or self.database,
            timeout=_CONNECT_TIMEOUT,
        )

    @asynccontextmanager
    async def fresh_database(self) -> AsyncIterator[str]:
        """A new empty database's SQLAlchemy URL; dropped on exit."""
        if not self.can_create:
            await self._drop_inbox_tables()
            try:
                yield self.url()
            finally:
                await self._drop_inbox_tables()
            return
        name = f"herald_t_{uuid.uuid4().hex[:12]}"
        admin = await self.connect()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        try:
            yield self.url(name)
        finally:
            admin = await self.connect()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    async def _drop_inbox_tables(self) -> None:
        conn = await self.connect()
        try:
            await conn.execute("DROP TABLE IF EXISTS user_notifications, herald_inbox_version")
        finally:
            await conn.close()


def in_ci() -> bool:
    """``CI`` is set to something other than an empty, ``0``, ``false`` or ``no`` value."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_postgres(server: PostgresServer | str) -> PostgresServer:
    """``server``, or (when there is none) a failure under CI and a skip elsewhere."""
    if isinstance(server, PostgresServer):
        return server
    if in_ci():
        pytest.fail(f"PostgreSQL is required under CI: {server}", pytrace=False)
    pytest.skip(server)


async def _probe(server: PostgresServer) -> bool:
    try:
        conn = await server.connect()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        server.notes.append(f"{server.origin}: {type(exc).__name__}: {exc}")
        return False
    try:
        name = f"herald_probe_{uuid.uuid4().hex[:8]}"
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.execute(f'DROP DATABASE "{name}"')
        except asyncpg.PostgresError:
            server.can_create = False
        return True
    finally:
        await conn.close()


def _binaries() -> tuple[str, str] | None:
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        initdb, pg_ctl = os.path.join(bindir, "initdb"), os.path.join(bindir, "pg_ctl")
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    return (initdb, pg_ctl) if initdb and pg_ctl else None


def _as_owner(argv: list[str]) -> list[str]:
    """Run as ``postgres`` when root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[PostgresServer | str]:
    """Start a private server; yields it, or a string saying why it could not start."""
    binaries = _binaries()
    if binaries is None:
        yield "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
        return
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            yield "running as root and there is no 'postgres' user to run PostgreSQL as"
            return
    initdb, pg_ctl = binaries
    base = tempfile.mkdtemp(prefix="herald-pg-")
    data = os.path.join(base, "data")
    if os.geteuid() == 0:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    port = find_free_port()
    log = os.path.join(base, "server.log")

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_owner(argv), capture_output=True, text=True, timeout=120, check=False
        )

    started = False
    try:
        done = await asyncio.to_thread(
            run, [initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        )
        if done.returncode != 0:
            yield f"initdb failed: {done.stderr.strip()[-300:]}"
            return
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = await asyncio.to_thread(
            run, [pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "start"]
        )
        if done.returncode != 0:
            yield f"pg_ctl start failed: {done.stderr.strip()[-300:]}"
            return
        started = True
        yield PostgresServer(
            "127.0.0.1", port, "postgres", "postgres", origin=f"throwaway server in {base}"
        )
    finally:
        if started:
            await asyncio.to_thread(run, [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest_asyncio.fixture(scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer | str]:
    """The session's PostgreSQL server, or a string saying why there is none."""
    external = os.environ.get("HERALD_TEST_DATABASE_URL")
    if external:
        url = make_url(external)
        server = PostgresServer(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password if isinstance(url.password, str) else None,
            database=url.database or "postgres",
            origin="HERALD_TEST_DATABASE_URL",
        )
        if not await _probe(server):
            raise RuntimeError(f"HERALD_TEST_DATABASE_URL is not usable: {server.notes}")
        yield server
        return
    notes: list[str] = []
    for user in ("postgres", "root"):
        server = PostgresServer(*_LOCAL, user=user, database="postgres", origin=f"local {user}")
        if await _probe(server):
            yield server
            return
        notes.extend(server.notes)
    async with throwaway_postgres() as started:
        if isinstance(started, PostgresServer):
            yield started
            return
        notes.append(started)
    yield "no PostgreSQL: " + "; ".join(notes)


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def inbox_database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_server: PostgresServer | str,
) -> AsyncIterator[str]:
    """An empty inbox database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
        return
    async with require_postgres(postgres_server).fresh_database() as url:
        yield url
