// The chat page: sends questions to /api/ask with the conversation as history, renders answers with
// citation chips, and keeps the conversation in sessionStorage. Document text is untrusted: it only
// ever reaches the page through textContent, never innerHTML.
"use strict";
(function () {
  var STORE = "docqa.conversation";
  var form = document.getElementById("ask-form");
  var box = document.getElementById("question");
  var transcript = document.getElementById("transcript");
  var newChat = document.getElementById("new-chat");
  var sendButton = document.getElementById("send");
  var exchanges = load();
  var busy = false;

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(exchanges)); } catch (e) { /* storage full or off */ }
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  // Text with [start, end) spans wrapped in <mark>, built from text nodes only.
  function highlighted(text, spans) {
    var frag = document.createDocumentFragment();
    var at = 0;
    (spans || []).slice().sort(function (a, b) { return a[0] - b[0]; }).forEach(function (s) {
      if (s[0] < at) return;
      frag.appendChild(document.createTextNode(text.slice(at, s[0])));
      frag.appendChild(el("mark", { text: text.slice(s[0], s[1]) }));
      at = s[1];
    });
    frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }
  // The passage with question words marked and the cited sentence set apart.
  function withCitedSpan(passage, citation) {
    var from = Math.max(0, citation.start - passage.start), to = Math.min(passage.text.length, citation.end - passage.start);
    if (from >= to) return highlighted(passage.text, passage.highlights);
    function part(a, b) {
      var spans = (passage.highlights || []).filter(function (h) { return h[0] >= a && h[1] <= b; })
        .map(function (h) { return [h[0] - a, h[1] - a]; });
      return highlighted(passage.text.slice(a, b), spans);
    }
    var frag = document.createDocumentFragment();
    frag.appendChild(part(0, from));
    frag.appendChild(el("span", { className: "cited-sentence" }, [part(from, to)]));
    frag.appendChild(part(to, passage.text.length));
    return frag;
  }
  function place(p) {
    return p.document.title + (p.section ? " · " + p.section : "");
  }
  function citationPanel(result, citation, id) {
    var body = el("blockquote", {}, [withCitedSpan(citation.passage, citation)]);
    return el("div", { className: "citation-panel", id: id, role: "region", "aria-label": "Source " + citation.n, hidden: "" }, [
      el("p", { className: "source-title" }, [el("strong", { text: "[" + citation.n + "] " }), document.createTextNode(place(citation))]),
      body,
      el("a", { href: citation.url, className: "open-source", text: "Open the document at this passage" }),
    ]);
  }
  function plainText(result) {
    var sentences = result.answer.sentences;
    var text = sentences.map(function (s, i) {
      var last = i + 1 === sentences.length || sentences[i + 1].citation !== s.citation;
      return last ? s.text + " [" + s.citation + "]" : s.text;
    }).join(" ");
    var lines = [text, "", "Sources:"];
    result.citations.forEach(function (c) {
      lines.push("[" + c.n + "] " + place(c) + " — " + location.origin + c.url);
    });
    return lines.join("\n");
  }
  function renderAnswer(reply, result, turnIndex) {
    if (result.answered) {
      var answer = el("p", { className: "answer" });
      var panels = el("div", { className: "panels" });
      var sentences = result.answer.sentences;
      sentences.forEach(function (s, i) {
        answer.appendChild(highlighted(s.text, s.highlights));
        answer.appendChild(document.createTextNode(" "));
        // One chip after a run of sentences from the same source.
        if (i + 1 < sentences.length && sentences[i + 1].citation === s.citation) return;
        var panelId = "t" + turnIndex + "-c" + s.citation;
        if (!document.getElementById(panelId) && !panels.querySelector("#" + panelId)) {
          var citation = result.citations.filter(function (c) { return c.n === s.citation; })[0];
          panels.appendChild(citationPanel(result, citation, panelId));
        }
        var chip = el("button", { type: "button", className: "chip", "aria-expanded": "false", "aria-controls": panelId,
          title: "Show source " + s.citation, text: "[" + s.citation + "]" });
        chip.addEventListener("click", function () { toggle(chip, panels, panelId); });
        answer.appendChild(chip);
        answer.appendChild(document.createTextNode(" "));
      });
      var copy = el("button", { type: "button", className: "secondary copy", text: "Copy answer" });
      copy.addEventListener("click", function () {
        var text = plainText(result);
        (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject()).then(function () {
          copy.textContent = "Copied";
        }, function () { copy.textContent = "Copy failed"; });
        copy.dataset.copied = text;
      });
      reply.appendChild(answer);
      reply.appendChild(panels);
      reply.appendChild(copy);
    } else {
      reply.appendChild(el("p", { className: "not-found", text: result.message }));
      if (result.passages.length) {
        var list = el("ol");
        result.passages.forEach(function (p) {
          list.appendChild(el("li", {}, [el("a", { href: p.url, text: place(p) }),
            el("blockquote", {}, [highlighted(p.text, p.highlights)])]));
        });
        reply.appendChild(el("details", { className: "related" }, [el("summary", { text: "Related passages" }), list]));
      }
    }
  }
  function toggle(chip, panels, panelId) {
    var panel = panels.querySelector("#" + panelId);
    var open = panel.hasAttribute("hidden");
    panels.querySelectorAll(".citation-panel").forEach(function (p) { p.setAttribute("hidden", ""); });
    chip.closest(".answer").querySelectorAll(".chip").forEach(function (c) { c.setAttribute("aria-expanded", "false"); });
    if (open) {
      panel.removeAttribute("hidden");
      chip.closest(".answer").querySelectorAll('.chip[aria-controls="' + panelId + '"]').forEach(function (c) {
        c.setAttribute("aria-expanded", "true");
      });
    }
  }
  function renderTurn(ex, index) {
    var reply = el("div", { className: "reply" }, [el("span", { className: "who", text: "docqa" })]);
    var turn = el("li", { className: "turn" }, [
      el("div", { className: "question" }, [el("span", { className: "who", text: "You" }), el("p", { text: ex.question })]),
      reply,
    ]);
    if (ex.pending) {
      turn.classList.add("pending");
      reply.appendChild(el("p", { className: "searching", role: "status", text: "Searching the documents…" }));
    } else if (ex.error) {
      reply.appendChild(el("p", { className: "error", text: ex.error }));
    } else {
      renderAnswer(reply, ex.result, index);
    }
    return turn;
  }
  function renderAll() {
    transcript.textContent = "";
    exchanges.forEach(function (ex, i) { transcript.appendChild(renderTurn(ex, i)); });
    newChat.hidden = exchanges.length === 0;
    var hint = document.getElementById("empty-hint");
    if (hint) hint.hidden = exchanges.length > 0;
  }
  function ask(question) {
    var history = exchanges.filter(function (ex) { return !ex.error; }).map(function (ex) { return ex.question; });
    var ex = { question: question, pending: true };
    exchanges.push(ex);
    var index = exchanges.length - 1;
    var turn = renderTurn(ex, index);
    transcript.appendChild(turn);
    newChat.hidden = false;
    var hint = document.getElementById("empty-hint");
    if (hint) hint.hidden = true;
    turn.scrollIntoView({ block: "end" });
    busy = true;
    sendButton.disabled = true;
    fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ question: question, history: history }),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error((body.error && body.error.message) || ("The server answered " + response.status));
        return body;
      }, function () { throw new Error("The server answered " + response.status + " without a readable body."); });
    }).then(function (result) {
      delete ex.pending; ex.result = result;
    }, function (err) {
      delete ex.pending; ex.error = err.message === "Failed to fetch" ? "Could not reach the server; check that docqa is running and try again." : err.message;
    }).then(function () {
      var fresh = renderTurn(ex, index);
      transcript.replaceChild(fresh, turn);
      save();
      busy = false;
      sendButton.disabled = false;
      fresh.scrollIntoView({ block: "nearest" });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = box.value.trim();
    if (!question || busy) return;
    box.value = "";
    ask(question);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  newChat.addEventListener("click", function () {
    exchanges = [];
    save();
    renderAll();
    box.focus();
  });
  if (exchanges.length) {
    exchanges = exchanges.filter(function (ex) { return !ex.pending; });
    renderAll();
  }
  // The server-rendered (no-JavaScript) form carries history in hidden fields; with JavaScript
  // the history comes from sessionStorage instead.
  form.querySelectorAll('input[name="history"]').forEach(function (input) { input.remove(); });
})();
