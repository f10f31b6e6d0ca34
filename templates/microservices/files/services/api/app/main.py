"""The api service: a small read-only catalogue of items.

The gateway proxies /api/* here and the worker polls /items.
"""

import logging
import os

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())


def _not_a_health_check(record: logging.LogRecord) -> bool:
    return "/healthz" not in record.getMessage()


# devhost probes /healthz every second: keep those requests out of the access log.
logging.getLogger("uvicorn.access").addFilter(_not_a_health_check)


class Item(BaseModel):
    id: int
    name: str
    price: float


ITEMS: dict[int, Item] = {
    item.id: item
    for item in (
        Item(id=1, name="keyboard", price=49.0),
        Item(id=2, name="mouse", price=19.5),
        Item(id=3, name="monitor", price=189.0),
    )
}

app = FastAPI(title="{{project_name}} api")


@app.get("/")
def index() -> dict[str, str]:
    return {"service": "api", "project": "{{project_name}}"}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness probe used by devhost (and docker compose)."""
    return {"status": "ok"}


@app.get("/items")
def list_items() -> list[Item]:
    return list(ITEMS.values())


@app.get("/items/{item_id}")
def get_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="item not found")
    return ITEMS[item_id]
