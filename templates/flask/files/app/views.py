from flask import Blueprint, current_app, jsonify

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    name = current_app.config["PROJECT_NAME"]
    return jsonify(name=name, message=f"Hello from {name}!")


@bp.get("/healthz")
def healthz():
    """Liveness probe used by devhost (and docker compose)."""
    return jsonify(status="ok")
