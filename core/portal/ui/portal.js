// wasmgate developer portal. Loaded in <head> so the chosen theme applies
// before the first paint; the rest waits for the document.
(function () {
  "use strict";
  var KEY = "wasmgate-portal-theme";
  var root = document.documentElement;
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function systemDark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  // data-theme is always set, so CSS and tests read one attribute.
  function apply(theme) { root.setAttribute("data-theme", theme); }
  apply(stored() || (systemDark() ? "dark" : "light"));
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function (e) {
      if (!stored()) apply(e.matches ? "dark" : "light");
    });
  }

  function ready() {
    var toggle = document.getElementById("theme");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
        apply(next);
        try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: this page only */ }
      });
    }

    // A link to an operation (#anchor, or a click in the side list) opens it.
    function openHash() {
      var id = decodeURIComponent(location.hash.slice(1));
      var el = id && document.getElementById(id);
      if (el && el.tagName === "DETAILS") el.open = true;
    }
    window.addEventListener("hashchange", openHash);
    openHash();

    // Filter operations by method, path, summary or operationId.
    var search = document.getElementById("search");
    if (search) {
      search.addEventListener("input", function () {
        var q = search.value.trim().toLowerCase();
        document.querySelectorAll("details.op").forEach(function (op) {
          var text = (op.dataset.method + " " + op.dataset.path + " " + op.querySelector("summary").textContent).toLowerCase();
          var hide = q !== "" && text.indexOf(q) < 0;
          op.classList.toggle("filtered-out", hide);
          var link = document.querySelector('[data-op-link="' + op.id + '"]');
          if (link) link.parentElement.classList.toggle("filtered-out", hide);
        });
        document.querySelectorAll(".group").forEach(function (g) {
          g.classList.toggle("filtered-out", !g.querySelector("details.op:not(.filtered-out)"));
        });
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
