// Assist panel: suggested scripts, emotion alert, repeat-contact summary, calming scripts,
// live compliance lint and the supervisor override of a blocked reply.

import { insertSuggestion, updateCounter } from "./composer.js";
import { addMessages } from "./conversation.js";
import { scheduleRefresh } from "./queue.js";
import { state, STRINGS, supervising } from "./state.js";
import { api } from "./transport.js";
import { $, h, newClientId, parseTime, shortWhen, t, toast } from "./ui.js";

// ---------------------------------------------------------------- suggestions & customer panel

export async function loadSuggestions() {
  const id = state.selectedId;
  const box = $("#ws-suggestions");
  const seq = ++state.suggestSeq;
  $("#ws-sugg-refresh").disabled = !id;
  if (!id) return;
  box.setAttribute("aria-busy", "true");
  if (!box.querySelector(".ws-sugg")) {
    box.replaceChildren(...[0, 1, 2].map(() => h("div", { class: "ws-skeleton" })));
  }
  try {
    const panel = await api("GET", `/api/v1/assist/conversations/${id}/panel`);
    if (seq !== state.suggestSeq) return;
    renderEmotion(panel.emotion);
    renderRepeat(panel.history ?? []);
    renderCalming(panel.alert ? panel.calming ?? [] : []);
    const items = panel.suggestions ?? [];
    if (!items.length) {
      box.replaceChildren(h("p", { class: "ws-muted" }, t("suggestions.none")));
      return;
    }
    box.replaceChildren(...items.slice(0, 3).map((s, i) => suggestionCard(s, i)));
    if (state.conversation?.status === "active") scheduleLint(0); // the customer's mood changed
  } catch (err) {
    if (seq !== state.suggestSeq) return;
    box.replaceChildren(h("p", { class: "ws-error" }, err.status === 404 ? t("suggestions.none") : err.message));
  } finally {
    if (seq === state.suggestSeq) box.setAttribute("aria-busy", "false");
  }
}

export function suggestionCard(s, i) {
  const score = typeof s.score === "number" ? Math.round(s.score <= 1 ? s.score * 100 : s.score) : null;
  const success = typeof s.success === "number" ? Math.round(s.success * 100) : null;
  return h("button", { type: "button", class: "ws-sugg", dataset: { testid: "suggestion", scriptId: String(s.script_id ?? "") },
    title: success === null ? t("suggestions.use") : t("assist.success", { pct: success }),
    onclick: () => insertSuggestion(s.text ?? "", s) },
  h("span", { class: "ws-sugg-head" },
    h("kbd", { class: "ws-sugg-key" }, `Alt+${i + 1}`),
    h("span", { class: "ws-sugg-title" }, s.title ?? ""),
    s.variant && s.variant !== "A" ? h("span", { class: "ws-sugg-variant" }, t("assist.variant", { variant: s.variant })) : null,
    score !== null ? h("span", { class: "ws-sugg-score", title: t("suggestions.score") }, `${score}%`) : null),
  h("span", { class: "ws-sugg-text" }, s.text ?? ""),
  h("span", { class: "ws-sugg-use" }, t("suggestions.use")));
}

// ---------------------------------------------------------------- assist: emotion, repeat, calming

export function renderEmotion(emotion) {
  const panel = $("#ws-assist");
  const el = $("#ws-emotion");
  const negative = Boolean(emotion?.negative);
  panel.dataset.alert = negative ? "true" : "false";
  panel.dataset.emotion = negative ? emotion.label ?? "negative" : "";
  el.hidden = !negative;
  if (!negative) return el.replaceChildren();
  const label = STRINGS[`workspace.assist.emotion.${emotion.label}`] ? emotion.label : "negative";
  const pct = Math.round(Number(emotion.intensity ?? 0) * 100);
  el.replaceChildren(
    h("strong", { dataset: { testid: "emotion-label" } }, t(`assist.emotion.${label}`)),
    h("span", { class: "ws-emotion-meter", "aria-hidden": "true" }, h("i", { style: `width:${pct}%` })),
    h("span", { class: "ws-emotion-hint" }, t("assist.emotion.hint")));
}

