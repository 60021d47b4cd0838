// Conversation actions: accept, transfer, close, and tickets linked to the conversation.

import { reloadConversation, selectConversation } from "./conversation.js";
import { refreshLists, setView } from "./queue.js";
import { findSummary, ME, state } from "./state.js";
import { api, asList } from "./transport.js";
import { $, avatar, customerName, h, t, toast } from "./ui.js";

// ---------------------------------------------------------------- accept / transfer / close / ticket

export async function accept(id) {
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

export async function openTransfer() {
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

export async function transferTo(agent) {
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

export async function closeConversation() {
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
export async function createTicket() {
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

export async function loadTickets(id) {
  try {
    const page = await api("GET", `/api/v1/tickets?conversation_id=${id}&per_page=5`);
    state.tickets.set(id, asList(page));
    if (state.selectedId === id) renderTicketBar();
  } catch {
    // The bar is a convenience; the conversation works without it.
  }
}

export function ticketIcon() {
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

export function renderTicketBar() {
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
