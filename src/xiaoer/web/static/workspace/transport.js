// Transport: the JSON API over fetch and the agent WebSocket (reconnect with backoff).

import { CSRF } from "./state.js";
import { $, t } from "./ui.js";

// ---------------------------------------------------------------- HTTP

export class ApiError extends Error {
  constructor(status, code, message, data = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data; // the error body: a blocked reply's lint findings
  }
}

export async function api(method, path, body) {
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
export const asList = (data) => (Array.isArray(data) ? data
  : data?.items ?? data?.conversations ?? data?.messages ?? data?.agents ?? []);

// ---------------------------------------------------------------- realtime

export class Live {
  constructor() {
    this.ws = null;
    this.attempt = 0;
    this.watching = null;
    this.everConnected = false;
    this.timer = null;
    // Set by the page: what to do with a frame, and how to catch up after a reconnect.
    this.onFrame = () => {};
    this.onResume = () => {};
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
        this.onResume();
      }
    });
    ws.addEventListener("message", (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onFrame(frame);
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

export const live = new Live();
