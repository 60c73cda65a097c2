/* Portal progressive enhancement. Everything works without this file; it only adds
   search-as-you-type suggestions under any input with data-suggest-url (the header box and
   the search page). Keyboard: ↓/↑ move, Enter opens the highlighted title, Escape closes.
   ARIA combobox pattern: the input owns a role=listbox of role=option items. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var MIN_CHARS = 2;
  var counter = 0;

  function setupSuggest(input) {
    var url = input.getAttribute("data-suggest-url");
    if (!url) return;
    counter += 1;
    var listId = "suggestions-" + counter;
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.getAttribute("placeholder") || "Suggestions");
    list.hidden = true;
    var container = input.closest("form") || input.parentNode;
    if (getComputedStyle(container).position === "static") container.style.position = "relative";
    container.appendChild(list);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("aria-expanded", "false");

    var timer = null;
    var active = -1;
    var lastQuery = "";
    var controller = null;

    function options() {
      return list.querySelectorAll('[role="option"]');
    }

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      for (var i = 0; i < items.length; i++) {
        items[i].setAttribute("aria-selected", i === active ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", items[active].id);
    }

    function render(suggestions) {
      list.innerHTML = "";
      active = -1;
      if (!suggestions.length) {
        close();
        return;
      }
      suggestions.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        // Options hold text, not links: an option is already the interactive element (a
        // link inside it would be a nested control). Its address travels in data-url.
        li.textContent = s.title; // text, never HTML: titles are user data
        li.setAttribute("data-url", s.url);
        if (s.lang) li.setAttribute("lang", s.lang);
        li.setAttribute("dir", "auto");
        li.addEventListener("mousedown", function (e) {
          e.preventDefault(); // keep focus in the input until navigation
          window.location.href = s.url;
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function fetchSuggestions() {
      var q = input.value.trim();
      if (q.length < MIN_CHARS) {
        lastQuery = q;
        close();
        return;
      }
      if (q === lastQuery && !list.hidden) return;
      lastQuery = q;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var sep = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + sep + "q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined,
      })
        .then(function (r) {
          return r.ok ? r.json() : { suggestions: [] };
        })
        .then(function (data) {
          if (input.value.trim() === q) render(data.suggestions || []);
        })
        .catch(function () {
          /* aborted or offline: the plain form still works */
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (e) {
      var open = !list.hidden && options().length > 0;
      if (e.key === "ArrowDown") {
        if (!open) {
          fetchSuggestions();
          return;
        }
        e.preventDefault();
        highlight(active + 1);
      } else if (e.key === "ArrowUp" && open) {
        e.preventDefault();
        highlight(active - 1);
      } else if (e.key === "Enter" && open && active >= 0) {
        e.preventDefault();
        window.location.href = options()[active].getAttribute("data-url");
      } else if (e.key === "Escape" && open) {
        e.preventDefault();
        close();
      }
    });

    input.addEventListener("blur", function () {
      setTimeout(close, 100);
    });
  }

  // A table wider than the screen scrolls inside its .table-scroll box (CSS). When it does
  // overflow, the box becomes a named, focusable region so keyboard users can scroll it too.
  function labelScrollBoxes() {
    var boxes = document.querySelectorAll(".table-scroll");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var overflows = box.scrollWidth > box.clientWidth + 1;
      if (overflows && !box.hasAttribute("tabindex")) {
        var table = box.querySelector("table");
        var caption = table && table.querySelector("caption");
        var heading = caption;
        var el = box;
        while (!heading && el && el !== document.body) {
          var prev = el.previousElementSibling;
          while (prev && !/^H[1-6]$/.test(prev.tagName)) prev = prev.previousElementSibling;
          if (prev) heading = prev;
          el = el.parentElement;
        }
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (heading && heading.textContent.trim()) {
          box.setAttribute("aria-label", heading.textContent.trim());
        } else {
          box.setAttribute("aria-label", document.title.split(" · ")[0]);
        }
      } else if (!overflows && box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-suggest-url]");
    for (var i = 0; i < inputs.length; i++) setupSuggest(inputs[i]);
    labelScrollBoxes();
    // After a failed submission, start at the error summary (its links lead to the fields).
    var summary = document.querySelector(".error-summary");
    var flashError = document.querySelector(".flash-error");
    if (!summary && flashError) {
      // A form-level error only ("Invalid e-mail or password"): start there.
      flashError.setAttribute("tabindex", "-1");
      flashError.focus();
    }
    if (summary) {
      summary.focus();
      // A link in the summary puts the cursor in its field (a fragment link only scrolls).
      summary.addEventListener("click", function (e) {
        var link = e.target.closest("a[href^='#']");
        var target = link && document.getElementById(link.getAttribute("href").slice(1));
        if (!target) return;
        e.preventDefault();
        target.scrollIntoView({ block: "center" });
        target.focus();
      });
    }
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(labelScrollBoxes, 100);
    });
  });
})();
