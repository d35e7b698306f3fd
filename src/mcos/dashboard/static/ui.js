// Small shared UI helpers: toasts, liveness pills, selects.

import { esc, livenessLabel } from "./format.js";

const GLYPH = {
  working: "●", idle: "○", stalled: "◆", offline: "✕", suspended: "‖",
  cooling_down: "❄", compacting: "⟳",
};

export function livenessPill(state, attrs = "") {
  const s = state || "unknown";
  return `<span class="pill lv-${esc(s)}" ${attrs}><span class="glyph" aria-hidden="true">${GLYPH[s] || "?"}</span>` +
    `<span class="lv-text" data-field="liveness" data-value="${esc(s)}">${esc(livenessLabel(s))}</span></span>`;
}

export function glyph(state) { return GLYPH[state] || "?"; }
export { livenessLabel };

function container() { return document.getElementById("toasts"); }

/** A refusal or an error: role=alert, class "toast refusal", stays 8 s (click to close). */
export function refusal(message) {
  return toast(message, "refusal", 8000, "alert");
}

export function ok(message) {
  return toast(message, "ok", 4000, "status");
}

function toast(message, kind, ms, role) {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.setAttribute("role", role);
  el.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => el.remove());
  el.appendChild(close);
  container().appendChild(el);
  const all = container().querySelectorAll(".toast");
  if (all.length > 5) all[0].remove();
  setTimeout(() => el.remove(), ms);
  return el;
}

/** <option>s for a select; values escaped. */
export function options(values, selected, { all = null } = {}) {
  let html = all !== null ? `<option value="">${esc(all)}</option>` : "";
  for (const v of values) {
    const [value, label] = Array.isArray(v) ? v : [v, v];
    html += `<option value="${esc(value)}"${value === selected ? " selected" : ""}>${esc(label)}</option>`;
  }
  return html;
}

/** Disable the buttons inside el while a promise runs. */
export async function busy(el, fn) {
  const buttons = el ? [...el.querySelectorAll("button")] : [];
  const was = buttons.map((b) => b.disabled);
  buttons.forEach((b) => { b.disabled = true; });
  try {
    return await fn();
  } finally {
    buttons.forEach((b, i) => { if (b.isConnected) b.disabled = was[i]; });
  }
}