export function renderCalming(items) {
  const wrap = $("#ws-calming");
  wrap.hidden = !items.length;
  $("#ws-calming-list").replaceChildren(...items.map((s) => h("button", {
    type: "button", class: "ws-calm", dataset: { testid: "calming-script", scriptId: String(s.script_id) },
    title: s.text, onclick: () => insertSuggestion(s.text ?? "", s),
  }, h("span", { class: "ws-calm-title" }, s.title ?? ""), h("span", { class: "ws-calm-text" }, s.text ?? ""))));
}

export function renderRepeat(history) {
  const el = $("#ws-repeat");
  el.hidden = !history.length;
  if (!history.length) return el.replaceChildren();
  el.replaceChildren(h("h3", {}, t("assist.repeat.title")), ...history.map((c) => {
    const when = parseTime(c.last_message_at ?? c.started_at);
    return h("div", { class: "ws-repeat-item", dataset: { testid: "repeat-item", conversationId: String(c.conversation_id) } },
      h("div", { class: "ws-repeat-head" },
        h("time", {}, shortWhen(when)),
        h("span", { class: "ws-repeat-topic", dataset: { testid: "repeat-topic" } }, (c.topics ?? []).join(" · "))),
      h("div", { class: "ws-repeat-promises", dataset: { testid: "repeat-promises" } },
        h("span", { class: "ws-repeat-label" }, `${t("assist.repeat.promised")}：`),
        c.promises?.length ? c.promises.map((p) => h("q", {}, p)) : h("span", { class: "ws-muted" }, t("assist.repeat.none_promised"))),
      c.tickets?.length ? h("div", { class: "ws-repeat-tickets" },
        h("span", { class: "ws-repeat-label" }, `${t("assist.repeat.tickets")}：`),
        ...c.tickets.map((tk) => h("a", { href: `/tickets/${tk.id}`, class: `ws-ticket-status status-${tk.status}`,
          dataset: { testid: "repeat-ticket" } }, `${tk.number} ${t(`ticket.status.${tk.status}`)}`))) : null);
  }));
}

// ---------------------------------------------------------------- assist: usage, live lint, override

export function rememberInsert(script, text) {
  const id = state.selectedId;
  if (!script?.script_id || !id) {
    state.inserted = null;
    return;
  }
  state.inserted = { conversationId: id, scriptId: script.script_id, text };
  api("POST", "/api/v1/assist/usage", { conversation_id: id, script_id: script.script_id }).catch(() => {});
  scheduleLint(0);
}

export function insertedFor(id) {
  const ins = state.inserted;
  return ins && ins.conversationId === id ? { script_id: ins.scriptId, inserted_text: ins.text } : null;
}

export const LINT_DEBOUNCE_MS = 300;

export function scheduleLint(delay = LINT_DEBOUNCE_MS) {
  clearTimeout(state.lintTimer);
  state.lintTimer = setTimeout(runLint, delay);
}

export async function runLint() {
  const id = state.selectedId;
  const text = $("#ws-reply").value;
  const seq = ++state.lintSeq;
  if (!id || state.noteMode || !text.trim()) {
    clearLint();
    return;
  }
  const body = { conversation_id: id, text };
  const ins = insertedFor(id);
  if (ins) body.script_id = ins.script_id;
  try {
    const result = await api("POST", "/api/v1/assist/lint", body);
    if (seq !== state.lintSeq || id !== state.selectedId) return;
    renderLint(result, text);
  } catch {
    // The live check is advisory; sending checks again on the server.
  }
}

export function clearLint() {
  state.lintSeq += 1;
  clearTimeout(state.lintTimer);
  renderLint(null, "");
}

