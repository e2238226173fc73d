"""GET /api/v1/jobs/{id}: state, progress and counts, scoped like the job list."""

import pytest

from guanxi.core.background import create_job, job_kind, run_job


@job_kind("tests.api_counting")
def counting(job, progress):
    progress.set_total(4)
    progress.advance(3, created=3)
    progress.error({"row": 4, "reason": "no phone"})
    return {"skipped": 1}


@pytest.fixture
def finished_job(unit_a, unit_a_head):
    return run_job(create_job("tests.api_counting", started_by=unit_a_head, unit=unit_a))


def test_job_state_progress_and_counts(client, unit_a_head, finished_job, unit_a, bearer):
    body = client.get(f"/api/v1/jobs/{finished_job.pk}", headers=bearer(unit_a_head)).json()

    finished_job.refresh_from_db()
    assert {key: body[key] for key in body if not key.endswith("_at")} == {
        "id": finished_job.pk,
        "kind": "tests.api_counting",
        "state": "succeeded",
        "progress_done": 3,
        "progress_total": 4,
        "percent": 75,
        "counts": {"created": 3, "skipped": 1},
        "error_count": 1,
        "message": "",
        "unit_id": unit_a.pk,
        "is_finished": True,
    }
    assert body["finished_at"] is not None


def test_other_units_job_is_404(client, unit_b_head, finished_job, bearer):
    response = client.get(f"/api/v1/jobs/{finished_job.pk}", headers=bearer(unit_b_head))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
