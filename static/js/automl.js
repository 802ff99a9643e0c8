/* Canvas build page: live best-score chart (polls the progress API while the build runs) and the what-if form
 * (a small fetch to the predict API on every change, no page reload), with "why this prediction": the row's SHAP
 * contributions from the explain API drawn as a waterfall. */
(function () {
  "use strict";
  var root = document.getElementById("automl-build");
  if (!root) return;
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1 };

  function csrf() {
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // ---- live progress ---------------------------------------------------------------------------------
  // One payload (one read of the build and its job) updates the message, the counters and the chart together.
  function drawHistory(figure) {
    var el = document.getElementById("history-chart");
    if (!el || !window.Plotly || !figure) return;
    window.Plotly.react(el, figure.data || [], Object.assign({ autosize: true }, figure.layout || {}),
      { displaylogo: false, responsive: true });
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function poll() {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        setText("build-message", data.message || "");
        setText("trials-done", String(data.trials_done));
        setText("best-score", data.best_score === null ? "—" : Number(data.best_score).toFixed(4));
        if (data.objective) setText("best-objective", data.objective);
        drawHistory(data.figure);
        root.dataset.status = data.status;
        if (!FINAL[data.status]) setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  if (!FINAL[root.dataset.status]) poll();

  // ---- what-if ---------------------------------------------------------------------------------------
  var form = document.getElementById("whatif-form");
  if (!form) return;
  var timer = null;

  function row() {
    var out = {};
    form.querySelectorAll("[data-column]").forEach(function (input) {
      var v = input.value;
      if (v === "") { out[input.dataset.column] = null; return; }
      if (input.dataset.kind === "numeric" && v.trim() !== "" && !isNaN(Number(v))) { out[input.dataset.column] = Number(v); return; }
      out[input.dataset.column] = v;
    });
    return out;
  }

  function show(data) {
    var err = document.getElementById("whatif-error");
    err.hidden = true;
    var pred = data.predictions[0];
    document.getElementById("whatif-prediction").textContent = typeof pred === "number" ? pred.toFixed(4) : String(pred);
    var holder = document.getElementById("whatif-probabilities");
    holder.textContent = "";
    if (data.probabilities) {
      var probs = data.probabilities[0];
      Object.keys(probs).sort(function (a, b) { return probs[b] - probs[a]; }).forEach(function (cls) {
        var line = document.createElement("div");
        line.className = "prob-row";
        line.setAttribute("data-class", cls);
        var name = document.createElement("span");
        name.className = "mono";
        name.style.display = "inline-block";
        name.style.minWidth = "8rem";
        name.textContent = cls;
        var bar = document.createElement("span");
        bar.style.display = "inline-block";
        bar.style.height = "0.7rem";
        bar.style.background = "#3b6fd4";
        bar.style.width = Math.round(probs[cls] * 240) + "px";
        var pct = document.createElement("span");
        pct.className = "small";
        pct.textContent = " " + (probs[cls] * 100).toFixed(1) + " %";
        line.appendChild(name); line.appendChild(bar); line.appendChild(pct);
        holder.appendChild(line);
      });
    }
  }

  var METHODS = {
    "tree": "exact TreeSHAP on every model of the ensemble",
    "tree+kernel": "exact TreeSHAP on the tree models, Kernel SHAP against the typical row on the others",
    "kernel": "Kernel SHAP against the typical row"
  };
  var latestWhy = 0;
  function explain(sent) {
    var url = root.dataset.explainUrl;
    var chart = document.getElementById("whatif-why-chart");
    if (!url || !chart) return;
    var ticket = ++latestWhy;
    var err = document.getElementById("whatif-why-error");
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ rows: [sent] })
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (ticket !== latestWhy) return;
        if (!res.ok) {
          err.textContent = res.body.detail || "The explanation failed.";
          err.hidden = false;
          return;
        }
        err.hidden = true;
        var data = res.body;
        chart.dataset.prediction = String(data.prediction);
        chart.dataset.output = data.output;
        if (window.Plotly && data.figure) {
          window.Plotly.react(chart, data.figure.data || [], Object.assign({ autosize: true }, data.figure.layout || {}),
            { displaylogo: false, responsive: true });
        }
        setText("whatif-why-method", "Explains the " + data.output + ": base value " + Number(data.expected_value).toFixed(3) +
          " + contributions = " + Number(data.prediction).toFixed(3) + ". " + (METHODS[data.method] || data.method) +
          ", " + Math.round(Number(data.seconds) * 1000) + " ms.");
      })
      .catch(function () {
        if (ticket !== latestWhy) return;
        err.textContent = "The explanation failed.";
        err.hidden = false;
      });
  }

  var latest = 0;  // answers can come back out of order: only the answer to the latest row is shown
  function predict() {
    var ticket = ++latest;
    var sent = row();
    fetch(root.dataset.predictUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ rows: [sent] })
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (ticket !== latest) return;
        if (res.ok) { show(res.body); explain(sent); return; }
        var err = document.getElementById("whatif-error");
        err.textContent = res.body.detail || "The prediction failed.";
        err.hidden = false;
      });
  }

  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(predict, 250); });
  form.addEventListener("submit", function (e) { e.preventDefault(); predict(); });
  predict();
})();
