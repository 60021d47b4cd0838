// Agent workspace: conversation lists, live chat pane, suggested scripts, customer panel.
// Contract: docs/subsystems/chat-protocol.md. Chat text is untrusted: it only ever reaches the
// DOM through textContent / createTextNode (never innerHTML).

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const root = $("#workspace");
const boot = JSON.parse($("#ws-boot").textContent);
const STRINGS = JSON.parse($("#i18n").textContent);
const CSRF = root.dataset.csrf;
const ME = boot.me;
const MAX_CHARS = 4000;
const TYPING_EVERY_MS = 3000;
const CUSTOMER_TYPING_SHOWN_MS = 5000;
const VIEWS = ["queue", "mine", "open"];

/** Translate `key` (under "workspace."), filling `{name}` placeholders from `params`. */
function t(key, params = {}) {
  return fill(STRINGS[`workspace.${key}`] ?? key, params);
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Build an element: h("div", {class: "x", dataset: {id: 1}}, child, "text"). Strings become
 * text nodes, so this is safe for chat text. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// ---------------------------------------------------------------- time formatting

const timeFmt = new Intl.DateTimeFormat(boot.locale, {
  hour: "2-digit", minute: "2-digit", hour12: false, timeZone: boot.timezone,
});
const dayFmt = new Intl.DateTimeFormat(boot.locale, {
  month: "short", day: "numeric", weekday: "short", timeZone: boot.timezone,
});
const dayKeyFmt = new Intl.DateTimeFormat("en-CA", { timeZone: boot.timezone });

function parseTime(value) {
  if (!value) return null;
  // The API sends aware ISO times; a naive one is UTC by our convention.
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return t("dur.s", { s });
  if (s < 3600) return t("dur.ms", { m: Math.floor(s / 60), s: s % 60 });
  if (s < 86400) return t("dur.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t("dur.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

function clockTime(ms) {
  return ms === null ? "" : timeFmt.format(ms);
}

/** "14:05" today, "3月4日 周一" otherwise: for list rows. */
function shortWhen(ms) {
  if (ms === null) return "";
  return dayKeyFmt.format(ms) === dayKeyFmt.format(Date.now()) ? timeFmt.format(ms) : dayFmt.format(ms);
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, code, message, data = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data; // the error body: a blocked reply's lint findings
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", t("error.network"));
  }
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, "unauthorized", t("error.session"));
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? "http_error",
      data?.message ?? t("error.generic", { status: response.status }), data);
  }
  return data;
}

/** Lists come as a bare array; tolerate an `{items: [...]}`-style envelope too. */
const asList = (data) => (Array.isArray(data) ? data
  : data?.items ?? data?.conversations ?? data?.messages ?? data?.agents ?? []);

// ---------------------------------------------------------------- toasts

function toast(message, kind = "info", { timeout = 4000, link } = {}) {
  const box = $("#ws-toasts");
  const el = h("div", { class: `ws-toast ws-toast--${kind}`, role: kind === "error" ? "alert" : "status",
    dataset: { testid: "toast" } }, message);
  if (link) el.append(" ", h("a", { href: link.href }, link.text));
  box.append(el);
  requestAnimationFrame(() => el.classList.add("is-in"));
  setTimeout(() => {
    el.classList.remove("is-in");
    setTimeout(() => el.remove(), 300);
  }, timeout);
}

// ---------------------------------------------------------------- state

const state = {
  view: VIEWS.includes(boot.view) ? boot.view : "queue",
  lists: { queue: [], mine: [], open: [] },
  loaded: false,
  fetchedAt: 0, // performance.now() of the last list fetch: live wait = waiting_seconds + since
  selectedId: null,
  conversation: null,
  messages: new Map(), // id -> message
  lastMessageId: 0,
  tickets: new Map(), // conversation id -> its tickets
  drafts: new Map(), // conversation id -> unsent reply text
  noteMode: false,
  lastTypingSent: 0,
  typingTimer: null,
  readTimer: null,
  lastReadSent: 0,
  selectSeq: 0,
  stickToBottom: true,
  suggestSeq: 0,
  // The script the reply box text came from: {conversationId, scriptId, text} (usage events,
  // lint category); dropped when the box is emptied or another conversation opens.
  inserted: null,
  lintSeq: 0,
  lintTimer: null,
  blocked: null, // the last refused reply: {conversationId, body, findings}
};

function findSummary(id) {
  for (const view of VIEWS) {
    const found = state.lists[view].find((c) => c.id === id);
    if (found) return found;
  }
  return null;
}

// ---------------------------------------------------------------- lists

function sortQueue(items) {
  return [...items].sort((a, b) => (a.priority ?? 3) - (b.priority ?? 3)
    || (b.waiting_seconds ?? 0) - (a.waiting_seconds ?? 0) || a.id - b.id);
}

const MIN_REFRESH_GAP_MS = 1000;
let refreshTimer = null;
let refreshing = null;
let refreshAgain = false;
let lastRefreshAt = -Infinity;

/** Refetch the lists soon. Throttled: however busy the shop, frames cause at most one round
 * of requests a second per page (one timer pending at a time). */
function scheduleRefresh(delay = 250) {
  if (refreshTimer) return;
  const wait = Math.max(delay, lastRefreshAt + MIN_REFRESH_GAP_MS - performance.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshLists();
  }, wait);
}

/** Resolves once lists fetched *after* this call are shown: a call during a fetch in flight
 * (which may predate the caller's change) queues one more round. */
