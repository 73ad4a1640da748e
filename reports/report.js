// Client-side filtering of controls and findings, and unfolding everything before printing.
// Plain JavaScript, no framework, no network: the page's Content-Security-Policy allows this script
// by its hash and nothing else.
(function () {
  "use strict";
  var severity = document.getElementById("filter-severity");
  var state = document.getElementById("filter-state");
  var policy = document.getElementById("filter-policy");
  var text = document.getElementById("filter-text");
  var counter = document.getElementById("filter-count");
  var controls = Array.prototype.slice.call(document.querySelectorAll("article.control"));

  function apply() {
    var sev = severity.value, st = state.value, pol = policy.value;
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    controls.forEach(function (control) {
      var rows = Array.prototype.slice.call(control.querySelectorAll("tr.finding"));
      var rowsShown = 0;
      rows.forEach(function (row) {
        var visible = !st || row.getAttribute("data-state") === st;
        row.hidden = !visible;
        if (visible) { rowsShown += 1; }
      });
      var match = (!sev || control.getAttribute("data-severity") === sev) &&
        (!pol || control.getAttribute("data-policy") === pol) &&
        (!st || rowsShown > 0 || control.getAttribute("data-state") === st) &&
        (!needle || control.textContent.toLowerCase().indexOf(needle) !== -1);
      control.hidden = !match;
      if (match) { shown += 1; }
    });
    counter.textContent = shown + " of " + controls.length + " controls shown";
  }

  [severity, state, policy].forEach(function (el) { el.addEventListener("change", apply); });
  text.addEventListener("input", apply);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
  apply();
})();
