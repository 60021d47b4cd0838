// Script editor: live structure/compliance checks and the answer preview (knowledge/script_form.html).
(function () {
  "use strict";
  var root = document.getElementById("script-editor");
  if (!root) return;
  var csrf = root.dataset.csrf;
  var strings = JSON.parse(document.getElementById("editor-strings").textContent);
  var category = root.querySelector("[name=category]");
  var kindBadge = root.querySelector("[data-testid=script-kind]");
  var previewWording = root.querySelector("[data-testid=preview-wording]");
  var previewOrder = root.querySelector("[data-testid=preview-order]");
  var previewOut = root.querySelector("[data-testid=answer-preview]");
  var lastArea = root.querySelector("textarea[name=answer]");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.message || String(r.status));
        return data;
      });
    });
  }

  function renderParts(box, parts) {
    box.replaceChildren();
    parts.forEach(function (p) {
      var chip = el("span", "part " + (p.present ? "present" : "missing"),
        (p.present ? "✓ " : "✗ ") + (strings.parts[p.part] || p.part));
      chip.dataset.part = p.part;
      chip.dataset.present = p.present ? "true" : "false";
      box.appendChild(chip);
    });
  }

  function renderHighlight(box, text, findings) {
    box.replaceChildren();
    var spans = findings.filter(function (f) { return f.end > f.start; })
      .sort(function (a, b) { return a.start - b.start; });
    var cursor = 0;
    spans.forEach(function (f) {
      if (f.start < cursor) return;
      if (f.start > cursor) box.appendChild(document.createTextNode(text.slice(cursor, f.start)));
      var mark = el("mark", "lint-" + f.severity, text.slice(f.start, f.end));
      mark.dataset.rule = f.rule;
      box.appendChild(mark);
      cursor = f.end;
    });
    if (cursor < text.length) box.appendChild(document.createTextNode(text.slice(cursor)));
    box.hidden = spans.length === 0;
  }

  function renderFindings(list, text, findings, unknown) {
    list.replaceChildren();
    findings.forEach(function (f) {
      var li = el("li", "finding finding-" + f.severity);
      li.dataset.rule = f.rule;
      li.appendChild(el("span", "badge " + (f.severity === "block" ? "badge-danger" : "badge-warning"),
        strings.severity[f.severity] || f.severity));
      if (f.end > f.start) li.appendChild(el("q", "span", text.slice(f.start, f.end)));
      li.appendChild(el("span", "message", f.message));
      li.appendChild(el("span", "suggestion muted", strings.suggestion + f.suggestion));
      list.appendChild(li);
    });
    unknown.forEach(function (name) {
      var li = el("li", "finding finding-block");
      li.dataset.rule = "unknown_variable";
      li.appendChild(el("span", "badge badge-danger", strings.severity.block));
      li.appendChild(el("span", "message", strings.unknown_variable.replace("{name}", "{" + name + "}")));
      list.appendChild(li);
    });
  }

  function check(block) {
    var area = block.querySelector("textarea");
    var text = area.value;
    var parts = block.querySelector(".parts");
    var highlight = block.querySelector(".lint-highlight");
    var findings = block.querySelector(".findings");
    return post("/api/v1/scripts/check", {text: text, category: category.value})
      .then(function (data) {
        if (area.value !== text) return;  // a newer check is on its way
        if (kindBadge) {
          kindBadge.hidden = !data.kind;
          kindBadge.textContent = data.kind ? strings.kinds[data.kind] : "";
        }
        renderParts(parts, data.structure);
        if (!text.trim()) {
          renderHighlight(highlight, "", []);
          findings.replaceChildren();
          return;
        }
        renderHighlight(highlight, text, data.findings);
        renderFindings(findings, text, data.findings, data.unknown_variables);
      })
      .catch(function () { /* the next keystroke retries */ });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function preview() {
    var area = root.querySelector('textarea[name="' + previewWording.value + '"]');
    previewOut.classList.remove("error");
    if (!area || !area.value.trim()) {
      previewOut.textContent = strings.preview_empty;
      return Promise.resolve();
    }
    return post("/api/v1/scripts/preview", {answer: area.value, order_no: previewOrder.value || null})
      .then(function (data) { previewOut.textContent = data.text; })
      .catch(function (err) {
        previewOut.classList.add("error");
        previewOut.textContent = err.message;
      });
  }
  var livePreview = debounce(preview, 400);

  root.querySelectorAll(".wording-block").forEach(function (block) {
    var area = block.querySelector("textarea");
    var later = debounce(function () { check(block); }, 350);
    area.addEventListener("input", function () {
      later();
      if (previewWording.value === area.name) livePreview();
    });
    area.addEventListener("focus", function () {
      lastArea = area;
      if (previewWording.value !== area.name) {
        previewWording.value = area.name;
        livePreview();
      }
    });
  });
  category.addEventListener("change", function () {
    root.querySelectorAll(".wording-block").forEach(function (block) { check(block); });
  });
  root.querySelectorAll(".var-chip").forEach(function (chip) {
    chip.addEventListener("click", function () {
      var token = "{" + chip.dataset.var + "}";
      var start = lastArea.selectionStart, end = lastArea.selectionEnd;
      lastArea.setRangeText(token, start, end, "end");
      lastArea.focus();
      lastArea.dispatchEvent(new Event("input", {bubbles: true}));
    });
  });
  root.querySelector("[data-testid=preview-run]").addEventListener("click", preview);
  previewOrder.addEventListener("change", preview);
  previewWording.addEventListener("change", preview);
})();
