// Fleet grid: one dense card per agent, patched by key from the live stream.

import { S, sinceSeconds } from "../state.js";
import { esc, money, tokens, dur, pct, LIVENESS, modelBadge, time } from "../format.js";
import { livenessPill, options } from "../ui.js";
import { meter } from "../charts.js";

let root = null;
let grid = null;
let shown = [];            // names in the grid, in order
const spendCache = new Map(); // name -> last spend html
const ATTENTION_RANK = { stalled: 0, offline: 1, suspended: 2, cooling_down: 3 };
const filters = { machine: "", role: "", state: "", q: "", sort: "attention" };

export function gaugeHtml(g, a) {
  if (!g) {
    const w = a && a.context_window;
    return `<span class="gauge empty" title="no context reading yet"><span class="bar"></span></span>` +
      `<span class="gauge-text muted">no reading${w ? " · window " + esc(tokens(w)) : ""}</span>`;
  }
  const frac = Math.max(0, Math.min(1, g.fraction ?? (g.window ? g.tokens / g.window : 0)));
  const flush = g.window ? Math.max(0, Math.min(1, g.flush_line / g.window)) : null;
  const past = g.past_flush_line ?? (g.tokens >= g.flush_line);
  return `<span class="gauge${past ? " past" : ""}" role="meter" aria-valuemin="0" aria-valuemax="${esc(g.window)}" aria-valuenow="${esc(g.tokens)}" ` +
    `title="${esc(tokens(g.tokens))} of ${esc(tokens(g.window))} tokens; memory flush at ${esc(tokens(g.flush_line))}">` +
    `<span class="bar"><span class="fill" style="width:${(frac * 100).toFixed(1)}%"></span>` +
    (flush !== null ? `<span class="flush" style="left:${(flush * 100).toFixed(1)}%"></span>` : "") +
    `</span></span><span class="gauge-text"><b>${esc(pct(frac))}</b> ${esc(tokens(g.tokens))}` +
    (past ? ` <span class="badge warn" title="past the memory flush line">flush</span>` : `<span class="muted">/${esc(tokens(g.window))}</span>`) + `</span>`;
}

export function spendHtml(sp) {
  if (!sp) return `<span class="muted">—</span>`;
  const b = sp.daily_budget_usd;
  const over = b !== null && b !== undefined && sp.today_usd > b;
  return `<span class="spend-text"><b class="num${over ? " over" : ""}">${esc(money(sp.today_usd))}</b>` +
    `<span class="muted"> / ${b === null || b === undefined ? "no budget" : esc(money(b))}</span></span>` +
    (b ? meter(sp.today_usd, b, { cls: "spend-meter", title: `${money(sp.today_usd)} of ${money(b)} today` }) : "");
}

export function taskHtml(id) {
  if (!id) return `<span class="muted">no task</span>`;
  const t = S.tasks.get(id);
  return `<a href="#/board?task=${esc(id)}" class="task-ref"><span class="tid">#${esc(id)}</span> ${esc(t ? t.title : "")}</a>`;
}

export function sinceText(a) {
  const s = sinceSeconds(a);
  return s === null ? "never reported" : dur(s) + " ago";
}

function sinceClass(a) {
  const s = sinceSeconds(a);
  if (s === null) return "";
  if (S.offlineAfter[a.name] && s > S.offlineAfter[a.name]) return "crit";
  if (S.stalledAfter[a.name] && s > S.stalledAfter[a.name]) return "warn";
  return "";
}

