"""Running a job in the foreground with a rich progress bar that mirrors the Job row."""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from guanxi.core.background import create_job, run_job
from guanxi.core.models import Job


def run_job_with_progress(kind: str, params: dict, console: Console, unit=None) -> Job:
    job = create_job(kind, params=params, unit=unit)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(kind, total=None, message="")

        def show(current: Job) -> None:
            bar.update(
                task,
                completed=current.progress_done,
                total=current.progress_total,
                message=current.shown_message,
            )

        return run_job(job, listeners=[show])
