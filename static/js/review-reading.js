/* Long drafts: "Previous paragraph" / "Next paragraph" and "Go to paragraph N". The buttons
   keep the focus (press again to go on) and announce the paragraph in a live region; "Go to"
   moves the focus to the paragraph's number (read out as "Paragraph N"). The address follows
   (#p-…), and the paragraph is marked as current. Without this file the buttons stay hidden; the table of
   contents is plain links. A file, not inline script, for the Content-Security-Policy. */
(function () {
  "use strict";
  var nav = document.querySelector("[data-doc-jumps]");
  if (!nav) return;
  var blocks = Array.prototype.slice.call(document.querySelectorAll(".review-block[data-number]"));
  if (!blocks.length) return;
  var last = null;

  function current() {
    var focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest(".review-block[data-number]") : null;
    if (focused) return blocks.indexOf(focused);
    if (last !== null) return last;
    var hash = window.location.hash.slice(1);
    var target = hash ? document.getElementById(hash) : null;
    if (target && blocks.indexOf(target) >= 0) return blocks.indexOf(target);
    // Nothing chosen yet: the paragraph before the first one below the toolbar.
    var offset = nav.getBoundingClientRect().bottom;
    for (var i = 0; i < blocks.length; i++) {
      if (blocks[i].getBoundingClientRect().top >= offset) return i - 1;
    }
    return blocks.length - 1;
  }

  var live = nav.querySelector("[data-jump-live]");

  function go(index, focus) {
    if (index < 0 || index >= blocks.length) return;
    last = index;
    var block = blocks[index];
    var number = block.querySelector(".para-number");
    blocks.forEach(function (b) { b.classList.remove("current"); });
    block.classList.add("current");
    if (history.replaceState) history.replaceState(null, "", "#" + block.id);
    block.scrollIntoView({ block: "start" });
    if (focus) {
      (number || block).focus();
    } else if (live) {
      var body = block.querySelector(".para-body");
      var text = body ? body.textContent.trim() : "";
      live.textContent = (number ? number.getAttribute("aria-label") + ": " : "") + text.slice(0, 200);
    }
  }

  nav.hidden = false;
  nav.querySelector("[data-jump='previous']").addEventListener("click", function () {
    go(Math.max(current() - 1, 0), false);
  });
  nav.querySelector("[data-jump='next']").addEventListener("click", function () {
    go(Math.min(current() + 1, blocks.length - 1), false);
  });
  nav.querySelector("[data-jump-form]").addEventListener("submit", function (event) {
    event.preventDefault();
    var wanted = nav.querySelector("#jump-number").value.trim();
    for (var i = 0; i < blocks.length; i++) {
      if (blocks[i].getAttribute("data-number") === wanted) { go(i, true); return; }
    }
    nav.querySelector("#jump-number").setAttribute("aria-invalid", "true");
  });
  // Focus on a paragraph (by Tab or by a jump) makes it the current one.
  document.addEventListener("focusin", function (event) {
    var block = event.target.closest && event.target.closest(".review-block[data-number]");
    if (block) last = blocks.indexOf(block);
  });
})();
