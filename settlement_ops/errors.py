class DomainError(Exception):
    """A use case refused its input or state. Pages show it as a form message, the API as JSON.

    `errors` lists row/field problems for files and bulk requests:
    [{"row": 3, "field": "weight_kg", "message": "must be positive"}]; at most the first
    MAX_ERRORS_SHOWN are kept, `error_count` says how many there were in all.
    """

    MAX_ERRORS_SHOWN = 100

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        errors=None,
        status=400,
        error_count: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        errors = list(errors or [])
        self.error_count = max(error_count or 0, len(errors))
        self.errors = errors[: self.MAX_ERRORS_SHOWN]
        self.status = status

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
            body["error_count"] = self.error_count
        return body


class PermissionDeniedError(DomainError):
    def __init__(self, message: str = "You are not allowed to do this.", **kwargs):
        kwargs.setdefault("code", "permission_denied")
        kwargs.setdefault("status", 403)
        super().__init__(message, **kwargs)


class ConflictError(DomainError):
    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("code", "conflict")
        kwargs.setdefault("status", 409)
        super().__init__(message, **kwargs)
