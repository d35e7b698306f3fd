// Boot, sign-in, routing and the top bar.

import { get, post, del, setCsrf, setUnauthorizedHandler } from "./api.js";
import { S, loadSnapshot, subscribe, setFullReloader, waitingCount, livenessCounts,
  totalDailyBudget, spendToday } from "./state.js";
import * as live from "./live.js";
import { esc, money, dateTime } from "./format.js";
import { glyph, refusal } from "./ui.js";
import fleet from "./views/fleet.js";
import board from "./views/board.js";
import messages from "./views/messages.js";
import inbox from "./views/inbox.js";
import spend from "./views/spend.js";
import agent from "./views/agent.js";
import brief from "./views/brief.js";
import mail from "./views/mail.js";
import registry from "./views/registry.js";

const VIEWS = { fleet, board, messages, inbox, spend, brief, agent };
VIEWS.mail = mail;
VIEWS.registry = registry;
const $ = (id) => document.getElementById(id);

let current = null;       // {name, view, param}
let signedIn = false;
let ticker = null;

// ---- sign-in ---------------------------------------------------------------------------

function showSignin(message = "") {
  signedIn = false;
  live.stop();
  clearInterval(ticker);
  if (current) { try { current.view.unmount?.(); } catch { /* ignore */ } current = null; }
  $("view").innerHTML = "";
  $("app").hidden = true;
  $("signin-screen").hidden = false;
  $("signin-error").textContent = message;
  document.title = "Sign in — Mission Control";
  delete document.body.dataset.ready;
  setTimeout(() => $("token").focus(), 0);
}

setUnauthorizedHandler(() => {
  if (signedIn) showSignin("Your session has ended. Sign in again.");
});

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  const err = $("signin-error");
  err.textContent = "";
  const button = e.target.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await post("/api/v1/dashboard/session", { token }, { quiet401: true });
    $("token").value = "";
    setCsrf(res.csrf);
    await start(res);
  } catch (ex) {
    err.textContent = ex.display || ex.message || "sign-in failed";
  } finally {
    button.disabled = false;
  }
});

$("signout").addEventListener("click", async () => {
  try { await del("/api/v1/dashboard/session"); } catch (e) { /* the cookie may already be gone */ }
  setCsrf(null);
  showSignin("Signed out.");
});

// ---- start -----------------------------------------------------------------------------

async function loadAll() {
  const snap = await get("/api/v1/dashboard/snapshot");
  loadSnapshot(snap);
  document.body.dataset.role = S.role;
  document.body.dataset.lastSeq = String(S.lastSeq);
  live.open(S.lastSeq);
}

async function reloadAll() {
  try {
    await loadAll();
  } catch (e) {
    console.warn("snapshot reload failed", e && e.message);
    if (signedIn && e.status !== 401) setTimeout(() => { if (signedIn) live.open(S.lastSeq); }, 2000);
  }
}
setFullReloader(reloadAll);
live.onResync(reloadAll);

async function start(session) {
  signedIn = true;
  S.role = session.role || "";
  // One switch for every write control (marked data-write): a viewer sees none of them; the
  // server refuses a viewer's changes regardless.
  document.body.dataset.role = S.role;
  $("signout").title = session.operator ? `Sign out (${session.operator})` : "Sign out";
  const whoEl = $("tb-who");
  whoEl.textContent = `${session.operator} · ${S.role}${S.role === "viewer" ? " (read-only)" : ""}`;
  whoEl.title = `Signed in as operator ${session.operator}, ${S.role}`;
  $("signin-screen").hidden = true;
  $("app").hidden = false;
  $("view").innerHTML = `<p class="loading">Loading the fleet…</p>`;
  try {
    await loadAll();
  } catch (e) {
    if (e.status === 401) return;
    $("view").innerHTML = `<p class="error">Could not load the snapshot: ${esc(e.display || e.message)}</p>`;
    return;
  }
  route();
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
}

