"""The JSON API: ask, list and read documents, rebuild, health, and its OpenAPI description."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request

from index.build import build_index
from index.errors import Forbidden
from index.errors import InvalidQuestion
from index.errors import RateLimited
from index.errors import Unauthorized
from index.settings import BuildSettings
from service.answers import answer
from service.answers import validate
from service.indexes import get_analyzer
from service.indexes import get_index
from service.openapi import spec

bp = Blueprint("api", __name__)


def json_body() -> dict[str, Any]:
    """Parse the request body as a JSON object, with errors that say how to fix it."""
    if not request.is_json:
        abort(415)
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise InvalidQuestion("The JSON body is nested too deeply; send a flat object.") from None
    if data is None:
        raise InvalidQuestion('The body is not valid JSON; send e.g. {"question": "Who leads Yisrael Beyteinu?"}.')
    if not isinstance(data, dict):
        raise InvalidQuestion('The body must be a JSON object, e.g. {"question": "..."}.')
    return data


def ask_from(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a request mapping and answer it from the current index."""
    question, history, top_k = validate(
        data.get("question"),
        data.get("history"),
        data.get("top_k", current_app.config["TOP_K"]),
        current_app.config["MAX_QUESTION_CHARS"],
    )
    config = current_app.config
    return answer(
        get_index(), get_analyzer(), question, history, top_k, config["MIN_COVERAGE"], config["FEEDBACK_TERMS"]
    )


def limit_client() -> None:
    """Refuse a client that asks faster than DOCQA_ASK_RATE_LIMIT allows."""
    wait = current_app.extensions["docqa.ask_limiter"].check(request.remote_addr or "-")
    if wait:
        raise RateLimited(f"Too many questions from your address; try again in {wait:.0f} s.", wait)


@bp.post("/api/ask")
def ask():
    """Answer a question with cited sentences."""
    limit_client()
    return jsonify(ask_from(json_body()))


@bp.get("/api/documents")
def documents():
    """Every document the index knows, failures included."""
    return jsonify(documents=get_index().documents())


@bp.get("/api/documents/<document_id>")
def document(document_id: str):
    """One document's text and chunk spans."""
    return jsonify(get_index().document(document_id))


def same_origin() -> bool:
    """True unless the request names an Origin other than this server."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


@bp.post("/api/index")
def rebuild():
    """Rebuild the index incrementally; needs the admin bearer token."""
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        raise Forbidden("Rebuilding over HTTP is off; set DOCQA_ADMIN_TOKEN to enable it.")
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site") or not same_origin():
        raise Forbidden("Rebuilds are not accepted from another site; call the API directly.")
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise Unauthorized("Send Authorization: Bearer <DOCQA_ADMIN_TOKEN>.")
    wait = current_app.extensions["docqa.rebuild_limiter"].check("rebuild")
    if wait:
        raise RateLimited(f"A rebuild ran moments ago; try again in {wait:.0f} s.", wait)
    cfg = current_app.config
    summary = build_index(
        Path(cfg["DOCUMENTS"]),
        Path(cfg["INDEX"]),
        BuildSettings.from_mapping({k.lower(): cfg[k.upper()] for k in BuildSettings.__dataclass_fields__}),
    )
    return jsonify(summary.as_dict())


@bp.get("/healthz")
def healthz():
    """Which index generation answers, and how big it is."""
    index = get_index()
    meta = index.meta
    return jsonify(
        status="ok",
        generation=index.generation,
        built_at=meta.get("built_at"),
        documents=meta.get("documents"),
        chunks=meta.get("chunks"),
    )


@bp.get("/api/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(spec(current_app.config["MAX_QUESTION_CHARS"]))
