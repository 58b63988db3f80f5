// DutyDesk's only script of its own (CSP: script-src 'self'; no inline handlers).
// HTMX settings, confirm-before-submit (data-confirm), the small-screen menu, and HTMX request
// errors shown as a flash message.
(function () {
  "use strict";

  if (window.htmx) {
    htmx.config.allowEval = false; // nothing evaluates strings: CSP forbids it anyway
    htmx.config.allowScriptTags = false;
    htmx.config.includeIndicatorStyles = false; // indicator styles come from app.css
    htmx.config.selfRequestsOnly = true;
    htmx.config.historyCacheSize = 0; // pages may hold personal data: no copies in localStorage
  }

  function flash(kind, text) {
    var area = document.getElementById("flash");
    if (!area) { return; }
    var p = document.createElement("p");
    p.className = "flash flash--" + kind;
    p.textContent = text; // text, never HTML
    area.appendChild(p);
  }

  // Buttons and forms with data-confirm="Question?" ask before they submit.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute && form.hasAttribute("data-confirm") &&
        !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }, true);

  // The menu button of small screens: toggles the navigation, Escape closes it.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-menu-toggle]");
    if (!toggle) { return; }
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) {
      nav.classList.toggle("is-open", open);
      if (open) {
        var first = nav.querySelector("a, button");
        if (first) { first.focus(); }
      }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var toggle = document.querySelector("[data-menu-toggle][aria-expanded='true']");
    if (!toggle) { return; }
    toggle.setAttribute("aria-expanded", "false");
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    if (nav) { nav.classList.remove("is-open"); }
    toggle.focus();
  });

  // HTMX request errors: the server's 4xx/5xx page is not swapped in; say what happened.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You cannot do this, or the form expired: reload the page and try again."
      : status === 404 ? "This was not found; it may have been removed."
      : status === 409 ? "Someone changed this at the same time: reload the page to see their change."
      : status === 422 ? "Some of the values are not valid."
      : status === 429 ? "Too many requests; wait a moment and try again."
      : "Something went wrong on our side (" + status + "); it was logged.";
    flash("error", text);
  });
  document.addEventListener("htmx:sendError", function () {
    flash("error", "The server could not be reached. Check your connection and try again.");
  });
})();
