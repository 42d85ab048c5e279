"""Pages of background imports (settlement_ops.import_jobs): the job with its progress, the
progress block polled by htmx, and the full error report of a refused file."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView

from .import_jobs import REPORT_FORMATS, error_report_response, import_kinds, job_errors
from .models import ImportJob
from .permissions import PermissionRequiredPageMixin, log_refusal


class _ImportJobMixin(PermissionRequiredPageMixin):
    """Staff pages first; then the job's door permission. A job of a door the user may not use
    answers 404 like a missing one, so ids reveal nothing."""

    permission_required = "settlement_ops.access_staff_pages"

    def get_job(self, pk) -> tuple[ImportJob, object]:
        job = ImportJob.objects.select_related("requested_by").filter(pk=pk).first()
        spec = import_kinds().get(job.kind) if job is not None else None
        if spec is None or not self.request.user.has_perm(spec.permission):
            if spec is not None:
                log_refusal(self.request, "page")
            raise Http404
        return job, spec


def import_job_context(job: ImportJob, spec) -> dict:
    """What the progress partial needs, also for a page that includes it (the upload pages)."""
    return {
        "job": job,
        "progress_url": reverse("import_job_progress", args=[job.pk]),
        "upload_url": spec.upload_url(job),
        "result_url": spec.result_url(job) if spec.result_url and job.status == ImportJob.Status.DONE else "",
        "report_urls": [(fmt.upper(), reverse("import_job_errors", args=[job.pk, fmt])) for fmt in REPORT_FORMATS]
        if job.status == ImportJob.Status.REFUSED
        else [],
        "errors_shown": job.errors,
        "error_count": job.error_count,
    }


class ImportJobDetailView(_ImportJobMixin, DetailView):
    template_name = "settlement_ops/import_job.html"
    context_object_name = "job"

    def get_object(self, queryset=None):
        self.job, self.spec = self.get_job(self.kwargs["pk"])
        return self.job

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **import_job_context(self.job, self.spec), "spec": self.spec}


class ImportJobProgressView(ImportJobDetailView):
    """The progress block alone, polled by htmx while the job runs."""

    template_name = "partials/import_progress.html"


class ImportJobErrorsView(_ImportJobMixin, View):
    """Every problem of a refused file (not only the 100 on the page), as CSV or xlsx."""

    def get(self, request, pk, fmt):
        job, _spec = self.get_job(pk)
        if fmt not in REPORT_FORMATS or job.status != ImportJob.Status.REFUSED:
            raise Http404
        return error_report_response(errors=job_errors(job), name=f"import-{job.pk}-problems", fmt=fmt)
