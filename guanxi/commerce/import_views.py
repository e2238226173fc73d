"""Import pages: the list of runs, the upload form, a run's live summary, "import for real", the error report.

An upload is always dry-run first: the file is stored under MEDIA_ROOT/imports, a `commerce.import`
job reads it without writing, and the user decides on the summary whether to import it for real
(a second job on the same file). The run appears once the worker has picked the job up, so the
upload lands on a waiting page keyed by the job.
"""

import io
from pathlib import Path
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from guanxi.accounts.models import BusinessUnit
from guanxi.commerce.importers import IMPORT_KINDS
from guanxi.commerce.importers.generic import GenericCustomersPreset, GenericOrdersPreset
from guanxi.commerce.importers.report import write_error_report
from guanxi.commerce.jobs import COUNT_LABELS
from guanxi.commerce.models import ImportMapping, ImportRowError, ImportRun, Store
from guanxi.commerce.phrases import IMPORT_REPORT
from guanxi.commerce.uploads import IMPORT_JOB, is_upload, save_upload
from guanxi.core import audit
from guanxi.core.access import require
from guanxi.core.background import start_job
from guanxi.core.models import AuditEntry, Job

VIEW = "commerce.view"
ADD = "commerce.add"
PAGE_SIZE = 50
FIRST_ISSUES = 20
DEFAULT_MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAPPED_KINDS = (GenericCustomersPreset.kind, GenericOrdersPreset.kind)
# The engine reads these (guanxi.commerce.importers.reading.describe); text formats may be gzipped.
TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".json", ".jsonl", ".ndjson")
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm")
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# Leading bytes of binary files people pick by mistake (a zip, a PDF, an old .xls).
BINARY_MAGICS = (GZIP_MAGIC, ZIP_MAGIC, b"%PDF", b"\xd0\xcf\x11\xe0")
MAIN_COUNTS = ("rows", "imported", "skipped", "rejected", "warnings")
HIDDEN_COUNTS = frozenset({*MAIN_COUNTS, "issues_stored", "reasons"})


def max_import_bytes() -> int:
    return int(getattr(settings, "GUANXI_MAX_IMPORT_BYTES", DEFAULT_MAX_IMPORT_BYTES))


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (also .csv.gz), XLSX or JSON, in UTF-8, UTF-8 with BOM or GBK/GB18030."),
    )
    kind = forms.ChoiceField(label=_("Kind of file"))
    unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int)
    store_source = forms.RegexField(
        label=_("Store source"),
        required=False,
        max_length=64,
        regex=r"^[A-Za-z0-9_.:-]+$",
        error_messages={"invalid": _("Use letters, digits and _ . : - only, like tmall:home-flagship.")},
        help_text=_("Optional: the store the records belong to. Empty: the preset's default store."),
        widget=forms.TextInput(attrs={"list": "store-sources", "autocomplete": "off"}),
    )
    mapping = forms.TypedChoiceField(
        label=_("Saved column mapping"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_(
            "Generic customers and orders files only. Empty: a saved mapping that fits, or the headers."
        ),
    )

    def __init__(self, data, files, *, units, stores, mappings) -> None:
        super().__init__(data, files)
        self.stores = list(stores)
        self.mappings = {mapping.pk: mapping for mapping in mappings}
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            (kind, preset.label) for kind, preset in IMPORT_KINDS.items()
        ]
        cast(forms.ChoiceField, self.fields["unit"]).choices = [(unit.pk, unit.name) for unit in units]
        if len(units) == 1:
            self.fields["unit"].initial = units[0].pk
        labels = {kind: preset.label for kind, preset in IMPORT_KINDS.items()}
        cast(forms.ChoiceField, self.fields["mapping"]).choices = [
            ("", _("None")),
            *(
                (pk, f"{mapping.name} · {labels.get(mapping.kind, mapping.kind)}")
                for pk, mapping in self.mappings.items()
            ),
        ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = max_import_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s; the largest file accepted is %(limit)s. Split it into several files."
                ),
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
                code="too_large",
            )
        name = upload.name.lower()
        compressed = name.endswith(".gz")
        base = name.removesuffix(".gz")
        head = _head(upload)
        expected_magic: bytes | None
        if base.endswith(SPREADSHEET_SUFFIXES) and not compressed:
            expected_magic = ZIP_MAGIC
        elif base.endswith(TEXT_SUFFIXES):
            expected_magic = GZIP_MAGIC if compressed else None
        else:
            raise forms.ValidationError(
                _("%(name)s is not a file Guanxi can import: use .csv, .csv.gz, .xlsx or .json."),
                params={"name": upload.name},
                code="file_type",
            )
        if expected_magic is not None and not head.startswith(expected_magic):
            raise forms.ValidationError(
                _("%(name)s is not what its name says (not a real %(suffix)s file)."),
                params={"name": upload.name, "suffix": ".gz" if compressed else ".xlsx"},
                code="file_type",
            )
        if expected_magic is None and head.startswith(BINARY_MAGICS):
            raise forms.ValidationError(
                _("%(name)s looks like a binary file, not text: export it as CSV or JSON first."),
                params={"name": upload.name},
                code="file_type",
            )
        return upload

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind, unit_id = data.get("kind"), data.get("unit")
        mapping_pk = data.get("mapping")
        if mapping_pk is not None:
            mapping = self.mappings.get(mapping_pk)
            if kind not in MAPPED_KINDS or mapping is None or mapping.kind != kind:
                self.add_error("mapping", _("This mapping is for another kind of file."))
        source = data.get("store_source")
        if source and unit_id is not None:
            store = next((store for store in self.stores if store.source == source), None)
            if store is not None and store.unit_id != unit_id:
                self.add_error(
                    "store_source",
                    _("The store %(source)s belongs to another business unit.") % {"source": source},
                )
        return data


