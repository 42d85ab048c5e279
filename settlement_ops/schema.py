"""OpenAPI generation: every operation documents the error statuses the API can answer with."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_BODY = inline_serializer(
    "ErrorResponse",
    fields={
        "error": inline_serializer(
            "ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "field": serializers.CharField(required=False),
                "fields": serializers.DictField(required=False, help_text="Field name -> list of problems"),
                "errors": serializers.ListField(
                    child=serializers.DictField(), required=False, help_text="Row/field problems, the first 100"
                ),
                "error_count": serializers.IntegerField(required=False),
            },
        )
    },
)

# Status -> when it is answered. Every error body is {"error": {"code", "message", ...}}.
ALWAYS = {
    "400": "Invalid input or filter; `error.fields` or `error.errors` name the problem.",
    "401": "No or an invalid token.",
    "403": "The caller's role may not do this.",
    "404": "No such object (or one the caller may not see: the same answer), or a page past the end.",
    "429": "Too many requests; retry after the `Retry-After` seconds.",
}
WRITE = {
    "409": "The object's state does not allow this, or a request with this Idempotency-Key is still running.",
    "413": "The request body is too large.",
    "415": "Unsupported content type.",
    "422": "This Idempotency-Key was used with a different request.",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error responses every operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        extra = dict(ALWAYS)
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            extra.update(WRITE)
        for code, description in extra.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ERROR_BODY, description=description), code, direction=direction
                )
        return responses


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Integration tokens (settlement_ops.api_tokens) in the schema: `Authorization: Bearer so_…`."""

    target_class = "settlement_ops.api_tokens.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A named, scoped, expiring integration token created at /api-tokens/.",
        }
