"""Schema migrations, applied in order and recorded in schema_migrations.

Run by devhost's `migrate` service before the backend starts:
    .venv/bin/python -m app.migrate
To change the schema, append a new (name, {dialect: sql}) entry; never edit an applied one.
"""

import logging
import os

from .db import connect

log = logging.getLogger("migrate")

MIGRATIONS: list[tuple[str, dict[str, str]]] = [
    (
        "0001_create_items",
        {
            "sqlite": """
                CREATE TABLE items (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL,
                    done BOOLEAN NOT NULL DEFAULT FALSE
                )
            """,
            "postgres": """
                CREATE TABLE items (
                    id SERIAL PRIMARY KEY,
                    name TEXT NOT NULL,
                    done BOOLEAN NOT NULL DEFAULT FALSE
                )
            """,
        },
    ),
]


def migrate() -> list[str]:
    """Apply pending migrations; return the names of those applied now."""
    applied_now = []
    with connect() as db:
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
        done = {row["name"] for row in db.query("SELECT name FROM schema_migrations")}
        for name, statements in MIGRATIONS:
            if name in done:
                continue
            db.execute(statements[db.dialect])
            db.execute("INSERT INTO schema_migrations (name) VALUES (?)", (name,))
            applied_now.append(name)
    return applied_now


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    applied = migrate()
    if applied:
        log.info("applied %s", ", ".join(applied))
    else:
        log.info("schema is up to date")


if __name__ == "__main__":
    main()
