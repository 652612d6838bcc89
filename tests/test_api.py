"""The JSON API contract, against a real index over real documents."""

import json

import jsonschema
import pytest

from index.analysis import ANALYZER_VERSION
from service.openapi import spec
from tests.conftest import age_index


def validate(body, schema_name):
    """Check *body* against a schema of our OpenAPI document."""
    document = spec()
    schema = {**document["components"]["schemas"][schema_name], "components": document["components"]}
    jsonschema.validate(body, schema)


def ask(client, question, **extra):
    return client.post("/api/ask", json={"question": question, **extra})


def test_answer_cites_the_exact_span(client):
    response = ask(client, "Who leads Yisrael Beyteinu?")
    assert response.status_code == 200
    body = response.get_json()
    validate(body, "AskResponse")
    assert body["answered"] is True
    first = body["answer"]["sentences"][0]
    assert "Avigdor Liberman" in first["text"]
    citation = body["citations"][first["citation"] - 1]
    assert citation["n"] == first["citation"]
    document = client.get(f"/api/documents/{citation['document']['id']}").get_json()
    validate(document, "Document")
    assert first["text"] in document["text"][citation["start"] : citation["end"]]
    assert citation["url"].startswith(f"/documents/{citation['document']['id']}?start={citation['start']}")


def test_passages_have_highlights_of_question_terms(client):
    body = ask(client, "Who leads Yisrael Beyteinu?").get_json()
    assert body["passages"] and len(body["passages"]) <= 5
    assert body["passages"][0]["chunk_id"] == body["citations"][0]["chunk_id"]  # the answer's passage leads
    scores = [p["score"] for p in body["passages"][1:]]
    assert scores == sorted(scores, reverse=True)
    passage = next(p for p in body["passages"] if "Yisrael" in p["text"])
    marked = {passage["text"][s:e].lower() for s, e in passage["highlights"]}
    assert {"yisrael", "beyteinu"} <= marked
    document = client.get(f"/api/documents/{passage['document']['id']}").get_json()
    assert document["text"][passage["start"] : passage["end"]] == passage["text"]


def test_a_question_about_a_stance_is_answered_without_its_framing_verb(client):
    body = ask(client, "What does Lavrov think about the ICC?").get_json()
    assert body["answered"] and "rather negative" in body["answer"]["sentences"][0]["text"]
    body = ask(client, "What happened to Eli Cohen?").get_json()
    assert body["answered"] and "Cohen" in body["answer"]["text"]


def test_a_question_meets_the_documents_demonyms_and_adjectives(client):
    # The article says "the Russian military intervention in Syria in September 2015".
    body = ask(client, "When did Russia intervene militarily in Syria?").get_json()
    assert body["answered"] and "September 2015" in body["answer"]["text"]


def test_question_outside_the_documents_is_not_answered(client):
    body = ask(client, "What is the boiling point of liquid nitrogen?").get_json()
    validate(body, "AskResponse")
    assert body["answered"] is False and body["answer"] is None
    assert "could not find" in body["message"]
    assert body["passages"] and "listed below" in body["message"]


def test_question_with_no_word_in_the_documents_says_so(client):
    body = ask(client, "Where do zyzzyvas flibbertigibbet?").get_json()
    validate(body, "AskResponse")
    assert body["answered"] is False and body["passages"] == []
    assert "none of them use any word of the question" in body["message"]
    assert "listed below" not in body["message"]


def test_other_formats_answer_with_their_section(client):
    body = ask(client, "How many nights did the keeper keep the lamp burning during the storm?").get_json()
    assert body["answered"] and "four nights" in body["answer"]["text"]
    assert body["citations"][0]["section"].endswith("The Storm of 1913")
    body = ask(client, "Which is the largest glacier in Iceland?").get_json()
    assert "Vatnajokull" in body["answer"]["text"] and body["citations"][0]["section"] == "Page 2"
    body = ask(client, "What soil pH do tomatoes prefer?").get_json()
    assert "6.2" in body["answer"]["text"] and "Soil" in body["citations"][0]["section"]


