class DomainError(Exception):
    """A use case refused its input or state. Pages show it as a form message, the API as JSON.

    `errors` lists row/field problems for files and bulk requests:
    [{"row": 3, "field": "weight_kg", "message": "must be positive"}].
    """

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None, errors=None, status=400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.errors = list(errors or [])
        self.status = status

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
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
