/* Tuning jobs: the setup form loads an algorithm's default ranges into the JSON box; a job's page redraws its
 * trial chart and counts from the trials API while the job runs (the server builds the figure). */
(function () {
  "use strict";
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1 };

  // ---- setup form ------------------------------------------------------------------------------------
  var form = document.getElementById("tuning-form");
  if (form) {
    var box = document.getElementById("id_ranges");
    var algorithm = document.getElementById("id_algorithm");
    var problem = document.getElementById("id_problem_type");
    var filled = "";
    var load = function (force) {
      if (!box || (!force && box.value.trim() && box.value !== filled)) return;  // keep what the user typed
      var url = form.dataset.rangesUrl + "?algorithm=" + encodeURIComponent(algorithm.value) +
        "&problem_type=" + encodeURIComponent(problem.value || "binary");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          filled = JSON.stringify(data.ranges, null, 1);
          box.value = filled;
        });
    };
    var button = document.getElementById("load-ranges");
    if (button) button.addEventListener("click", function () { load(true); });
    if (algorithm) algorithm.addEventListener("change", function () { load(false); });
    if (problem) problem.addEventListener("change", function () { load(false); });
  }

  // ---- a job's live trials ---------------------------------------------------------------------------
  var root = document.getElementById("tuning-job");
  if (!root || FINAL[root.dataset.status]) return;
  function poll() {
    fetch(root.dataset.trialsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 4000); return; }
        var chart = document.getElementById("trials-chart");
        if (chart && window.Plotly && data.figure) {
          window.Plotly.react(chart, data.figure.data || [], window.Atelier.chartLayout(data.figure.layout, chart),
            window.Atelier.chartConfig);
        }
        ["complete", "pruned", "fail", "running"].forEach(function (state) {
          var el = document.getElementById("count-" + state);
          if (el) el.textContent = (data.trials || []).filter(function (t) { return t.state === state; }).length;
        });
        if (!FINAL[data.status]) setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  poll();
})();
