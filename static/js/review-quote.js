/* Review pages: text selected inside a paragraph travels with the "Comment on this paragraph"
   link as the quoted passage (the server checks that it occurs). Progressive enhancement:
   without this file the link still opens the comment form. A file rather than an inline
   <script>, so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-comment-link]");
    if (!link) return;
    var block = link.closest(".review-block");
    var selection = window.getSelection ? String(window.getSelection()).trim() : "";
    if (!block || !selection) return;
    var body = block.querySelector(".para-body");
    if (!body || body.textContent.indexOf(selection) < 0) return;
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("quote", selection.slice(0, 5000));
    link.href = url.toString();
  });
})();
