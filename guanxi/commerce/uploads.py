"""Files uploaded for import: where they are kept, and for how long.

Each upload gets a folder of its own with a random name under MEDIA_ROOT/imports; the file keeps its
cleaned name, which the engine reads the format from and the run shows. A dry run and the real import
read the same file, so it stays after the dry run; `remove_old_uploads` (daily, see
guanxi/config/schedules.py) deletes folders older than GUANXI_IMPORT_UPLOAD_DAYS unless an import job
that reads one is still queued or running.
"""

import secrets
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

from guanxi.core.models import Job

IMPORT_JOB = "commerce.import"


def uploads_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "imports"


def save_upload(upload) -> Path:
    """Store an uploaded file; its path."""
    folder = uploads_dir() / secrets.token_hex(16)
    folder.mkdir(parents=True)
    path = folder / _safe_name(upload.name)
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def is_upload(path: Path) -> bool:
    return path.resolve().is_relative_to(uploads_dir().resolve())


def remove_old_uploads(now: float | None = None) -> int:
    """Delete upload folders last written more than GUANXI_IMPORT_UPLOAD_DAYS ago that no unfinished
    import job reads; how many were deleted."""
    root = uploads_dir()
    if not root.is_dir():
        return 0
    cutoff = (now or time.time()) - settings.GUANXI_IMPORT_UPLOAD_DAYS * 86400
    in_use = {
        Path(str(params.get("path", ""))).parent.name
        for params in Job.objects.filter(
            kind=IMPORT_JOB, state__in=[Job.State.QUEUED, Job.State.RUNNING]
        ).values_list("params", flat=True)
    }
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in in_use and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _safe_name(name: str) -> str:
    try:
        cleaned = get_valid_filename(Path(name).name)
    except SuspiciousFileOperation:
        cleaned = "upload" + "".join(Path(name).suffixes[-2:])
    return cleaned[-120:]
