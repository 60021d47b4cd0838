// UI helpers: DOM building, translations, time formatting, toasts, avatars and badges.
// Chat text only ever reaches the DOM through textContent / createTextNode (never innerHTML).

import { boot, STRINGS } from "./state.js";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Translate `key` (under "workspace."), filling `{name}` placeholders from `params`. */
export function t(key, params = {}) {
  return fill(STRINGS[`workspace.${key}`] ?? key, params);
}

export function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Build an element: h("div", {class: "x", dataset: {id: 1}}, child, "text"). Strings become
 * text nodes, so this is safe for chat text. */
export function h(tag, attrs = {}, ...children) {
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

export const timeFmt = new Intl.DateTimeFormat(boot.locale, {
  hour: "2-digit", minute: "2-digit", hour12: false, timeZone: boot.timezone,
});
export const dayFmt = new Intl.DateTimeFormat(boot.locale, {
  month: "short", day: "numeric", weekday: "short", timeZone: boot.timezone,
});
export const dayKeyFmt = new Intl.DateTimeFormat("en-CA", { timeZone: boot.timezone });

export function parseTime(value) {
  if (!value) return null;
  // The API sends aware ISO times; a naive one is UTC by our convention.
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return t("dur.s", { s });
  if (s < 3600) return t("dur.ms", { m: Math.floor(s / 60), s: s % 60 });
  if (s < 86400) return t("dur.hm", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t("dur.dh", { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

export function clockTime(ms) {
  return ms === null ? "" : timeFmt.format(ms);
}

/** "14:05" today, "3月4日 周一" otherwise: for list rows. */
export function shortWhen(ms) {
  if (ms === null) return "";
  return dayKeyFmt.format(ms) === dayKeyFmt.format(Date.now()) ? timeFmt.format(ms) : dayFmt.format(ms);
}

// ---------------------------------------------------------------- toasts

export function toast(message, kind = "info", { timeout = 4000, link } = {}) {
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

export function urgency(seconds) {
  if (seconds >= 180) return "late";
  if (seconds >= 60) return "warn";
  return "ok";
}

export function tagBadges(tags) {
  return (tags ?? []).slice(0, 4).map((tag) => {
    const label = typeof tag === "string" ? tag : tag?.name ?? "";
    const vip = /vip|会员/i.test(label);
    return h("span", { class: `ws-tag${vip ? " ws-tag--vip" : ""}`, dataset: { testid: vip ? "vip-badge" : "tag" } }, label);
  });
}

export function priorityChip(priority) {
  const p = Number(priority ?? 3);
  return h("span", { class: `ws-prio ws-prio--${Math.min(Math.max(p, 1), 4)}`, title: t("priority"),
    dataset: { testid: "priority" } }, `P${p}`);
}

export function avatar(name, extraClass = "") {
  const label = (name || "?").trim();
  const initial = [...label][0] ?? "?";
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h("span", { class: `ws-avatar ${extraClass}`, dataset: { hue: String(hash % 6) }, "aria-hidden": "true" }, initial);
}

export function customerName(c) {
  return c.customer?.name || t("anonymous", { id: c.customer?.id ?? c.id });
}

export function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `ws-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