function cardInner(a) {
  const extra = [];
  if (a.paused) extra.push(`<span class="badge crit" title="${esc(a.paused_reason || "")}">paused${a.paused_reason ? ": " + esc(a.paused_reason) : ""}</span>`);
  const warnings = a.warnings || [];
  if (warnings.length) extra.push(`<span class="badge warn" data-field="warnings" title="${esc(warnings.join("\n"))}">⚠ ${esc(warnings.length === 1 ? warnings[0].split(/[:;]\s/)[0] : warnings.length + " warnings")}</span>`);
  if (a.cooldown_until && a.liveness === "cooling_down") extra.push(`<span class="badge cool">cooling until ${esc(time(a.cooldown_until))}</span>`);
  const note = a.note ? `<span class="note" title="${esc(a.note)}">${esc(a.note)}</span>` : "";
  return `<div class="card-head"><a class="name" href="#/agents/${encodeURIComponent(a.name)}">${esc(a.display_name || a.name)}</a>` +
    livenessPill(a.liveness) + `</div>` +
    `<div class="card-sub"><span class="title" title="${esc(a.role || "")}">${esc(a.title || a.role || "")}</span>` +
    `<span class="${("since " + sinceClass(a)).trim()}" data-field="since" title="time since last heartbeat${a.reported_status ? "; reported " + esc(a.reported_status) : ""}">${esc(sinceText(a))}</span></div>` +
    `<div class="card-meta"><span class="machine" title="machine">${esc(a.machine || "—")}</span>${modelBadge(a.provider, a.model)}</div>` +
    `<div class="row" data-field="gauge">${gaugeHtml(a.gauge, a)}</div>` +
    `<div class="row" data-field="spend">${spendHtml(a.spend)}</div>` +
    `<div class="row task" data-field="task">${a.current_task ? taskHtml(a.current_task) : note || taskHtml(null)}</div>` +
    (a.current_task && note ? `<div class="row note-row">${note}</div>` : "") +
    (extra.length ? `<div class="row">${extra.join(" ")}</div>` : "");
}

// An agent that has never reported has not been started: offline, but not an alarm.
function cardClass(a) {
  return `card lv-${a.liveness}` + (a.last_heartbeat_at ? "" : " never");
}

function cardHtml(a) {
  return `<article class="${esc(cardClass(a))}" data-agent="${esc(a.name)}" data-liveness="${esc(a.liveness)}" tabindex="0">${cardInner(a)}</article>`;
}

function visibleNames() {
  const out = [];
  for (const a of S.agents.values()) {
    if (filters.machine && a.machine !== filters.machine) continue;
    if (filters.role && a.role !== filters.role) continue;
    if (filters.state === "attention" && a.liveness !== "stalled" && a.liveness !== "offline") continue;
    if (filters.state && filters.state !== "attention" && a.liveness !== filters.state) continue;
    if (filters.q) {
      const q = filters.q.toLowerCase();
      if (!`${a.name} ${a.display_name || ""} ${a.title || ""} ${a.role || ""}`.toLowerCase().includes(q)) continue;
    }
    out.push(a);
  }
  if (filters.sort === "attention") {
    // Silent, suspended and cooling agents first; the rest by name, so a card does not jump
    // each time its agent goes from idle to working. Never-started agents last: they need a
    // start, not a rescue.
    const rank = (a) => (a.last_heartbeat_at ? ATTENTION_RANK[a.liveness] ?? 4 : 5);
    out.sort((x, y) => rank(x) - rank(y) || x.name.localeCompare(y.name));
  } else if (filters.sort === "spend") {
    out.sort((x, y) => ((y.spend && y.spend.today_usd) || 0) - ((x.spend && x.spend.today_usd) || 0) || x.name.localeCompare(y.name));
  } else if (filters.sort === "gauge") {
    out.sort((x, y) => ((y.gauge && y.gauge.fraction) || 0) - ((x.gauge && x.gauge.fraction) || 0) || x.name.localeCompare(y.name));
  } else {
    out.sort((x, y) => x.name.localeCompare(y.name));
  }
  return out;
}

function renderGrid() {
  const list = visibleNames();
  shown = list.map((a) => a.name);
  spendCache.clear();
  for (const a of list) spendCache.set(a.name, spendHtml(a.spend));
  grid.innerHTML = list.length ? list.map(cardHtml).join("") :
    `<p class="empty">No agent matches these filters.</p>`;
  renderSummary();
}

function renderSummary() {
  const el = root.querySelector("#fleet-summary");
  if (!el) return;
  let bad = 0;
  let never = 0;
  for (const a of S.agents.values()) {
    if (!a.last_heartbeat_at) never++;
    else if (a.liveness === "stalled" || a.liveness === "offline") bad++;
  }
  el.textContent = `${shown.length} of ${S.agents.size} agents shown` + (bad ? ` · ${bad} need attention` : "") +
    (never === S.agents.size ? " · no agent has reported yet: start them with `mcos run` (see the README)" :
      never ? ` · ${never} never reported` : "");
}

