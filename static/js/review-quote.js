/* Review pages: commenting on a passage.

   1. Mouse or touch: words selected inside a paragraph travel with the "Comment on this
      paragraph" link as the quoted passage (the server checks that it occurs).
   2. Keyboard (and screen readers): "Select a passage" turns the paragraph into a selection
      area. Arrow keys move by words (Chinese, Japanese: by characters), Up/Down by sentences,
      Shift extends the selection, Home/End jump; Enter comments on the selected passage,
      Escape leaves. Every change is announced in a live region.
   3. On the comment form reached that way, the comment field gets the focus.

   Words and sentences come from Intl.Segmenter in the paragraph's language. Offsets are counted
   over the paragraph's text nodes outside [data-skip] (note numbers, image placeholders), which
   add up to exactly the stored paragraph text. Progressive enhancement: without this file the
   links still open the comment form, and the buttons stay hidden. A file rather than an inline
   <script>, so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";

  var CJK = /[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef\u3040-\u30ff\uac00-\ud7af]/;
  var PUNCT = /^[\s\p{P}\p{S}]+$/u;
  var strings = {};

  function t(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("%(" + name + ")s").join(values[name]);
    });
    return text;
  }

  // --- Text nodes ↔ offsets ------------------------------------------------------------------

  function textNodes(body) {
    var nodes = [];
    var walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentElement && node.parentElement.closest("[data-skip]")
          ? NodeFilter.FILTER_REJECT
          : NodeFilter.FILTER_ACCEPT;
      }
    });
    var offset = 0;
    while (walker.nextNode()) {
      nodes.push({ node: walker.currentNode, start: offset });
      offset += walker.currentNode.data.length;
    }
    return nodes;
  }

  function bodyText(nodes) {
    return nodes.map(function (n) { return n.node.data; }).join("");
  }

  function domPoint(nodes, offset) {
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (offset <= n.start + n.node.data.length) {
        return { node: n.node, offset: offset - n.start };
      }
    }
    var last = nodes[nodes.length - 1];
    return last ? { node: last.node, offset: last.node.data.length } : null;
  }

  function offsetOf(nodes, node, offset) {
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].node === node) return nodes[i].start + offset;
    }
    return -1;
  }

  // --- Units: words (CJK characters one by one) and sentences ---------------------------------

  function segmenter(lang, granularity) {
    if (!window.Intl || !Intl.Segmenter) return null;
    try {
      return new Intl.Segmenter(lang || undefined, { granularity: granularity });
    } catch (e) {
      return new Intl.Segmenter(undefined, { granularity: granularity });
    }
  }

  function wordUnits(text, lang) {
    var units = [];
    var seg = segmenter(lang, "word");
    var parts = [];
    if (seg) {
      Array.from(seg.segment(text)).forEach(function (s) {
        parts.push({ start: s.index, text: s.segment, word: s.isWordLike });
      });
    } else {
      var re = /\S+/g, m;
      while ((m = re.exec(text))) parts.push({ start: m.index, text: m[0], word: true });
    }
    parts.forEach(function (p) {
      if (CJK.test(p.text)) {
        // Chinese has no spaces: one character at a time, punctuation skipped.
        var i = 0;
        Array.from(p.text).forEach(function (ch) {
          if (!PUNCT.test(ch)) units.push({ start: p.start + i, end: p.start + i + ch.length });
          i += ch.length;
        });
      } else if (p.word || !PUNCT.test(p.text)) {
        units.push({ start: p.start, end: p.start + p.text.length });
      }
    });
    return units;
  }

  function sentenceUnits(text, lang) {
    var seg = segmenter(lang, "sentence");
    var out = [];
    var pieces = seg
      ? Array.from(seg.segment(text)).map(function (s) { return { start: s.index, text: s.segment }; })
      : [{ start: 0, text: text }];
    pieces.forEach(function (p) {
      var lead = p.text.length - p.text.replace(/^\s+/, "").length;
      var trimmed = p.text.trim();
      if (trimmed) out.push({ start: p.start + lead, end: p.start + lead + trimmed.length });
    });
    return out;
  }

  // --- The selection mode ----------------------------------------------------------------------

  var live;
  function announce(message) {
    if (!live) return;
    // Clear first so the same words twice are announced twice.
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 30);
  }

  function Mode(button, body) {
    this.button = button;
    this.body = body;
    this.block = body.closest(".review-block");
    this.link = this.block.querySelector("a[data-comment-link]");
    this.lang = body.closest("[lang]") ? body.closest("[lang]").getAttribute("lang") : "";
    this.nodes = textNodes(body);
    this.text = bodyText(this.nodes);
    this.words = wordUnits(this.text, this.lang);
    this.sentences = sentenceUnits(this.text, this.lang);
    this.anchor = 0;
    this.focus = 0;
  }

  Mode.prototype.start = function () {
    var self = this;
    this.body.setAttribute("tabindex", "-1");
    this.body.setAttribute("role", "textbox");
    this.body.setAttribute("aria-readonly", "true");
    this.body.setAttribute("aria-multiline", "true");
    this.body.setAttribute("aria-label", t("passage", { ref: this.button.dataset.ref || "" }));
    this.body.setAttribute("aria-describedby", "passage-help");
    this.body.classList.add("selecting");
    this.button.setAttribute("aria-expanded", "true");
    this.onKey = function (event) { self.key(event); };
    this.onBlur = function () { window.setTimeout(function () { if (document.activeElement !== self.body) self.stop(false); }, 0); };
    this.body.addEventListener("keydown", this.onKey);
    this.body.addEventListener("blur", this.onBlur);
    this.body.focus();
    var first = this.words[0];
    this.anchor = this.focus = first ? first.start : 0;
    this.show();
    announce(t("started") + " " + this.describe(true));
  };

  Mode.prototype.stop = function (refocus) {
    this.body.removeEventListener("keydown", this.onKey);
    this.body.removeEventListener("blur", this.onBlur);
    ["tabindex", "role", "aria-readonly", "aria-multiline", "aria-label", "aria-describedby"].forEach(
      function (name) { this.body.removeAttribute(name); }, this);
    this.body.classList.remove("selecting");
    this.button.setAttribute("aria-expanded", "false");
    if (active === this) active = null;
    if (refocus) {
      var selection = window.getSelection();
      if (selection) selection.removeAllRanges();
      this.button.focus();
      announce(t("stopped"));
    }
  };

  Mode.prototype.range = function () {
    return { start: Math.min(this.anchor, this.focus), end: Math.max(this.anchor, this.focus) };
  };

  Mode.prototype.passage = function () {
    var r = this.range();
    return this.text.slice(r.start, r.end);
  };

  Mode.prototype.describe = function (moved) {
    var r = this.range();
    if (r.end > r.start) {
      var passage = this.passage();
      return t("selected", { text: passage, n: String(Array.from(passage).length) });
    }
    var unit = this.words.filter(function (u) { return u.start === r.start; })[0];
    if (!unit) return moved ? t("end") : "";
    return t("at", { text: this.text.slice(unit.start, unit.end) });
  };

  Mode.prototype.show = function () {
    var selection = window.getSelection();
    if (!selection) return;
    var r = this.range();
    var a = domPoint(this.nodes, r.start);
    var b = domPoint(this.nodes, r.end);
    if (!a || !b) return;
    selection.setBaseAndExtent(a.node, a.offset, b.node, b.offset);
  };

  function nextStart(units, pos) {
    for (var i = 0; i < units.length; i++) if (units[i].start > pos) return units[i].start;
    return null;
  }
  function previousStart(units, pos) {
    for (var i = units.length - 1; i >= 0; i--) if (units[i].start < pos) return units[i].start;
    return null;
  }
  function nextEnd(units, pos) {
    for (var i = 0; i < units.length; i++) if (units[i].end > pos) return units[i].end;
    return null;
  }
  function previousEnd(units, pos) {
    for (var i = units.length - 1; i >= 0; i--) if (units[i].end < pos) return units[i].end;
    return null;
  }

  Mode.prototype.key = function (event) {
    var units = null;
    var forward = false;
    switch (event.key) {
      case "ArrowRight": case "ArrowLeft":
        units = this.words;
        // In a right-to-left paragraph the right arrow goes backwards.
        forward = (event.key === "ArrowRight") !== (getComputedStyle(this.body).direction === "rtl");
        break;
      case "ArrowDown": case "ArrowUp":
        units = this.sentences;
        forward = event.key === "ArrowDown";
        break;
      case "Home":
        this.move(0, event.shiftKey); event.preventDefault(); return;
      case "End":
        this.move(this.text.length, event.shiftKey); event.preventDefault(); return;
      case "Enter":
        event.preventDefault(); this.comment(); return;
      case "Escape":
        event.preventDefault(); this.stop(true); return;
      case "Tab":
        this.stop(false); return;
      default:
        return;
    }
    event.preventDefault();
    var target;
    if (event.shiftKey && forward) {
      target = nextEnd(units, this.focus);
    } else if (event.shiftKey) {
      // Shrink a forward selection; past its start, grow it backwards.
      target = this.focus > this.anchor
        ? Math.max(this.anchor, previousEnd(units, this.focus) || this.anchor)
        : previousStart(units, this.focus);
    } else {
      target = forward ? nextStart(units, this.focus) : previousStart(units, this.focus);
    }
    if (target === null) { announce(forward ? t("end") : t("start")); return; }
    this.move(target, event.shiftKey);
  };

  Mode.prototype.move = function (pos, extend) {
    if (extend) {
      this.focus = pos;
    } else {
      this.anchor = this.focus = pos;
    }
    this.show();
    announce(this.describe(true));
  };

  Mode.prototype.comment = function () {
    var r = this.range();
    if (r.end <= r.start || !this.link) {
      announce(t("empty"));
      return;
    }
    var url = new URL(this.link.href, window.location.href);
    url.searchParams.set("quote", this.passage().slice(0, 5000));
    url.searchParams.set("qs", String(r.start));
    window.location.assign(url.toString());
  };

  var active = null;

  function setUp() {
    var config = document.getElementById("passage-strings");
    if (config) {
      try { strings = JSON.parse(config.textContent); } catch (e) { strings = {}; }
    }
    live = document.getElementById("passage-live");
    document.querySelectorAll("button[data-select-passage]").forEach(function (button) {
      var body = document.getElementById(button.getAttribute("data-select-passage"));
      if (!body) return;
      button.hidden = false;
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () {
        if (active) active.stop(false);
        active = new Mode(button, body);
        active.start();
      });
    });
    // The comment form reached with a quoted passage: the comment itself comes next.
    var params = new URLSearchParams(window.location.search);
    var bodyField = document.getElementById("body");
    if (params.get("quote") && bodyField && !bodyField.value) bodyField.focus();
  }

  // Mouse and touch: the selection travels with the link.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-comment-link]");
    if (!link) return;
    var block = link.closest(".review-block");
    var selection = window.getSelection ? window.getSelection() : null;
    var body = block && block.querySelector(".para-body");
    if (!body || !selection || selection.rangeCount === 0 || selection.isCollapsed) return;
    var nodes = textNodes(body);
    var range = selection.getRangeAt(0);
    var start = offsetOf(nodes, range.startContainer, range.startOffset);
    var end = offsetOf(nodes, range.endContainer, range.endOffset);
    var text = bodyText(nodes);
    var quote = start >= 0 && end > start ? text.slice(start, end) : String(selection);
    var lead = quote.length - quote.replace(/^\s+/, "").length;
    quote = quote.trim();
    if (!quote || text.indexOf(quote) < 0) return;
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("quote", quote.slice(0, 5000));
    if (start >= 0) url.searchParams.set("qs", String(start + lead));
    link.href = url.toString();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
