/* Clarify, start form: each value picker (label, facets) lists only the values of the column chosen next to it
 * (the other columns' optgroups are hidden and disabled, so they are not sent); the text box suggests only that
 * column's common values. Choosing another dataset version reloads the form for its columns. Without this script
 * every list shows and the server checks the values against the chosen column. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var versionForm = document.getElementById("version-form");
  if (versionForm) {
    var version = document.getElementById("id_version");
    if (version) version.addEventListener("change", function () { versionForm.submit(); });
  }
  if (!form) return;

  var kindsNode = document.getElementById("clarify-columns");
  var kinds = kindsNode ? JSON.parse(kindsNode.textContent) : {};

  function wire(prefix, columnSelect) {
    var values = document.getElementById("id_" + prefix + "_values");
    var text = form.querySelector('.value-text[data-prefix="' + prefix + '"]');
    var threshold = form.querySelector('.value-threshold[data-prefix="' + prefix + '"]');
    var list = document.getElementById(prefix + "-suggestions");
    var all = list ? Array.prototype.slice.call(list.querySelectorAll("option")) : [];
    function show() {
      var column = columnSelect.value;
      var any = false;
      if (values) {
        values.querySelectorAll("optgroup").forEach(function (group) {
          var on = group.dataset.column === column;
          any = any || on;
          group.hidden = !on;
          group.disabled = !on;
          if (!on) group.querySelectorAll("option").forEach(function (o) { o.selected = false; });
        });
        values.closest(".value-picker").hidden = !any;
      }
      if (list) {
        list.innerHTML = "";
        all.forEach(function (o) { if (o.dataset.column === column) list.appendChild(o); });
      }
      // A column whose values are all known is picked from its list, never typed; a numeric one may take a
      // threshold. A box that hides keeps what was typed only if it is still shown (else it is cleared).
      var kind = kinds[column];
      var showText = !!kind && !kind.complete;
      var showThreshold = !!kind && kind.numeric;
      if (text) {
        text.hidden = !showText;
        if (!showText) text.querySelector("input").value = "";
      }
      if (threshold) {
        threshold.hidden = !showThreshold;
        if (!showThreshold) threshold.querySelector("input").value = "";
      }
    }
    columnSelect.addEventListener("change", show);
    show();
  }

  var label = document.getElementById("id_label");
  if (label) wire("label", label);
  form.querySelectorAll("fieldset.facet-slot").forEach(function (set) {
    var n = set.dataset.slot;
    var column = document.getElementById("id_facet_" + n);
    if (column) wire("facet_" + n, column);
  });
})();