live.onStreamState((s) => {
  const el = $("tb-stream");
  el.dataset.state = s;
  el.querySelector(".label").textContent = s;
  el.title = s === "live" ? "Live: events arrive as they happen" :
    s === "connecting" ? "Connecting to the live stream…" : "Offline: reconnecting with backoff";
  if (s === "offline" && signedIn) get("/api/v1/dashboard/session").catch(() => {});
});

// ---- routing ---------------------------------------------------------------------------

function parseHash() {
  const full = location.hash.replace(/^#\/?/, "");
  const [h, query = ""] = full.split("?");
  const [name, ...rest] = h.split("/");
  if (name === "agents" && rest.length) return { name: "agent", param: decodeURIComponent(rest.join("/")) };
  if (name === "mail" && /^\d+$/.test(rest[0] || "")) return { name: "mail", param: rest[0] };
  if (VIEWS[name] && name !== "agent") return { name, param: query || null };
  return { name: "fleet", param: null };
}

function route() {
  if (!signedIn || !S.loaded) return;
  const { name, param } = parseHash();
  if (current && current.name === name && current.param === param) return;
  if (current) { try { current.view.unmount?.(); } catch (e) { console.error(e); } }
  delete document.body.dataset.ready;
  const root = $("view");
  root.innerHTML = "";
  root.className = `view view-${name}`;
  current = { name, param, view: VIEWS[name], gen: S.generation };
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    const on = a.dataset.view === name || (name === "agent" && a.dataset.view === "fleet");
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const done = () => { if (current && current.name === name) document.body.dataset.ready = "1"; };
  try {
    const r = current.view.mount(root, param);
    if (r && typeof r.then === "function") r.then(done, (e) => { console.error(e); done(); });
    else done();
  } catch (e) {
    console.error(e);
    root.innerHTML = `<p class="error">This view failed to render: ${esc(e.message)}</p>`;
    done();
  }
  renderTopbar();
  renderNotifyBanner();
  renderDemoStrip();
}

window.addEventListener("hashchange", route);

// ---- top bar ---------------------------------------------------------------------------

let lastTopbar = "";
function renderTopbar() {
  if (!S.loaded) return;
  const counts = livenessCounts();
  let states = "";
  for (const s of ["stalled", "offline", "working", "idle", "compacting", "cooling_down", "suspended"]) {
    const c = counts[s] || 0;
    if (!c && s !== "stalled" && s !== "offline") continue;
    const alarm = (s === "stalled" || s === "offline") && c > 0 ? " alarm" : c === 0 ? " zero" : "";
    const short = s === "cooling_down" ? "cooling" : s;
    const minor = s === "stalled" || s === "offline" ? "" : " minor";
    states += `<a href="#/fleet?state=${s}" class="tb-state lv-${s}${alarm}${minor}" data-state="${s}" title="${c} ${s.replace("_", " ")}" aria-label="${c} ${s.replace("_", " ")}">` +
      `<span class="glyph" aria-hidden="true">${glyph(s)}</span><b>${c}</b><span class="lbl"> ${esc(short)}</span></a>`;
  }
  const budget = totalDailyBudget();
  const today = spendToday();
  const over = budget !== null && today > budget;
  const spendHtml = `<span class="label">today</span> <b class="num${over ? " over" : ""}">${esc(money(today))}</b>` +
    (budget !== null ? ` <span class="muted">/ ${esc(money(budget))}</span>` : ` <span class="muted">/ no budget</span>`);
  const waiting = waitingCount();
  const pending = S.approvals.length + S.incidents.length;
  const html = states + "|" + spendHtml + "|" + waiting + "|" + pending + "|" + S.fleet.name;
  if (html === lastTopbar) return;
  lastTopbar = html;
  $("tb-states").innerHTML = states;
  $("tb-spend").innerHTML = spendHtml;
  const w = $("tb-waiting");
  w.textContent = waiting === 1 ? "1 waiting for you" : `${waiting} waiting for you`;
  w.classList.toggle("hot", waiting > 0);
  w.title = pending > waiting ? `${pending - waiting} more pending for others` : "";
  $("tb-fleet").textContent = S.fleet.name || "Mission Control";
  document.title = `${waiting > 0 ? `(${waiting}) ` : ""}Mission Control — ${S.fleet.name || "fleet"}`;
}

// ---- the simulation strip (mcos demo) -------------------------------------------------

let lastScene = -1;
function renderDemoStrip() {
  const strip = $("demo-strip");
  const scenes = S.scenes || [];
  strip.hidden = !(S.fleet && S.fleet.simulated) && scenes.length === 0;
  if (strip.hidden) return;
  const latest = scenes[scenes.length - 1];
  const seq = latest ? latest.seq : 0;
  if (seq === lastScene) return;
  lastScene = seq;
  const line = (s) => `<span class="demo-clock">${esc(s.clock || "")}</span> ` +
    `<span class="demo-story st-${esc(s.story || "day")}">${s.story === "guardrail" ? "guardrail" : esc(s.title || "")}</span> ` +
    `${esc(s.text || "")}`;
  strip.querySelector(".demo-line").innerHTML = latest
    ? line(latest)
    : "Every agent runs on the scripted simulated provider: no real model is called.";
  strip.querySelector("ol").innerHTML = scenes.slice().reverse()
    .map((s) => `<li class="${s.outcome ? "outcome" : ""}">${line(s)}</li>`).join("");
}

// ---- failing notify channels: nothing reaches the operator through them ------------------

let lastNotify = "";
function renderNotifyBanner() {
  const failing = (S.notify || []).filter((c) => c.status === "failing");
  const html = failing.map((c) =>
    `<p data-channel="${esc(c.name)}"><b>Notify channel ${esc(c.name)}</b> (${esc(c.kind)}) failing since ` +
    `${esc(dateTime(c.failing_since))}: ${esc(c.error || "unknown error")}` +
    `${c.waiting ? ` · ${esc(c.waiting)} waiting to be sent` : ""}</p>`).join("");
  if (html === lastNotify) return;
  lastNotify = html;
  const el = $("notify-banner");
  el.innerHTML = html;
  el.hidden = failing.length === 0;
}

subscribe((changes) => {
  if (!signedIn) return;
  renderTopbar();
  renderNotifyBanner();
  renderDemoStrip();
  if (!current) { route(); return; }
  if (changes.full) {
    // a fresh snapshot: re-mount the view in place
    if (current.gen === S.generation) return;
    current = null;
    const keepScroll = $("view").scrollTop;
    route();
    $("view").scrollTop = keepScroll;
    return;
  }
  try { current.view.update?.(changes); } catch (e) { console.error("update failed", e); }
});

function tick() {
  if (!signedIn || !current) return;
  try { current.view.tick?.(); } catch (e) { console.error(e); }
}

// the top bar may wrap on a narrow screen: keep the layout's --topbar-h in step with it
new ResizeObserver((entries) => {
  const h = Math.ceil(entries[0].target.getBoundingClientRect().height);
  if (h) document.documentElement.style.setProperty("--topbar-h", h + "px");
}).observe($("topbar"));

// ---- boot ------------------------------------------------------------------------------

async function boot() {
  document.body.dataset.stream = "offline";
  try {
    const res = await get("/api/v1/dashboard/session", { quiet401: true });
    setCsrf(res.csrf);
    await start(res);
  } catch (e) {
    showSignin(e.status === 401 || e.status === 403 ? "" : (e.display || e.message || ""));
  }
}

window.addEventListener("unhandledrejection", (e) => {
  const r = e.reason;
  if (r && r.status === 401) return;
  if (r && r.display) refusal(r.display);
});

boot();
