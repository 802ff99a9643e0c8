/* Ground Truth, studio pages.
 * New-job form: each task type shows only the fields it uses (the sources it reads, the label set or the rating
 * criteria, automated labeling), the text column and column pickers list the chosen version's columns, and the
 * Markdown instructions get a preview rendered by the server (sanitised, as workers see them). Without this script
 * every field shows and the server checks what fits the task.
 * Job page: the progress counts follow the job's stats API while it is open for work. */
(function () {
  "use strict";

  function csrf() {
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // ---- the new-job form -------------------------------------------------------------------------------------
  var form = document.getElementById("job-form");
  var rulesNode = document.getElementById("labeling-form-rules");
  if (form && rulesNode) {
    var rules = JSON.parse(rulesNode.textContent);
    var task = document.getElementById("id_task_type");
    var version = document.getElementById("id_dataset_version");
    var radios = Array.prototype.slice.call(form.querySelectorAll("input[name=source_kind]"));

    function groups(t) {
      var out = [];
      ["labeled", "rated", "auto", "text", "tabular", "multi"].forEach(function (g) {
        if ((rules[g] || []).indexOf(t) !== -1) out.push(g);
      });
      return out;
    }
    function source() {
      var on = radios.filter(function (r) { return r.checked; })[0];
      return on ? on.value : "";
    }
    function columnsOf(select, names) {
      if (!select) return;
      var keep = Array.prototype.slice.call(select.options).filter(function (o) { return o.selected && o.value; })
        .map(function (o) { return o.value; });
      Array.prototype.slice.call(select.options).forEach(function (o) {
        if (!o.value) return;
        var on = names.indexOf(o.value) !== -1;
        o.hidden = !on;
        o.disabled = !on;
        if (!on) o.selected = false;
      });
      if (select.tagName === "SELECT" && !select.multiple && keep.length && names.indexOf(keep[0]) === -1) select.value = "";
    }
    function update() {
      var t = task.value;
      var allowed = rules.sources[t] || [];
      radios.forEach(function (r) {
        var ok = allowed.indexOf(r.value) !== -1;
        r.disabled = !ok;
        r.closest("label").hidden = !ok;
      });
      if (allowed.length && allowed.indexOf(source()) === -1) {
        radios.forEach(function (r) { r.checked = r.value === allowed[0]; });
      }
      var s = source();
      var g = groups(t);
      form.querySelectorAll("[data-when-source], [data-when-task]").forEach(function (el) {
        var okSource = !el.dataset.whenSource || el.dataset.whenSource.split(" ").indexOf(s) !== -1;
        var okTask = !el.dataset.whenTask || el.dataset.whenTask.split(" ").some(function (x) { return g.indexOf(x) !== -1; });
        el.hidden = !(okSource && okTask);
      });
      var names = version && version.value ? (rules.columns[version.value] || []) : [];
      columnsOf(document.getElementById("id_text_column"), names);
      columnsOf(document.getElementById("id_columns"), names);
      columnsOf(document.getElementById("id_gold_column"), names);
      var auto = document.getElementById("id_auto_labeling");
      var target = document.getElementById("field-target_accuracy");
      if (auto && target) target.hidden = !auto.checked;
    }
    form.addEventListener("change", function (ev) {
      if (ev.target && (ev.target === task || ev.target.name === "source_kind" || ev.target === version ||
        ev.target.id === "id_auto_labeling")) update();
    });
    update();

    // Labels as rows: one input per label, kept in step with the one-per-line box (which is what is sent).
    var labelsBox = document.getElementById("id_labels_text");
    if (labelsBox) {
      var rowsWrap = document.createElement("div");
      rowsWrap.className = "label-rows";
      rowsWrap.id = "label-rows";
      rowsWrap.hidden = true;
      var toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "btn-link small";
      toggle.id = "labels-as-rows";
      toggle.textContent = "Edit as rows";
      labelsBox.parentNode.insertBefore(toggle, labelsBox.nextSibling);
      labelsBox.parentNode.insertBefore(rowsWrap, toggle);
      var sync = function () {
        labelsBox.value = Array.prototype.map.call(rowsWrap.querySelectorAll("input"), function (i) { return i.value; })
          .filter(function (v) { return v.trim(); }).join("\n");
      };
      var addRow = function (value) {
        var input = document.createElement("input");
        input.type = "text";
        input.value = value;
        input.setAttribute("aria-label", "Label");
        input.addEventListener("input", sync);
        input.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter") { ev.preventDefault(); addRow("").focus(); }
        });
        rowsWrap.insertBefore(input, rowsWrap.lastChild);
        return input;
      };
      var more = document.createElement("button");
      more.type = "button";
      more.className = "btn-link small";
      more.textContent = "+ a label";
      more.addEventListener("click", function () { addRow("").focus(); });
      rowsWrap.appendChild(more);
      toggle.addEventListener("click", function () {
        var asRows = rowsWrap.hidden;
        if (asRows) {
          Array.prototype.slice.call(rowsWrap.querySelectorAll("input")).forEach(function (i) { i.remove(); });
          var values = labelsBox.value.split("\n").filter(function (v) { return v.trim(); });
          (values.length ? values : ["", ""]).forEach(addRow);
        } else {
          sync();
        }
        rowsWrap.hidden = !asRows;
        labelsBox.hidden = asRows;
        toggle.textContent = asRows ? "Edit as lines" : "Edit as rows";
      });
    }

    // Markdown preview
    var previewBtn = document.getElementById("preview-instructions");
    var previewBox = document.getElementById("instructions-preview");
    var previewBody = document.getElementById("instructions-preview-body");
    var text = document.getElementById("id_instructions");
    if (previewBtn && previewBox && previewBody && text && rules.preview_url) {
      previewBtn.hidden = false;
      previewBtn.addEventListener("click", function () {
        var body = new FormData();
        body.append("instructions", text.value);
        previewBtn.disabled = true;
        fetch(rules.preview_url, {
          method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf() }
        })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            // The server's sanitised HTML (nh3): no script, no handler, no style; shown as workers will see it.
            previewBody.innerHTML = html || '<p class="muted">(no instructions)</p>';
            previewBox.hidden = false;
          })
          .catch(function () { previewBody.textContent = "The preview could not be rendered."; previewBox.hidden = false; })
          .then(function () { previewBtn.disabled = false; });
      });
    }
  }

  // ---- the job page: live counts ----------------------------------------------------------------------------
  var live = document.querySelector("[data-stats-url]");
  if (live) {
    var url = live.dataset.statsUrl;
    var fields = ["items", "answers", "labeled", "auto", "reviewed", "pending_review"];
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var p = data.progress || data;
          fields.forEach(function (f) {
            if (p[f] === undefined || p[f] === null) return;
            document.querySelectorAll('[data-progress="' + f + '"]').forEach(function (el) {
              el.textContent = Number(p[f]).toLocaleString("en-US");
            });
          });
          var items = Number(p.items || 0);
          var pct = items ? Math.round(100 * Number(p.labeled || 0) / items) : 0;
          live.querySelectorAll(".bar").forEach(function (b) { b.style.width = pct + "%"; });
          live.querySelectorAll("[data-progress=percent]").forEach(function (el) { el.textContent = pct + " %"; });
          live.dataset.polled = String(Number(live.dataset.polled || 0) + 1);
          if (data.status && data.status !== live.dataset.status && live.dataset.status) {
            window.location.reload();
            return;
          }
          setTimeout(tick, 3000);
        })
        .catch(function () { setTimeout(tick, 6000); });
    };
    setTimeout(tick, 1500);
  }
})();
