/* Dependent column selects: a <select data-columns-of="<id of the dataset version select>"
 * data-columns-json="<id of a json_script: {version id: [{name, type}]}>"> lists only the chosen version's columns,
 * and is refilled when the version changes (the column kept when the new version has it too). The server renders
 * the first version's columns and checks the posted column against the posted version. */
(function () {
  "use strict";
  function label(c) { return c.type ? c.name + " (" + c.type + ")" : c.name; }

  function bind(select) {
    var source = document.getElementById(select.dataset.columnsOf);
    var data = document.getElementById(select.dataset.columnsJson);
    if (!source || !data) return;
    var byVersion = JSON.parse(data.textContent || "{}");
    var placeholder = select.querySelector("option[value='']");
    source.addEventListener("change", function () {
      var kept = select.value;
      var columns = byVersion[source.value] || [];
      select.textContent = "";
      if (placeholder) select.appendChild(placeholder);
      columns.forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.name;
        option.textContent = label(c);
        if (c.name === kept) option.selected = true;
        select.appendChild(option);
      });
      if (!columns.some(function (c) { return c.name === kept; })) select.value = "";
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  document.querySelectorAll("select[data-columns-of]").forEach(bind);
})();
