"""The backend service: a small items API under /api, plus /healthz.

The web service proxies /api/* here, so the browser only ever talks to the web server.
"""

import logging
import os

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field

from .db import connect

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())


def _not_a_health_check(record: logging.LogRecord) -> bool:
    return "/healthz" not in record.getMessage()


# devhost probes /healthz every second: keep those requests out of the access log.
logging.getLogger("uvicorn.access").addFilter(_not_a_health_check)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ItemUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    done: bool | None = None


class Item(BaseModel):
    id: int
    name: str
    done: bool


app = FastAPI(title="{{project_name}} backend")


def _item(row: dict | None) -> Item:
    if row is None:
        raise HTTPException(status_code=404, detail="item not found")
    return Item(id=row["id"], name=row["name"], done=bool(row["done"]))


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Health probe used by devhost (and docker compose): also checks the database."""
    try:
        with connect() as db:
            db.query("SELECT 1 AS ok")
    except Exception as exc:  # any driver error means "not healthy"
        raise HTTPException(status_code=503, detail=f"database unavailable: {exc}") from exc
    return {"status": "ok"}


@app.get("/api/items")
def list_items() -> list[Item]:
    with connect() as db:
        return [_item(row) for row in db.query("SELECT id, name, done FROM items ORDER BY id")]


@app.post("/api/items", status_code=201)
def create_item(item: ItemIn) -> Item:
    with connect() as db:
        row = db.query_one(
            "INSERT INTO items (name, done) VALUES (?, ?) RETURNING id, name, done",
            (item.name, False),
        )
    return _item(row)


@app.get("/api/items/{item_id}")
def get_item(item_id: int) -> Item:
    with connect() as db:
        return _item(db.query_one("SELECT id, name, done FROM items WHERE id = ?", (item_id,)))


@app.patch("/api/items/{item_id}")
def update_item(item_id: int, changes: ItemUpdate) -> Item:
    with connect() as db:
        current = _item(db.query_one("SELECT id, name, done FROM items WHERE id = ?", (item_id,)))
        name = changes.name if changes.name is not None else current.name
        done = changes.done if changes.done is not None else current.done
        row = db.query_one(
            "UPDATE items SET name = ?, done = ? WHERE id = ? RETURNING id, name, done",
            (name, done, item_id),
        )
    return _item(row)


@app.delete("/api/items/{item_id}", status_code=204)
def delete_item(item_id: int) -> Response:
    with connect() as db:
        _item(db.query_one("DELETE FROM items WHERE id = ? RETURNING id, name, done", (item_id,)))
    return Response(status_code=204)
