// The conversation lists (queue / mine / open): fetching, throttled refresh, rows, tabs.

import { accept } from "./actions.js";
import {
  markRead, renderHeadWait, selectConversation, syncHeaderFromSummary,
} from "./conversation.js";
import { state, VIEWS } from "./state.js";
import { api, asList } from "./transport.js";
import {
  $, $$, avatar, customerName, duration, h, parseTime, priorityChip, shortWhen, t, tagBadges, toast,
  urgency,
} from "./ui.js";

// ---------------------------------------------------------------- lists

export function sortQueue(items) {
  return [...items].sort((a, b) => (a.priority ?? 3) - (b.priority ?? 3)
    || (b.waiting_seconds ?? 0) - (a.waiting_seconds ?? 0) || a.id - b.id);
}

export const MIN_REFRESH_GAP_MS = 1000;
export let refreshTimer = null;
export let refreshing = null;
export let refreshAgain = false;
export let lastRefreshAt = -Infinity;

/** Refetch the lists soon. Throttled: however busy the shop, frames cause at most one round
 * of requests a second per page (one timer pending at a time). */
export function scheduleRefresh(delay = 250) {
  if (refreshTimer) return;
  const wait = Math.max(delay, lastRefreshAt + MIN_REFRESH_GAP_MS - performance.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshLists();
  }, wait);
}

/** Resolves once lists fetched *after* this call are shown: a call during a fetch in flight
 * (which may predate the caller's change) queues one more round. */
export function refreshLists() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      await fetchLists();
    } while (refreshAgain);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

export async function fetchLists() {
  lastRefreshAt = performance.now();
  try {
    const results = await Promise.all(VIEWS.map((v) => api("GET", `/api/v1/conversations?view=${v}`)));
    VIEWS.forEach((v, i) => { state.lists[v] = asList(results[i]); });
    state.lists.queue = sortQueue(state.lists.queue);
    state.fetchedAt = performance.now();
    state.loaded = true;
    if (state.selectedId && document.visibilityState === "visible") {
      // The open conversation is being read: its badge would only flicker until markRead lands.
      for (const v of VIEWS) for (const c of state.lists[v]) if (c.id === state.selectedId && c.unread) {
        c.unread = 0;
        markRead();
      }
    }
    renderLists();
    syncHeaderFromSummary();
  } catch (err) {
    if (err.status !== 401) toast(err.message, "error");
  }
}

export function waitingNow(c) {
  return (c.waiting_seconds ?? 0) + (performance.now() - state.fetchedAt) / 1000;
}

/** The live "waiting" label of a row or the chat header; null when nobody is waiting. */
export function waitLabel(c) {
  if (c.status === "queued") return { text: t("wait", { t: duration(waitingNow(c)) }), seconds: waitingNow(c) };
  const last = c.last_message;
  if (c.status === "active" && last?.sender_type === "customer") {
    const since = parseTime(last.created_at);
    if (since !== null) {
      const seconds = (Date.now() - since) / 1000;
      return { text: t("wait_reply", { t: duration(seconds) }), seconds };
    }
  }
  return null;
}

export function previewText(c) {
  const last = c.last_message;
  if (!last) return t("no_messages");
  const who = { bot: t("sender.bot"), agent: t("sender.agent"), system: t("sender.system"),
    note: t("sender.note") }[last.sender_type];
  const body = (last.body ?? "").replace(/\s+/g, " ");
  return who ? `${who}: ${body}` : body;
}

