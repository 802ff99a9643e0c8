/* The deploy form: only the settings of the chosen endpoint type are shown (rows marked data-endpoint-types);
 * the server ignores the others anyway (apps/endpoints/forms.EndpointForm). */
(function () {
  "use strict";
  var form = document.getElementById("endpoint-form");
  if (!form) return;
  var type = form.querySelector("select[name=type]");
  if (!type) return;
  function apply() {
    form.querySelectorAll("[data-endpoint-row-types]").forEach(function (row) {
      var types = row.getAttribute("data-endpoint-row-types").split(" ");
      var shown = types.indexOf(type.value) >= 0;
      row.hidden = !shown;
      row.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !shown; });
    });
  }
  type.addEventListener("change", apply);
  apply();
})();