function controls() {
  const machines = [...new Set([...S.agents.values()].map((a) => a.machine).filter(Boolean))].sort();
  const roles = [...new Set([...S.agents.values()].map((a) => a.role).filter(Boolean))].sort();
  const states = [["attention", "stalled + offline"], ...LIVENESS.map((s) => [s, s.replace("_", " ")])];
  return `<div class="toolbar">
    <h1>Fleet</h1>
    <label>Machine <select id="filter-machine">${options(machines, filters.machine, { all: "all" })}</select></label>
    <label>Role <select id="filter-role">${options(roles, filters.role, { all: "all" })}</select></label>
    <label>State <select id="filter-state">${options(states, filters.state, { all: "all" })}</select></label>
    <label>Sort <select id="fleet-sort">${options([["attention", "attention first"], ["name", "name"], ["spend", "spend today"], ["gauge", "context fuel"]], filters.sort)}</select></label>
    <input id="fleet-q" type="search" placeholder="Find agent…" value="${esc(filters.q)}" aria-label="Find agent">
    <span id="fleet-summary" class="muted small"></span>
  </div>`;
}

function onChange(e) {
  const id = e.target.id;
  if (id === "filter-machine") filters.machine = e.target.value;
  else if (id === "filter-role") filters.role = e.target.value;
  else if (id === "filter-state") filters.state = e.target.value;
  else if (id === "fleet-sort") filters.sort = e.target.value;
  else if (id === "fleet-q") filters.q = e.target.value.trim();
  else return;
  renderGrid();
}

function onClick(e) {
  if (e.target.closest("a, button, select, input")) return;
  const card = e.target.closest("[data-agent]");
  if (card) location.hash = "#/agents/" + encodeURIComponent(card.dataset.agent);
}

function onKey(e) {
  if (e.key !== "Enter") return;
  const card = e.target.closest && e.target.closest("article[data-agent]");
  if (card && e.target === card) location.hash = "#/agents/" + encodeURIComponent(card.dataset.agent);
}

export default {
  mount(el, query) {
    root = el;
    const want = query && new URLSearchParams(query).get("state");
    if (want) filters.state = want;
    root.innerHTML = controls() + `<section id="fleet-grid" class="fleet-grid" aria-label="Agents"></section>`;
    grid = root.querySelector("#fleet-grid");
    root.addEventListener("change", onChange);
    root.addEventListener("input", (e) => { if (e.target.id === "fleet-q") onChange(e); });
    root.addEventListener("click", onClick);
    root.addEventListener("keydown", onKey);
    renderGrid();
  },
  unmount() { root = null; grid = null; shown = []; },
  update(ch) {
    if (!grid) return;
    if (ch.reorder || ch.pieces) {
      const names = visibleNames().map((a) => a.name);
      if (names.length !== shown.length || names.some((n, i) => n !== shown[i])) {
        const focused = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.agent;
        renderGrid();
        if (focused) grid.querySelector(`[data-agent="${CSS.escape(focused)}"]`)?.focus();
        return;
      }
    }
    for (const name of ch.agents) {
      const a = S.agents.get(name);
      const card = a && grid.querySelector(`[data-agent="${CSS.escape(name)}"]`);
      if (!card) continue;
      if (card.dataset.liveness !== a.liveness) {
        card.dataset.liveness = a.liveness;
      }
      if (card.className !== cardClass(a)) card.className = cardClass(a);
      card.innerHTML = cardInner(a);
      spendCache.set(name, spendHtml(a.spend));
    }
    if (ch.pieces) {
      // a snapshot refresh: patch only the spend figures that changed
      for (const name of shown) {
        if (ch.agents.has(name)) continue;
        const a = S.agents.get(name);
        const html = a && spendHtml(a.spend);
        if (!a || spendCache.get(name) === html) continue;
        spendCache.set(name, html);
        const f = grid.querySelector(`[data-agent="${CSS.escape(name)}"] [data-field="spend"]`);
        if (f) f.innerHTML = html;
      }
    }
    if (ch.tasks.size) {
      // a renamed task shows its new title on the cards working on it
      for (const name of shown) {
        const a = S.agents.get(name);
        if (a && a.current_task && ch.tasks.has(a.current_task)) {
          const f = grid.querySelector(`[data-agent="${CSS.escape(name)}"] [data-field="task"]`);
          if (f) f.innerHTML = taskHtml(a.current_task); // (the note shows below when there is a task)
        }
      }
    }
    renderSummary();
  },
  tick() {
    if (!grid) return;
    for (const el of grid.querySelectorAll("[data-field=since]")) {
      const a = S.agents.get(el.closest("[data-agent]").dataset.agent);
      if (!a) continue;
      const text = sinceText(a);
      if (el.textContent !== text) el.textContent = text;
      const cls = ("since " + sinceClass(a)).trim();
      if (el.className !== cls) el.className = cls;
    }
  },
};
