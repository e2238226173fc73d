/* The kanban board. Move a card by dragging it to another column; or focus it and press Shift+← or
 * Shift+→ to move it one stage; or use its Move button, which opens a dialog with every stage (a
 * link to the opportunity page without script). Moving to the lost stage asks why. Each move posts
 * with htmx and the server sends the board back, counts and amounts updated, with the focus back on
 * the card and the move announced. */
(function () {
  "use strict";

  function board() { return document.getElementById("board"); }
  function columns() { return Array.prototype.slice.call(document.querySelectorAll("#board .column")); }
  function dialog() { return document.getElementById("move-dialog"); }

  function announce(text) {
    var status = document.getElementById("board-status");
    if (status) status.textContent = text;
  }

  function post(card, stage, lostReason, lostNote) {
    var shown = board();
    var values = { stage: stage.value };
    if (lostReason) { values.lost_reason = lostReason; values.lost_note = lostNote || ""; }
    announce(shown.dataset.moving.replace("%(name)s", card.dataset.name).replace("%(stage)s", stage.name));
    window.htmx.ajax("POST", shown.dataset.moveUrl.replace("/0/move/", "/" + card.dataset.id + "/move/"), {
      source: card, target: "#board", swap: "outerHTML", values: values,
    });
  }

  function move(card, column) {
    if (!column || column.dataset.stage === card.dataset.stage) return;
    var stage = { value: column.dataset.stage, name: column.dataset.name };
    if (column.dataset.kind === "lost") { openDialog(card, column.dataset.stage); return; }
    post(card, stage);
  }

  function openDialog(card, stageId) {
    var shown = dialog();
    if (!shown || !shown.showModal) { window.location = card.querySelector("[data-move]").href; return; }
    var form = shown.querySelector("form");
    form.reset();
    form.elements.stage.value = stageId || card.dataset.stage;
    shown.querySelector("[data-card-name]").textContent = card.dataset.name;
    toggleLost(form);
    form.onsubmit = function (event) {
      event.preventDefault();
      var option = form.elements.stage.selectedOptions[0];
      var lost = option.dataset.kind === "lost";
      if (lost && !form.elements.lost_reason.value) { form.elements.lost_reason.focus(); return; }
      shown.close();
      if (option.value === card.dataset.stage) { card.focus(); return; }
      post(card, { value: option.value, name: option.textContent }, lost ? form.elements.lost_reason.value : "", form.elements.lost_note.value);
    };
    shown.querySelector("[data-cancel]").onclick = function () { shown.close(); card.focus(); };
    shown.showModal();
    (form.elements.stage.selectedOptions[0].dataset.kind === "lost" ? form.elements.lost_reason : form.elements.stage).focus();
  }

  function toggleLost(form) {
    var option = form.elements.stage.selectedOptions[0];
    form.querySelector("[data-lost-fields]").classList.toggle("shown", option && option.dataset.kind === "lost");
  }

  document.addEventListener("change", function (event) {
    if (event.target.id === "move-stage") toggleLost(event.target.form);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#board [data-move]");
    if (!button) return;
    event.preventDefault();
    openDialog(button.closest(".card-item"));
  });

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
    column.classList.remove("drop-target");
    var card = document.querySelector('#board .card-item[data-id="' + event.dataTransfer.getData("text/plain") + '"]');
    if (card) move(card, column);
  });

  document.addEventListener("keydown", function (event) {
    var card = event.target.classList && event.target.classList.contains("card-item") ? event.target : null;
    if (!card || !event.shiftKey || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    if (!card.hasAttribute("draggable")) return;  // the viewer may not change it
    event.preventDefault();
    var all = columns();
    var index = all.findIndex(function (c) { return c.dataset.stage === card.dataset.stage; });
    move(card, all[index + (event.key === "ArrowRight" ? 1 : -1)]);
  });

  // After the board comes back, put the focus back on the card that moved.
  document.addEventListener("htmx:afterSwap", function () {
    var shown = board();
    if (!shown || !shown.dataset.focus) return;
    var card = shown.querySelector('.card-item[data-id="' + shown.dataset.focus + '"]');
    if (card) card.focus();
  });
})();
