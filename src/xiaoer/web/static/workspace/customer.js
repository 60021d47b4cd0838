// Customer panel: the server-rendered customer 360° fragment, swapped in by htmx.

import { $, h, t } from "./ui.js";

export let panelCustomerId = null;

export function loadCustomerPanel(customerId) {
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

export function panelFailed(customerId) {
  if (customerId !== panelCustomerId) return;
  $("#ws-customer-panel").replaceChildren(h("p", { class: "ws-muted" }, t("customer.unavailable")));
}

document.body.addEventListener("htmx:responseError", (ev) => {
  if (ev.detail?.target?.id === "ws-customer-panel") panelFailed(panelCustomerId);
});
document.body.addEventListener("htmx:sendError", (ev) => {
  if (ev.detail?.target?.id === "ws-customer-panel") panelFailed(panelCustomerId);
});

/** No conversation open: the idle hint, and the next open loads its customer afresh. */
export function clearCustomerPanel() {
  panelCustomerId = null;
  $("#ws-customer-panel").replaceChildren(h("p", { class: "ws-muted" }, t("customer.idle")));
}
