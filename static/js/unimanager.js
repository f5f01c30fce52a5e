/* Unimanager page helpers, loaded by every page before its own scripts.
 *
 * Pages run under a Content-Security-Policy without inline scripts or handlers, so the few behaviours
 * templates used to write inline are declared with data attributes and wired here:
 *
 *   <form data-confirm="Remove alice?">        asks before submitting
 *   <select data-autosubmit>                   submits its form when changed
 *   <div data-open-modal="modal-create">       opens that Tabler modal once the page has loaded
 *   <div data-swap-client-errors hx-...>       htmx swaps 4xx answers in (they carry the form's refusal)
 *
 * Anything that becomes HTML from a string (a chart tooltip formatter, a template literal) passes
 * every value through Unimanager.escapeHtml; everything else uses textContent or DOM building.
 */
(function () {
  "use strict";
  const Unimanager = window.Unimanager = window.Unimanager || {};

  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  Unimanager.escapeHtml = function (value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
  };

  // The badge of an operation's status, the same on every page that follows operations.
  const OPERATION_BADGES = {pending: "bg-yellow-lt", running: "bg-blue-lt", succeeded: "bg-success-lt",
                            failed: "bg-danger-lt", cancelled: "bg-secondary-lt"};
  Unimanager.operationBadgeClass = function (status) { return "badge " + (OPERATION_BADGES[status] || ""); };
  Unimanager.operationBadge = function (status, testid) {
    const badge = document.createElement("span");
    badge.className = Unimanager.operationBadgeClass(status);
    if (testid) badge.dataset.testid = testid;
    badge.textContent = status;
    return badge;
  };

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el instanceof HTMLElement && el.hasAttribute("data-autosubmit") && el.form) el.form.requestSubmit();
  });

  window.addEventListener("load", () => {
    document.querySelectorAll("[data-open-modal]").forEach((marker) => {
      const modal = document.getElementById(marker.dataset.openModal);
      if (modal && window.tabler) window.tabler.Modal.getOrCreateInstance(modal).show();
    });
  });

  document.addEventListener("htmx:beforeSwap", (ev) => {
    const status = ev.detail.xhr.status;
    if (status >= 400 && status < 500 && ev.target instanceof Element && ev.target.closest("[data-swap-client-errors]")) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });
})();
