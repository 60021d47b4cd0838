// Realtime frames from the agent WebSocket applied to the lists and the open conversation.

import { loadSuggestions } from "./assist.js";
import { addMessages, markRead, renderHeader, setCustomerTyping } from "./conversation.js";
import { pulseQueue, scheduleRefresh } from "./queue.js";
import { findSummary, ME, state } from "./state.js";
import { api } from "./transport.js";
import { customerName, t, toast } from "./ui.js";

export function handleFrame(frame) {
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
