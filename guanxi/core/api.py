"""Job endpoints: the state and progress of long work (imports, analyses, demo loads)."""

from django.shortcuts import get_object_or_404
from ninja import Router

from guanxi.core.models import Job
from guanxi.core.schemas import JobOut

router = Router(tags=["jobs"])


@router.get("/jobs/{job_id}", response=JobOut, summary="One job's state and progress")
def get_job(request, job_id: int):
    return get_object_or_404(Job.objects.restrict(request.user, "view"), pk=job_id)
