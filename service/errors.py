"""Turn every error into the JSON envelope (API) or the error page (HTML), never a traceback."""

from __future__ import annotations

import math

from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException

from index.errors import DocqaError
from index.errors import RateLimited
from index.errors import Unauthorized

_HINTS = {
    404: "No such page or API route; see /api/openapi.json.",
    405: "This route does not take that method; see /api/openapi.json.",
    413: "The request body is too large.",
    415: "Send the body as JSON with Content-Type: application/json.",
}


def error_response(status: int, code: str, message: str) -> tuple[Response, int] | tuple[str, int]:
    """Render an error as JSON for API clients and as a page for browsers."""
    if request.path.startswith("/api/") or not request.accept_mimetypes.accept_html:
        return jsonify(error={"code": code, "message": message}), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers for docqa's own exceptions and for HTTP errors."""

    @app.errorhandler(DocqaError)
    def handle_docqa_error(error: DocqaError):
        response, status = error_response(error.status, error.code, str(error))
        headers = {}
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return response, status, headers

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        message = (error.description or "") if status not in _HINTS or status == 413 else _HINTS[status]
        if status == 413:
            message = f"The request body is larger than {app.config['MAX_BODY_BYTES']} bytes; send a shorter question."
        response, status = error_response(status, code, message)
        if status == 405 and isinstance(error.get_response().headers.get("Allow"), str):
            headers = {"Allow": error.get_response().headers["Allow"]}
            return response, status, headers
        return response, status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on the server; the log has the details.")