def test_follow_up_borrows_terms_from_history(client):
    alone = ask(client, "How long did she keep it?").get_json()
    follow = ask(client, "How long did she keep it?", history=["Who kept the Fairport lighthouse?"]).get_json()
    assert "thirty-one years" in follow["answer"]["text"]
    assert follow["citations"][0]["document"]["path"] == "lighthouse.html"
    assert "thirty-one years" not in ((alone["answer"] or {}).get("text") or "")


def test_standalone_question_ignores_history(client):
    alone = ask(client, "Who leads Yisrael Beyteinu?").get_json()
    with_history = ask(client, "Who leads Yisrael Beyteinu?", history=["Who is Eli Cohen?"]).get_json()
    assert alone["answer"] == with_history["answer"] and alone["passages"] == with_history["passages"]


def test_near_duplicate_passages_are_collapsed(client):
    # The article's UNSC 2334 story is repeated word for word inside reader comment 5.
    body = ask(client, "Did Putin promise Netanyahu that Russia would veto the resolution?", top_k=10).get_json()
    texts = [p["text"] for p in body["passages"]]
    assert len(texts) == len(set(texts))
    assert any(p["also_in"] for p in body["passages"])


def test_stop_word_only_question_gets_a_sensible_reply(client):
    body = ask(client, "What is it?").get_json()
    assert body["answered"] is False and "no searchable words" in body["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"json": {"question": ""}}, 400, "empty"),
        ({"json": {"question": "   "}}, 400, "empty"),
        ({"json": {"question": "x" * 2001}}, 400, "limit is 2000"),
        ({"json": {"question": 42}}, 400, "must be a string"),
        ({"json": {"question": "ok?", "top_k": 0}}, 400, "1 to 20"),
        ({"json": {"question": "ok?", "top_k": "5"}}, 400, "1 to 20"),
        ({"json": {"question": "ok?", "history": "nope"}}, 400, "history"),
        ({"json": ["question"]}, 400, "JSON object"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": "question=hi", "content_type": "application/x-www-form-urlencoded"}, 415, "JSON"),
        ({"data": json.dumps({"question": "a" * 70000}), "content_type": "application/json"}, 413, "65536"),
    ],
)
def test_bad_requests_get_json_errors(client, kwargs, status, needle):
    response = client.post("/api/ask", **kwargs)
    assert response.status_code == status
    body = response.get_json()
    validate(body, "Error")
    assert needle in body["error"]["message"]


def test_unknown_route_and_wrong_method(client):
    assert client.get("/api/nope").status_code == 404
    assert client.get("/api/nope").get_json()["error"]["code"] == "not_found"
    response = client.get("/api/ask")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    validate(response.get_json(), "Error")
    assert client.get("/api/documents/doesnotexist").status_code == 404


def test_no_index_is_503_with_the_fix(tmp_path, documents):
    from service import create_app

    app = create_app({"TESTING": True, "DOCUMENTS": str(documents), "INDEX": str(tmp_path / "none.sqlite")})
    response = app.test_client().post("/api/ask", json={"question": "Who?"})
    assert response.status_code == 503
    assert "docqa index" in response.get_json()["error"]["message"]


def test_an_index_of_another_analyzer_version_is_503_naming_the_rebuild(documents, built):
    from service import create_app

    age_index(built, ANALYZER_VERSION - 1)
    app = create_app({"TESTING": True, "DOCUMENTS": str(documents), "INDEX": str(built)})
    response = ask(app.test_client(), "Who leads Yisrael Beyteinu?")
    error = response.get_json()["error"]
    assert response.status_code == 503 and error["code"] == "index_outdated"
    assert f"analyzer version {ANALYZER_VERSION - 1}" in error["message"] and "docqa index" in error["message"]


def test_corrupt_index_is_503_naming_full_rebuild(tmp_path, documents):
    from service import create_app

    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    app = create_app({"TESTING": True, "DOCUMENTS": str(documents), "INDEX": str(bad)})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "docqa index --full" in response.get_json()["error"]["message"]


def test_documents_list_and_health(client):
    body = client.get("/api/documents").get_json()
    assert {d["format"] for d in body["documents"]} == {"txt", "md", "html", "pdf"}
    for d in body["documents"]:
        validate(d, "DocumentSummary")
    health = client.get("/healthz").get_json()
    validate(health, "Health")
    assert health["generation"] == 1 and health["documents"] == 4


