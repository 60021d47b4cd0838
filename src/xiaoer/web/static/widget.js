// Customer chat widget. Chat text is untrusted: it only ever reaches the page via textContent.
// Every message gets a client id (uuid) and stays in a localStorage outbox until the server acks
// it, so a message typed while offline or lost with a dropped connection is resent on reconnect;
// the server stores a client id once, so resending is always safe.
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("xw-boot").textContent);
  var S = JSON.parse(document.getElementById("xw-strings").textContent);
  var shop = boot.shop;
  var TOKEN_KEY = "xiaoer.visitor." + shop;
  var OUTBOX_KEY = "xiaoer.outbox." + shop;

  var log = document.getElementById("xw-log");
  var statusEl = document.getElementById("xw-status");
  var banner = document.getElementById("xw-banner");
  var typingEl = document.getElementById("xw-typing");
  var input = document.getElementById("xw-input");
  var rateBox = document.getElementById("xw-rate");

  var ws = null;
  var ready = false;
  var lastId = 0; // newest message id seen: what a reconnect resumes from
  var seen = {}; // message ids on screen (frames can arrive twice around a reconnect)
  var pendingEl = {}; // client_msg_id -> bubble element still waiting for its ack
  var retry = 0;
  var conversationId = null;
  var typingTimer = null;
  var lastTypingSent = 0;
  var rating = 0;
  var verifying = false; // a verify frame is out: its error belongs to the verification panel
  var VERIFY_ERRORS = ["verification_failed", "rate_limited", "code_unavailable", "invalid_email", "invalid_input", "invalid"];

  function t(key, params) {
    var text = S[key] || key;
    if (params) {
      Object.keys(params).forEach(function (k) {
        text = text.split("{" + k + "}").join(String(params[k]));
      });
    }
    return text;
  }

  function load(key, fallback) {
    try {
      var v = localStorage.getItem(key);
      return v ? JSON.parse(v) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      /* private mode: the widget still works, without resend across page loads */
    }
  }

  function outbox() {
    return load(OUTBOX_KEY, []);
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "m-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function setStatus(key) {
    statusEl.textContent = t(key);
    statusEl.dataset.state = key;
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = !text;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function bubble(kind, name, text, extraClass) {
    var row = document.createElement("div");
    row.className = "xw-msg xw-" + kind + (extraClass ? " " + extraClass : "");
    if (name) {
      var n = document.createElement("div");
      n.className = "xw-name";
      n.textContent = name;
      row.appendChild(n);
    }
    var b = document.createElement("div");
    b.className = "xw-bubble";
    b.textContent = text;
    row.appendChild(b);
    log.appendChild(row);
    scrollDown();
    return row;
  }

  function messageText(m) {
    if (m.sender_type === "system" && m.i18n && S[m.i18n.key]) return t(m.i18n.key, m.i18n.params);
    return m.body;
  }

  function senderLabel(m) {
    if (m.sender_type === "bot") return t("widget.bot");
    if (m.sender_type === "agent") return m.sender_name || t("widget.agent");
    if (m.sender_type === "customer") return "";
    return "";
  }

  function showMessage(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    if (m.id > lastId) lastId = m.id;
    if (m.sender_type === "customer" && m.client_msg_id && pendingEl[m.client_msg_id]) {
      markSent(m.client_msg_id, m.id);
      return;
    }
    var row = bubble(m.sender_type, senderLabel(m), messageText(m));
    row.dataset.id = m.id;
    row.dataset.testid = "msg-" + m.sender_type;
    row.setAttribute("data-testid", "msg-" + m.sender_type);
    if (m.sender_type === "agent") typingEl.hidden = true;
  }

  function markSent(clientId, messageId) {
    var row = pendingEl[clientId];
    if (row) {
      row.classList.remove("xw-pending");
      row.dataset.id = messageId;
      delete pendingEl[clientId];
    }
  }

  function send(frame) {
    if (ws && ws.readyState === 1) {
      ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function flushOutbox() {
    outbox().forEach(function (item) {
      if (!pendingEl[item.client_msg_id]) {
        var row = bubble("customer", "", item.body, "xw-pending");
        row.setAttribute("data-testid", "msg-customer");
        pendingEl[item.client_msg_id] = row;
      }
      send({ type: "message", client_msg_id: item.client_msg_id, body: item.body, handoff: !!item.handoff });
    });
  }

  function queueMessage(body, handoff) {
    var item = { client_msg_id: uuid(), body: body, handoff: !!handoff };
    var box = outbox();
    box.push(item);
    save(OUTBOX_KEY, box);
    var row = bubble("customer", "", body, "xw-pending");
    row.setAttribute("data-testid", "msg-customer");
    pendingEl[item.client_msg_id] = row;
    if (ready) send({ type: "message", client_msg_id: item.client_msg_id, body: body, handoff: !!handoff });
  }

  function helloFrame() {
    return JSON.stringify({ type: "hello", visitor_token: load(TOKEN_KEY, null), last_message_id: lastId });
  }

  var busyTries = {}; // client_msg_id (or "hello") -> refusals so far: the back-off step

  // "busy": the server is at capacity and took nothing. Resend the same frame (the same client
  // id, so a resend never stores twice) after the pause it asks for, doubling per refusal.
  function retryBusy(f) {
    var key = f.client_msg_id || "hello";
    var tries = (busyTries[key] = (busyTries[key] || 0) + 1);
    var wait = Math.min(30000, (f.retry_after_ms || 500) * Math.pow(2, Math.min(tries - 1, 5)));
    setTimeout(function () {
      if (!f.client_msg_id) {
        if (ws && ws.readyState === 1 && !ready) ws.send(helloFrame());
        return;
      }
      var item = outbox().filter(function (i) {
        return i.client_msg_id === f.client_msg_id;
      })[0];
      if (item && ready) send({ type: "message", client_msg_id: item.client_msg_id, body: item.body, handoff: !!item.handoff });
    }, wait * (0.75 + Math.random() / 2));
  }

  function acked(frame) {
    delete busyTries[frame.client_msg_id];
    save(
      OUTBOX_KEY,
      outbox().filter(function (i) {
        return i.client_msg_id !== frame.client_msg_id;
      })
    );
    seen[frame.message_id] = true;
    if (frame.message_id > lastId) lastId = frame.message_id;
    markSent(frame.client_msg_id, frame.message_id);
  }

  function showRating(show) {
    rateBox.hidden = !show;
    if (show) scrollDown();
  }

  var handlers = {
    ready: function (f) {
      if (f.visitor_token) save(TOKEN_KEY, f.visitor_token);
      if (f.conversation_id !== conversationId) showRating(false);
      conversationId = f.conversation_id;
      ready = true;
      retry = 0;
      delete busyTries.hello;
      setStatus("widget.online");
      if (f.status !== "queued") showBanner("");
      flushOutbox();
      if (identityToken && f.visitor_token) {
        send({ type: "verify", method: "token", token: identityToken });
        identityToken = null;
      }
    },
    ack: acked,
    "message.created": function (f) {
      showMessage(f.message);
    },
    handoff: function (f) {
      showBanner(f.queue_position ? t("widget.queued", { n: f.queue_position }) : t("widget.queued_next"));
    },
    typing: function () {
      typingEl.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () {
        typingEl.hidden = true;
      }, 4000);
    },
    code_sent: function (f) {
      verifyMessage(t("widget.code_sent", { target: f.target, minutes: Math.round(f.expires_in / 60) }));
      document.getElementById("xw-code-form").hidden = false;
      document.getElementById("xw-code").focus();
    },
    verified: function (f) {
      verifying = false;
      verifyMessage("");
      document.getElementById("xw-identify").open = false;
      document.getElementById("xw-code-form").hidden = true;
      showBanner(t("widget.verified", { name: f.customer_name }));
    },
    verification_expired: function () {
      showBanner(t("widget.verification_expired"));
    },
    "conversation.closed": function () {
      showBanner("");
      showRating(true);
    },
    "rating.saved": function () {
      showRating(false);
      bubble("system", "", t("widget.rate_thanks"));
    },
    error: function (f) {
      if (f.code === "busy" && (f.client_msg_id || f.frame_type === "hello")) {
        retryBusy(f);
        return;
      }
      var key = "widget.error." + f.code;
      var text = S[key] ? t(key, f) : t("widget.error", { message: f.message });
      // Answers to the verification panel show there, next to the form they belong to.
      if (verifying && VERIFY_ERRORS.indexOf(f.code) >= 0) {
        verifying = false;
        verifyMessage(text);
        return;
      }
      bubble("system", "", text, "xw-error");
    },
  };

  function connect() {
    setStatus(retry ? "widget.offline" : "widget.connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws/chat/" + encodeURIComponent(shop) +
      "?lang=" + encodeURIComponent(boot.locale || ""));
    ws.onopen = function () {
      ws.send(helloFrame());
    };
    ws.onmessage = function (ev) {
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      var h = handlers[frame.type];
      if (h) h(frame);
    };
    ws.onclose = function () {
      ready = false;
      setStatus("widget.offline");
      retry += 1;
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, Math.min(retry, 5))));
    };
  }

  document.getElementById("xw-compose").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    if (body.length > boot.max_chars) {
      bubble("system", "", t("widget.error", { message: "> " + boot.max_chars }), "xw-error");
      return;
    }
    input.value = "";
    queueMessage(body, false);
  });

  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      document.getElementById("xw-compose").requestSubmit();
    }
  });

  input.addEventListener("input", function () {
    var now = Date.now();
    if (ready && now - lastTypingSent > 2000) {
      lastTypingSent = now;
      send({ type: "typing" });
    }
  });

  document.getElementById("xw-human").addEventListener("click", function () {
    queueMessage(t("widget.human"), true);
  });

  function verifyMessage(text) {
    document.getElementById("xw-verify-msg").textContent = text;
  }

  function sendVerify(frame) {
    verifying = true;
    verifyMessage("");
    if (!send(frame)) verifying = false;
  }

  function fieldValue(id) {
    return document.getElementById(id).value.trim();
  }

  document.getElementById("xw-verify-order").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendVerify({ type: "verify", method: "order", order_no: fieldValue("xw-order-no"), phone_last4: fieldValue("xw-last4") });
  });

  document.getElementById("xw-code-request").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendVerify({ type: "verify_request", channel: document.getElementById("xw-code-channel").value, target: fieldValue("xw-code-target") });
  });

  document.getElementById("xw-code-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendVerify({ type: "verify", method: "code", code: fieldValue("xw-code") });
  });

  // The merchant's site may open the widget with `#identity=<signed token>` for a logged-in
  // shopper (docs/subsystems/chat-protocol.md). The fragment never reaches any server log;
  // it is taken off the address at once and sent once the socket is ready.
  var identityToken = null;
  (function () {
    var m = /(?:^|[#&])identity=([^&]+)/.exec(location.hash);
    if (!m) return;
    try {
      identityToken = decodeURIComponent(m[1]);
    } catch (e) {
      identityToken = null;
    }
    if (history.replaceState) history.replaceState(null, "", location.pathname + location.search);
  })();

  Array.prototype.forEach.call(document.querySelectorAll(".xw-star"), function (star) {
    star.addEventListener("click", function () {
      rating = Number(star.dataset.value);
      Array.prototype.forEach.call(document.querySelectorAll(".xw-star"), function (s) {
        var on = Number(s.dataset.value) <= rating;
        s.classList.toggle("on", on);
        s.setAttribute("aria-checked", String(Number(s.dataset.value) === rating));
      });
    });
  });

  document.getElementById("xw-rate-submit").addEventListener("click", function () {
    if (!rating) {
      bubble("system", "", t("widget.rate_required"), "xw-error");
      return;
    }
    var comment = document.getElementById("xw-comment").value.trim();
    if (send({ type: "rating", rating: rating, comment: comment })) return;
    // Offline: the same rating over HTTP (the server accepts one rating per conversation).
    fetch("/api/v1/chat/" + encodeURIComponent(shop) + "/rating", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ visitor_token: load(TOKEN_KEY, ""), rating: rating, comment: comment }),
    }).then(function (r) {
      if (r.ok) handlers["rating.saved"]({});
    });
  });

  connect();
})();
