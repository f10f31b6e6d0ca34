from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_healthz_reports_ok() -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_index_names_the_project() -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json()["name"] == "{{project_name}}"
