def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_index_names_the_project(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json()["name"] == "{{project_name}}"
