"use strict";
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[data-filter-severity]"));
  var resourceSelect = document.getElementById("filter-resource");
  var search = document.getElementById("filter-search");
  var shownCount = document.getElementById("shown-count");
  function apply() {
    var severities = {};
    boxes.forEach(function (box) { severities[box.value] = box.checked; });
    var resource = resourceSelect.value;
    var needle = search.value.trim().toLowerCase();
    var shown = 0;
    document.querySelectorAll("tr.finding").forEach(function (row) {
      var visible = severities[row.dataset.severity] &&
        (resource === "" || row.dataset.resource === resource) &&
        (needle === "" || row.textContent.toLowerCase().indexOf(needle) !== -1);
      row.classList.toggle("hidden", !visible);
      if (visible && row.dataset.active === "true") { shown += 1; }
    });
    document.querySelectorAll("details.resource").forEach(function (group) {
      var any = group.querySelector("tr.finding:not(.hidden)") !== null;
      group.classList.toggle("hidden", !any);
    });
    shownCount.textContent = String(shown);
  }
  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  resourceSelect.addEventListener("change", apply);
  search.addEventListener("input", apply);
  apply();
})();
