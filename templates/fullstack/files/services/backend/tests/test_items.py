from app.migrate import migrate


def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_list_update_delete(client):
    assert client.get("/api/items").json() == []

    created = client.post("/api/items", json={"name": "write tests"})
    assert created.status_code == 201
    item = created.json()
    assert item == {"id": item["id"], "name": "write tests", "done": False}

    assert client.get("/api/items").json() == [item]

    updated = client.patch(f"/api/items/{item['id']}", json={"done": True})
    assert updated.json() == {**item, "done": True}

    assert client.delete(f"/api/items/{item['id']}").status_code == 204
    assert client.get(f"/api/items/{item['id']}").status_code == 404


def test_rejects_empty_names(client):
    assert client.post("/api/items", json={"name": ""}).status_code == 422


def test_missing_items_are_404(client):
    assert client.patch("/api/items/999", json={"done": True}).status_code == 404
    assert client.delete("/api/items/999").status_code == 404


def test_migrate_is_idempotent(client):
    assert migrate() == []
