/* Ground Truth: the labeling page (templates/labeling/work_form.html). Drives the queue API: POST next-task (200 a
 * task, 204 nothing left), POST answers, POST skip. One form per task type; keys: digits pick labels, Enter submits,
 * S skips, Z undoes the last change (not while typing in a text field).
 *
 * The next item: the queue holds one claim per worker and job (next-task gives back the claim already held), so a
 * second item cannot be claimed ahead while the worker reads one, and should not be: it would keep a seat of the item
 * from other workers and expire unused when the worker stops. Instead the next item is claimed the moment the answer
 * is stored (one request after the answer, no page load) and shown at once; an image is decoded before it appears.
 *
 * Everything that comes from items, labels and answers is set with textContent. The one HTML inserted is the job's
 * instructions, rendered and sanitised on the server (job.instructions_html). */
(function () {
  "use strict";

  var root = document.getElementById("labeling-work");
  if (!root) return;

  // ---- small DOM helpers (text only) -------------------------------------------------------------------------
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "on") Object.keys(value).forEach(function (ev) { node.addEventListener(ev, value[ev]); });
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function kbd(text) { return h("kbd", { text: text }); }
  // The key of the i-th label: 1..9, then 0 for the tenth; none beyond.
  function keyOf(i) { return i < 9 ? String(i + 1) : i === 9 ? "0" : ""; }
  function digitIndex(key) { return key >= "1" && key <= "9" ? Number(key) - 1 : key === "0" ? 9 : -1; }
  function labelClass(i) { return "lab-" + (i % 8); }
  function pct(x) { return Math.round(x * 100) + " %"; }
  function valueText(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  // ---- the page ----------------------------------------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  var form = $("work-task"), itemBox = $("work-item"), answerBox = $("work-answer");
  var errorBox = $("work-error"), suggestionBox = $("work-suggestion");
  var submitBtn = $("work-submit"), skipBtn = $("work-skip"), undoBtn = $("work-undo");
  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";

  var current = null; // {task, job, form (the task type's form object)}
  var busy = false;
  var answered = 0;
  var clock = { spent: 0, since: null };

  function url(name, id) {
    var tpl = root.dataset[name]; // reversed with id 0 by the template
    return id === undefined ? tpl : tpl.replace(/\/0(\/|$)/, "/" + encodeURIComponent(id) + "$1");
  }

  function post(target, body) {
    return fetch(target, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      if (r.status === 204) return { status: 204, data: null };
      return r.json().then(
        function (data) { return { status: r.status, data: data }; },
        function () { return { status: r.status, data: null }; }
      );
    });
  }

  function errorText(res) {
    var data = res.data || {};
    var parts = [];
    if (data.errors && typeof data.errors === "object") {
      Object.keys(data.errors).forEach(function (key) {
        var v = data.errors[key];
        parts.push((Array.isArray(v) ? v : [v]).map(valueText).join(" "));
      });
    }
    if (!parts.length && data.detail) parts.push(valueText(data.detail));
    return parts.join(" ") || "The server answered " + res.status + ".";
  }

  function showError(text) { errorBox.textContent = text || ""; errorBox.hidden = !text; }
  function setBusy(on) {
    busy = on;
    submitBtn.disabled = on; skipBtn.disabled = on;
    form.classList.toggle("busy", on);
  }

  // Time on an item counts while the page is visible.
  function clockStart() { clock.spent = 0; clock.since = document.hidden ? null : performance.now(); }
  function clockRead() { return Math.round(clock.spent + (clock.since === null ? 0 : performance.now() - clock.since)); }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && clock.since !== null) { clock.spent += performance.now() - clock.since; clock.since = null; }
    else if (!document.hidden && clock.since === null && current) clock.since = performance.now();
  });

  function claim() { return post(url("nextUrl")); }

  // A claimed task ready to show: an image is fetched and decoded first, so it appears at once.
  function ready(res) {
    if (res.status !== 200 || !res.data) return Promise.resolve(res);
    var data = res.data.item.data || {};
    if (!data.image) return Promise.resolve(res);
    var img = new Image();
    img.src = url("imageUrl", res.data.item.id);
    res.image = img;
    return (img.decode ? img.decode() : Promise.resolve()).then(function () { return res; }, function () { return res; });
  }

  function showNext(res) {
    $("work-loading") && ($("work-loading").hidden = true);
    if (res.status === 204) { done(); return; }
    if (res.status !== 200) {
      current = null;
      form.hidden = true;
      var box = $("work-loading") || h("div", { id: "work-loading", class: "card" });
      if (!box.parentNode) root.insertBefore(box, form);
      box.hidden = false;
      box.textContent = errorText(res);
      return;
    }
    render(res.data, res.image);
  }

  function done() {
    current = null;
    form.hidden = true;
    $("work-done").hidden = false;
    updateCounter();
  }

  function updateCounter() {
    $("work-counter").textContent = answered ? answered + " answered in this session" : "";
  }

  var instructionsShown = false;
  function showInstructions(job) {
    if (instructionsShown || !job) return;
    instructionsShown = true;
    var panel = $("instructions"), body = $("instructions-body");
    if (job.instructions_html) {
      // Sanitised on the server (apps/labeling/markdown.py); parsed inert (no script runs in a DOMParser document).
      var doc = new DOMParser().parseFromString(job.instructions_html, "text/html");
      if (doc.body.textContent.trim() || doc.body.querySelector("img")) {
        Array.prototype.slice.call(doc.body.childNodes).forEach(function (n) { body.appendChild(document.importNode(n, true)); });
      }
    }
    var examples = Array.isArray(job.examples) ? job.examples : [];
    if (examples.length) {
      var list = h("ul", { class: "work-examples", id: "work-examples" });
      examples.forEach(function (ex) {
        if (!ex || typeof ex !== "object") return;
        list.appendChild(h("li", {}, [
          h("span", { class: "work-text", text: valueText(ex.text) }),
          ex.label !== undefined ? h("strong", { text: " → " + valueText(ex.label) }) : null,
          ex.note ? h("span", { class: "small muted", text: " " + valueText(ex.note) }) : null
        ]));
      });
      body.appendChild(h("h3", { text: "Examples" }));
      body.appendChild(list);
    }
    if (!body.childNodes.length) return; // nothing to read
    panel.hidden = false;
    if (window.location.hash === "#instructions") panel.open = true;
  }

  // ---- one task on screen ------------------------------------------------------------------------------------
  function render(task, image) {
    var job = task.job || {};
    showInstructions(job);
    var builder = FORMS[job.task_type];
    clear(itemBox); clear(answerBox); showError("");
    current = { task: task, job: job, image: image, undo: [] };
    current.form = builder ? builder(task, job, image) : unknownForm(job);
    suggestionNote(task);
    form.hidden = false;
    form.dataset.task = task.id;
    form.dataset.item = task.item.id;
    $("work-done").hidden = true;
    undoBtn.disabled = true;
    expiry(task);
    clockStart();
    form.focus({ preventScroll: true });
    root.dispatchEvent(new CustomEvent("labeling:task", { detail: { id: task.id } }));
  }

  function expiry(task) {
    var note = $("work-expiry");
    note.textContent = "";
    if (!task.expires_at) return;
    var until = new Date(task.expires_at);
    if (isNaN(until)) return;
    note.textContent = "Held for you until " + until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function suggestionNote(task) {
    var s = task.item.suggestion;
    suggestionBox.hidden = !s;
    clear(suggestionBox);
    if (!s) return;
    suggestionBox.appendChild(h("span", { class: "badge suggested", text: "Suggested by a model" }));
    var conf = typeof s.confidence === "number" ? " (confidence " + pct(s.confidence) + ")" : "";
    suggestionBox.appendChild(document.createTextNode(" The form starts from a model's answer" + conf + ": check it before you submit."));
  }

  // A change to the form's state: the state before it is kept for Z.
  function change(fn) {
    if (!current) return;
    current.undo.push(JSON.stringify(current.form.state));
    if (current.undo.length > 100) current.undo.shift();
    fn(current.form.state);
    current.form.draw();
    undoBtn.disabled = false;
    showError("");
  }
  function undo() {
    if (!current || !current.undo.length) return;
    current.form.state = JSON.parse(current.undo.pop());
    current.form.draw();
    undoBtn.disabled = !current.undo.length;
  }

  function submit() {
    if (!current || busy) return;
    var result;
    try { result = current.form.answer(); } catch (e) { showError(e.message); return; }
    var task = current.task;
    setBusy(true);
    post(url("answerUrl", task.id), { answer: result, time_spent_ms: clockRead() }).then(function (res) {
      if (res.status === 201 || res.status === 200) {
        answered += 1;
        updateCounter();
        return following();
      }
      if (res.status === 409 || res.status === 404) {
        // The claim is gone (expired and given to another worker, or already answered): on to the next item.
        var why = errorText(res);
        return following().then(function () { if (current) showError(why); });
      }
      showError(errorText(res)); // not stored: the item stays for a correction
    }).catch(function () {
      showError("The answer could not be sent (network). Try again.");
    }).then(function () { setBusy(false); });
  }

  // The next item, claimed as soon as the answer (or skip) is stored and shown at once (an image decoded first).
  function following() { return claim().then(ready).then(showNext); }

  function skip() {
    if (!current || busy) return;
    var task = current.task;
    setBusy(true);
    post(url("skipUrl", task.id)).then(function (res) {
      if (res.status >= 400 && res.status !== 409 && res.status !== 404) { showError(errorText(res)); return; }
      return following();
    }).catch(function () {
      showError("Could not skip (network). Try again.");
    }).then(function () { setBusy(false); });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
  skipBtn.addEventListener("click", skip);
  undoBtn.addEventListener("click", undo);

  document.addEventListener("selectionchange", function () {
    if (current && current.form && current.form.selectionChanged) current.form.selectionChanged();
  });

  function typing(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && !/^(radio|checkbox|button|submit|range)$/i.test(target.type);
  }

  document.addEventListener("keydown", function (ev) {
    if (!current || form.hidden || ev.altKey || ev.isComposing) return;
    var target = ev.target;
    if (ev.key === "Enter") {
      if (target && target.tagName === "TEXTAREA" && !(ev.ctrlKey || ev.metaKey)) return; // a new line
      // Enter on Skip, Undo, a link or a remove button does what that control does; on a choice it submits.
      if (target && target.tagName === "A") return;
      if (target && target.tagName === "BUTTON" && !target.matches(".pref-card, .label-chip, #work-submit")) return;
      if (target && target.tagName === "SUMMARY") return;
      ev.preventDefault();
      submit();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || typing(target) || busy) return;
    var key = ev.key;
    if (key === "s" || key === "S") { ev.preventDefault(); skip(); return; }
    if (key === "z" || key === "Z") { ev.preventDefault(); undo(); return; }
    var index = digitIndex(key);
    if (index >= 0 && current.form.digit) { ev.preventDefault(); current.form.digit(index); return; }
    if ((key === "ArrowUp" || key === "ArrowDown") && current.form.arrow) {
      ev.preventDefault();
      current.form.arrow(key === "ArrowUp" ? -1 : 1);
    }
  });

  // ---- what the worker sees of an item -----------------------------------------------------------------------
  function textBlock(text) { return h("div", { class: "work-text", text: text }); }

  function rowTable(row) {
    var body = h("tbody");
    Object.keys(row || {}).forEach(function (col) {
      body.appendChild(h("tr", {}, [h("th", { scope: "row", text: col }), h("td", { text: valueText(row[col]) })]));
    });
    return h("table", { class: "work-row" }, [body]);
  }

  function imageFigure(task, image) {
    var img = image || h("img", { src: url("imageUrl", task.item.id) });
    img.alt = "The image to label";
    img.className = "work-image";
    img.draggable = false;
    var data = task.item.data;
    return h("figure", { class: "work-figure" }, [img, data.name ? h("figcaption", { class: "small muted", text: data.name }) : null]);
  }

  function promptBlock(data) {
    return h("div", { class: "work-prompt" }, [h("div", { class: "work-label", text: "Prompt" }), textBlock(data.prompt || "")]);
  }

  function responseText(r) { return r && typeof r === "object" ? r.text || "" : valueText(r); }

  // The data of any item (used by the classification forms and verification).
  function itemView(task, image) {
    var data = task.item.data || {};
    var out = [];
    if (data.image) out.push(imageFigure(task, image));
    if (typeof data.text === "string") out.push(textBlock(data.text));
    if (data.row) out.push(rowTable(data.row));
    if (typeof data.prompt === "string") {
      out.push(promptBlock(data));
      (data.responses || []).forEach(function (r, i) {
        out.push(h("div", { class: "work-response" }, [
          h("div", { class: "work-label", text: (data.responses.length > 1 ? "Response " + (i + 1) : "Response") }),
          textBlock(responseText(r))
        ]));
      });
    }
    return out;
  }

  // ---- forms, one per task type ------------------------------------------------------------------------------
  // A form: {state, draw(), digit(i)?, arrow(d)?, answer() -> answer dict (throws Error with what is missing)}.

  function labelPicker(labels, opts) {
    // Radio or checkbox list of labels with their keys; opts.multi, opts.selected(i), opts.suggested(i), opts.pick(i)
    var box = h("div", { class: "label-choices", role: opts.multi ? "group" : "radiogroup", "aria-label": "Labels" });
    var name = "label-" + Math.random().toString(36).slice(2);
    labels.forEach(function (label, i) {
      var input = h("input", { type: opts.multi ? "checkbox" : "radio", name: name, value: label, "data-index": i });
      input.addEventListener("click", function (ev) { ev.preventDefault(); opts.pick(i); });
      var key = keyOf(i);
      box.appendChild(h("label", { class: "label-choice " + labelClass(i), "data-label": label }, [
        input,
        key ? kbd(key) : null,
        h("span", { class: "label-name", text: label }),
        h("span", { class: "badge suggested", text: "suggested", hidden: true })
      ]));
    });
    box.update = function () {
      Array.prototype.forEach.call(box.querySelectorAll(".label-choice"), function (el, i) {
        var on = opts.selected(i);
        el.querySelector("input").checked = on;
        el.classList.toggle("on", on);
        el.querySelector(".badge.suggested").hidden = !opts.suggested(i);
      });
    };
    return box;
  }

  function singleForm(task, job, image) {
    var labels = job.labels || [];
    var s = task.item.suggestion;
    var suggested = s && labels.indexOf(s.label) >= 0 ? s.label : null;
    var data = task.item.data || {};
    itemView(task, image).forEach(function (n) { itemBox.appendChild(n); });
    if (job.task_type === "label_verification" && data.label !== undefined) {
      itemBox.insertBefore(earlierLabel(data.label, task, image), itemBox.firstChild);
    }
    var self = { state: { label: suggested } };
    var picker = labelPicker(labels, {
      selected: function (i) { return self.state.label === labels[i]; },
      suggested: function (i) { return labels[i] === suggested; },
      pick: function (i) { change(function (st) { st.label = labels[i]; }); }
    });
    answerBox.appendChild(picker);
    self.draw = picker.update;
    self.digit = function (i) { if (i < labels.length) change(function (st) { st.label = labels[i]; }); };
    self.answer = function () {
      if (self.state.label === null) throw new Error("Pick a label first (a digit key or a click).");
      return { label: self.state.label };
    };
    self.draw();
    return self;
  }

  function earlierLabel(label, task, image) {
    var text;
    if (label && typeof label === "object") {
      if (label.label !== undefined) text = valueText(label.label);
      else if (label.labels) text = label.labels.length ? label.labels.join(", ") : "(no label)";
      else if (label.spans) {
        var src = task.item.data.text || "", cps = Array.from(src);
        text = label.spans.map(function (sp) { return "“" + cps.slice(sp.start, sp.end).join("") + "” → " + sp.label; }).join("; ") || "(no entities)";
      } else if (label.boxes) text = label.boxes.map(function (b) { return b.label; }).join(", ") || "(no boxes)";
      else text = valueText(label);
    } else text = valueText(label);
    return h("div", { class: "earlier-label" }, [
      h("span", { class: "work-label", text: "Earlier label" }), h("strong", { id: "earlier-label", text: text })
    ]);
  }

  function multiForm(task, job, image) {
    var labels = job.labels || [];
    var s = task.item.suggestion;
    var suggested = s && Array.isArray(s.labels) ? s.labels.filter(function (l) { return labels.indexOf(l) >= 0; }) : [];
    itemView(task, image).forEach(function (n) { itemBox.appendChild(n); });
    var self = { state: { labels: suggested.slice() } };
    function toggle(i) {
      change(function (st) {
        var at = st.labels.indexOf(labels[i]);
        if (at >= 0) st.labels.splice(at, 1); else st.labels.push(labels[i]);
      });
    }
    var picker = labelPicker(labels, {
      multi: true,
      selected: function (i) { return self.state.labels.indexOf(labels[i]) >= 0; },
      suggested: function (i) { return suggested.indexOf(labels[i]) >= 0; },
      pick: toggle
    });
    answerBox.appendChild(picker);
    answerBox.appendChild(h("p", { class: "small muted", text: "Choose every label that applies (none is an answer too)." }));
    self.draw = picker.update;
    self.digit = function (i) { if (i < labels.length) toggle(i); };
    self.answer = function () {
      return { labels: labels.filter(function (l) { return self.state.labels.indexOf(l) >= 0; }) };
    };
    self.draw();
    return self;
  }

  // Named entities: offsets are in characters (code points, as the server counts them), not UTF-16 units.
  function nerForm(task, job) {
    var labels = job.labels || [];
    var text = String(task.item.data.text || "");
    var cps = Array.from(text);
    var cu = [0]; // cu[i] = UTF-16 offset of code point i
    cps.forEach(function (c, i) { cu.push(cu[i] + c.length); });
    function toCp(unit) { var i = 0; while (i < cps.length && cu[i + 1] <= unit) i += 1; return i; }
    var s = task.item.suggestion;
    var suggested = s && Array.isArray(s.spans) ? s.spans.filter(function (sp) { return labels.indexOf(sp.label) >= 0; }) : [];
    var self = { state: { spans: suggested.map(function (sp) { return { start: sp.start, end: sp.end, label: sp.label, suggested: true }; }) } };
    var pending = null;
    var textBox = h("div", { class: "work-text ner-text", id: "ner-text" });
    var pendingNote = h("p", { class: "small muted ner-pending", id: "ner-pending", "aria-live": "polite" });
    var list = h("ul", { class: "span-list", id: "span-list" });
    itemBox.appendChild(textBox);
    itemBox.appendChild(pendingNote);

    function addSpan(i) {
      if (!pending) { showError("Select a piece of the text first, then pick its label."); return; }
      var p = pending;
      var clash = self.state.spans.some(function (sp) { return p.start < sp.end && sp.start < p.end; });
      if (clash) { showError("That selection overlaps an entity already marked: remove that one first (click it)."); return; }
      pending = null;
      window.getSelection() && window.getSelection().removeAllRanges();
      change(function (st) {
        st.spans.push({ start: p.start, end: p.end, label: labels[i] });
        st.spans.sort(function (a, b) { return a.start - b.start; });
      });
    }
    function removeSpan(index) { change(function (st) { st.spans.splice(index, 1); }); }

    var palette = h("div", { class: "label-palette", role: "group", "aria-label": "Entity labels" });
    labels.forEach(function (label, i) {
      palette.appendChild(h("button", {
        type: "button", class: "label-chip " + labelClass(i), "data-label": label,
        on: { mousedown: function (ev) { ev.preventDefault(); }, click: function () { addSpan(i); } }
      }, [keyOf(i) ? kbd(keyOf(i)) : null, h("span", { text: label })]));
    });
    answerBox.appendChild(palette);
    answerBox.appendChild(list);

    function readSelection() {
      var sel = window.getSelection();
      if (!sel || !sel.rangeCount || sel.isCollapsed) return;
      var r = sel.getRangeAt(0);
      if (!textBox.contains(r.startContainer) || !textBox.contains(r.endContainer)) return;
      var pre = document.createRange();
      pre.selectNodeContents(textBox);
      pre.setEnd(r.startContainer, r.startOffset);
      var start = pre.toString().length, chosen = r.toString();
      var end = start + chosen.length;
      while (start < end && /\s/.test(text.charAt(start))) start += 1; // no spaces at the ends
      while (end > start && /\s/.test(text.charAt(end - 1))) end -= 1;
      if (end <= start) return;
      pending = { start: toCp(start), end: toCp(end - 1) + 1 };
      pendingNote.textContent = "Selected “" + cps.slice(pending.start, pending.end).join("") + "”: pick its label.";
    }
    textBox.addEventListener("mouseup", readSelection);
    textBox.addEventListener("touchend", function () { setTimeout(readSelection, 0); });
    textBox.addEventListener("keyup", readSelection);
    self.selectionChanged = readSelection;

    self.draw = function () {
      clear(textBox); clear(list);
      var at = 0;
      self.state.spans.forEach(function (sp, index) {
        if (sp.start > at) textBox.appendChild(document.createTextNode(cps.slice(at, sp.start).join("")));
        var li = labels.indexOf(sp.label);
        textBox.appendChild(h("mark", {
          class: "ner-span " + labelClass(li < 0 ? 0 : li) + (sp.suggested ? " suggested" : ""),
          "data-label": sp.label, "data-start": sp.start, "data-end": sp.end,
          title: sp.label + " (click to remove)",
          on: { click: function () { removeSpan(index); } }
        }, [cps.slice(sp.start, sp.end).join("")]));
        at = sp.end;
        list.appendChild(h("li", { class: labelClass(li < 0 ? 0 : li) }, [
          h("span", { class: "span-label", text: sp.label }),
          h("span", { class: "span-text", text: cps.slice(sp.start, sp.end).join("") }),
          sp.suggested ? h("span", { class: "badge suggested", text: "suggested" }) : null,
          h("button", { type: "button", class: "btn-link", "aria-label": "Remove", text: "Remove", on: { click: function () { removeSpan(index); } } })
        ]));
      });
      if (at < cps.length) textBox.appendChild(document.createTextNode(cps.slice(at).join("")));
      if (!self.state.spans.length) list.appendChild(h("li", { class: "muted small", text: "No entity marked yet: select text with the mouse (or a finger), then pick a label." }));
      if (!pending) pendingNote.textContent = "";
    };
    self.digit = function (i) { if (i < labels.length) addSpan(i); };
    self.answer = function () {
      return { spans: self.state.spans.map(function (sp) { return { start: sp.start, end: sp.end, label: sp.label }; }) };
    };
    self.draw();
    return self;
  }

  // Bounding boxes: drawn with a mouse or a finger (pointer events) on the image, in the image's own pixels.
  function boxForm(task, job, image) {
    var labels = job.labels || [];
    var data = task.item.data || {};
    var img = image || h("img", { src: url("imageUrl", task.item.id) });
    img.alt = "The image to draw boxes on";
    img.className = "work-image";
    img.draggable = false;
    var W = function () { return data.width || img.naturalWidth || 1; };
    var H = function () { return data.height || img.naturalHeight || 1; };
    var s = task.item.suggestion;
    var suggested = s && Array.isArray(s.boxes) ? s.boxes.filter(function (b) { return labels.indexOf(b.label) >= 0; }) : [];
    var self = { state: { boxes: suggested.map(function (b) {
      return { left: b.left, top: b.top, width: b.width, height: b.height, label: b.label, suggested: true };
    }) }, label: 0 };
    var layer = h("div", { class: "box-layer" });
    var stage = h("div", { class: "box-stage", id: "box-stage" }, [img, layer]);
    itemBox.appendChild(h("figure", { class: "work-figure" }, [stage, data.name ? h("figcaption", { class: "small muted", text: data.name }) : null]));
    var palette = h("div", { class: "label-palette", role: "radiogroup", "aria-label": "Label of the next box" });
    labels.forEach(function (label, i) {
      palette.appendChild(h("button", {
        type: "button", class: "label-chip " + labelClass(i), "data-label": label, role: "radio",
        on: { click: function () { self.label = i; drawPalette(); } }
      }, [keyOf(i) ? kbd(keyOf(i)) : null, h("span", { text: label })]));
    });
    var list = h("ul", { class: "span-list", id: "box-list" });
    answerBox.appendChild(h("p", { class: "small muted", text: "Pick a label (digit key), then drag on the image to draw a box around each object." }));
    answerBox.appendChild(palette);
    answerBox.appendChild(list);
    function drawPalette() {
      Array.prototype.forEach.call(palette.children, function (b, i) {
        b.classList.toggle("on", i === self.label);
        b.setAttribute("aria-checked", i === self.label ? "true" : "false");
      });
    }
    function place(el, b) {
      el.style.left = (b.left / W() * 100) + "%";
      el.style.top = (b.top / H() * 100) + "%";
      el.style.width = (b.width / W() * 100) + "%";
      el.style.height = (b.height / H() * 100) + "%";
    }
    function point(ev) {
      var r = stage.getBoundingClientRect();
      var x = Math.min(Math.max(ev.clientX - r.left, 0), r.width), y = Math.min(Math.max(ev.clientY - r.top, 0), r.height);
      return { x: x / r.width * W(), y: y / r.height * H(), sx: x, sy: y };
    }
    var drag = null, draft = null;
    stage.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0 || (ev.target.closest && ev.target.closest("button"))) return;
      if (!labels.length) return;
      ev.preventDefault();
      drag = point(ev);
      draft = h("div", { class: "bbox draft " + labelClass(self.label) });
      layer.appendChild(draft);
      stage.setPointerCapture(ev.pointerId);
    });
    stage.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var p = point(ev);
      place(draft, { left: Math.min(drag.x, p.x), top: Math.min(drag.y, p.y), width: Math.abs(p.x - drag.x), height: Math.abs(p.y - drag.y) });
    });
    function end(ev) {
      if (!drag) return;
      var p = point(ev), a = drag;
      drag = null;
      if (draft && draft.parentNode) draft.parentNode.removeChild(draft);
      if (Math.abs(p.sx - a.sx) < 4 || Math.abs(p.sy - a.sy) < 4) return; // a click, not a box
      var round = function (v) { return Math.round(v * 10) / 10; };
      var left = round(Math.min(a.x, p.x)), top = round(Math.min(a.y, p.y));
      var box = {
        left: left, top: top,
        width: Math.max(round(Math.min(Math.abs(p.x - a.x), W() - left)), 0.1),
        height: Math.max(round(Math.min(Math.abs(p.y - a.y), H() - top)), 0.1),
        label: labels[self.label]
      };
      change(function (st) { st.boxes.push(box); });
    }
    stage.addEventListener("pointerup", end);
    stage.addEventListener("pointercancel", function () { drag = null; if (draft && draft.parentNode) draft.parentNode.removeChild(draft); });
    function removeBox(index) { change(function (st) { st.boxes.splice(index, 1); }); }
    self.draw = function () {
      clear(layer); clear(list);
      self.state.boxes.forEach(function (b, index) {
        var li = labels.indexOf(b.label);
        var el = h("div", { class: "bbox " + labelClass(li < 0 ? 0 : li) + (b.suggested ? " suggested" : ""), "data-label": b.label }, [
          h("span", { class: "bbox-tag", text: b.label }),
          h("button", { type: "button", class: "bbox-remove", "aria-label": "Remove this box", text: "×", on: { click: function () { removeBox(index); } } })
        ]);
        place(el, b);
        layer.appendChild(el);
        list.appendChild(h("li", { class: labelClass(li < 0 ? 0 : li) }, [
          h("span", { class: "span-label", text: b.label }),
          h("span", { class: "span-text small muted", text: Math.round(b.width) + " × " + Math.round(b.height) + " px at " + Math.round(b.left) + ", " + Math.round(b.top) }),
          b.suggested ? h("span", { class: "badge suggested", text: "suggested" }) : null,
          h("button", { type: "button", class: "btn-link", text: "Remove", on: { click: function () { removeBox(index); } } })
        ]));
      });
      if (!self.state.boxes.length) list.appendChild(h("li", { class: "muted small", text: "No box yet." }));
      drawPalette();
    };
    self.digit = function (i) { if (i < labels.length) { self.label = i; drawPalette(); } };
    self.answer = function () {
      return { boxes: self.state.boxes.map(function (b) {
        return { left: b.left, top: b.top, width: b.width, height: b.height, label: b.label };
      }) };
    };
    self.draw();
    return self;
  }

  function ratingForm(task, job) {
    var data = task.item.data || {};
    var criteria = job.criteria || [];
    var scale = job.scale || 5;
    itemBox.appendChild(promptBlock(data));
    var first = (data.responses || [])[0];
    itemBox.appendChild(h("div", { class: "work-response" }, [h("div", { class: "work-label", text: "Response" }), textBlock(responseText(first))]));
    var s = task.item.suggestion;
    var start = {};
    if (s && s.ratings) criteria.forEach(function (c) { var v = s.ratings[c.name]; if (v >= 1 && v <= scale) start[c.name] = v; });
    var self = { state: { ratings: start, focus: 0 } };
    var rows = [];
    criteria.forEach(function (c, ci) {
      var name = "crit-" + ci;
      var scaleBox = h("div", { class: "likert", role: "radiogroup", "aria-label": c.name });
      for (var v = 1; v <= scale; v += 1) {
        (function (value) {
          var input = h("input", { type: "radio", name: name, value: value });
          input.addEventListener("click", function (ev) {
            ev.preventDefault();
            change(function (st) { st.ratings[c.name] = value; st.focus = ci; });
          });
          scaleBox.appendChild(h("label", { class: "likert-point", "data-value": value }, [input, h("span", { text: String(value) })]));
        })(v);
      }
      var row = h("fieldset", { class: "criterion", "data-criterion": c.name, on: { click: function () { if (self.state.focus !== ci) { self.state.focus = ci; self.draw(); } } } }, [
        h("legend", {}, [h("span", { class: "criterion-name", text: c.name })]),
        c.description ? h("p", { class: "small muted criterion-description", text: c.description }) : null,
        h("div", { class: "likert-scale" }, [h("span", { class: "small muted", text: "1 poor" }), scaleBox, h("span", { class: "small muted", text: scale + " excellent" })])
      ]);
      rows.push(row);
      answerBox.appendChild(row);
    });
    answerBox.appendChild(h("p", { class: "small muted", text: "Keys: a digit rates the highlighted criterion and moves to the next; ↑ ↓ move between criteria." }));
    self.draw = function () {
      rows.forEach(function (row, ci) {
        var value = self.state.ratings[criteria[ci].name];
        row.classList.toggle("focus", ci === self.state.focus);
        Array.prototype.forEach.call(row.querySelectorAll(".likert-point"), function (p) {
          var on = Number(p.dataset.value) === value;
          p.classList.toggle("on", on);
          p.querySelector("input").checked = on;
        });
      });
    };
    self.digit = function (i) {
      var value = i + 1;
      if (value > scale || !criteria.length) return;
      change(function (st) {
        st.ratings[criteria[st.focus].name] = value;
        st.focus = Math.min(st.focus + 1, criteria.length - 1);
      });
    };
    self.arrow = function (d) { self.state.focus = Math.min(Math.max(self.state.focus + d, 0), criteria.length - 1); self.draw(); };
    self.answer = function () {
      var missing = criteria.filter(function (c) { return !self.state.ratings[c.name]; }).map(function (c) { return c.name; });
      if (missing.length) throw new Error("Rate every criterion: " + missing.join(", ") + ".");
      var out = {};
      criteria.forEach(function (c) { out[c.name] = self.state.ratings[c.name]; });
      return { ratings: out };
    };
    self.draw();
    return self;
  }

  function preferenceForm(task, job) {
    var data = task.item.data || {};
    var responses = data.responses || [];
    itemBox.appendChild(promptBlock(data));
    var s = task.item.suggestion;
    var self = { state: { preferred: s && (s.preferred === 0 || s.preferred === 1) ? s.preferred : null } };
    var cards = [0, 1].map(function (i) {
      return h("button", {
        type: "button", class: "pref-card", "data-choice": i, "aria-pressed": "false",
        on: { click: function () { change(function (st) { st.preferred = i; }); } }
      }, [
        h("span", { class: "work-label" }, [kbd(String(i + 1)), " Response " + "AB".charAt(i)]),
        h("span", { class: "work-text", text: responseText(responses[i]) }),
        h("span", { class: "badge suggested", text: "suggested", hidden: true })
      ]);
    });
    itemBox.appendChild(h("div", { class: "pref-pair" }, cards));
    var reason = h("textarea", { id: "pref-reason", rows: 2, maxlength: 2000, placeholder: "Why (optional)" });
    answerBox.appendChild(h("p", { class: "small muted", text: "Press 1 or 2 (or click a response) for the better one." }));
    answerBox.appendChild(h("p", {}, [h("label", { for: "pref-reason", text: "Reason (optional)" }), reason]));
    self.draw = function () {
      cards.forEach(function (card, i) {
        var on = self.state.preferred === i;
        card.classList.toggle("on", on);
        card.setAttribute("aria-pressed", on ? "true" : "false");
        card.querySelector(".badge.suggested").hidden = !(s && s.preferred === i);
      });
    };
    self.digit = function (i) { if (i < 2) change(function (st) { st.preferred = i; }); };
    self.answer = function () {
      if (self.state.preferred === null) throw new Error("Choose the better response (1 or 2).");
      return { preferred: self.state.preferred, reason: reason.value.trim() };
    };
    self.draw();
    return self;
  }

  function rankingForm(task, job) {
    var data = task.item.data || {};
    var responses = data.responses || [];
    var n = responses.length;
    itemBox.appendChild(promptBlock(data));
    var s = task.item.suggestion;
    var order = [];
    for (var i = 0; i < n; i += 1) order.push(i);
    if (s && Array.isArray(s.ranking) && s.ranking.length === n && s.ranking.slice().sort(function (a, b) { return a - b; }).join() === order.join()) order = s.ranking.slice();
    var self = { state: { order: order }, selected: 0 };
    var list = h("ol", { class: "rank-list", id: "rank-list" });
    answerBox.appendChild(h("p", { class: "small muted", text: "Best first. Select a response (click, or ↑ ↓), then press the digit of its rank, or move it with the buttons." }));
    answerBox.appendChild(list);
    function move(from, to) {
      if (to < 0 || to >= n || from === to) return;
      change(function (st) { var r = st.order.splice(from, 1)[0]; st.order.splice(to, 0, r); });
      self.selected = to;
      self.draw();
    }
    self.draw = function () {
      clear(list);
      self.state.order.forEach(function (resp, pos) {
        list.appendChild(h("li", {
          class: "rank-item" + (pos === self.selected ? " selected" : ""), "data-response": resp,
          on: { click: function (ev) { if (!ev.target.closest("button")) { self.selected = pos; self.draw(); } } }
        }, [
          h("span", { class: "rank-pos", text: String(pos + 1) }),
          h("span", { class: "work-text", text: responseText(responses[resp]) }),
          h("span", { class: "rank-buttons" }, [
            h("button", { type: "button", "aria-label": "Move up", text: "↑", disabled: pos === 0, on: { click: function () { move(pos, pos - 1); } } }),
            h("button", { type: "button", "aria-label": "Move down", text: "↓", disabled: pos === n - 1, on: { click: function () { move(pos, pos + 1); } } })
          ])
        ]));
      });
    };
    self.digit = function (i) { if (i < n) move(self.selected, i); };
    self.arrow = function (d) { self.selected = Math.min(Math.max(self.selected + d, 0), n - 1); self.draw(); };
    self.answer = function () { return { ranking: self.state.order.slice() }; };
    self.draw();
    return self;
  }

  function rewriteForm(task, job) {
    var data = task.item.data || {};
    var original = responseText((data.responses || [])[0]);
    itemBox.appendChild(promptBlock(data));
    itemBox.appendChild(h("div", { class: "work-response" }, [h("div", { class: "work-label", text: "The model's response" }), textBlock(original)]));
    var area = h("textarea", { id: "rewrite-text", rows: 8, maxlength: 20000 });
    area.value = original;
    answerBox.appendChild(h("p", {}, [h("label", { for: "rewrite-text", text: "Your better response (starts from the model's)" }), area]));
    answerBox.appendChild(h("p", { class: "small muted", text: "Ctrl+Enter submits from the text box." }));
    var self = { state: {} };
    self.draw = function () {};
    self.answer = function () {
      if (!area.value.trim()) throw new Error("Write a response first.");
      return { text: area.value };
    };
    return self;
  }

  function unknownForm(job) {
    answerBox.appendChild(h("p", { class: "work-error", text: "This page cannot show tasks of type " + valueText(job.task_type) + "." }));
    return { state: {}, draw: function () {}, answer: function () { throw new Error("Skip this item (S)."); } };
  }

  var FORMS = {
    text_classification: singleForm,
    image_classification: singleForm,
    tabular_classification: singleForm,
    label_verification: singleForm,
    text_classification_multi: multiForm,
    image_classification_multi: multiForm,
    named_entity: nerForm,
    bounding_box: boxForm,
    rating: ratingForm,
    pairwise_preference: preferenceForm,
    ranking: rankingForm,
    rewrite: rewriteForm
  };

  form.tabIndex = -1;
  if (root.dataset.active === "1") {
    claim().then(ready).then(showNext).catch(function () {
      var box = $("work-loading");
      if (box) box.textContent = "Could not reach the server. Reload the page to try again.";
    });
  }
})();
