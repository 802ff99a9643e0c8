/* Data Wrangler page helpers: charts drawn when their <details> opens, Ctrl+Enter in the SQL editor.
 * Plain JS, no framework; atelier.js does live jobs, confirmations (data-confirm) and the charts visible at load. */
(function () {
  "use strict";

  function drawLazy(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-lazy-figure]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var src = document.getElementById(el.dataset.lazyFigure);
      if (!src) return;
      el.dataset.drawn = "1";
      var fig = JSON.parse(src.textContent);
      window.Plotly.react(el, fig.data || [], window.Atelier.chartLayout(fig.layout, el), window.Atelier.chartConfig);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("details").forEach(function (d) {
      d.addEventListener("toggle", function () { if (d.open) drawLazy(d); });
    });
    var sql = document.querySelector("#sql-form textarea");
    if (sql) {
      sql.addEventListener("keydown", function (ev) {
        if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") {
          ev.preventDefault();
          document.getElementById("sql-run").click();
        }
      });
    }
  });
})();

/* The analysis form shows only the fields the chosen kind uses (all of them without JS). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("analysis-form");
    var spec = document.getElementById("analysis-fields");
    if (!form || !spec) return;
    var fields = JSON.parse(spec.textContent);
    var kind = form.querySelector("select[name=kind]");
    function update() {
      var wanted = fields[kind.value] || [];
      form.querySelectorAll("[data-analysis-field]").forEach(function (p) {
        var name = p.dataset.analysisField;
        p.hidden = !(name === "kind" || name === "step" || wanted.indexOf(name) >= 0);
      });
    }
    kind.addEventListener("change", update);
    update();
  });
})();