@require_GET
def import_list(request):
    user = require(request, VIEW)
    runs = ImportRun.objects.restrict(user, "view").select_related("unit", "started_by")
    page = Paginator(runs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    labels = _kind_labels()
    return render(
        request,
        "commerce/imports/import_list.html",
        {
            "page": page,
            "rows": [(run, labels.get(run.kind, run.kind)) for run in page.object_list],
            "can_add": user.has_permission(ADD),
        },
    )


@require_http_methods(["GET", "POST"])
def import_add(request):
    user = require(request, ADD)
    units = _units_for(user)
    form = ImportUploadForm(
        request.POST or None,
        request.FILES or None,
        units=units,
        stores=Store.objects.restrict(user, "view").order_by("source"),
        mappings=ImportMapping.objects.filter(kind__in=MAPPED_KINDS).order_by("kind", "name"),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = next(unit for unit in units if unit.pk == data["unit"])
        mapping = form.mappings.get(data["mapping"]) if data["mapping"] is not None else None
        path = save_upload(data["file"])
        job = _start_import(
            user,
            unit,
            kind=data["kind"],
            path=path,
            dry_run=True,
            store_source=data["store_source"],
            mapping_name=mapping.name if mapping else "",
        )
        return redirect("commerce:import_job", pk=job.pk)
    return render(
        request,
        "commerce/imports/import_form.html",
        {"form": form, "max_bytes": max_import_bytes(), "sources": [store.source for store in form.stores]},
    )


@require_GET
def import_job(request, pk):
    """Waiting for the worker to open the run; then on to the run's page."""
    user = require(request, VIEW)
    job = get_object_or_404(Job.objects.restrict(user, "view").filter(kind=IMPORT_JOB), pk=pk)
    run = ImportRun.objects.restrict(user, "view").filter(job=job).first()
    if run is not None:
        if request.htmx:
            return HttpResponseClientRedirect(reverse("commerce:import", kwargs={"pk": run.pk}))
        return redirect("commerce:import", pk=run.pk)
    template = (
        "commerce/imports/partials/_waiting.html" if request.htmx else "commerce/imports/import_job.html"
    )
    return render(request, template, {"job": job})


@require_GET
def import_run(request, pk):
    """A run's summary; while it runs, htmx polling gets only the summary fragment."""
    user = require(request, VIEW)
    run = get_object_or_404(
        ImportRun.objects.restrict(user, "view").select_related("unit", "started_by"), pk=pk
    )
    context = _summary(user, run)
    template = "commerce/imports/partials/_summary.html" if request.htmx else "commerce/imports/import.html"
    return render(request, template, context)


@require_POST
def import_confirm(request, pk):
    """Import for real the file a successful dry run read."""
    user = require(request, ADD)
    run = get_object_or_404(
        ImportRun.objects.restrict(user, "add").select_related("unit"),
        pk=pk,
        dry_run=True,
        state=ImportRun.State.SUCCEEDED,
    )
    path = Path(run.path)
    if not is_upload(path) or run.unit is None:
        messages.error(request, _("Only files uploaded here can be imported from this page; use the CLI."))
        return redirect("commerce:import", pk=run.pk)
    if not path.is_file():
        messages.error(request, _("The uploaded file is gone; upload it again."))
        return redirect("commerce:import", pk=run.pk)
    job = _start_import(
        user,
        run.unit,
        kind=run.kind,
        path=path,
        dry_run=False,
        store_source=run.params.get("store_source", ""),
        mapping_name=run.params.get("mapping_name", ""),
    )
    return redirect("commerce:import_job", pk=job.pk)


@require_GET
def import_errors(request, pk):
    """The row-level report as CSV (UTF-8 with BOM). Values come from the file, so they may be
    personal data: the report is for the person who uploaded it or those who may see PII."""
    user = require(request, VIEW)
    run = get_object_or_404(ImportRun.objects.restrict(user, "view").select_related("unit"), pk=pk)
    if not _may_see_values(user, run):
        require(request, "pii.view")
    buffer = io.StringIO()
    buffer.write("\ufeff")  # so Excel reads the file as UTF-8
    written = write_error_report(run, buffer)
    audit.record(
        AuditEntry.Action.EXPORT,
        actor=user,
        obj=run,
        unit=run.unit,
        ip_address=audit.client_address(request),
        message=IMPORT_REPORT(rows=written),
    )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="guanxi-import-{run.pk}-report.csv"'
    return response


def _summary(user, run: ImportRun) -> dict[str, Any]:
    counts = run.counts or {}
    reasons = counts.get("reasons", {}) or {}
    # The first row of each reason words it (a reason's parameters may differ from row to row).
    explained = {code: _reason_text(run.row_errors.filter(code=code).first()) for code in reasons}
    running = run.state == ImportRun.State.RUNNING
    percent = None
    if run.total_rows:
        percent = min(100, int(run.position * 100 / run.total_rows))
    return {
        "run": run,
        "kind_label": _kind_labels().get(run.kind, run.kind),
        "running": running,
        "percent": percent,
        "main_counts": [(name, counts.get(name, 0)) for name in MAIN_COUNTS],
        "other_counts": [
            (COUNT_LABELS.get(name, name), value)
            for name, value in counts.items()
            if name not in HIDDEN_COUNTS and isinstance(value, int)
        ],
        "reasons": [
            (code, explained[code], count)
            for code, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        ],
        "issues": list(run.row_errors.order_by("row", "id")[:FIRST_ISSUES]),
        "issues_stored": counts.get("issues_stored", 0),
        "show_values": _may_see_values(user, run),
        "can_confirm": (
            run.dry_run
            and run.state == ImportRun.State.SUCCEEDED
            and is_upload(Path(run.path))
            and ImportRun.objects.restrict(user, "add").filter(pk=run.pk).exists()
        ),
        "rejected_level": ImportRowError.Level.REJECTED,
        "warning_level": ImportRowError.Level.WARNING,
    }


def _start_import(
    user, unit: BusinessUnit, *, kind: str, path: Path, dry_run: bool, store_source: str, mapping_name: str
) -> Job:
    params: dict[str, Any] = {"kind": kind, "path": str(path), "dry_run": dry_run, "unit_id": unit.pk}
    if store_source:
        params["store_source"] = store_source
    if mapping_name:
        params["mapping_name"] = mapping_name
    return start_job(IMPORT_JOB, params=params, started_by=user, unit=unit)


def _reason_text(issue: ImportRowError | None) -> str:
    return issue.reason_text if issue is not None else ""


def _may_see_values(user, run: ImportRun) -> bool:
    return run.started_by_id == user.pk or user.has_permission("pii.view")


def _units_for(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").filter(is_active=True).order_by("code"))


def _kind_labels() -> dict[str, Any]:
    return {kind: preset.label for kind, preset in IMPORT_KINDS.items()}


def _head(upload, size: int = 8) -> bytes:
    upload.seek(0)
    head = upload.read(size)
    upload.seek(0)
    return head
