"""{{description}}

`flask --app app run` finds `create_app()` below and calls it.
"""

import logging
import os
from typing import Any

from flask import Flask


def _not_a_health_check(record: logging.LogRecord) -> bool:
    return "/healthz" not in record.getMessage()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory: build and configure a new Flask app."""
    app = Flask(__name__)
    app.config.from_mapping(
        PROJECT_NAME="{{project_name}}",
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-not-secret"),
    )
    if config:
        app.config.update(config)

    app.logger.setLevel(os.environ.get("LOG_LEVEL", "info").upper())
    # devhost probes /healthz every second: keep those requests out of the log.
    logging.getLogger("werkzeug").addFilter(_not_a_health_check)

    from . import views

    app.register_blueprint(views.bp)
    return app
