// The reply box: note mode, counter, sending with retry, inserting a suggestion.

import { clearLint, insertedFor, rememberInsert, replyBlocked, scheduleLint } from "./assist.js";
import { renderComposerLock, renderMessage, scrollToBottom } from "./conversation.js";
import { scheduleRefresh } from "./queue.js";
import { boot, MAX_CHARS, ME, state } from "./state.js";
import { api } from "./transport.js";
import { $, h, newClientId, t, toast } from "./ui.js";

// ---------------------------------------------------------------- composer

export function renderNoteMode() {
  const toggle = $("#ws-note-toggle");
  toggle.setAttribute("aria-pressed", state.noteMode ? "true" : "false");
  $("#ws-composer").classList.toggle("is-note", state.noteMode);
  $("#ws-reply").placeholder = state.noteMode ? t("note.placeholder") : t("reply.placeholder");
  $("#ws-send").textContent = state.noteMode ? t("note.send") : t("send");
  if (state.conversation) renderComposerLock();
  if (state.noteMode) clearLint();
  else scheduleLint(0);
}

export function updateCounter() {
  const n = $("#ws-reply").value.length;
  const el = $("#ws-counter");
  el.textContent = n > MAX_CHARS * 0.8 ? `${n} / ${MAX_CHARS}` : "";
  el.classList.toggle("is-over", n > MAX_CHARS);
}



export async function submitReply() {
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
export async function deliver(draft, bubble, internal) {
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

export function insertSuggestion(text, script = null) {
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
  // Only variable labels count: courier texts bracket hub names too (快件已到达【杭州转运中心】).
  const gap = firstPlaceholder(text);
  if (gap) box.setSelectionRange(gap.start, gap.end);
  else box.setSelectionRange(text.length, text.length);
  box.classList.add("is-flash");
  setTimeout(() => box.classList.remove("is-flash"), 600);
}

const PLACEHOLDER_LABELS = new Set(boot.placeholders || []);

function firstPlaceholder(text) {
  for (const m of text.matchAll(/【([^】]*)】/g)) {
    if (PLACEHOLDER_LABELS.has(m[1])) return { start: m.index, end: m.index + m[0].length };
  }
  return null;
}
