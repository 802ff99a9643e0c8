/* Canvas build page: live best-score chart (polls the progress API while the build runs) and the what-if form
 * (a small fetch to the predict API on every change, no page reload). */
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
  function drawHistory(history, objective) {
    var el = document.getElementById("history-chart");
    if (!el || !window.Plotly) return;
    var xs = history.map(function (p) { return p[0]; });
    var ys = history.map(function (p) { return p[1]; });
    window.Plotly.react(el, [{ type: "scatter", mode: "lines+markers", line: { shape: "hv", color: "#3b6fd4" }, x: xs, y: ys, name: "best so far" }],
      { title: { text: "Best " + (objective || "score") + " so far", font: { size: 14 }, x: 0.01, xanchor: "left" },
        margin: { l: 60, r: 20, t: 48, b: 50 }, height: 320, template: "plotly_white",
        xaxis: { title: { text: "seconds" } } }, { displaylogo: false, responsive: true });
  }

  function poll() {
    fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var trials = document.getElementById("trials-done");
        var best = document.getElementById("best-score");
        if (trials) trials.textContent = data.trials_done;
        if (best && data.best_score !== null) best.textContent = Number(data.best_score).toFixed(4);
        if (data.history && data.history.length) drawHistory(data.history, data.objective);
        root.dataset.status = data.status;
        if (!FINAL[data.status]) setTimeout(poll, 2000);
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

  function predict() {
    fetch(root.dataset.predictUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ rows: [row()] })
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) { show(res.body); return; }
        var err = document.getElementById("whatif-error");
        err.textContent = res.body.detail || "The prediction failed.";
        err.hidden = false;
      });
  }

  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(predict, 250); });
  form.addEventListener("submit", function (e) { e.preventDefault(); predict(); });
  predict();
})();
