"""Files on a ticket: the photo of a damaged parcel a customer e-mailed, the receipt an agent keeps with a
note.

A file is accepted only when its name's extension is one of the allowed kinds AND its content is that
kind (the `filetype` package reads the magic bytes; plain text must decode and hold no NUL byte), and
it is no larger than GUANXI_SERVICE_ATTACHMENT_MB. So a renamed executable or an HTML page posing as
a picture is refused, and what is stored is served back only as a download (Content-Disposition:
attachment, with the type we detected, never the sender's claim). Files live under
MEDIA_ROOT/service/<random folder>/ with a cleaned name; the folder name is unguessable, but the only
way to read one is the permission-checked download of a ticket the reader may see.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

MAX_FILES = 5
# extension → the content type the bytes must show
KINDS: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain",
    "csv": "text/csv",
}
TEXT_KINDS = {"txt", "csv"}


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    data: bytes


def max_bytes() -> int:
    return settings.GUANXI_SERVICE_ATTACHMENT_MB * 1024 * 1024


def safe_name(name: str) -> str:
    try:
        cleaned = get_valid_filename(Path(name).name)
    except SuspiciousFileOperation:
        cleaned = "attachment" + "".join(Path(name).suffixes[-1:])
    return cleaned[-120:]


def problem(name: str, data: bytes) -> str:
    """Why this file may not be attached, as a code ("" when it may): kept on a received e-mail's entry
    and put into words by `describe` when shown."""
    extension = Path(name).suffix.lower().lstrip(".")
    if extension not in KINDS:
        return "type"
    if len(data) > max_bytes():
        return "size"
    if not data:
        return "empty"
    if extension in TEXT_KINDS:
        return "" if b"\x00" not in data and _decodes(data) else "text"
    found = filetype.guess(data)
    return "" if found is not None and found.mime == KINDS[extension] else "content"


def describe(name: str, code: str) -> str:
    texts = {
        "type": _("%(name)s: files of this type are not accepted (allowed: %(kinds)s)."),
        "size": _("%(name)s is larger than %(limit)s MB."),
        "empty": _("%(name)s is empty."),
        "text": _("%(name)s is not a text file."),
        "content": _("%(name)s does not hold what its name says."),
        "count": _("%(name)s: too many files at a time."),
    }
    return texts[code] % {
        "name": name,
        "kinds": ", ".join(sorted(KINDS)),
        "limit": settings.GUANXI_SERVICE_ATTACHMENT_MB,
    }


def _decodes(data: bytes) -> bool:
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def check_files(files: list[tuple[str, bytes]]) -> list[CheckedFile]:
    """All the files, checked; a ValidationError naming every refused file (and none is kept) otherwise."""
    if len(files) > MAX_FILES:
        raise ValidationError(
            {"files": _("Attach at most %(count)d files at a time.") % {"count": MAX_FILES}}
        )
    refused = [describe(name, code) for name, data in files if (code := problem(name, data))]
    if refused:
        raise ValidationError({"files": refused})
    return [
        CheckedFile(safe_name(name), KINDS[Path(name).suffix.lower().lstrip(".")], data)
        for name, data in files
    ]


def read_uploads(uploads: list[Any]) -> list[tuple[str, bytes]]:
    """Uploaded files as (name, bytes), reading no more of each than one byte past the limit."""
    return [(upload.name or "", upload.read(max_bytes() + 1)) for upload in uploads]
