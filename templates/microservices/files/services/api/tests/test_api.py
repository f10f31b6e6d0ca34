from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_healthz_reports_ok() -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_list_items() -> None:
    response = client.get("/items")
    assert response.status_code == 200
    names = [item["name"] for item in response.json()]
    assert names == ["keyboard", "mouse", "monitor"]


def test_get_item_and_missing_item() -> None:
    assert client.get("/items/2").json()["name"] == "mouse"
    assert client.get("/items/999").status_code == 404
