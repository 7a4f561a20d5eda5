"""Every error the API gives, in one JSON shape:
``{"error": {"code": ..., "message": ..., "fields": {field: [messages]}}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = "",
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.fields = fields or {}
        self.headers = headers or {}


def error_body(status: int, message: str, *, code: str = "", fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "fields": fields or {}}}


def error_response(
    status: int,
    message: str,
    *,
    code: str = "",
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = JsonResponse(error_body(status, message, code=code, fields=fields), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _loc_name(loc: Any) -> str:
    """Pydantic's location (``("body", "payload", "vendor")``) as the field people sent."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload", "filters")]
    return ".".join(parts) or "__all__"


def _ninja_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for item in exc.errors:
        fields.setdefault(_loc_name(item.get("loc", ())), []).append(str(item.get("msg", "Invalid value.")))
    return error_response(422, "Some values are not valid; see fields.", fields=fields)


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(exc.status, exc.message, code=exc.code, fields=exc.fields, headers=exc.headers)

    api.add_exception_handler(NinjaValidationError, _ninja_invalid)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            401,
            "Send a valid API token: 'Authorization: Bearer <token>'. A revoked token, or one of a person "
            "no longer in its team, does not work.",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return error_response(403, str(exc) or "Your role in this team cannot do this.")

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(404, "Not found.")

    @api.exception_handler(DjangoValidationError)
    def _refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return error_response(409, " ".join(exc.messages), code="not_possible")

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return error_response(exc.status_code, str(exc))

    @api.exception_handler(Exception)
    def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on the panel's side; it has been logged.")


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other address under /api/v1/: the same shape as every other error."""
    return error_response(404, "No such API endpoint. The list is at /api/v1/docs.")