function refreshLists() {
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

async function fetchLists() {
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

function waitingNow(c) {
  return (c.waiting_seconds ?? 0) + (performance.now() - state.fetchedAt) / 1000;
}

/** The live "waiting" label of a row or the chat header; null when nobody is waiting. */
function waitLabel(c) {
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

function urgency(seconds) {
  if (seconds >= 180) return "late";
  if (seconds >= 60) return "warn";
  return "ok";
}

function tagBadges(tags) {
  return (tags ?? []).slice(0, 4).map((tag) => {
    const label = typeof tag === "string" ? tag : tag?.name ?? "";
    const vip = /vip|会员/i.test(label);
    return h("span", { class: `ws-tag${vip ? " ws-tag--vip" : ""}`, dataset: { testid: vip ? "vip-badge" : "tag" } }, label);
  });
}

function priorityChip(priority) {
  const p = Number(priority ?? 3);
  return h("span", { class: `ws-prio ws-prio--${Math.min(Math.max(p, 1), 4)}`, title: t("priority"),
    dataset: { testid: "priority" } }, `P${p}`);
}

function avatar(name, extraClass = "") {
  const label = (name || "?").trim();
  const initial = [...label][0] ?? "?";
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h("span", { class: `ws-avatar ${extraClass}`, dataset: { hue: String(hash % 6) }, "aria-hidden": "true" }, initial);
}

function customerName(c) {
  return c.customer?.name || t("anonymous", { id: c.customer?.id ?? c.id });
}

function previewText(c) {
  const last = c.last_message;
  if (!last) return t("no_messages");
  const who = { bot: t("sender.bot"), agent: t("sender.agent"), system: t("sender.system"),
    note: t("sender.note") }[last.sender_type];
  const body = (last.body ?? "").replace(/\s+/g, " ");
  return who ? `${who}: ${body}` : body;
}

function renderRow(c) {
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

function renderLists() {
  const list = $("#ws-items");
  const focusedId = document.activeElement?.closest?.(".ws-item")?.dataset.conversationId;
  const items = state.lists[state.view];
  list.replaceChildren(...items.map(renderRow));
  list.setAttribute("aria-busy", "false");
  list.setAttribute("aria-labelledby", `tab-${state.view}`);
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

function setView(view, { focus = false } = {}) {
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

function updateUrl() {
  const url = new URL(location.href);
  url.searchParams.set("view", state.view);
  if (state.selectedId) url.searchParams.set("c", String(state.selectedId));
  else url.searchParams.delete("c");
  history.replaceState(null, "", url);
}

/** Every second: move the live wait labels on without refetching. */
function tickWaits() {
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

// ---------------------------------------------------------------- accept / transfer / close / ticket

async function accept(id) {
  try {
    const conv = await api("POST", `/api/v1/conversations/${id}/accept`);
    toast(t("accepted", { name: customerName(conv ?? findSummary(id) ?? { id }) }), "success");
    setView("mine");
    await Promise.all([refreshLists(), selectConversation(id, { force: true })]);
    $("#ws-reply").focus();
  } catch (err) {
    if (err.status === 409) {
      toast(t("accept_conflict"), "warn");
    } else {
      toast(err.message, "error");
    }
    await refreshLists();
    if (state.selectedId === id) await reloadConversation();
  }
}

async function openTransfer() {
  if (!state.conversation) return;
  const dialog = $("#ws-transfer-dialog");
  const list = $("#ws-agents");
  list.replaceChildren(h("li", { class: "ws-muted" }, t("loading")));
  dialog.showModal();
  try {
    const agents = asList(await api("GET", "/api/v1/agents"))
      .filter((a) => a.id !== ME.id && a.id !== state.conversation.assignee?.id)
      // Agents before supervisors and admins, the least busy first.
      .sort((a, b) => (a.role === "agent" ? 0 : 1) - (b.role === "agent" ? 0 : 1)
        || (a.open_chats ?? 0) - (b.open_chats ?? 0));
    if (!agents.length) {
      list.replaceChildren(h("li", { class: "ws-muted" }, t("transfer.none")));
      return;
    }
    list.replaceChildren(...agents.map((a) => h("li", {},
      h("button", { type: "button", class: "ws-agent", dataset: { testid: "transfer-agent", agentId: String(a.id) },
        onclick: () => transferTo(a) },
      avatar(a.display_name),
      h("span", { class: "ws-agent-name" }, a.display_name),
      h("span", { class: "ws-agent-role" }, t(`role.${a.role}`)),
      h("span", { class: "ws-agent-load" }, t("transfer.load", { n: a.open_chats ?? 0 }))))));
    $(".ws-agent", list)?.focus();
  } catch (err) {
    list.replaceChildren(h("li", { class: "ws-error" }, err.message));
  }
}

async function transferTo(agent) {
  const id = state.selectedId;
  $("#ws-transfer-dialog").close();
  try {
    await api("POST", `/api/v1/conversations/${id}/transfer`, { agent_id: agent.id });
    toast(t("transferred", { name: agent.display_name }), "success");
  } catch (err) {
    toast(err.message, "error");
  }
  await refreshLists();
  if (state.selectedId === id) await reloadConversation();
}

async function closeConversation() {
  const id = state.selectedId;
  if (!id) return;
  const button = $("#ws-close");
  button.disabled = true;
  try {
    await api("POST", `/api/v1/conversations/${id}/close`);
    toast(t("closed_ok"), "success");
  } catch (err) {
    toast(err.message, "error");
  }
  await refreshLists();
  if (state.selectedId === id) await reloadConversation();
}

/** One click: a ticket linked to the conversation (the API takes the title from the last
 * customer message); priority follows the conversation's, an upset customer makes it a complaint. */
async function createTicket() {
  const id = state.selectedId;
  const c = state.conversation;
  if (!id || !c) return;
  const button = $("#ws-create-ticket");
  button.disabled = true;
  const upset = c.handoff_reason === "negative_emotion"
    || (c.customer?.tags ?? []).some((tag) => /投诉|complain/i.test(String(tag)));
  const priority = `P${Math.min(Math.max(Number(c.priority ?? 3), 1), 4)}`;
  try {
    const ticket = await api("POST", "/api/v1/tickets",
      { conversation_id: id, priority, type: upset ? "complaint" : "consultation" });
    state.tickets.set(id, [ticket, ...(state.tickets.get(id) ?? [])]);
    toast(t("ticket.created", { number: ticket.number ?? ticket.id }), "success",
      { link: { href: `/tickets/${ticket.id}`, text: t("ticket.open") } });
    if (state.selectedId === id) renderTicketBar();
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = false;
  }
}

async function loadTickets(id) {
  try {
    const page = await api("GET", `/api/v1/tickets?conversation_id=${id}&per_page=5`);
    state.tickets.set(id, asList(page));
    if (state.selectedId === id) renderTicketBar();
  } catch {
    // The bar is a convenience; the conversation works without it.
  }
}

function ticketIcon() {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", "M3 8a2 2 0 0 0 2-2h14a2 2 0 0 0 2 2v2a2 2 0 0 0 0 4v2a2 2 0 0 0-2 2H5a2 2 0 0 0-2-2v-2a2 2 0 0 0 0-4V8Zm6-2v12");
  svg.append(path);
  return svg;
}

function renderTicketBar() {
  const bar = $("#ws-ticket-bar");
  const tickets = state.tickets.get(state.selectedId) ?? [];
  bar.hidden = tickets.length === 0;
  if (!tickets.length) return bar.replaceChildren();
  bar.replaceChildren(ticketIcon(), h("span", {}, t("ticket.linked")),
    ...tickets.map((tk) => h("span", { class: "ws-ticket" },
      h("a", { href: `/tickets/${tk.id}`, dataset: { testid: "ticket-link" } }, tk.number ?? `#${tk.id}`),
      tk.title ? h("span", { class: "ws-ticket-title" }, tk.title) : null,
      tk.status ? h("span", { class: `ws-ticket-status status-${tk.status}` }, t(`ticket.status.${tk.status}`)) : null)));
}

// ---------------------------------------------------------------- chat pane

async function selectConversation(id, { force = false } = {}) {
  if (!force && id === state.selectedId && state.conversation) return;
  const seq = ++state.selectSeq;
  const changed = id !== state.selectedId;
  const reply = $("#ws-reply");
  if (changed && state.selectedId) state.drafts.set(state.selectedId, reply.value);
  state.selectedId = id;
  if (changed) {
    state.messages = new Map();
    state.lastMessageId = 0;
    state.lastReadSent = 0; // message ids are global: a marker from another chat means nothing here
    $("#ws-messages").replaceChildren();
    setCustomerTyping(false);
    state.noteMode = false;
    renderNoteMode();
    // Each conversation keeps its unsent draft while the agent looks elsewhere.
    reply.value = state.drafts.get(id) ?? "";
    state.drafts.delete(id);
    updateCounter();
    state.inserted = null;
    state.blocked = null;
    clearLint();
    resetAssist();
  }
  updateUrl();
  for (const row of $$(".ws-item")) {
    const on = Number(row.dataset.conversationId) === id;
    row.classList.toggle("is-selected", on);
    $(".ws-item-main", row)?.toggleAttribute("aria-current", on);
  }
  $("#ws-placeholder").hidden = true;
  $("#ws-chat-inner").hidden = false;
  root.classList.add("has-selection");
  live.watch(id);
  let detail;
  try {
    detail = await api("GET", `/api/v1/conversations/${id}`);
  } catch (err) {
    if (seq !== state.selectSeq) return;
    toast(err.status === 404 ? t("not_found") : err.message, "error");
    deselect();
    return;
  }
  if (seq !== state.selectSeq) return;
  state.conversation = detail;
  renderHeader();
  renderTicketBar();
  loadTickets(id);
  addMessages(detail.messages ?? [], { initial: true });
  scrollToBottom(true);
  loadSuggestions();
  loadCustomerPanel(detail.customer?.id);
  markRead();
}

function deselect() {
  if (state.selectedId) state.drafts.set(state.selectedId, $("#ws-reply").value);
  state.selectedId = null;
  state.conversation = null;
  $("#ws-placeholder").hidden = false;
  $("#ws-chat-inner").hidden = true;
  root.classList.remove("has-selection");
  live.watch(null);
  panelCustomerId = null;
  state.suggestSeq += 1;
  $("#ws-customer-panel").replaceChildren(h("p", { class: "ws-muted" }, t("customer.idle")));
  $("#ws-suggestions").replaceChildren(h("p", { class: "ws-muted" }, t("suggestions.idle")));
  $("#ws-sugg-refresh").disabled = true;
  resetAssist();
  clearLint();
  updateUrl();
  renderLists();
}

/** Re-read the selected conversation's header (status, assignee) and catch up on messages. */
async function reloadConversation() {
  const id = state.selectedId;
  if (!id) return;
  try {
    const detail = await api("GET", `/api/v1/conversations/${id}`);
    if (state.selectedId !== id) return;
    state.conversation = detail;
    renderHeader();
    addMessages(detail.messages ?? []);
  } catch (err) {
    if (state.selectedId === id && err.status === 404) deselect();
  }
}

/** The list summary is fresher than the detail after a frame: adopt its status and assignee. */
function syncHeaderFromSummary() {
  if (!state.conversation) return;
  const summary = findSummary(state.selectedId);
  if (!summary) return;
  const before = `${state.conversation.status}/${state.conversation.assignee?.id}`;
  Object.assign(state.conversation, {
    status: summary.status, assignee: summary.assignee, priority: summary.priority,
    customer: summary.customer ?? state.conversation.customer,
    waiting_seconds: summary.waiting_seconds, last_message: summary.last_message,
  });
  if (before !== `${summary.status}/${summary.assignee?.id}`) renderHeader();
}

function isMine(c) {
  return c?.assignee?.id === ME.id;
}

function renderHeader() {
  const c = state.conversation;
  if (!c) return;
  const name = customerName(c);
  const av = $("#ws-head-avatar");
  av.replaceWith(Object.assign(avatar(name, "ws-avatar--lg"), { id: "ws-head-avatar" }));
  $("#ws-head-name").textContent = name;
  $("#ws-head-tags").replaceChildren(...tagBadges(c.customer?.tags), priorityChip(c.priority));
  const status = $("#ws-head-status");
  status.textContent = t(`status.${c.status}`);
  status.dataset.status = c.status;
  $("#ws-head-assignee").textContent = c.assignee
    ? t(isMine(c) ? "assignee.me" : "assignee.other", { name: c.assignee.display_name }) : "";
  renderHeadWait();
  const stars = Math.max(0, Math.min(5, Number(c.rating?.rating ?? 0)));
  $("#ws-head-rating").replaceChildren(...(stars ? [
    h("span", { class: "stars", "aria-hidden": "true" }, "★".repeat(stars), h("span", { class: "off" }, "★".repeat(5 - stars))),
    " ", t("rating", { n: stars }),
    c.rating.comment ? h("span", { class: "ws-rating-comment" }, `“${c.rating.comment}”`) : null,
  ].filter((part) => part !== null) : []));  // replaceChildren would print a null as "null"

  const closed = c.status === "closed";
  $("#ws-head-accept").hidden = c.status !== "queued";
  $("#ws-transfer").disabled = closed || c.status === "queued";
  $("#ws-close").disabled = closed;
  $("#ws-create-ticket").disabled = false;
  renderComposerLock();
}

function renderHeadWait() {
  const c = state.conversation;
  const el = $("#ws-head-wait");
  if (!c) return;
  const summary = findSummary(c.id) ?? c;
  const wait = c.status === "closed" ? null : waitLabel(summary);
  el.textContent = wait ? wait.text : "";
  el.className = `ws-head-wait${wait ? ` ws-wait ws-wait--${urgency(wait.seconds)}` : ""}`;
}

function renderComposerLock() {
  const c = state.conversation;
  const lock = $("#ws-composer-lock");
  const reply = $("#ws-reply");
  const supervising = ME.role === "admin" || ME.role === "supervisor";
  let text = "";
  if (c.status === "queued") text = t("lock.queued");
  else if (c.status === "closed") text = t("lock.closed");
  else if (c.status === "bot") text = t("lock.bot");
  else if (c.assignee && !isMine(c) && !supervising) text = t("lock.others", { name: c.assignee.display_name });
  // Notes are for staff and work in any state; replies need the conversation to be live.
  const locked = Boolean(text) && !state.noteMode;
  lock.hidden = !locked;
  $("#ws-composer-lock-text").textContent = text;
  $("#ws-lock-accept").hidden = c.status !== "queued";
  $("#ws-composer").classList.toggle("is-locked", locked);
  reply.disabled = locked;
  $("#ws-send").disabled = locked;
  $("#ws-composer-hint").textContent = !text && c.status === "active" && c.assignee && !isMine(c)
    ? t("hint.others", { name: c.assignee.display_name }) : "";
  updateCounter();
}

function senderLabel(m) {
  switch (m.sender_type) {
    case "customer": return m.sender_name || customerName(state.conversation ?? {});
    case "bot": return m.sender_name || t("sender.bot");
    case "agent": return m.sender_name || t("sender.agent");
    case "note": return m.sender_name || t("sender.agent");
    default: return t("sender.system");
  }
}

function isNote(m) {
  return m.sender_type === "note" || m.internal === true;
}

function botInfo(m) {
  const bot = m.meta?.bot;
  if (!bot || typeof bot !== "object") return null;
  const parts = [];
  const script = bot.script_title ?? bot.script ?? (bot.script_id ? `#${bot.script_id}` : null);
  if (script) parts.push(t("bot.script", { name: script }));
  if (typeof bot.confidence === "number") {
    const pct = Math.round(bot.confidence <= 1 ? bot.confidence * 100 : bot.confidence);
    parts.push(t("bot.confidence", { pct }));
  }
  if (bot.intent) parts.push(t("bot.intent", { name: bot.intent }));
  if (bot.handoff) parts.push(t("bot.handoff", { reason: handoffReason(bot.handoff_reason) }).trim());
  if (!parts.length) return null;
  const label = m.sender_type === "customer" ? `${t("bot.decision")} ` : "";
  return h("div", { class: "ws-msg-info", dataset: { testid: "bot-info" } }, label + parts.join(" · "));
}

function handoffReason(code) {
  if (!code) return "";
  const key = `workspace.handoff.${code}`;
  return STRINGS[key] ?? code;
}

function renderMessage(m, { pending = false } = {}) {
  const kind = isNote(m) ? "note" : m.sender_type;
  const ms = parseTime(m.created_at);
  if (kind === "system") {
    return h("li", { class: "ws-msg ws-msg--system", dataset: { testid: "message", sender: "system", messageId: String(m.id ?? "") } },
      h("span", { class: "ws-msg-bubble" }, systemText(m), h("time", { datetime: m.created_at ?? "" }, clockTime(ms))));
  }
  const outgoing = kind !== "customer";
  const el = h("li", {
    class: `ws-msg ws-msg--${kind}${outgoing ? " is-out" : ""}${pending ? " is-pending" : ""}`,
    dataset: { testid: "message", sender: kind, messageId: m.id ? String(m.id) : "", clientMsgId: m.client_msg_id ?? "" },
  },
  kind === "customer" ? avatar(senderLabel(m), "ws-avatar--sm") : null,
  h("div", { class: "ws-msg-col" },
    h("div", { class: "ws-msg-meta" },
      h("span", { class: "ws-msg-who" }, senderLabel(m)),
      kind === "bot" ? h("span", { class: "ws-badge ws-badge--bot" }, t("sender.bot_badge")) : null,
      kind === "note" ? h("span", { class: "ws-badge ws-badge--note", dataset: { testid: "note-badge" } }, t("sender.note")) : null,
      h("time", { datetime: m.created_at ?? "" }, pending ? t("sending") : clockTime(ms))),
    h("div", { class: "ws-msg-bubble" }, m.body),
    kind === "bot" || kind === "customer" ? botInfo(m) : null,
    kind === "customer" && m.id && !pending ? proposeActions(m) : null));
  return el;
}

/** System notices are stored in the shop's language with their key: show them in the agent's. */
function systemText(m) {
  const i18n = m.i18n ?? m.meta?.i18n;
  const template = i18n?.key && STRINGS[i18n.key];
  return template ? fill(template, i18n.params ?? {}) : m.body;
}

function daySeparator(ms) {
  return h("li", { class: "ws-day", dataset: { day: dayKeyFmt.format(ms) } }, h("span", {}, dayFmt.format(ms)));
}

/** Insert messages in id order, skipping ones already shown; replaces a pending bubble
 * with its stored message. Returns the new ones. */
function addMessages(messages, { initial = false } = {}) {
  const list = $("#ws-messages");
  const nearBottom = isNearBottom();
  const fresh = [];
  for (const m of [...messages].sort((a, b) => a.id - b.id)) {
    if (!m?.id || state.messages.has(m.id)) continue;
    if (state.selectedId && m.conversation_id && m.conversation_id !== state.selectedId) continue;
    state.messages.set(m.id, m);
    state.lastMessageId = Math.max(state.lastMessageId, m.id);
    fresh.push(m);
    const el = renderMessage(m);
    const pending = m.client_msg_id
      ? $(`.ws-msg.is-pending[data-client-msg-id="${CSS.escape(m.client_msg_id)}"]`, list) : null;
    if (pending) {
      pending.replaceWith(el);
      continue;
    }
    const ms = parseTime(m.created_at);
    const lastDay = [...$$(".ws-day", list)].pop()?.dataset.day;
    if (ms !== null && dayKeyFmt.format(ms) !== lastDay) insertBeforePending(list, daySeparator(ms));
    insertBeforePending(list, el);
  }
  if (!initial && fresh.length) {
    if (nearBottom || fresh.every((m) => m.sender_type !== "customer")) scrollToBottom();
    else $("#ws-new-pill").hidden = false;
  }
  return fresh;
}

function insertBeforePending(list, el) {
  const firstPending = $(".ws-msg.is-pending", list);
  if (firstPending) list.insertBefore(el, firstPending);
  else list.append(el);
}

function isNearBottom() {
  const box = $("#ws-messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToBottom(instant = false) {
  const box = $("#ws-messages");
  state.stickToBottom = true;
  box.scrollTo({ top: box.scrollHeight, behavior: instant ? "instant" : "smooth" });
  $("#ws-new-pill").hidden = true;
}

async function catchUp() {
  const id = state.selectedId;
  if (!id) return;
  try {
    const data = await api("GET", `/api/v1/conversations/${id}/messages?after=${state.lastMessageId}`);
    if (state.selectedId !== id) return;
    const fresh = addMessages(asList(data));
    if (fresh.some((m) => m.sender_type === "customer")) loadSuggestions();
    markRead();
  } catch (err) {
    if (err.status !== 401) toast(err.message, "error");
  }
}

// ---------------------------------------------------------------- read receipts & typing

function markRead() {
  clearTimeout(state.readTimer);
  state.readTimer = setTimeout(async () => {
    const id = state.selectedId;
    const last = state.lastMessageId;
    if (!id || !last || document.visibilityState !== "visible" || last <= state.lastReadSent) return;
    state.lastReadSent = last;
    try {
      await api("POST", `/api/v1/conversations/${id}/read`, { message_id: last });
      const summary = findSummary(id);
      if (summary) {
        for (const v of VIEWS) for (const c of state.lists[v]) if (c.id === id) c.unread = 0;
        renderLists();
      }
    } catch {
      state.lastReadSent = 0; // retried on the next message or focus
    }
  }, 400);
}

function sendTyping() {
  const id = state.selectedId;
  if (!id || state.noteMode || state.conversation?.status !== "active") return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_EVERY_MS) return;
  state.lastTypingSent = now;
  api("POST", `/api/v1/conversations/${id}/typing`).catch(() => {});
}

function setCustomerTyping(on) {
  clearTimeout(state.typingTimer);
  $("#ws-typing").hidden = !on;
  if (on) state.typingTimer = setTimeout(() => setCustomerTyping(false), CUSTOMER_TYPING_SHOWN_MS);
}

// ---------------------------------------------------------------- composer

function renderNoteMode() {
  const toggle = $("#ws-note-toggle");
  toggle.setAttribute("aria-pressed", state.noteMode ? "true" : "false");
  $("#ws-composer").classList.toggle("is-note", state.noteMode);
  $("#ws-reply").placeholder = state.noteMode ? t("note.placeholder") : t("reply.placeholder");
  $("#ws-send").textContent = state.noteMode ? t("note.send") : t("send");
  if (state.conversation) renderComposerLock();
  if (state.noteMode) clearLint();
  else scheduleLint(0);
}

function updateCounter() {
  const n = $("#ws-reply").value.length;
  const el = $("#ws-counter");
  el.textContent = n > MAX_CHARS * 0.8 ? `${n} / ${MAX_CHARS}` : "";
  el.classList.toggle("is-over", n > MAX_CHARS);
}

function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `ws-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

async function submitReply() {
  const box = $("#ws-reply");
  const id = state.selectedId;
  const body = box.value.trim();
  if (!id || !body || box.disabled) return;
  if (body.length > MAX_CHARS) {
    toast(t("too_long", { n: MAX_CHARS }), "warn");
    return;
  }
  const internal = state.noteMode;
  const draft = {
    id: null, conversation_id: id, sender_type: internal ? "note" : "agent", sender_name: ME.display_name,
    body, created_at: new Date().toISOString(), client_msg_id: newClientId(), meta: {},
    assist: internal ? null : insertedFor(id),
  };
  box.value = "";
  state.inserted = null;
  updateCounter();
  clearLint();
  const bubble = renderMessage(draft, { pending: true });
  $("#ws-messages").append(bubble);
  scrollToBottom();
  await deliver(draft, bubble, internal);
}

/** POST a drafted message; a failed bubble offers a retry with the same client id (the server
 * stores a resent id once). */
async function deliver(draft, bubble, internal) {
  bubble.classList.remove("is-failed");
  bubble.classList.add("is-pending");
  $("time", bubble).textContent = t("sending");
  try {
    const payload = { body: draft.body, client_msg_id: draft.client_msg_id, internal };
    if (draft.assist) payload.assist = draft.assist;
    const stored = await api("POST", `/api/v1/conversations/${draft.conversation_id}/messages`, payload);
    if (!bubble.isConnected) return;
    if (stored?.id && !state.messages.has(stored.id)) {
      state.messages.set(stored.id, stored);
      state.lastMessageId = Math.max(state.lastMessageId, stored.id);
      bubble.replaceWith(renderMessage(stored));
    } else {
      bubble.remove(); // the WebSocket copy arrived first
    }
    scheduleRefresh(400);
  } catch (err) {
    if (!bubble.isConnected) return;
    if (err.code === "lint_blocked") {
      // Nothing was stored: the text goes back into the box with the findings under it.
      bubble.remove();
      replyBlocked(draft, err.data);
      return;
    }
    bubble.classList.remove("is-pending");
    bubble.classList.add("is-failed");
    const time = $("time", bubble);
    time.replaceChildren(h("button", { type: "button", class: "ws-retry", dataset: { testid: "retry-send" },
      onclick: () => deliver(draft, bubble, internal) }, t("retry")));
    toast(err.message, "error");
  }
}

function insertSuggestion(text, script = null) {
  const box = $("#ws-reply");
  if (state.noteMode) {
    state.noteMode = false;
    renderNoteMode();
  }
  if (box.disabled) {
    toast(t("lock.cannot_insert"), "warn");
    return;
  }
  box.value = text;
  updateCounter();
  box.focus();
  rememberInsert(script, text);
  // Unfilled variables show as 【订单号】: select the first so the agent types straight over it.
  const gap = text.search(/【[^】]*】/);
  if (gap >= 0) box.setSelectionRange(gap, text.indexOf("】", gap) + 1);
  else box.setSelectionRange(text.length, text.length);
  box.classList.add("is-flash");
  setTimeout(() => box.classList.remove("is-flash"), 600);
}

// ---------------------------------------------------------------- suggestions & customer panel

async function loadSuggestions() {
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

function suggestionCard(s, i) {
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

function renderEmotion(emotion) {
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

function renderCalming(items) {
  const wrap = $("#ws-calming");
  wrap.hidden = !items.length;
  $("#ws-calming-list").replaceChildren(...items.map((s) => h("button", {
    type: "button", class: "ws-calm", dataset: { testid: "calming-script", scriptId: String(s.script_id) },
    title: s.text, onclick: () => insertSuggestion(s.text ?? "", s),
  }, h("span", { class: "ws-calm-title" }, s.title ?? ""), h("span", { class: "ws-calm-text" }, s.text ?? ""))));
}

function renderRepeat(history) {
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

function rememberInsert(script, text) {
  const id = state.selectedId;
  if (!script?.script_id || !id) {
    state.inserted = null;
    return;
  }
  state.inserted = { conversationId: id, scriptId: script.script_id, text };
  api("POST", "/api/v1/assist/usage", { conversation_id: id, script_id: script.script_id }).catch(() => {});
  scheduleLint(0);
}

function insertedFor(id) {
  const ins = state.inserted;
  return ins && ins.conversationId === id ? { script_id: ins.scriptId, inserted_text: ins.text } : null;
}

const LINT_DEBOUNCE_MS = 300;

function scheduleLint(delay = LINT_DEBOUNCE_MS) {
  clearTimeout(state.lintTimer);
  state.lintTimer = setTimeout(runLint, delay);
}

async function runLint() {
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

function clearLint() {
  state.lintSeq += 1;
  clearTimeout(state.lintTimer);
  renderLint(null, "");
}

function findingItem(f, text) {
  const quote = f.end > f.start ? text.slice(f.start, f.end) : null;
  return h("li", { class: `ws-lint-item ws-lint-item--${f.severity}`, dataset: { testid: "lint-finding", severity: f.severity, rule: f.rule } },
    h("span", { class: "ws-lint-sev" }, t(`assist.lint.${f.severity === "block" ? "block" : "warn"}`)),
    quote ? h("mark", { class: "ws-lint-span" }, quote) : h("span", { class: "ws-lint-span is-missing" }, t("assist.lint.missing")),
    h("span", { class: "ws-lint-msg" }, f.message ?? ""),
    f.suggestion ? h("span", { class: "ws-lint-fix" }, t("assist.lint.suggest", { text: f.suggestion })) : null);
}

function renderLint(result, text) {
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
function replyBlocked(draft, data) {
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

function supervising() {
  return ME.role === "admin" || ME.role === "supervisor";
}

function openOverride() {
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

async function submitOverride(ev) {
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

// ---------------------------------------------------------------- assist: "/" search and proposals

const search = { mode: "insert", message: null, seq: 0, timer: null, items: [], active: 0 };

function openSearch({ mode = "insert", message = null } = {}) {
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

function scheduleSearch() {
  clearTimeout(search.timer);
  search.timer = setTimeout(runSearch, 120);
}

async function runSearch() {
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

function renderSearch() {
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

async function chooseSearch(i) {
  const s = search.items[i];
  if (!s) return;
  $("#ws-search-dialog").close();
  if (search.mode === "propose") {
    await propose("new_variant", search.message, s.script_id);
    return;
  }
  insertSuggestion(s.text ?? "", s);
}

function onSearchKey(ev) {
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

async function propose(kind, message, scriptId = null) {
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

function proposeActions(m) {
  return h("div", { class: "ws-msg-actions" },
    h("button", { type: "button", class: "ws-link-btn", dataset: { testid: "propose-variant" },
      onclick: () => openSearch({ mode: "propose", message: m }) }, t("assist.propose.variant")),
    h("button", { type: "button", class: "ws-link-btn", dataset: { testid: "propose-script" },
      onclick: () => propose("new_script", m) }, t("assist.propose.script")));
}

function resetAssist() {
  renderEmotion(null);
  renderRepeat([]);
  renderCalming([]);
}

let panelCustomerId = null;

function loadCustomerPanel(customerId) {
  const panel = $("#ws-customer-panel");
  if (!customerId) {
    panelCustomerId = null;
    panel.replaceChildren(h("p", { class: "ws-muted" }, t("customer.none")));
    return;
  }
  if (customerId === panelCustomerId) return;
  panelCustomerId = customerId;
  panel.replaceChildren(...[0, 1, 2, 3].map(() => h("div", { class: "ws-skeleton ws-skeleton--line" })));
  const url = `/workspace/customers/${encodeURIComponent(customerId)}/panel`;
  if (window.htmx) {
    // Server-rendered (autoescaped) fragment: htmx swaps it in and wires its own hx-* links.
    window.htmx.ajax("GET", url, { target: panel, swap: "innerHTML" }).catch(() => panelFailed(customerId));
  } else {
    panelFailed(customerId);
  }
}

function panelFailed(customerId) {
  if (customerId !== panelCustomerId) return;
  $("#ws-customer-panel").replaceChildren(h("p", { class: "ws-muted" }, t("customer.unavailable")));
}

document.body.addEventListener("htmx:responseError", (ev) => {
  if (ev.detail?.target?.id === "ws-customer-panel") panelFailed(panelCustomerId);
});
document.body.addEventListener("htmx:sendError", (ev) => {
  if (ev.detail?.target?.id === "ws-customer-panel") panelFailed(panelCustomerId);
});

// ---------------------------------------------------------------- realtime

class Live {
  constructor() {
    this.ws = null;
    this.attempt = 0;
    this.watching = null;
    this.everConnected = false;
    this.timer = null;
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws/agent`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      const resumed = this.everConnected;
      this.attempt = 0;
      this.everConnected = true;
      this.setState("online");
      if (this.watching) this.send({ type: "watch", conversation_id: this.watching });
      if (resumed) {
        // Frames sent while we were away are lost: catch up from the API.
        refreshLists();
        catchUp();
      }
    });
    ws.addEventListener("message", (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      handleFrame(frame);
    });
    ws.addEventListener("close", (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState("offline");
      if ([4401, 4403, 1008].includes(ev.code)) {
        api("GET", "/api/v1/me").catch(() => {}); // redirects to /login when the session is gone
      }
      this.retry();
    });
  }

  retry() {
    // Exponential backoff with jitter, 0.5 s … 15 s: a restarting server is not stampeded.
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(frame) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  watch(id) {
    if (this.watching && this.watching !== id) this.send({ type: "unwatch", conversation_id: this.watching });
    this.watching = id;
    if (id) this.send({ type: "watch", conversation_id: id });
  }

  setState(s) {
    const el = $("#ws-conn");
    el.dataset.state = s;
    el.textContent = t(`conn.${s}`);
  }
}

const live = new Live();

function handleFrame(frame) {
  switch (frame.type) {
    case "message.created": {
      const m = frame.message;
      if (!m) return;
      if (m.conversation_id === state.selectedId) {
        const fresh = addMessages([m]);
        if (fresh.length && m.sender_type === "customer") {
          setCustomerTyping(false);
          loadSuggestions();
        }
        if (fresh.length) markRead();
      }
      const summary = findSummary(m.conversation_id);
      if (summary) {
        summary.last_message = { body: m.body, sender_type: m.sender_type, created_at: m.created_at };
      }
      scheduleRefresh();
      break;
    }
    case "conversation.queued":
      pulseQueue();
      scheduleRefresh(100);
      break;
    case "conversation.updated": {
      const c = frame.conversation;
      if (c?.id === state.selectedId && state.conversation) {
        // Broadcast summaries leave out the per-viewer parts (customer, assignee, unread):
        // adopt only what they carry; the list refetch brings the rest.
        const known = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== null && v !== undefined));
        Object.assign(state.conversation, known);
        renderHeader();
        if (c.status === "closed") setCustomerTyping(false);
      }
      scheduleRefresh(100);
      break;
    }
    case "conversation.assigned": {
      const c = frame.conversation;
      if (c && frame.by?.id !== ME.id) {
        toast(t("assigned_to_me", { by: frame.by?.display_name ?? "", name: customerName(c) }), "info",
          { timeout: 6000 });
      }
      scheduleRefresh(100);
      break;
    }
    case "typing":
      if (frame.conversation_id === state.selectedId && frame.sender_type !== "agent") setCustomerTyping(true);
      break;
    case "error":
      if (frame.code === "unauthorized") api("GET", "/api/v1/me").catch(() => {});
      break;
    default:
      break;
  }
}

function pulseQueue() {
  const tab = $("#tab-queue");
  tab.classList.remove("is-pulse");
  void tab.offsetWidth; // restart the animation
  tab.classList.add("is-pulse");
}

// ---------------------------------------------------------------- keyboard & wiring

function wire() {
  for (const tab of $$(".ws-tab")) tab.addEventListener("click", () => setView(tab.dataset.view));
  $(".ws-tabs").addEventListener("keydown", (ev) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
    const i = VIEWS.indexOf(state.view);
    const next = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: VIEWS.length - 1 }[ev.key];
    setView(VIEWS[(next + VIEWS.length) % VIEWS.length], { focus: true });
    ev.preventDefault();
  });
  $("#ws-items").addEventListener("keydown", (ev) => {
    if (!["ArrowUp", "ArrowDown"].includes(ev.key)) return;
    const mains = $$(".ws-item-main");
    const i = mains.indexOf(document.activeElement?.closest(".ws-item")?.querySelector(".ws-item-main"));
    const next = mains[Math.min(mains.length - 1, Math.max(0, i + (ev.key === "ArrowDown" ? 1 : -1)))];
    next?.focus();
    ev.preventDefault();
  });
  $("#ws-refresh").addEventListener("click", () => refreshLists());
  $("#ws-back").addEventListener("click", deselect);
  $("#ws-sugg-refresh").addEventListener("click", () => loadSuggestions());
  $("#ws-head-accept").addEventListener("click", () => state.selectedId && accept(state.selectedId));
  $("#ws-lock-accept").addEventListener("click", () => state.selectedId && accept(state.selectedId));
  $("#ws-lock-note").addEventListener("click", () => {
    state.noteMode = true;
    renderNoteMode();
    $("#ws-reply").focus();
  });
  $("#ws-transfer").addEventListener("click", openTransfer);
  $("#ws-create-ticket").addEventListener("click", createTicket);
  $("#ws-close").addEventListener("click", closeConversation);
  $("#ws-new-pill").addEventListener("click", () => scrollToBottom());
  const history = $("#ws-messages");
  history.addEventListener("scroll", () => {
    state.stickToBottom = isNearBottom();
    if (state.stickToBottom) $("#ws-new-pill").hidden = true;
  });
  // The pane shrinks when the ticket bar, typing line or a taller reply box appears: whoever
  // was reading the newest message keeps seeing it.
  new ResizeObserver(() => {
    if (state.stickToBottom) history.scrollTop = history.scrollHeight;
  }).observe(history);
  $("#ws-note-toggle").addEventListener("click", () => {
    state.noteMode = !state.noteMode;
    renderNoteMode();
    if (!$("#ws-reply").disabled) $("#ws-reply").focus();
  });
  $("#ws-composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitReply();
  });
  const reply = $("#ws-reply");
  reply.addEventListener("keydown", (ev) => {
    // "/" in an empty box opens the script search; anywhere else it is just a slash.
    if (ev.key === "/" && !reply.value && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ev.isComposing) {
      ev.preventDefault();
      openSearch();
      return;
    }
    // isComposing: Enter that confirms a Chinese IME candidate must not send.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      submitReply();
    }
  });
  reply.addEventListener("input", () => {
    updateCounter();
    if (reply.value.trim()) sendTyping();
    if (!reply.value.trim()) state.inserted = null;
    scheduleLint();
  });
  $("#ws-override-open").addEventListener("click", openOverride);
  $("#ws-override-form").addEventListener("submit", submitOverride);
  $("#ws-override-cancel").addEventListener("click", () => $("#ws-override-dialog").close());
  $("#ws-search-input").addEventListener("input", scheduleSearch);
  $("#ws-search-input").addEventListener("keydown", onSearchKey);
  $("#ws-search-dialog").addEventListener("click", (ev) => {
    if (ev.target === ev.currentTarget) ev.currentTarget.close(); // a click on the backdrop
  });
  $("#ws-search-dialog").addEventListener("close", () => {
    if (search.mode === "insert" && !reply.disabled) reply.focus();
  });
  document.addEventListener("keydown", (ev) => {
    // Ctrl+/ (⌘/ on a Mac): the script search from anywhere, even with text in the box.
    if (ev.key === "/" && (ev.ctrlKey || ev.metaKey) && !ev.altKey && state.selectedId) {
      ev.preventDefault();
      openSearch();
      return;
    }
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.code === "KeyN" && state.conversation) {
      ev.preventDefault();
      $("#ws-note-toggle").click();
    } else if (/^Digit[1-3]$/.test(ev.code)) {
      const card = $$(".ws-sugg")[Number(ev.code.slice(5)) - 1];
      if (card) {
        ev.preventDefault();
        card.click();
      }
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") markRead();
  });
}

wire();
renderNoteMode();
setView(state.view);
live.connect();
await refreshLists();
if (boot.conversation_id) selectConversation(boot.conversation_id);
setInterval(tickWaits, 1000);
// A safety net for missed frames (e.g. a proxy that silently drops the socket).
setInterval(() => { if (document.visibilityState === "visible") refreshLists(); }, 30000);
