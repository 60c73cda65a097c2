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
        var a = document.createElement("a");
        a.href = s.url;
        a.textContent = s.title; // text, never HTML: titles are user data
        a.tabIndex = -1;
        li.appendChild(a);
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
        window.location.href = options()[active].querySelector("a").href;
      } else if (e.key === "Escape" && open) {
        e.preventDefault();
        close();
      }
    });

    input.addEventListener("blur", function () {
      setTimeout(close, 100);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-suggest-url]");
    for (var i = 0; i < inputs.length; i++) setupSuggest(inputs[i]);
  });
})();
