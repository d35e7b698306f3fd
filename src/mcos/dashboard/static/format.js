// Formatting and escaping. Every value that reaches innerHTML goes through esc().

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Escape any value for use in HTML text or a quoted attribute. */
export function esc(value) {
  if (value === null || value === undefined) return "";
  return String(value).replace(/[&<>"'`]/g, (c) => ESC[c]);
}

const moneyFmt = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2,
});

/** $1,234.56 (— for null). Tiny non-zero amounts show as <$0.01. */
export function money(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v > 0 && v < 0.005) return "<$0.01";
  return moneyFmt.format(v);
}

/** 950, 12.3k, 4.5M */
export function tokens(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 1e6) return (n / 1e3).toFixed(a < 1e4 ? 1 : a < 1e5 ? 1 : 0).replace(/\.0$/, "") + "k";
  if (a < 1e9) return (n / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
  return (n / 1e9).toFixed(1).replace(/\.0$/, "") + "B";
}

export function int(n) {
  if (n === null || n === undefined) return "—";
  return Number(n).toLocaleString("en-US");
}

export function pct(f) {
  if (f === null || f === undefined || Number.isNaN(f)) return "—";
  return Math.round(f * 100) + "%";
}

/** A duration in seconds as "4s", "3m 12s", "2h 05m", "3d 4h". */
export function dur(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return "—";
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return sec + "s";
  const m = Math.floor(sec / 60);
  if (m < 60) return m + "m " + String(sec % 60).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}

/** "HH:MM:SS" in local time; with the date when not today. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const t = d.toLocaleTimeString("en-GB", { hour12: false });
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return t;
  return d.toLocaleDateString("en-CA") + " " + t.slice(0, 5);
}

export function dateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleDateString("en-CA") + " " + d.toLocaleTimeString("en-GB", { hour12: false });
}

/** "agent:donna" → "donna"; "operator:admin" → "operator admin"; "system" stays. */
export function who(actor) {
  if (!actor) return "—";
  const s = String(actor);
  if (s.startsWith("agent:")) return s.slice(6);
  if (s.startsWith("operator:")) return "op:" + s.slice(9);
  return s;
}

export const LIVENESS = ["stalled", "offline", "suspended", "cooling_down", "compacting", "working", "idle"];
export const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };

export function livenessLabel(s) {
  return s ? String(s).replace(/_/g, " ") : "unknown";
}

/** Is this model simulated? (a simulated model is labelled wherever it shows) */
export function isSimulated(provider, model) {
  return provider === "simulated" || (typeof model === "string" && model.startsWith("simulated"));
}

export function modelBadge(provider, model) {
  const sim = isSimulated(provider, model);
  return `<span class="model-wrap${sim ? " sim" : ""}" title="${esc((provider || "") + " · " + (model || ""))}">` +
    `<span class="model">${esc(model || "—")}</span>` +
    (sim ? `<span class="badge sim-badge">simulated</span>` : "") + `</span>`;
}

export function statusLabel(s) {
  return String(s || "").replace(/_/g, " ");
}

/** Pretty JSON for the frozen action of an approval. */
export function prettyJson(v) {
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

/** "HH:MM" local time. */
export function hm(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}
