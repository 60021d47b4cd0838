// Behaviour shared by every staff page. Loaded as a file because the CSP allows no inline script
// (and no inline event handlers), so pages declare intent with data-* attributes instead.
"use strict";

// Forms marked data-swap-errors get their 4xx HTML (validation messages) swapped in like a 200.
document.addEventListener("htmx:beforeSwap", function (evt) {
  var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
  var status = evt.detail.xhr.status;
  if (status >= 400 && status < 500 && elt && elt.closest && elt.closest("[data-swap-errors]")) {
    evt.detail.shouldSwap = true;
    evt.detail.isError = false;
  }
});

// <form data-confirm="…">: ask before a destructive post.
document.addEventListener("submit", function (evt) {
  var form = evt.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    evt.preventDefault();
  }
}, true);

// <a data-history-back href="…">: go back when there is somewhere to go, else follow the link.
document.addEventListener("click", function (evt) {
  var link = evt.target instanceof Element && evt.target.closest("a[data-history-back]");
  if (link && window.history.length > 1) {
    evt.preventDefault();
    window.history.back();
  }
});
