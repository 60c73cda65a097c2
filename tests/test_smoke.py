def test_home_page_shows_key_figures(client, factories):
    org = factories.make_org("Catalytic Action")
    factories.make_agreement("Public space upgrading in Lebanon", parties=[org])
    from portal.extensions import db

    db.session.commit()
    resp = client.get("/")
    assert resp.status_code == 200
    assert "Public space upgrading in Lebanon" in resp.get_data(as_text=True)


def test_unknown_url_gets_styled_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    assert "We could not find that page" in resp.get_data(as_text=True)


def test_api_errors_are_json(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == 404
