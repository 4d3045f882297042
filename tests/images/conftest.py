"""The images, built once per session as ``make images`` builds them, and the services they run against.

These tests need root on Debian (``make images`` installs podman and debootstrap where they are
missing), PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust) and Redis on 127.0.0.1:6379, as
CI's machine has: where any of it is missing they fail, never skip. The platform's processes get a
database of their own, ``images``, made afresh for the session, and Redis database 11, emptied
before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import redis

from tests.images import podman

POSTGRES = "postgres://postgres@127.0.0.1:5432"
DATABASE = "images"
REDIS = "redis://127.0.0.1:6379/11"


@pytest.fixture(scope="session")
def built() -> dict[str, str]:
    """Each image's name and the size the build printed; the build's time is in the output (-s)."""
    sizes, elapsed = podman.build()
    print(f"\nmake images took {elapsed:.1f} s: {sizes}")
    return sizes


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    yield f"{POSTGRES}/{DATABASE}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield REDIS
    client.flushdb()
    client.close()
