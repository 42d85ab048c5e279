"""Database helpers: retry on serialization failures and deadlocks."""

import functools
import random
import time

from django.db import OperationalError

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc
    return getattr(cause, "pgcode", None)


def retry_on_conflict(func=None, *, attempts: int = 5, base_delay: float = 0.05):
    """Re-run a whole transactional function when PostgreSQL aborts it with 40001/40P01.

    Wrap the outermost (durable) transaction only: retrying inside a transaction cannot work.
    """

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    if _sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == attempts:
                        raise
                    time.sleep(base_delay * attempt + random.random() * base_delay)
            raise AssertionError("unreachable")

        return wrapper

    return decorator(func) if func else decorator


def drop_indexes_concurrently(indexes: list[tuple[str, str]]) -> list:
    """Migration operations dropping each `(name, "table (columns)")` index CONCURRENTLY (and
    recreating it on the way back), for a migration with `atomic = False`: writes to the table go
    on while it runs."""
    from django.db import migrations

    return [
        migrations.RunSQL(
            sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
            reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON {target}',
        )
        for name, target in indexes
    ]
