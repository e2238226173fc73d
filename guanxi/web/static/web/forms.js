// Fields that serve only some choices of their form's `select[data-controls]` carry those choices in
// `data-for`; they are shown only while one of them is chosen. Without this script every field shows.
(function () {
  function sync(form) {
    var select = form.querySelector("select[data-controls]");
    if (!select) return;
    form.querySelectorAll("[data-for]").forEach(function (input) {
      var field = input.closest(".form-field") || input;
      field.hidden = input.dataset.for.split(" ").indexOf(select.value) < 0;
    });
  }
  function syncWithin(root) {
    if (root.matches && root.matches("form")) sync(root);
    if (root.querySelectorAll) root.querySelectorAll("form").forEach(sync);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-controls]") && event.target.form) sync(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () { syncWithin(document); });
  // Content htmx swaps in (the flow builder redraws itself after each edit).
  document.addEventListener("htmx:load", function (event) { syncWithin(event.target); });
})();
