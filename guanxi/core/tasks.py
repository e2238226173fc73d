"""Queue entry points. Thin: load by id, call the code that does the work."""

from django.utils.module_loading import import_string
from huey.contrib.djhuey import db_periodic_task, db_task

from guanxi.config.schedules import PERIODIC_TASKS
from guanxi.core.models import Job


@db_task()
def run_job_task(job_id: int) -> None:
    from guanxi.core.background import run_job

    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        run_job(job)


def register_periodic_tasks() -> None:
    for name, (dotted_path, schedule) in PERIODIC_TASKS.items():
        db_periodic_task(schedule, name=name)(import_string(dotted_path))


register_periodic_tasks()
