"""HTTP entry point of {{project_name}}.

Run it with `devhost up`, or by hand:
    .venv/bin/uvicorn app.main:app --host 127.0.0.1 --port 8000 --reload
"""

import logging
import os

from fastapi import FastAPI

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())
log = logging.getLogger("{{project_slug}}")


def _not_a_health_check(record: logging.LogRecord) -> bool:
    return "/healthz" not in record.getMessage()


# devhost probes /healthz every second: keep those requests out of the access log.
logging.getLogger("uvicorn.access").addFilter(_not_a_health_check)

app = FastAPI(title="{{project_name}}", description="{{description}}")


@app.get("/")
def index() -> dict[str, str]:
    return {"name": "{{project_name}}", "message": "Hello from {{project_name}}!"}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness probe used by devhost (and docker compose)."""
    return {"status": "ok"}