def test_document_page_counts_its_chunks_in_words(client, tmp_path):
    from index.build import build_index
    from service import create_app

    for d in client.get("/api/documents").get_json()["documents"]:
        page = client.get(f"/documents/{d['id']}").get_data(as_text=True)
        assert d["chunk_count"] > 1 and f" {d['chunk_count']} chunks</p>" in page
    folder = tmp_path / "short"
    folder.mkdir()
    (folder / "note.txt").write_text("The Amazon basin covers seven million square kilometres.")
    build_index(folder, tmp_path / "short.sqlite")
    short = create_app({"TESTING": True, "DOCUMENTS": str(folder), "INDEX": str(tmp_path / "short.sqlite")})
    with short.test_client() as one:
        (d,) = one.get("/api/documents").get_json()["documents"]
        assert " 1 chunk</p>" in one.get(f"/documents/{d['id']}").get_data(as_text=True)


def test_rebuild_requires_the_admin_token(client, documents):
    assert client.post("/api/index").status_code == 401
    assert client.post("/api/index", headers={"Authorization": "Bearer wrong"}).status_code == 401
    (documents / "new.md").write_text("# New\n\nQuokkas live on Rottnest Island.\n")
    response = client.post("/api/index", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    validate(response.get_json(), "BuildSummary")
    assert response.get_json()["added"] == 1
    body = ask(client, "Where do quokkas live?").get_json()
    assert "Rottnest" in body["answer"]["text"]


def test_rebuild_is_off_without_a_token(tmp_path, documents, built):
    from service import create_app

    app = create_app({"TESTING": True, "DOCUMENTS": str(documents), "INDEX": str(built)})
    response = app.test_client().post("/api/index", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403 and "DOCQA_ADMIN_TOKEN" in response.get_json()["error"]["message"]


def test_openapi_document_is_valid_and_lists_every_api_route(client, app):
    from openapi_spec_validator import validate as validate_spec

    document = client.get("/api/openapi.json").get_json()
    validate_spec(document)
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/") or r.rule == "/healthz"}
    documented = {p.replace("{document_id}", "<document_id>") for p in document["paths"]}
    assert routes - {"/api/openapi.json"} == documented


def test_hostile_bodies_get_quick_4xx(client):
    deep = "[" * 20000 + "]" * 20000
    response = client.post("/api/ask", data=deep, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.get_json()["error"]["message"]
    response = client.post("/api/ask", data=b'{"question": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400
    response = ask(client, " ".join(["word"] * 10000))
    assert response.status_code == 400 and "limit is 2000" in response.get_json()["error"]["message"]
    for question in ("?!?! ... ,,,", "the of and a to", "\u0000\u0001"):
        response = ask(client, question)
        assert response.status_code == 200 and response.get_json()["answered"] is False
    response = ask(client, "ok?", history=["Who?"] * 10000)
    assert response.status_code == 413  # 10,000 history entries exceed the body limit


def test_answers_name_the_index_generation(client):
    body = ask(client, "Who leads Yisrael Beyteinu?").get_json()
    assert body["index"]["generation"] == 1


def test_ask_rate_limit_per_client(documents, built):
    from service import create_app

    app = create_app({"TESTING": True, "INDEX": str(built), "ASK_RATE_LIMIT": 6})
    client = app.test_client()
    statuses = [ask(client, "Who leads Yisrael Beyteinu?").status_code for _ in range(3)]
    assert statuses[0] == 200 and statuses[-1] == 429
    response = ask(client, "Who leads Yisrael Beyteinu?")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    validate(response.get_json(), "Error")
    other = client.post("/api/ask", json={"question": "Who?"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200  # another client has its own budget


def test_admin_rebuild_refuses_cross_site_and_is_rate_limited(client):
    token = {"Authorization": "Bearer s3cret"}
    cross = client.post("/api/index", headers={**token, "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post("/api/index", headers={**token, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    form = client.post("/api/index", data={"x": "1"}, headers={"Origin": "https://evil.example"})
    assert form.status_code == 403
    assert client.post("/api/index", headers=token).status_code == 200
    again = client.post("/api/index", headers=token)
    assert again.status_code == 429 and "Retry-After" in again.headers
