// Agent workspace: conversation lists, live chat pane, suggested scripts, customer panel.
// Contract: docs/subsystems/chat-protocol.md. Chat text is untrusted: it only ever reaches the
// DOM through textContent / createTextNode (never innerHTML).
// This entry only wires events and starts things; the work lives in ./workspace/*.js by concern
// (docs/subsystems/web-ui.md). Those modules only declare at their top level, so the import
// cycles between them are harmless.

import { accept, closeConversation, createTicket, openTransfer } from "./workspace/actions.js";
import { loadSuggestions, openOverride, scheduleLint, submitOverride } from "./workspace/assist.js";
import { renderNoteMode, submitReply, updateCounter } from "./workspace/composer.js";
import {
  catchUp, deselect, isNearBottom, markRead, scrollToBottom, selectConversation, sendTyping,
} from "./workspace/conversation.js";
import { refreshLists, setView, tickWaits } from "./workspace/queue.js";
import { handleFrame } from "./workspace/realtime.js";
import { onSearchKey, openSearch, scheduleSearch, search } from "./workspace/search.js";
import { boot, state, VIEWS } from "./workspace/state.js";
import { live } from "./workspace/transport.js";
import { $, $$ } from "./workspace/ui.js";

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

live.onFrame = handleFrame;
live.onResume = () => {
  refreshLists();
  catchUp();
};
wire();
renderNoteMode();
setView(state.view);
live.connect();
await refreshLists();
if (boot.conversation_id) selectConversation(boot.conversation_id);
setInterval(tickWaits, 1000);
// A safety net for missed frames (e.g. a proxy that silently drops the socket).
setInterval(() => { if (document.visibilityState === "visible") refreshLists(); }, 30000);
