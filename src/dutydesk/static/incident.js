// The incident page (CSP: no inline script): drop files on the composer to attach them, and
// pick an agent from the @mention list into the text.
(function () {
  "use strict";

  document.addEventListener("dragover", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.add("is-dragover");
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone) { zone.classList.remove("is-dragover"); }
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
    event.preventDefault();
    zone.classList.remove("is-dragover");
    var input = document.getElementById(zone.getAttribute("data-dropzone"));
    if (!input || !input.form) { return; }
    input.files = event.dataTransfer.files;
    input.form.requestSubmit();
  });

  // A click on a suggested agent replaces the @word being typed with @username.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-mention]");
    if (!button) { return; }
    var text = document.getElementById("comment-body");
    if (!text) { return; }
    var at = text.value.lastIndexOf("@");
    if (at < 0) { return; }
    text.value = text.value.slice(0, at) + "@" + button.getAttribute("data-mention") + " ";
    var list = document.getElementById("mention-list");
    if (list) { list.textContent = ""; }
    text.focus();
  });
})();
