"""The HTML pages: the chat, its no-JavaScript fallback, and the document views."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from markupsafe import Markup
from markupsafe import escape

from index.errors import DocqaError
from service.api import ask_from
from service.indexes import get_index

bp = Blueprint("pages", __name__)


@bp.app_template_filter("highlight")
def highlight(text: str, spans: list[list[int]] | None) -> Markup:
    """Escape *text* and wrap each [start, end) span in <mark>."""
    out, at = [], 0
    for start, end in sorted(spans or []):
        if start < at:
            continue
        out.append(escape(text[at:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


@bp.after_app_request
def security_headers(response: Response) -> Response:
    """Forbid inline script, framing and MIME sniffing on every response."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@bp.get("/")
def chat():
    """The chat page."""
    return render_template("chat.html", exchanges=[], history=[], max_chars=current_app.config["MAX_QUESTION_CHARS"])


@bp.post("/ask")
def ask_form():
    """Answer a form post: the same answer, rendered on the server for browsers without JavaScript."""
    history = [h for h in request.form.getlist("history") if h.strip()]
    question = request.form.get("question", "")
    exchange: dict[str, Any] = {"question": question, "result": None, "error": None}
    try:
        exchange["result"] = ask_from({"question": question, "history": history})
    except DocqaError as exc:
        exchange["error"] = str(exc)
    status = 200 if exchange["error"] is None else 400
    new_history = history + ([question.strip()] if exchange["error"] is None else [])
    return render_template(
        "chat.html", exchanges=[exchange], history=new_history, max_chars=current_app.config["MAX_QUESTION_CHARS"]
    ), status


@bp.get("/documents")
def documents():
    """Every indexed document, with failures and their reasons."""
    return render_template("documents.html", documents=get_index().documents())


@bp.get("/documents/<document_id>")
def document(document_id: str):
    """A document's text, with the cited span (``?start=&end=``) highlighted and scrolled to."""
    doc = get_index().document(document_id)
    text = doc["text"]
    start = request.args.get("start", type=int)
    end = request.args.get("end", type=int)
    if start is None or end is None or not 0 <= start < end <= len(text):
        start = end = None
    return render_template(
        "document.html",
        doc=doc,
        before=text[:start] if start is not None else text,
        cited=text[start:end] if start is not None else None,
        after=text[end:] if end is not None else "",
    )
