"""Database access for the backend and the migrate job.

DATABASE_URL selects the database:
  sqlite:///data/app.sqlite3       relative path (to the service folder), standard library sqlite3
  sqlite:////abs/path/app.sqlite3  absolute path
  postgresql://user:pass@host/db   PostgreSQL through psycopg

SQL in this project is written with `?` placeholders; they become `%s` for PostgreSQL.
"""

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_URL = "sqlite:///data/app.sqlite3"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def dialect(url: str | None = None) -> str:
    url = url or database_url()
    if url.startswith(("postgres://", "postgresql://")):
        return "postgres"
    if url.startswith("sqlite:///"):
        return "sqlite"
    raise ValueError(f"unsupported DATABASE_URL: {url!r} (use sqlite:///... or postgresql://...)")


def sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


class Database:
    """A connection plus the one difference that matters here: the placeholder style."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.execute(sql, params)
        columns = [col[0] for col in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


@contextmanager
def connect() -> Iterator[Database]:
    """One transaction: committed when the block ends normally, rolled back on error."""
    url = database_url()
    if dialect(url) == "postgres":
        import psycopg  # only needed (and imported) for PostgreSQL

        with psycopg.connect(url) as conn:
            yield Database(conn, "postgres")
        return

    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield Database(conn, "sqlite")
    finally:
        conn.close()
