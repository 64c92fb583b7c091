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
    document.querySelectorAll("article.finding").forEach(function (card) {
      var visible = severities[card.dataset.severity] &&
        (resource === "" || card.dataset.resource === resource) &&
        (needle === "" || card.textContent.toLowerCase().indexOf(needle) !== -1);
      card.classList.toggle("hidden", !visible);
      if (visible && card.dataset.active === "true") { shown += 1; }
    });
    document.querySelectorAll("details.resource").forEach(function (group) {
      var any = group.querySelector("article.finding:not(.hidden)") !== null;
      group.classList.toggle("hidden", !any);
    });
    shownCount.textContent = String(shown);
  }
  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  resourceSelect.addEventListener("change", apply);
  search.addEventListener("input", apply);
  apply();

  // Copy buttons: the text of the element they name, exactly as shown.
  function copied(button, ok) {
    var label = button.textContent;
    button.textContent = ok ? "Copied" : "Select and copy";
    button.classList.toggle("copied", ok);
    window.setTimeout(function () {
      button.textContent = label;
      button.classList.remove("copied");
    }, 1500);
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source ? source.textContent : "";
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, true); },
          function () { copied(button, fallback(text)); }
        );
      } else {
        copied(button, fallback(text));
      }
    });
  });
})();
