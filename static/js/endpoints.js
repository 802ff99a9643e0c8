/* Endpoint page: the "try it" box (sends through the real /endpoints/<name>/invocations URL) and charts that
 * refresh from /api/endpoints/<id>/metrics/. */
(function () {
  "use strict";

  var PALETTE = ["#3b6fd4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function csrf() {
    var el = document.querySelector("#try-it input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }

  function initTry() {
    var box = document.getElementById("try-it");
    if (!box) return;
    var keyInput = document.getElementById("try-key");
    var status = document.getElementById("try-status");
    var out = document.getElementById("try-response");
    var temp = document.getElementById("try-temp-key");
    var send = document.getElementById("try-send");
    if (temp) {
      temp.addEventListener("click", function () {
        temp.disabled = true;
        fetch(box.dataset.tryKeyUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            keyInput.value = data.key;
            // the serving processes pick the key up at their next configuration refresh
            send.disabled = true;
            status.textContent = "Temporary key created (expires " + data.expires_at.slice(11, 16) + " UTC); active in a moment…";
            setTimeout(function () {
              send.disabled = false;
              status.textContent = "Temporary key ready (expires " + data.expires_at.slice(11, 16) + " UTC).";
            }, Math.ceil(data.active_within_s * 1000));
          })
          .catch(function () { status.textContent = "Could not create a key."; })
          .finally(function () { temp.disabled = false; });
      });
    }
    send.addEventListener("click", function () {
      var url = "/endpoints/" + encodeURIComponent(box.dataset.endpoint) + "/invocations";
      if (document.getElementById("try-proba").checked) url += "?probabilities=true";
      var started = performance.now();
      status.textContent = "Sending…";
      fetch(url, {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + keyInput.value.trim() },
        body: document.getElementById("try-body").value
      }).then(function (r) {
        var ms = Math.round(performance.now() - started);
        return r.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          out.hidden = false;
          out.textContent = shown;
          out.dataset.status = String(r.status);
          var variant = r.headers.get("x-atelier-variant");
          status.textContent = "HTTP " + r.status + " in " + ms + " ms" + (variant ? " · variant " + variant : "");
          status.id = "try-status";
          status.dataset.status = String(r.status);
          setTimeout(refresh, 1500);
        });
      }).catch(function (err) { status.textContent = "Request failed: " + err; });
    });
  }

  function refresh() {
    var holder = document.getElementById("charts");
    if (!holder || !window.Plotly) return;
    fetch(holder.dataset.metricsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (m) {
        if (!m) return;
        var windowRange = [m.minutes[0], m.minutes[m.minutes.length - 1]];
        ["chart-invocations", "chart-errors", "chart-latency"].forEach(function (id) {
          var el = document.getElementById(id);
          if (el && el.layout && el.layout.xaxis) el.layout.xaxis.range = windowRange;
        });
        var inv = document.getElementById("chart-invocations");
        var traces = Object.keys(m.invocations).sort().map(function (name, i) {
          return { type: "bar", name: name, x: m.minutes, y: m.invocations[name], marker: { color: PALETTE[i % PALETTE.length] } };
        });
        if ((m.rejected || []).some(function (n) { return n > 0; })) {
          traces.push({ type: "bar", name: "rejected (bad key)", x: m.minutes, y: m.rejected, marker: { color: "#9aa0a6" } });
        }
        if (inv && inv.layout) window.Plotly.react(inv, traces, inv.layout);
        var err = document.getElementById("chart-errors");
        if (err && err.data && err.data.length === 2) {
          err.data[0].x = m.minutes; err.data[0].y = m.client_error_rate;
          err.data[1].x = m.minutes; err.data[1].y = m.server_error_rate;
          window.Plotly.react(err, err.data, err.layout);
        }
        var lat = document.getElementById("chart-latency");
        if (lat && lat.data) {
          lat.data[0].x = m.minutes; lat.data[0].y = m.p50; lat.data[1].x = m.minutes; lat.data[1].y = m.p99;
          window.Plotly.react(lat, lat.data, lat.layout);
        }
        var t = m.totals;
        document.getElementById("total-invocations").textContent = t.invocations;
        var rate = function (r, n) { return r === null ? "—" : r + " % (" + n + ")"; };
        document.getElementById("total-client-errors").textContent = rate(t.client_error_rate, t.client_errors);
        document.getElementById("total-server-errors").textContent = rate(t.server_error_rate, t.server_errors);
        document.getElementById("total-rejected").textContent = t.rejected;
        document.getElementById("total-latency").textContent = t.p50 === null ? "no requests in the last hour"
          : "p50 " + t.p50 + " ms · p99 " + t.p99 + " ms";
      })
      .catch(function () { /* try again on the next tick */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initTry();
    if (document.getElementById("charts")) setInterval(refresh, 5000);
  });
  window.AtelierEndpoints = { refresh: refresh };
})();
