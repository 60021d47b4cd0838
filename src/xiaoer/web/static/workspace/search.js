// The "/" script search dialog and the proposals an agent files from a customer message.

import { insertSuggestion } from "./composer.js";
import { state } from "./state.js";
import { api, asList } from "./transport.js";
import { $, h, t, toast } from "./ui.js";

// ---------------------------------------------------------------- assist: "/" search and proposals

export const search = { mode: "insert", message: null, seq: 0, timer: null, items: [], active: 0 };

export function openSearch({ mode = "insert", message = null } = {}) {
  if (!state.selectedId) return;
  search.mode = mode;
  search.message = message;
  $("#ws-search-title").textContent = t(mode === "propose" ? "assist.search.propose_title" : "assist.search.title");
  const input = $("#ws-search-input");
  input.value = "";
  $("#ws-search-results").replaceChildren();
  const dialog = $("#ws-search-dialog");
  if (!dialog.open) dialog.showModal();
  input.focus();
  runSearch();
}

export function scheduleSearch() {
  clearTimeout(search.timer);
  search.timer = setTimeout(runSearch, 120);
}

export async function runSearch() {
  const seq = ++search.seq;
  const q = $("#ws-search-input").value.trim();
  const params = new URLSearchParams({ q, conversation_id: String(state.selectedId ?? "") });
  try {
    const items = asList(await api("GET", `/api/v1/assist/scripts?${params}`));
    if (seq !== search.seq) return;
    search.items = items;
    search.active = 0;
    renderSearch();
  } catch (err) {
    if (seq === search.seq) $("#ws-search-results").replaceChildren(h("li", { class: "ws-error" }, err.message));
  }
}

export function renderSearch() {
  const list = $("#ws-search-results");
  if (!search.items.length) {
    list.replaceChildren(h("li", { class: "ws-muted" }, t("assist.search.none")));
    return;
  }
  list.replaceChildren(...search.items.map((s, i) => h("li", {
    class: `ws-search-item${i === search.active ? " is-active" : ""}`, role: "option", id: `ws-search-${i}`,
    "aria-selected": i === search.active ? "true" : "false",
    dataset: { testid: "script-search-item", scriptId: String(s.script_id) },
    onmousedown: (ev) => ev.preventDefault(), onclick: () => chooseSearch(i),
  },
  h("span", { class: "ws-search-head" },
    h("span", { class: "ws-search-name" }, s.title ?? ""),
    h("span", { class: "ws-search-cat" }, s.category ?? ""),
    h("kbd", { class: "ws-search-initials" }, s.initials ?? "")),
  h("span", { class: "ws-search-text" }, s.text ?? ""))));
  $("#ws-search-input").setAttribute("aria-activedescendant", `ws-search-${search.active}`);
  $(".ws-search-item.is-active", list)?.scrollIntoView({ block: "nearest" });
}

export async function chooseSearch(i) {
  const s = search.items[i];
  if (!s) return;
  $("#ws-search-dialog").close();
  if (search.mode === "propose") {
    await propose("new_variant", search.message, s.script_id);
    return;
  }
  insertSuggestion(s.text ?? "", s);
}

export function onSearchKey(ev) {
  if (ev.isComposing || ev.keyCode === 229) return;
  if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    ev.preventDefault();
    if (!search.items.length) return;
    const step = ev.key === "ArrowDown" ? 1 : -1;
    search.active = (search.active + step + search.items.length) % search.items.length;
    renderSearch();
  } else if (ev.key === "Enter") {
    ev.preventDefault();
    chooseSearch(search.active);
  }
}

export async function propose(kind, message, scriptId = null) {
  if (!message?.id || !state.selectedId) return;
  const body = { conversation_id: state.selectedId, message_id: message.id, kind };
  if (scriptId) body.script_id = scriptId;
  if (kind === "new_script") body.title = [...(message.body ?? "")].slice(0, 30).join("");
  try {
    await api("POST", "/api/v1/assist/proposals", body);
    toast(t("assist.propose.done"), "success");
  } catch (err) {
    toast(err.message, err.status === 409 ? "warn" : "error");
  }
}

export function proposeActions(m) {
  return h("div", { class: "ws-msg-actions" },
    h("button", { type: "button", class: "ws-link-btn", dataset: { testid: "propose-variant" },
      onclick: () => openSearch({ mode: "propose", message: m }) }, t("assist.propose.variant")),
    h("button", { type: "button", class: "ws-link-btn", dataset: { testid: "propose-script" },
      onclick: () => propose("new_script", m) }, t("assist.propose.script")));
}
