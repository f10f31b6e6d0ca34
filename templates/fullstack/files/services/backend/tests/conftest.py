import pytest
from fastapi.testclient import TestClient

from app.main import app
from app.migrate import migrate


@pytest.fixture()
def client(tmp_path, monkeypatch):
    """A client against a fresh, migrated SQLite database in a temporary folder."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/test.sqlite3")
    migrate()
    with TestClient(app) as test_client:
        yield test_client
