/* Atelier front-end: live job progress (one component for every page), charts, small UI helpers.
 * No framework; served from static/. */
(function () {
  "use strict";

  // ---- Charts: <div class="chart" data-figure="json-script-id"></div> ------------------------------
  // A figure's layout as drawn here: the chart takes its box's width (and follows it when the window resizes),
  // axis labels get the margin they need, and in a narrow box (a phone) the legend goes under the plot instead of
  // taking half its width. What the figure sets itself wins.
  function chartLayout(layout, el) {
    var out = Object.assign({ autosize: true }, layout || {});
    ["xaxis", "yaxis"].forEach(function (axis) { out[axis] = Object.assign({ automargin: true }, out[axis] || {}); });
    if (el && el.clientWidth && el.clientWidth < 520 && !(layout && layout.legend)) {
      out.legend = { orientation: "h", x: 0, xanchor: "left", y: -0.25, yanchor: "top" };
    }
    return out;
  }
  var CHART_CONFIG = { displaylogo: false, responsive: true };

  function renderCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-figure]").forEach(function (el) {
      var src = document.getElementById(el.dataset.figure);
      if (!src) return;
      var fig = JSON.parse(src.textContent);
      window.Plotly.react(el, fig.data || [], chartLayout(fig.layout, el), CHART_CONFIG);
    });
  }

  // ---- Live jobs --------------------------------------------------------------------------------------
  // Any element with data-job-id (and optionally data-job-field="status|progress|message|log|...")
  // is kept up to date. Pages subscribe by project (list pages) or by job (detail pages).
  var FINAL = { succeeded: 1, failed: 1, cancelled: 1 };

  function applyJob(job) {
    document.querySelectorAll('[data-job-id="' + job.id + '"]').forEach(function (el) {
      var field = el.dataset.jobField;
      if (!field || field === "progress") {
        var bar = el.querySelector(".bar");
        var pct = el.querySelector(".pct");
        var value = Math.round((job.status === "succeeded" ? 1 : job.progress) * 100);
        if (bar) bar.style.width = value + "%";
        if (pct) pct.textContent = value + " %";
        var prog = el.querySelector(".progress") || el;
        prog.classList.remove("queued", "running", "succeeded", "failed", "cancelled");
        prog.classList.add(job.status);
        el.setAttribute("data-status", job.status);
        el.setAttribute("aria-valuenow", String(value));
      } else if (field === "status") {
        el.textContent = job.status.charAt(0).toUpperCase() + job.status.slice(1);
        el.className = "badge " + job.status;
      } else if (field === "log") {
        if (job.log !== undefined) { el.textContent = job.log; el.scrollTop = el.scrollHeight; }
      } else if (field === "error") {
        el.textContent = job.error || ""; el.hidden = !job.error;
      } else if (job[field] !== undefined && job[field] !== null) {
        el.textContent = job[field];
      }
    });
    if (FINAL[job.status]) {
      document.querySelectorAll('[data-job-final-reload="' + job.id + '"]').forEach(function (el) {
        if (!el.dataset.reloaded) { el.dataset.reloaded = "1"; setTimeout(function () { window.location.reload(); }, 400); }
      });
      document.querySelectorAll('[data-job-hide-when-final="' + job.id + '"]').forEach(function (el) { el.hidden = true; });
    }
    document.dispatchEvent(new CustomEvent("atelier:job", { detail: job }));
  }

  function pollFallback(query) {
    // Used only when WebSockets are unavailable (e.g. a proxy that strips Upgrade).
    var url = "/api/jobs/?limit=50&" + (query.job ? "id=" + query.job : "project=" + query.project);
    function tick() {
      var target = query.job ? "/api/jobs/" + query.job + "/" : url;
      fetch(target, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var jobs = data.results ? data.results : [data];
          var active = false;
          jobs.forEach(function (j) { applyJob(j); if (!FINAL[j.status]) active = true; });
          if (active || !query.job) setTimeout(tick, 1500);
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }

  function subscribe(query) {
    var qs = query.job ? "job=" + query.job : "project=" + query.project;
    var proto = window.location.protocol === "https:" ? "wss://" : "ws://";
    var opened = false, retries = 0, renewed = false;
    function connect() {
      var ws;
      try { ws = new WebSocket(proto + window.location.host + "/ws/jobs/?" + qs); } catch (e) { pollFallback(query); return; }
      ws.onopen = function () { opened = true; retries = 0; renewed = false; document.body.dataset.live = "ws"; };
      ws.onmessage = function (ev) {
        var msg = JSON.parse(ev.data);
        if (msg.type === "job") applyJob(msg.job);
      };
      ws.onclose = function (ev) {
        // 4401: the session this socket opened with no longer signs anyone in. One new attempt with the current
        // cookie (e.g. renewed by a password change in this browser); if signed out, the server refuses it (4403).
        if (ev.code === 4401 && !renewed) { renewed = true; setTimeout(connect, 500); return; }
        if (ev.code >= 4400 && ev.code < 4500) { document.body.dataset.live = "ended"; return; } // no access: stop
        if (!opened && retries >= 2) { document.body.dataset.live = "poll"; pollFallback(query); return; }
        retries += 1;
        setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retries)));
      };
    }
    connect();
  }

  function initJobs() {
    // One subscription per distinct "job:12" / "project:3" on the page (e.g. several candidates refitting).
    var seen = {};
    document.querySelectorAll("[data-live-jobs]").forEach(function (holder) {
      var spec = holder.dataset.liveJobs;
      if (!spec || seen[spec]) return;
      seen[spec] = true;
      var parts = spec.split(":");
      var query = {};
      query[parts[0]] = parts[1];
      subscribe(query);
    });
  }

  // ---- Small helpers -------------------------------------------------------------------------------------
  function initUi() {
    document.querySelectorAll("[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var src = document.getElementById(btn.dataset.copy);
        if (src && navigator.clipboard) navigator.clipboard.writeText(src.textContent.trim());
        btn.textContent = "Copied";
      });
    });
  }

  // ---- Phones and tablets ------------------------------------------------------------------------------------
  // The top bar's menu button opens the modules and the top bar's items (CSS hides them below 860 px). Delegated
  // and registered at once, so it works while a big script (plotly) is still loading.
  document.addEventListener("click", function (ev) {
    var toggle = ev.target && ev.target.closest ? ev.target.closest(".menu-toggle") : null;
    var shell = document.querySelector(".shell");
    if (!toggle || !shell) return;
    var open = shell.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", function (ev) {
    var shell = document.querySelector(".shell.open");
    var toggle = document.querySelector(".menu-toggle");
    if (ev.key !== "Escape" || !shell || !toggle) return;
    shell.classList.remove("open");
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  });

  // Every table scrolls sideways inside its card instead of widening the page: a table without a scrolling parent
  // is wrapped in <div class="table-wrap">, now (this script runs at the end of <body>) and when a script adds one.
  function wrapTables(root) {
    var tables = root.tagName === "TABLE" ? [root] : root.querySelectorAll ? root.querySelectorAll("table") : [];
    Array.prototype.forEach.call(tables, function (table) {
      var parent = table.parentElement;
      if (!parent || !parent.closest(".content") || parent.classList.contains("table-wrap")) return;
      if (window.getComputedStyle(parent).overflowX !== "visible") return;
      var wrap = document.createElement("div");
      wrap.className = "table-wrap";
      parent.insertBefore(wrap, table);
      wrap.appendChild(table);
    });
  }
  wrapTables(document);
  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        Array.prototype.forEach.call(record.addedNodes, function (node) { if (node.nodeType === 1) wrapTables(node); });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  // Selects that submit their form on change (project switcher, filters). Delegated and registered at once,
  // so they work before the page (and the big plotly bundle) has finished loading.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });

  // Forms that ask before submitting: <form data-confirm="Delete X?"> (no inline handlers: the CSP forbids them).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) ev.preventDefault();
  }, true);

  // The browser's time zone, for pages rendered before the user picks one on the profile (apps/core/timezones.py).
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("tz=" + encodeURIComponent(tz)) === -1) {
      document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: settings.TIME_ZONE */ }

  window.Atelier = {
    renderCharts: renderCharts, chartLayout: chartLayout, chartConfig: CHART_CONFIG, applyJob: applyJob, subscribe: subscribe
  };
  document.addEventListener("DOMContentLoaded", function () { initUi(); renderCharts(); initJobs(); });
})();
