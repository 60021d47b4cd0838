// Boot data from the page and the shared mutable state of the workspace.

export const root = document.querySelector("#workspace");
export const boot = JSON.parse(document.querySelector("#ws-boot").textContent);
export const STRINGS = JSON.parse(document.querySelector("#i18n").textContent);
export const CSRF = root.dataset.csrf;
export const ME = boot.me;
export const MAX_CHARS = 4000;
export const TYPING_EVERY_MS = 3000;
export const CUSTOMER_TYPING_SHOWN_MS = 5000;
export const VIEWS = ["queue", "mine", "open"];

export const state = {
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

export function findSummary(id) {
  for (const view of VIEWS) {
    const found = state.lists[view].find((c) => c.id === id);
    if (found) return found;
  }
  return null;
}

export function isMine(c) {
  return c?.assignee?.id === ME.id;
}

export function supervising() {
  return ME.role === "admin" || ME.role === "supervisor";
}
