/* Admin console, periodic task form (django-celery-beat): show how the chosen crontab reads in its help text.
 * Loaded by templates/admin/djcelery/change_periodictask_form.html; data from the "readable-crontabs" JSON block. */
(function () {
  "use strict";
  var script = document.currentScript;
  var baseHelp = (script && script.dataset.crontabHelp) || "";

  function init() {
    var source = document.getElementById("readable-crontabs");
    var readable = source ? JSON.parse(source.textContent) : {};
    document.querySelectorAll(".field-crontab_translation").forEach(function (row) { row.hidden = true; });
    var select = document.getElementById("id_crontab");
    var help = document.querySelector(".field-crontab .help");
    if (!select || !help) return;
    select.addEventListener("change", function () {
      var reading = readable[select.value];
      help.textContent = baseHelp;
      if (reading) {
        help.appendChild(document.createElement("br"));
        help.appendChild(document.createTextNode("Translation: " + reading));
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
