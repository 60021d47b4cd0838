// The chat pane: selecting a conversation, its header, messages, read receipts and typing.

import { loadTickets, renderTicketBar } from "./actions.js";
import { clearLint, loadSuggestions, resetAssist } from "./assist.js";
import { renderNoteMode, updateCounter } from "./composer.js";
import { clearCustomerPanel, loadCustomerPanel } from "./customer.js";
import { renderLists, updateUrl, waitLabel } from "./queue.js";
import { proposeActions } from "./search.js";
import {
  CUSTOMER_TYPING_SHOWN_MS, findSummary, isMine, ME, root, state, STRINGS, TYPING_EVERY_MS, VIEWS,
} from "./state.js";
import { api, asList, live } from "./transport.js";
import {
  $, $$, avatar, clockTime, customerName, dayFmt, dayKeyFmt, fill, h, parseTime, priorityChip, t,
  tagBadges, toast, urgency,
} from "./ui.js";

// ---------------------------------------------------------------- chat pane

export async function selectConversation(id, { force = false } = {}) {
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

export function deselect() {
  if (state.selectedId) state.drafts.set(state.selectedId, $("#ws-reply").value);
  state.selectedId = null;
  state.conversation = null;
  $("#ws-placeholder").hidden = false;
  $("#ws-chat-inner").hidden = true;
  root.classList.remove("has-selection");
  live.watch(null);
  clearCustomerPanel();
  state.suggestSeq += 1;
  $("#ws-suggestions").replaceChildren(h("p", { class: "ws-muted" }, t("suggestions.idle")));
  $("#ws-sugg-refresh").disabled = true;
  resetAssist();
  clearLint();
  updateUrl();
  renderLists();
}

/** Re-read the selected conversation's header (status, assignee) and catch up on messages. */
export async function reloadConversation() {
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
export function syncHeaderFromSummary() {
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



export function renderHeader() {
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

export function renderHeadWait() {
  const c = state.conversation;
  const el = $("#ws-head-wait");
  if (!c) return;
  const summary = findSummary(c.id) ?? c;
  const wait = c.status === "closed" ? null : waitLabel(summary);
  el.textContent = wait ? wait.text : "";
  el.className = `ws-head-wait${wait ? ` ws-wait ws-wait--${urgency(wait.seconds)}` : ""}`;
}

export function renderComposerLock() {
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

export function senderLabel(m) {
  switch (m.sender_type) {
    case "customer": return m.sender_name || customerName(state.conversation ?? {});
    case "bot": return m.sender_name || t("sender.bot");
    case "agent": return m.sender_name || t("sender.agent");
    case "note": return m.sender_name || t("sender.agent");
    default: return t("sender.system");
  }
}

export function isNote(m) {
  return m.sender_type === "note" || m.internal === true;
}

export function botInfo(m) {
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

export function handoffReason(code) {
  if (!code) return "";
  const key = `workspace.handoff.${code}`;
  return STRINGS[key] ?? code;
}

export function renderMessage(m, { pending = false } = {}) {
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
export function systemText(m) {
  const i18n = m.i18n ?? m.meta?.i18n;
  const template = i18n?.key && STRINGS[i18n.key];
  return template ? fill(template, i18n.params ?? {}) : m.body;
}

export function daySeparator(ms) {
  return h("li", { class: "ws-day", dataset: { day: dayKeyFmt.format(ms) } }, h("span", {}, dayFmt.format(ms)));
}

/** Insert messages in id order, skipping ones already shown; replaces a pending bubble
 * with its stored message. Returns the new ones. */
export function addMessages(messages, { initial = false } = {}) {
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

export function insertBeforePending(list, el) {
  const firstPending = $(".ws-msg.is-pending", list);
  if (firstPending) list.insertBefore(el, firstPending);
  else list.append(el);
}

export function isNearBottom() {
  const box = $("#ws-messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

export function scrollToBottom(instant = false) {
  const box = $("#ws-messages");
  state.stickToBottom = true;
  box.scrollTo({ top: box.scrollHeight, behavior: instant ? "instant" : "smooth" });
  $("#ws-new-pill").hidden = true;
}

export async function catchUp() {
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

export function markRead() {
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

export function sendTyping() {
  const id = state.selectedId;
  if (!id || state.noteMode || state.conversation?.status !== "active") return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_EVERY_MS) return;
  state.lastTypingSent = now;
  api("POST", `/api/v1/conversations/${id}/typing`).catch(() => {});
}

export function setCustomerTyping(on) {
  clearTimeout(state.typingTimer);
  $("#ws-typing").hidden = !on;
  if (on) state.typingTimer = setTimeout(() => setCustomerTyping(false), CUSTOMER_TYPING_SHOWN_MS);
}
