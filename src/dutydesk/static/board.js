// The kanban board (/board): drag a card onto a column to move it. A drop chooses that column in
// the card's own "Move to" form and submits it, so dragging and the keyboard (the select and
// its Move button) take the same path; the server answers with the board again (the card in
// its new column, or back where it was with a message saying why) or a form asking for what
// the move needs (a reason, resolution fields).
(function () {
  "use strict";

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-card]");
    if (!card) { return; }
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-card"));
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("is-dragging"); }
    dragged = null;
    var over = document.querySelectorAll(".kanban__column.is-over");
    for (var i = 0; i < over.length; i += 1) { over[i].classList.remove("is-over"); }
  });

  function columnOf(event) {
    return event.target.closest && event.target.closest("[data-column]");
  }

  document.addEventListener("dragover", function (event) {
    var column = columnOf(event);
    if (!column || !dragged) { return; }
    event.preventDefault(); // allow the drop
    column.classList.add("is-over");
  });

  document.addEventListener("dragleave", function (event) {
    var column = columnOf(event);
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("is-over"); }
  });

  document.addEventListener("drop", function (event) {
    var column = columnOf(event);
    if (!column || !dragged) { return; }
    event.preventDefault();
    column.classList.remove("is-over");
    var key = column.getAttribute("data-column");
    if (dragged.closest("[data-column]") === column) { return; }
    var form = dragged.querySelector("form");
    var select = form && form.querySelector("[data-move-select]");
    if (!select) { return; }
    var option = select.querySelector("option[value='" + key + "']");
    if (!option) { // no action leads there: let the server say why
      option = document.createElement("option");
      option.value = key;
      select.appendChild(option);
    }
    select.value = key;
    form.requestSubmit();
  });
})();
