"""The privacy API: a request's workflow from recording to a downloaded copy or a done erasure."""

import io
import json
import zipfile

from guanxi.accounts.roles import Role
from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Identity


def _post(client, url, header, body=None):
    return client.post(
        url, data=body or {}, content_type="application/json", HTTP_AUTHORIZATION=header["Authorization"]
    )


def test_erasure_through_the_api_needs_a_second_person(
    client, home, unit_a, make_user, bearer, django_capture_on_commit_callbacks
):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    group = make_user("group", Role.GROUP_MANAGER)
    customer = make_customer("欧阳晓梅", [unit_a], phone="+8613912345678")
    by_head, by_group = bearer(head, scope="read_write"), bearer(group, scope="read_write")

    created = _post(client, "/api/v1/privacy/requests", by_head, {"customer": customer.pk, "kind": "erasure"})
    assert created.status_code == 201
    item = created.json()
    assert (item["kind"], item["state"], item["customer"]) == ("erasure", "received", customer.pk)
    url = f"/api/v1/privacy/requests/{item['id']}"
    assert _post(client, f"{url}/approve", by_head).status_code == 403
    assert _post(client, f"{url}/run", by_group).status_code == 409
    assert _post(client, f"{url}/approve", by_group).json()["state"] == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        started = _post(client, f"{url}/run", by_group)
    assert started.status_code == 200
    done = client.get(url, HTTP_AUTHORIZATION=by_head["Authorization"]).json()
    assert done["state"] == "done"
    assert done["counts"]["deleted customers.Identity"] == 1
    assert not Identity.objects.filter(customer=customer).exists()


def test_export_through_the_api(client, home, unit_a, make_user, bearer, django_capture_on_commit_callbacks):
    head = make_user("head", Role.UNIT_HEAD, [unit_a])
    customer = make_customer("欧阳晓梅", [unit_a], phone="+8613912345678")
    header = bearer(head, scope="read_write")
    with django_capture_on_commit_callbacks(execute=True):
        created = _post(
            client, "/api/v1/privacy/requests", header, {"customer": customer.pk, "kind": "export"}
        )
    item = created.json()
    status = client.get(
        f"/api/v1/privacy/requests/{item['id']}", HTTP_AUTHORIZATION=header["Authorization"]
    ).json()
    assert (status["state"], status["counts"]["customers.Identity"]) == ("done", 1)
    download = client.get(
        f"/api/v1/privacy/requests/{item['id']}/download", HTTP_AUTHORIZATION=header["Authorization"]
    )
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    data = json.loads(archive.read("data.json"))
    assert [row["value"] for row in data["tables"]["customers.Identity"]] == ["+8613912345678"]
