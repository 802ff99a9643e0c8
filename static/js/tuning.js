/* Tuning jobs: the setup form edits the hyperparameter ranges as table rows; a job's page redraws its
 * trial chart and counts from the trials API while the job runs (the server builds the figure). */
(function () {
  "use strict";
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1 };

  // ---- setup form: the ranges table --------------------------------------------------------------------
  // Rows are added from the inert <template>, removed with their error line, and show the inputs of their type
  // (hidden, never disabled: every row posts each field so the server's lists stay aligned). "Load the defaults"
  // and a change of algorithm or problem type (while the rows are untouched defaults or empty) fill in the
  // algorithm's default ranges from the API.
  var form = document.getElementById("tuning-form");
  if (form) {
    var body = document.getElementById("range-rows");
    var template = document.getElementById("range-row-template");
    var names = document.getElementById("range-names");
    var empty = document.getElementById("ranges-empty");
    var algorithm = document.getElementById("id_algorithm");
    var problem = document.getElementById("id_problem_type");
    var filled = null;  // the rows as loaded from the defaults, to know whether the user changed them

    var showType = function (row) {
      var type = row.querySelector(".range-type").value;
      row.dataset.type = type;
      row.querySelectorAll(".range-num").forEach(function (el) { el.hidden = type === "categorical"; });
      row.querySelector(".range-choices").hidden = type !== "categorical";
    };
    var snapshot = function () {
      return Array.prototype.map.call(body.querySelectorAll("input, select"), function (el) { return el.value; }).join("\u0001");
    };
    var refresh = function () { if (empty) empty.hidden = body.querySelector("tr.range-row") !== null; };
    var addRow = function (values) {
      var row = template.content.querySelector("tr.range-row").cloneNode(true);
      values = values || {};
      var set = function (field, value) {
        var el = row.querySelector("[name=ranges_" + field + "]");
        if (el.tagName === "INPUT") el.defaultValue = value;  // the value attribute too, as a server-drawn row has
        el.value = value;
      };
      set("name", values.name || "");
      set("type", values.type || "continuous");
      set("low", values.low || "");
      set("high", values.high || "");
      set("scale", values.scale || "linear");
      set("choices", values.choices || "");
      body.appendChild(row);
      showType(row);
      refresh();
      return row;
    };
    var fill = function (rows) {  // rows as the server writes them (JSON.parse would turn 1.0 into 1)
      body.textContent = "";
      rows.forEach(function (r) { addRow(r); });
      if (names) {
        names.textContent = "";
        rows.map(function (r) { return r.name; }).forEach(function (name) {
          var option = document.createElement("option");
          option.value = name;
          names.appendChild(option);
        });
      }
      filled = snapshot();
      refresh();
    };
    var latest = 0;  // a quick change of problem type then algorithm sends two requests: only the last one fills
    var load = function (force) {
      var untouched = !body.querySelector("tr.range-row") || snapshot() === filled;
      if (!force && !untouched) return;  // keep what the user typed
      var url = form.dataset.rangesUrl + "?algorithm=" + encodeURIComponent(algorithm.value) +
        "&problem_type=" + encodeURIComponent(problem.value || "binary");
      var ticket = ++latest;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && ticket === latest) fill(data.rows); });
    };

    body.addEventListener("change", function (e) {
      if (e.target.classList.contains("range-type")) showType(e.target.closest("tr"));
    });
    body.addEventListener("click", function (e) {
      var button = e.target.closest(".remove-range");
      if (!button) return;
      var row = button.closest("tr");
      var next = row.nextElementSibling;
      if (next && next.classList.contains("range-error")) next.remove();
      row.remove();
      refresh();
    });
    var add = document.getElementById("add-range");
    if (add) add.addEventListener("click", function () { addRow().querySelector("[name=ranges_name]").focus(); });
    var button = document.getElementById("load-ranges");
    if (button) button.addEventListener("click", function () { load(true); });
    if (algorithm) algorithm.addEventListener("change", function () { load(false); });
    if (problem) problem.addEventListener("change", function () { load(false); });
    body.querySelectorAll("tr.range-row").forEach(showType);
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
