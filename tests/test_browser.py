"""The chat page in headless Chromium (Debian's), against a real server on 127.0.0.1."""

import os
import shutil

import pytest

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("REQUIRE_BROWSER_TESTS"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser
HOSTILE = (
    "Hostile sample document about marmalade recipes.\n\n"
    "The marmalade secret is <script>window.__pwned = 1; alert('xss')</script> and "
    '<img src=x onerror="window.__pwned = 2"> and <a href="javascript:window.__pwned=3">click</a> in marmalade.\n'
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is required: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def server(documents, built):
    (documents / "hostile.txt").write_text(HOSTILE)
    from index.build import build_index

    build_index(documents, built)
    server = LiveServer(documents, built)
    yield server
    server.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.console_errors = []  # a resource that fails to load (a missing favicon, say) is one
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/")
    yield page
    context.close()


def ask(page, question):
    count = page.locator(".turn").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.turn').length > n && !document.querySelector('.turn.pending')", arg=count
    )
    return page.locator(".turn").last


def test_ask_see_answer_open_citation_and_land_on_the_span(page):
    turn = ask(page, "Who leads Yisrael Beyteinu?")
    assert page.console_errors == []
    assert "Avigdor Liberman" in turn.locator(".answer").inner_text()
    assert turn.locator(".answer mark").count() >= 2  # question words highlighted
    chip = turn.locator(".chip").first
    chip.click()
    panel = turn.locator(".citation-panel:not([hidden])")
    assert panel.is_visible() and chip.get_attribute("aria-expanded") == "true"
    assert "Yisrael" in panel.locator("blockquote mark").first.inner_text()
    panel.locator("a.open-source").click()
    page.wait_for_selector("#cited")
    page.wait_for_load_state("load")
    cited = page.locator("#cited")
    assert "Avigdor Liberman" in cited.inner_text()
    box = cited.bounding_box()
    assert box and 0 <= box["y"] < page.viewport_size["height"]  # scrolled into view
    assert page.console_errors == []


def runs(sentences):
    """Citation numbers of the runs of consecutive sentences from one source."""
    out = []
    for s in sentences:
        if not out or out[-1] != s["citation"]:
            out.append(s["citation"])
    return out


def test_one_chip_per_run_of_sentences_from_one_source(page, server):
    question = "What did Netanyahu ask Putin?"
    body = page.request.post(server.url + "/api/ask", data={"question": question}).json()
    sentences = body["answer"]["sentences"]
    assert len(runs(sentences)) < len(sentences)  # the answer has a run to collapse
    turn = ask(page, question)
    chips = [c.inner_text() for c in turn.locator(".chip").all()]
    assert chips == [f"[{n}]" for n in runs(sentences)]


def test_follow_up_uses_the_conversation_and_survives_reload(page):
    ask(page, "Who is Avigdor Lieberman?")
    turn = ask(page, "What did he say about sanctions?")
    assert "Lieberman" in turn.locator(".answer").inner_text()
    page.reload()
    assert page.locator(".turn").count() == 2
    page.click("#new-chat")
    assert page.locator(".turn").count() == 0
    page.reload()
    assert page.locator(".turn").count() == 0


def test_question_outside_the_documents_says_so(page):
    turn = ask(page, "What is the boiling point of liquid nitrogen?")
    assert "could not find" in turn.locator(".not-found").inner_text()
    assert turn.locator(".related li").count() >= 1


def test_errors_appear_in_the_conversation(page):
    page.route("**/api/ask", lambda route: route.abort())
    turn = ask(page, "Who leads Yisrael Beyteinu?")
    assert "Could not reach the server" in turn.locator(".error").inner_text()
    assert page.dialogs == []


def test_shift_enter_adds_a_line_instead_of_sending(page):
    page.fill("#question", "first line")
    page.press("#question", "Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#question") == "first line\nsecond line"
    assert page.locator(".turn").count() == 0


def test_hostile_document_shows_as_text_and_runs_nothing(page, server):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    turn = ask(page, "What is the marmalade secret?")
    assert "<script>" in turn.locator(".answer").inner_text()
    turn.locator(".chip").first.click()
    turn.locator(".citation-panel:not([hidden]) a.open-source").click()
    page.wait_for_selector("#cited")
    assert "<img src=x onerror" in page.locator(".doc-text").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert all(url.startswith(server.url) for url in requests)


def test_page_works_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/")
    page.fill("#question", "Who is Avigdor Lieberman?")
    with page.expect_navigation():
        page.click("#send")
    assert "Lieberman" in page.locator(".answer").inner_text()
    page.fill("#question", "What did he say about sanctions?")
    with page.expect_navigation():
        page.click("#send")  # the first question travels along as history
    assert "sanctions" in page.locator(".answer").inner_text()
    assert "Lieberman" in page.locator(".answer").inner_text()
    assert page.locator("input[name=history]").count() == 2
    page.fill("#question", "What did Netanyahu ask Putin?")  # two sentences from one source
    with page.expect_navigation():
        page.click("#send")
    # Every source chip points at a source listed on the page.
    for chip in page.locator(".chip").all():
        target = chip.get_attribute("href")
        assert target.startswith("#") and page.locator(target).count() == 1, target
    context.close()


def test_documents_page_lists_failures(browser, server, documents):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server.url + "/documents")
    rows = page.locator("table.documents tbody tr")
    assert rows.count() == 5
    assert page.locator("text=hostile.txt").is_visible()
    # Column names stay whole on a phone: "Chunks" on one line, not "Chu" over "nks".
    lines_of = "th => { const r = document.createRange(); r.selectNodeContents(th); return r.getClientRects().length; }"
    shown = [th for th in page.locator("table.documents th").all() if th.is_visible()]
    assert len(shown) >= 4 and all(th.evaluate(lines_of) == 1 for th in shown)
    context.close()


def test_copy_answer_gives_plain_text_with_sources(browser, server):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto(server.url + "/")
    turn = ask(page, "Who leads Yisrael Beyteinu?")
    turn.locator("button.copy").click()
    page.wait_for_function("() => document.querySelector('button.copy').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Avigdor Liberman" in copied and "[1]" in copied
    assert "Sources:" in copied and "/documents/" in copied and "<mark>" not in copied
    context.close()


def test_keyboard_user_reaches_the_question_box_and_sends(page):
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.focus("#question")
    page.keyboard.type("Who leads Yisrael Beyteinu?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn .answer")
    assert page.get_attribute("#transcript", "aria-live") == "polite"
    assert page.locator("label[for=question]").inner_text() == "Your question"
