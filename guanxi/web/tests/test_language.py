import pytest
from django.test import override_settings


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_login_page_is_chinese_whatever_the_browser_says(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 200
    assert '<html lang="zh-hans"' in response.content.decode()
    assert response["Content-Language"] == "zh-hans"


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_language_switch_wins(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=True)
    assert '<html lang="en"' in response.content.decode()


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="zh-hans")
def test_api_clients_may_ask_for_a_language(client):
    response = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "en"