export function renderRow(c) {
  const selected = c.id === state.selectedId;
  const wait = waitLabel(c);
  const unread = Number(c.unread ?? 0);
  const row = h("li", {
    class: `ws-item${selected ? " is-selected" : ""}${unread ? " has-unread" : ""}`,
    dataset: { testid: "queue-item", conversationId: String(c.id), status: c.status },
  });
  const main = h("button", {
    type: "button", class: "ws-item-main", "aria-current": selected ? "true" : false,
    onclick: () => selectConversation(c.id),
  },
  avatar(customerName(c)),
  h("span", { class: "ws-item-body" },
    h("span", { class: "ws-item-top" },
      h("span", { class: "ws-item-name", dataset: { testid: "customer-name" } }, customerName(c)),
      ...tagBadges(c.customer?.tags),
      h("span", { class: "ws-item-spacer" }),
      unread ? h("span", { class: "ws-unread", dataset: { testid: "unread-badge" },
        "aria-label": t("unread", { n: unread }) }, unread > 99 ? "99+" : String(unread)) : null,
      priorityChip(c.priority)),
    h("span", { class: "ws-item-preview", dataset: { testid: "preview" } }, previewText(c)),
    h("span", { class: "ws-item-foot" },
      wait
        ? h("span", { class: `ws-wait ws-wait--${urgency(wait.seconds)}`, dataset: { testid: "wait", wait: "row" } }, wait.text)
        : h("span", { class: "ws-item-when" }, shortWhen(parseTime(c.last_message?.created_at))),
      state.view === "open" && c.assignee
        ? h("span", { class: "ws-item-assignee" }, c.assignee.display_name) : null)));
  row.append(main);
  if (c.status === "queued") {
    row.append(h("button", { type: "button", class: "ws-btn ws-btn--primary ws-btn--sm ws-item-accept",
      dataset: { testid: "accept-button" }, onclick: (ev) => { ev.stopPropagation(); accept(c.id); } },
    t("accept")));
  }
  return row;
}

export function renderLists() {
  const list = $("#ws-items");
  const focusedId = document.activeElement?.closest?.(".ws-item")?.dataset.conversationId;
  const items = state.lists[state.view];
  list.replaceChildren(...items.map(renderRow));
  list.setAttribute("aria-busy", "false");
  $("#ws-items-panel").setAttribute("aria-labelledby", `tab-${state.view}`);
  $("#ws-list-empty").hidden = items.length > 0;
  $("#ws-list-empty-text").textContent = t(`empty.${state.view}`);
  if (focusedId) $(`.ws-item[data-conversation-id="${CSS.escape(focusedId)}"] .ws-item-main`)?.focus();

  for (const view of VIEWS) {
    const n = state.lists[view].length;
    const el = $(`[data-count="${view}"]`);
    el.textContent = n ? String(n) : "";
    el.classList.toggle("is-hot", view === "queue" && n > 0);
  }
  const unreadMine = state.lists.mine.reduce((sum, c) => sum + Number(c.unread ?? 0), 0);
  const queued = state.lists.queue.length;
  const prefix = unreadMine ? `(${unreadMine}) ` : queued ? `[${queued}] ` : "";
  document.title = `${prefix}${t("title")} · ${t("app")}`;
}

export function setView(view, { focus = false } = {}) {
  state.view = view;
  for (const tab of $$(".ws-tab")) {
    const on = tab.dataset.view === view;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  updateUrl();
  renderLists();
}

export function updateUrl() {
  const url = new URL(location.href);
  url.searchParams.set("view", state.view);
  if (state.selectedId) url.searchParams.set("c", String(state.selectedId));
  else url.searchParams.delete("c");
  history.replaceState(null, "", url);
}

/** Every second: move the live wait labels on without refetching. */
export function tickWaits() {
  for (const el of $$('[data-wait="row"]')) {
    const id = Number(el.closest(".ws-item").dataset.conversationId);
    const c = state.lists[state.view].find((x) => x.id === id);
    const wait = c && waitLabel(c);
    if (!wait) continue;
    el.textContent = wait.text;
    el.className = `ws-wait ws-wait--${urgency(wait.seconds)}`;
  }
  renderHeadWait();
}

export function pulseQueue() {
  const tab = $("#tab-queue");
  tab.classList.remove("is-pulse");
  void tab.offsetWidth; // restart the animation
  tab.classList.add("is-pulse");
}
