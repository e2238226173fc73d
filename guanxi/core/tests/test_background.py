from datetime import timedelta

import pytest
from django.utils import timezone

from guanxi.core.background import Progress, create_job, job_kind, run_job, start_job, sweep_stale_jobs
from guanxi.core.models import Job

handled_job_ids: list[int] = []


@job_kind("test.count_to")
def count_to(job, progress):
    progress.set_total(job.params["n"])
    for _ in range(job.params["n"]):
        progress.advance(message="counting", seen=1)
    handled_job_ids.append(job.pk)
    return {"finished": 1}


@job_kind("test.explode")
def explode(job, progress):
    progress.advance(2)
    raise ValueError("row 7: bad date")


@pytest.fixture(autouse=True)
def _clear_calls():
    handled_job_ids.clear()


def test_job_runs_and_records_progress_and_counts(db):
    job = run_job(create_job("test.count_to", params={"n": 5}))
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (5, 5, 100)
    assert job.counts == {"seen": 5, "finished": 1}
    assert job.attempts == 1
    assert job.finished_at is not None


def test_failed_job_keeps_progress_and_the_reason(db):
    job = run_job(create_job("test.explode"))
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.progress_done == 2
    assert job.message == "row 7: bad date"
    assert job.errors == [{"reason": "ValueError: row 7: bad date"}]


def test_listeners_see_every_step(db):
    seen: list[int] = []
    run_job(create_job("test.count_to", params={"n": 3}), listeners=[lambda j: seen.append(j.progress_done)])
    assert seen == [0, 1, 2, 3]


def test_start_job_enqueues_on_commit_only(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = start_job("test.count_to", params={"n": 2})
        assert handled_job_ids == []
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED  # immediate mode in tests runs the task at once
    assert handled_job_ids == [job.pk]


def test_unknown_job_kind_is_refused(db):
    with pytest.raises(ValueError, match="Unknown job kind"):
        create_job("test.nope")


def test_a_finished_job_is_not_run_twice(db):
    job = run_job(create_job("test.count_to", params={"n": 1}))
    run_job(job)
    assert handled_job_ids == [job.pk]


def test_sweeper_requeues_a_job_whose_worker_died(db):
    job = create_job("test.count_to", params={"n": 1})
    stale = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, heartbeat_at=stale, attempts=1)
    fresh = create_job("test.count_to", params={"n": 1})
    Job.objects.filter(pk=fresh.pk).update(state=Job.State.RUNNING, heartbeat_at=timezone.now(), attempts=1)

    assert sweep_stale_jobs() == 1

    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED  # re-queued and run again (immediate mode)
    assert job.attempts == 2
    assert fresh.state == Job.State.RUNNING  # a live worker's job is left alone
    assert handled_job_ids == [job.pk]


def test_sweeper_gives_up_after_three_attempts(db):
    job = create_job("test.count_to", params={"n": 1})
    stale = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, heartbeat_at=stale, attempts=3)
    assert sweep_stale_jobs() == 0
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.shown_message == "The worker stopped responding 3 times; given up"
    assert handled_job_ids == []


def test_job_visibility_follows_units(db, unit_a, unit_b, unit_a_head, manager, make_user):
    in_a = create_job("test.count_to", unit=unit_a)
    in_b = create_job("test.count_to", unit=unit_b)
    org_wide = create_job("test.count_to")
    assert set(Job.objects.restrict(unit_a_head)) == {in_a, org_wide}
    assert set(Job.objects.restrict(manager)) == {in_a, in_b, org_wide}


def test_a_coded_progress_message_is_worded_in_the_readers_language(db):
    from django.utils import translation

    from guanxi.demo.phrases import CUSTOMERS_CREATED

    job = create_job("test.count_to", params={"n": 1})
    Progress(job).advance(1, message=CUSTOMERS_CREATED(done=100, total=250))
    job.refresh_from_db()

    assert (job.message, job.message_params) == ("demo.customers_created", {"done": 100, "total": 250})
    with translation.override("zh-hans"):
        chinese = job.shown_message
    assert (job.shown_message, chinese) == (
        "Created 100 of 250 customers with their orders",
        "已创建 100 / 250 位客户及其订单",
    )