export function findingItem(f, text) {
  const quote = f.end > f.start ? text.slice(f.start, f.end) : null;
  return h("li", { class: `ws-lint-item ws-lint-item--${f.severity}`, dataset: { testid: "lint-finding", severity: f.severity, rule: f.rule } },
    h("span", { class: "ws-lint-sev" }, t(`assist.lint.${f.severity === "block" ? "block" : "warn"}`)),
    quote ? h("mark", { class: "ws-lint-span" }, quote) : h("span", { class: "ws-lint-span is-missing" }, t("assist.lint.missing")),
    h("span", { class: "ws-lint-msg" }, f.message ?? ""),
    f.suggestion ? h("span", { class: "ws-lint-fix" }, t("assist.lint.suggest", { text: f.suggestion })) : null);
}

export function renderLint(result, text) {
  const wrap = $("#ws-lint");
  const findings = result?.findings ?? [];
  wrap.hidden = !findings.length;
  wrap.dataset.blocked = result?.blocked ? "true" : "false";
  $("#ws-lint-list").replaceChildren(...findings.map((f) => findingItem(f, text)));
  const blockedNow = state.blocked && state.blocked.conversationId === state.selectedId
    && state.blocked.body === $("#ws-reply").value.trim();
  $("#ws-override-open").hidden = !(result?.blocked && blockedNow);
}

/** The server refused a reply: put it back in the box and offer the supervisor override. */
export function replyBlocked(draft, data) {
  const box = $("#ws-reply");
  if (state.selectedId === draft.conversation_id && !box.value.trim()) {
    box.value = draft.body;
    updateCounter();
    if (draft.assist) {
      state.inserted = { conversationId: draft.conversation_id, scriptId: draft.assist.script_id,
        text: draft.assist.inserted_text ?? "" };
    }
  }
  state.blocked = { conversationId: draft.conversation_id, body: draft.body, findings: data?.findings ?? [],
    assist: draft.assist };
  toast(t("assist.lint.blocked"), "error");
  renderLint({ blocked: true, findings: data?.findings ?? [] }, draft.body);
}



export function openOverride() {
  const blocked = state.blocked;
  if (!blocked || blocked.conversationId !== state.selectedId) return;
  const dialog = $("#ws-override-dialog");
  const self = supervising();
  $("#ws-override-hint").textContent = t(self ? "assist.override.hint_self" : "assist.override.hint_agent");
  $("#ws-override-findings").replaceChildren(...blocked.findings.filter((f) => f.severity === "block")
    .map((f) => findingItem(f, blocked.body)));
  $("#ws-override-creds").hidden = self;
  $("#ws-override-submit").textContent = t(self ? "assist.override.confirm" : "assist.override.submit");
  $("#ws-override-error").textContent = "";
  $("#ws-override-password").value = "";
  dialog.showModal();
  (self ? $("#ws-override-submit") : $("#ws-override-username")).focus();
}

export async function submitOverride(ev) {
  ev.preventDefault();
  const blocked = state.blocked;
  const dialog = $("#ws-override-dialog");
  if (!blocked) return dialog.close();
  const override = supervising() ? { confirm: true } : {
    username: $("#ws-override-username").value.trim(), password: $("#ws-override-password").value,
  };
  if (!override.confirm && (!override.username || !override.password)) {
    $("#ws-override-error").textContent = t("assist.override.password");
    return;
  }
  const button = $("#ws-override-submit");
  button.disabled = true;
  try {
    const payload = { body: blocked.body, client_msg_id: newClientId(), override };
    if (blocked.assist) payload.assist = blocked.assist;
    const stored = await api("POST", `/api/v1/conversations/${blocked.conversationId}/messages`, payload);
    dialog.close();
    state.blocked = null;
    if (state.selectedId === blocked.conversationId) {
      const box = $("#ws-reply");
      if (box.value.trim() === blocked.body) box.value = "";
      state.inserted = null;
      updateCounter();
      clearLint();
      if (stored?.id) addMessages([stored]);
    }
    toast(t("assist.override.sent", { name: stored?.meta?.lint_override?.approved_by?.name ?? "" }), "success");
    scheduleRefresh(400);
  } catch (err) {
    $("#ws-override-error").textContent = err.message;
    $("#ws-override-password").value = "";
  } finally {
    button.disabled = false;
  }
}

export function resetAssist() {
  renderEmotion(null);
  renderRepeat([]);
  renderCalming([]);
}
