"""The OpenAPI 3 description of the JSON API; tests validate real responses against it."""

from __future__ import annotations

import json
from typing import Any

_NULLABLE_STR = {"type": ["string", "null"]}
_DOCUMENT_REF = {
    "type": "object",
    "required": ["id", "title", "path"],
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "path": {"type": "string"}},
}
_PLACE = {
    "document": {"$ref": "#/components/schemas/DocumentRef"},
    "section": _NULLABLE_STR,
    "chunk_id": {"type": "string"},
    "start": {"type": "integer"},
    "end": {"type": "integer"},
    "url": {"type": "string"},
}
_SPANS = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}}

SCHEMAS: dict[str, Any] = {
    "DocumentRef": _DOCUMENT_REF,
    "AskRequest": {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {
                "type": "string",
                "pattern": "\\S",
                "maxLength": 2000,
                "description": "Not blank; at most DOCQA_MAX_QUESTION_CHARS characters (2000 by default).",
            },
            "history": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "Earlier questions, oldest first.",
            },
            "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": 20, "default": 5},
        },
    },
    "AskResponse": {
        "type": "object",
        "required": ["question", "answered", "answer", "citations", "passages", "took_ms"],
        "properties": {
            "question": {"type": "string"},
            "answered": {"type": "boolean"},
            "message": _NULLABLE_STR,
            "answer": {
                "type": ["object", "null"],
                "required": ["text", "sentences"],
                "properties": {
                    "text": {"type": "string"},
                    "sentences": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["text", "citation"],
                            "properties": {
                                "text": {"type": "string"},
                                "citation": {"type": "integer"},
                                "start": {"type": "integer"},
                                "end": {"type": "integer"},
                                "highlights": _SPANS,
                            },
                        },
                    },
                },
            },
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["n", *_PLACE],
                    "properties": {
                        "n": {"type": "integer"},
                        **_PLACE,
                        "passage": {
                            "type": "object",
                            "description": "The passage the cited span belongs to, for context.",
                            "properties": {
                                "text": {"type": "string"},
                                "start": {"type": "integer"},
                                "end": {"type": "integer"},
                                "highlights": _SPANS,
                            },
                        },
                    },
                },
            },
            "passages": {
                "type": "array",
                "description": (
                    "Best passages by BM25 score (of the question widened by feedback words when "
                    "DOCQA_FEEDBACK_TERMS is on); when there is an answer, the passage it comes from leads."
                ),
                "items": {
                    "type": "object",
                    "required": ["rank", "score", "text", "highlights", *_PLACE],
                    "properties": {
                        "rank": {"type": "integer"},
                        "score": {"type": "number"},
                        "text": {"type": "string"},
                        "highlights": _SPANS,
                        **_PLACE,
                        "also_in": {"type": "array", "items": {"type": "object", "properties": _PLACE}},
                    },
                },
            },
            "took_ms": {"type": "number"},
            "index": {
                "type": "object",
                "description": "The index generation that answered (a rebuild increments it).",
                "properties": {"generation": {"type": "integer"}, "built_at": _NULLABLE_STR},
            },
        },
    },
    "DocumentSummary": {
        "type": "object",
        "required": ["id", "path", "title", "format", "status", "chunk_count"],
        "properties": {
            "id": {"type": "string"},
            "path": {"type": "string"},
            "title": {"type": "string"},
            "format": {"type": "string"},
            "size": {"type": "integer"},
            "status": {"type": "string", "enum": ["ok", "failed", "skipped"]},
            "error": _NULLABLE_STR,
            "chunk_count": {"type": "integer"},
        },
    },
    "Document": {
        "allOf": [
            {"$ref": "#/components/schemas/DocumentSummary"},
            {
                "type": "object",
                "required": ["text", "chunks"],
                "properties": {
                    "text": {"type": "string"},
                    "chunks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["chunk_id", "start", "end"],
                            "properties": {
                                "chunk_id": {"type": "string"},
                                "ordinal": {"type": "integer"},
                                "section": _NULLABLE_STR,
                                "start": {"type": "integer"},
                                "end": {"type": "integer"},
                            },
                        },
                    },
                },
            },
        ],
    },
    "Health": {
        "type": "object",
        "required": ["status", "generation", "documents", "chunks"],
        "properties": {
            "status": {"type": "string"},
            "generation": {"type": "integer"},
            "built_at": _NULLABLE_STR,
            "documents": {"type": "integer"},
            "chunks": {"type": "integer"},
        },
    },
    "BuildSummary": {
        "type": "object",
        "required": ["added", "changed", "removed", "unchanged", "failed", "chunks", "seconds", "generation"],
        "properties": {
            k: {"type": "integer"}
            for k in (
                "added",
                "changed",
                "removed",
                "unchanged",
                "failed",
                "skipped",
                "documents",
                "chunks",
                "terms",
                "generation",
            )
        }
        | {
            "seconds": {"type": "number"},
            "full": {"type": "boolean"},
            "index": {"type": "string"},
            "failures": {"type": "array"},
            "reread": {
                **_NULLABLE_STR,
                "description": "Why an incremental build re-read every file (another docqa version, changed settings).",
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _json("Error", "Error") for s in statuses}


def spec(max_question_chars: int = 2000) -> dict[str, Any]:
    """Return the OpenAPI document (the question length limit is the configured one)."""
    schemas = json.loads(json.dumps(SCHEMAS))
    schemas["AskRequest"]["properties"]["question"]["maxLength"] = max_question_chars
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "docqa",
            "version": "1",
            "description": "Extractive answers with citations over a folder of documents.",
        },
        "paths": {
            "/api/ask": {
                "post": {
                    "summary": "Answer a question",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AskRequest"}}},
                    },
                    "responses": {
                        "200": _json("AskResponse", "The answer, or answered=false with related passages"),
                        **_errors(400, 413, 415, 429, 503),
                    },
                }
            },
            "/api/documents": {
                "get": {
                    "summary": "List documents",
                    "responses": {
                        "200": {
                            "description": "Documents",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["documents"],
                                        "properties": {
                                            "documents": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/DocumentSummary"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(503),
                    },
                }
            },
            "/api/documents/{document_id}": {
                "get": {
                    "summary": "One document with its text and chunk spans",
                    "parameters": [
                        {"name": "document_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": _json("Document", "The document"), **_errors(404, 503)},
                }
            },
            "/api/index": {
                "post": {
                    "summary": "Rebuild the index incrementally (admin)",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json("BuildSummary", "What the build did"),
                        **_errors(401, 403, 409, 429, 500),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "The index in use",
                    "responses": {"200": _json("Health", "Index generation and size"), **_errors(503)},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
