"""Every API error is an RFC 9457 problem (guanxi.api.errors, guanxi.api.urls)."""

import pytest
from django.db import connection
from django.test import Client

from conftest import PASSWORD
from guanxi.accounts import actions

PROBLEM = "application/problem+json"


@pytest.fixture
def token(make_user, unit_a):
    return actions.create_api_token(user=make_user("ana", "analyst", [unit_a]), name="t").secret


def get(client, path, token, **kwargs):
    return client.get(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_query_validation_error_lists_each_field(client, token):
    response = get(client, "/api/v1/orders?limit=abc&status=lost", token)

    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "urn:guanxi:problem:validation-error",
        "title": "Invalid input",
        "status": 422,
        "detail": "The request contains invalid values.",
        "instance": "/api/v1/orders",
        "errors": [
            {
                "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            },
            {
                "loc": ["query", "status"],
                "msg": "Input should be 'created', 'paid', 'shipped', 'delivered', 'completed', 'cancelled',"
                " 'closed' or 'refunded'",
                "type": "enum",
            },
        ],
    }


def test_body_validation_error(make_user):
    make_user("ana")
    browser = Client()
    browser.login(username="ana", password=PASSWORD)

    response = browser.post("/api/v1/tokens", {"name": "", "scope": "admin"}, content_type="application/json")

    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [
        (["body", "payload", "name"], "string_too_short"),
        (["body", "payload", "scope"], "enum"),
    ]


def test_malformed_json_is_bad_request(make_user):
    make_user("ana")
    browser = Client()
    browser.login(username="ana", password=PASSWORD)

    response = browser.post("/api/v1/tokens", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "urn:guanxi:problem:bad-request"


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/", "/api/v1/me/"])
def test_unknown_path_is_404_problem_even_anonymously(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "urn:guanxi:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No such resource, or you may not see it.",
        "instance": path,
    }


def test_wrong_method_is_405_problem(client, token):
    response = client.put("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert response["Allow"] == "GET"
    assert response.json()["detail"] == "This path does not accept PUT."


def test_unexpected_error_is_500_problem_without_traceback(client, token, monkeypatch):
    def broken(user):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("guanxi.accounts.api._visible_units", broken)

    response = get(client, "/api/v1/units", token)

    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "urn:guanxi:problem:server-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "Something went wrong on our side.",
        "instance": "/api/v1/units",
    }
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


def test_a_number_past_the_database_range_is_the_clients_422_not_a_500(client, admin_user, bearer):
    """Found by the fuzzer on SQLite, whose driver raised OverflowError. On PostgreSQL Django itself
    turns an integer past the column's range into "no rows"."""
    response = client.get(f"/api/v1/sales/leads?owner={2**70}", headers=bearer(admin_user))
    if connection.vendor == "sqlite":
        assert (response.status_code, response["Content-Type"]) == (422, "application/problem+json")
        assert response.json()["detail"] == "A value in the request is out of range."
    else:
        assert (response.status_code, response.json()["items"]) == (200, [])
