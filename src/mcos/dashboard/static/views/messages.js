// Message log: live, newest at the bottom, filters by agent, channel and kind.

import { S } from "../state.js";
import { esc, time, dateTime, who } from "../format.js";
import { options } from "../ui.js";

const MAX_ROWS = 600;
let root = null;
let log = null;
const filters = { agent: "", channel: "", kind: "" };

function target(m) {
  if (m.scope === "fleet") return `<span class="to fleet">everyone</span>`;
  if (m.scope === "channel" || (m.channel && !m.to)) return `<span class="to channel">#${esc(m.channel)}</span>`;
  return `<a class="to agent" href="#/agents/${encodeURIComponent(m.to || "")}">${esc(nameOf(m.to))}</a>`;
}

function nameOf(n) {
  const a = S.agents.get(n);
  return a ? a.display_name || a.name : n || "—";
}

function senderHtml(sender) {
  const s = who(sender);
  if (String(sender || "").startsWith("agent:")) return `<a class="from" href="#/agents/${encodeURIComponent(s)}">${esc(nameOf(s))}</a>`;
  return `<span class="from other">${esc(s)}</span>`;
}

export function messageRow(m) {
  const kind = m.kind || "chat";
  return `<div class="msg kind-${esc(kind)} scope-${esc(m.scope)}" data-message="${esc(m.id)}" data-kind="${esc(kind)}">` +
    `<time datetime="${esc(m.ts)}" title="${esc(dateTime(m.ts))}">${esc(time(m.ts))}</time>` +
    `<span class="route">${senderHtml(m.sender)} <span class="arrow" aria-label="to">→</span> ${target(m)}</span>` +
    `<span class="badge k-${esc(kind)}">${kind === "directive" ? "▶ " : ""}${esc(kind)}</span>` +
    `<span class="body">${esc(m.body)}</span>` +
    (m.task_id ? `<a class="task-ref" href="#/board?task=${esc(m.task_id)}">#${esc(m.task_id)}</a>` : "") +
    `</div>`;
}

function matches(m) {
  if (filters.kind && m.kind !== filters.kind) return false;
  if (filters.channel && m.channel !== filters.channel) return false;
  if (filters.agent) {
    const s = who(m.sender);
    if (s !== filters.agent && m.to !== filters.agent) return false;
  }
  return true;
}

function atBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

function renderLog() {
  const list = [];
  for (let i = S.messages.length - 1; i >= 0 && list.length < MAX_ROWS; i--) {
    if (matches(S.messages[i])) list.push(S.messages[i]);
  }
  list.reverse();
  log.innerHTML = list.length ? list.map(messageRow).join("") : `<p class="empty">No messages match.</p>`;
  log.scrollTop = log.scrollHeight;
  const info = root.querySelector("#msg-info");
  if (info) info.textContent = `${list.length} shown (the last ${S.messages.length} loaded)`;
}

function controls() {
  const agents = [...S.agents.values()].map((a) => [a.name, a.display_name || a.name]).sort((x, y) => x[1].localeCompare(y[1]));
  const channels = new Set();
  for (const a of S.agents.values()) for (const c of a.channels || []) channels.add(c);
  for (const m of S.messages) if (m.channel) channels.add(m.channel);
  return `<div class="toolbar">
    <h1>Messages</h1>
    <label>Agent <select id="filter-msg-agent">${options(agents, filters.agent, { all: "all" })}</select></label>
    <label>Channel <select id="filter-msg-channel">${options([...channels].sort().map((c) => [c, "#" + c]), filters.channel, { all: "all" })}</select></label>
    <label>Kind <select id="filter-msg-kind">${options(["directive", "report", "question", "chat"], filters.kind, { all: "all" })}</select></label>
    <span id="msg-info" class="muted small"></span>
    <button type="button" id="msg-bottom" class="ghost small" hidden>↓ newest</button>
  </div>`;
}

export default {
  mount(el, query) {
    root = el;
    root.innerHTML = controls() + `<div class="msglog" id="msglog" role="log" aria-live="polite" aria-label="Message log"></div>`;
    log = root.querySelector("#msglog");
    root.addEventListener("change", (e) => {
      if (e.target.id === "filter-msg-agent") filters.agent = e.target.value;
      else if (e.target.id === "filter-msg-channel") filters.channel = e.target.value;
      else if (e.target.id === "filter-msg-kind") filters.kind = e.target.value;
      else return;
      renderLog();
    });
    root.addEventListener("click", (e) => {
      if (e.target.id === "msg-bottom") { log.scrollTop = log.scrollHeight; e.target.hidden = true; }
    });
    log.addEventListener("scroll", () => {
      const b = root && root.querySelector("#msg-bottom");
      if (b && atBottom()) b.hidden = true;
    }, { passive: true });
    renderLog();
    // #/messages?msg=ID (from a mail's flag, say): that message, shown and marked
    const target = query && new URLSearchParams(query).get("msg");
    const row = target && /^\d+$/.test(target) ? log.querySelector(`[data-message="${target}"]`) : null;
    if (row) { row.classList.add("target"); row.scrollIntoView({ block: "center" }); }
  },
  unmount() { root = null; log = null; },
  update(ch) {
    if (!log || !ch.messages.length) return;
    const fresh = ch.messages.filter(matches);
    if (!fresh.length) return;
    const stick = atBottom();
    const empty = log.querySelector(".empty");
    if (empty) empty.remove();
    log.insertAdjacentHTML("beforeend", fresh.map(messageRow).join(""));
    let extra = log.children.length - MAX_ROWS;
    while (extra-- > 0) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
    else root.querySelector("#msg-bottom").hidden = false;
  },
};
