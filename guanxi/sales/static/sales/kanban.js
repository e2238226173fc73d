/* The kanban board: drag a card to another column, or focus a card and press Shift+← / Shift+→ to move
 * it one stage; every card also has a "Move to" menu that works without a mouse (and without script).
 * A move to the lost stage first asks why. Moves post with htmx and the server sends the board back. */
(function () {
  "use strict";

  function board() { return document.getElementById("board"); }

  function announce(text) {
    var status = document.getElementById("board-status");
    if (status) status.textContent = text;
  }

  function columns() { return Array.prototype.slice.call(document.querySelectorAll("#board .column")); }

  function move(card, column, lostReason, lostNote) {
    if (!column || column.dataset.stage === card.dataset.stage) return;
    if (column.dataset.kind === "lost" && !lostReason) { askWhyLost(card, column); return; }
    var values = { stage: column.dataset.stage };
    if (lostReason) { values.lost_reason = lostReason; values.lost_note = lostNote || ""; }
    board().dataset.focus = card.dataset.id;
    announce(card.dataset.moving.replace("%s", column.dataset.name));
    window.htmx.ajax("POST", card.dataset.moveUrl, { source: card, target: "#board", swap: "outerHTML", values: values });
  }

  function askWhyLost(card, column) {
    var dialog = document.getElementById("lost-dialog");
    if (!dialog || !dialog.showModal) return;
    var form = dialog.querySelector("form");
    form.reset();
    form.onsubmit = function (event) {
      event.preventDefault();
      var reason = form.elements.lost_reason.value;
      if (!reason) { form.elements.lost_reason.focus(); return; }
      dialog.close();
      move(card, column, reason, form.elements.lost_note.value);
    };
    dialog.querySelector("[data-cancel]").onclick = function () { dialog.close(); card.focus(); };
    dialog.showModal();
    form.elements.lost_reason.focus();
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".card-item[draggable]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.dataset.id);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".card-item");
    if (card) card.classList.remove("dragging");
    columns().forEach(function (c) { c.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest("#board .column");
    if (!column) return;
    event.preventDefault();
    columns().forEach(function (c) { c.classList.toggle("drop-target", c === column); });
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest("#board .column");
    if (!column) return;
    event.preventDefault();
    var card = document.querySelector('.card-item[data-id="' + event.dataTransfer.getData("text/plain") + '"]');
    column.classList.remove("drop-target");
    if (card) move(card, column);
  });

  document.addEventListener("keydown", function (event) {
    var card = event.target.classList && event.target.classList.contains("card-item") ? event.target : null;
    if (!card || !event.shiftKey || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    event.preventDefault();
    var all = columns();
    var index = all.findIndex(function (c) { return c.dataset.stage === card.dataset.stage; });
    move(card, all[index + (event.key === "ArrowRight" ? 1 : -1)]);
  });

  // The "Move to" menu: show the reason fields when the lost stage is chosen.
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches(".card-move select[name=stage]")) return;
    var option = event.target.selectedOptions[0];
    var fields = event.target.form.querySelector(".lost-fields");
    if (fields) fields.classList.toggle("shown", option && option.dataset.kind === "lost");
  });

  // After the board comes back, put the focus back on the card that moved.
  document.addEventListener("htmx:afterSwap", function () {
    var shown = board();
    if (!shown || !shown.dataset.focus) return;
    var card = shown.querySelector('.card-item[data-id="' + shown.dataset.focus + '"]');
    if (card) card.focus();
  });
})();
