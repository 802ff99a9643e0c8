/* Built-in algorithms, start form: show only the chosen algorithm's options, and only the chosen dataset
 * version's columns in the column picker (the others are disabled, so they are not sent). Without this script
 * every field shows and the server ignores the other algorithms' options. */
(function () {
  "use strict";
  var form = document.getElementById("run-form");
  if (!form) return;
  var algorithm = document.getElementById("id_algorithm");
  var version = document.getElementById("id_dataset_version");
  var columns = document.getElementById("id_columns");

  function showOptions() {
    form.querySelectorAll("fieldset.options").forEach(function (set) {
      var on = set.dataset.algorithm === algorithm.value;
      set.hidden = !on;
      set.disabled = !on;
    });
  }

  function showColumns() {
    if (!columns || !version) return;
    columns.querySelectorAll("optgroup").forEach(function (group) {
      var on = group.dataset.version === version.value;
      group.hidden = !on;
      group.disabled = !on;
      if (!on) group.querySelectorAll("option").forEach(function (o) { o.selected = false; });
    });
  }

  if (algorithm) { algorithm.addEventListener("change", showOptions); showOptions(); }
  if (version) { version.addEventListener("change", showColumns); showColumns(); }
})();
