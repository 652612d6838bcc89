"""The JSON API: ask, list and read documents, rebuild, health, and its OpenAPI description."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request

from index.build import build_index
from index.errors import InvalidQuestion
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
    data = request.get_json(silent=True)
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
    return answer(get_index(), get_analyzer(), question, history, top_k, current_app.config["MIN_COVERAGE"])


@bp.post("/api/ask")
def ask():
    """Answer a question with cited sentences."""
    return jsonify(ask_from(json_body()))


@bp.get("/api/documents")
def documents():
    """Every document the index knows, failures included."""
    return jsonify(documents=get_index().documents())


@bp.get("/api/documents/<document_id>")
def document(document_id: str):
    """One document's text and chunk spans."""
    return jsonify(get_index().document(document_id))


@bp.post("/api/index")
def rebuild():
    """Rebuild the index incrementally; needs the admin bearer token."""
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        return jsonify(
            error={"code": "disabled", "message": "Rebuilding over HTTP is off; set DOCQA_ADMIN_TOKEN to enable it."}
        ), 403
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        return (
            jsonify(error={"code": "unauthorized", "message": "Send Authorization: Bearer <DOCQA_ADMIN_TOKEN>."}),
            401,
            {"WWW-Authenticate": "Bearer"},
        )
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
    return jsonify(spec())
