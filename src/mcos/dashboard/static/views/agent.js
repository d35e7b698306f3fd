// Agent page: everything on its card and more, gauge history, calls, notes, denials, tasks, messages.

import { S } from "../state.js";
import { get, post } from "../api.js";
import { esc, money, tokens, int, time, dateTime, modelBadge, statusLabel, hm } from "../format.js";
import { livenessPill, refusal, ok } from "../ui.js";
import { lineChart } from "../charts.js";
import { gaugeHtml, spendHtml, taskHtml, sinceText } from "./fleet.js";
import { messageRow } from "./messages.js";

let root = null;
let name = null;
let detail = null;
let refetchTimer = null;

function agentObj() { return S.agents.get(name) || (detail && detail.agent) || null; }

function headHtml(a) {
  const sp = a.spend || {};
  const sup = a.supervisor;
  return `<div class="agent-head lv-${esc(a.liveness)}" data-agent-page="${esc(a.name)}" data-liveness="${esc(a.liveness)}">
    <div class="ah-title"><h1>${esc(a.display_name || a.name)} <span class="muted small">${esc(a.name)}</span></h1>${livenessPill(a.liveness)}
      <span class="muted">${esc(a.reported_status || "")}</span>
      <span class="since" data-field="since" title="time since last heartbeat">${esc(sinceText(a))}</span></div>
    <div class="ah-sub">${esc(a.title || "")}${a.role ? ` · <span class="muted">${esc(a.role)}</span>` : ""} · machine <b>${esc(a.machine || "—")}</b> · ${modelBadge(a.provider, a.model)}</div>
    ${a.note ? `<div class="ah-note">“${esc(a.note)}”</div>` : ""}
    ${(a.warnings || []).map((w) => `<div class="banner warn" data-warning>${esc(w)}</div>`).join("")}
    ${a.paused ? `<div class="banner crit">Paused${a.paused_reason ? ": " + esc(a.paused_reason) : ""}</div>` : ""}
    ${a.cooldown_until && a.liveness === "cooling_down" ? `<div class="banner cool">Credential cooling down until ${esc(dateTime(a.cooldown_until))}</div>` : ""}
    <div class="ah-grid">
      <div><span class="k">Context fuel</span><div data-field="gauge">${gaugeHtml(a.gauge, a)}</div></div>
      <div><span class="k">Spend today</span><div data-field="spend">${spendHtml(sp)}</div></div>
      <div><span class="k">This month</span><div><b class="num">${esc(money(sp.month_usd))}</b> <span class="muted">/ ${sp.monthly_budget_usd == null ? "no budget" : esc(money(sp.monthly_budget_usd))}</span></div></div>
      <div><span class="k">Current task</span><div data-field="task">${taskHtml(a.current_task)}</div></div>
      <div><span class="k">Supervisor</span><div>${sup ? `<a href="#/agents/${encodeURIComponent(sup)}">${esc(sup)}</a>` : `<span class="muted">none</span>`}</div></div>
      <div><span class="k">Credential</span><div><code>${esc(a.credential_env || "—")}</code></div></div>
      <div class="wide"><span class="k">Capabilities</span><div class="chips">${(a.capabilities || []).map((c) => `<span class="chip">${esc(c)}</span>`).join("") || `<span class="muted">none</span>`}</div></div>
      <div class="wide"><span class="k">Channels</span><div class="chips">${(a.channels || []).map((c) => `<span class="chip">#${esc(c)}</span>`).join("") || `<span class="muted">none</span>`}</div></div>
    </div>
    <form class="nudge" data-form="nudge" data-write><input name="reason" placeholder="Why nudge? (sent to the agent)" aria-label="Nudge reason" maxlength="500">
      <button type="submit" class="primary small" id="nudge">Nudge</button></form>
  </div>`;
}

function gaugeChart() {
  const hist = (detail && detail.gauge_history) || [];
  const last = hist[hist.length - 1];
  const a = agentObj();
  const window = (last && last.window) || (a && a.context_window) || 0;
  const flush = (last && last.flush_line) || (a && a.flush_line) || null;
  return lineChart({
    points: hist.map((h) => ({ x: Date.parse(h.ts), y: h.tokens, label: hm(h.ts), title: `${dateTime(h.ts)}: ${tokens(h.tokens)} of ${tokens(h.window)}` })),
    yMax: window, hline: flush ? { y: flush, label: `flush line ${tokens(flush)}` } : null,
    label: "context tokens over time", width: 1200, height: 200, cls: "gauge-chart",
  });
}

function callsHtml() {
  const calls = (detail && detail.calls) || [];
  if (!calls.length) return `<p class="muted">No LLM calls recorded.</p>`;
  return `<div class="scroll-x"><table class="data"><thead><tr><th>Time</th><th>Model</th><th class="num">In</th><th class="num">Out</th><th class="num">Cache r/w</th><th class="num">Cost</th><th class="num">Latency</th><th>Task</th></tr></thead><tbody>` +
    calls.map((c) => `<tr><td>${esc(time(c.ts))}</td><td>${modelBadge(c.provider, c.model)}</td><td class="num">${esc(tokens(c.input_tokens))}</td><td class="num">${esc(tokens(c.output_tokens))}</td>` +
      `<td class="num">${esc(tokens(c.cache_read_tokens || 0))}/${esc(tokens(c.cache_write_tokens || 0))}</td><td class="num">${esc(money(c.cost_usd))}</td>` +
      `<td class="num">${c.latency_ms == null ? "—" : esc(int(c.latency_ms)) + " ms"}</td><td>${c.task_id ? `<a href="#/board?task=${esc(c.task_id)}">#${esc(c.task_id)}</a>` : ""}</td></tr>`).join("") +
    `</tbody></table></div>`;
}

function notesHtml() {
  const days = (detail && detail.notes) || [];
  if (!days.length) return `<p class="muted">No memory notes in the last 14 days.</p>`;
  return days.map((d) => `<div class="note-day"><h4>${esc(d.day)}</h4><ul>${(d.notes || []).map((n) =>
    `<li><time>${esc(time(n.ts))}</time> <span class="note-text">${esc(n.content)}</span></li>`).join("")}</ul></div>`).join("");
}

function denialsHtml() {
  const list = (detail && detail.denials) || [];
  if (!list.length) return `<p class="muted">Nothing denied by policy.</p>`;
  return `<table class="data"><thead><tr><th>Time</th><th>Action</th><th>Rule</th><th>Reason</th></tr></thead><tbody>` +
    list.map((d) => `<tr><td>${esc(time(d.ts))}</td><td><code class="action-inline">${esc(actionText(d.action))}</code></td><td><code>${esc(d.rule)}</code></td><td>${esc(d.reason)}</td></tr>`).join("") +
    `</tbody></table>`;
}

function actionText(a) {
  if (!a || typeof a !== "object") return String(a ?? "");
  const cmd = a.command ?? (a.args && a.args.command);
  if (typeof cmd === "string") return `${a.kind || a.type || a.tool || "exec"}: ${cmd}`;
  return JSON.stringify(a);
}

function tasksHtml() {
  const list = (detail && detail.tasks) || [];
  if (!list.length) return `<p class="muted">No tasks.</p>`;
  return `<table class="data"><tbody>` + list.map((t) => {
    const cur = S.tasks.get(t.id) || t;
    return `<tr><td><a href="#/board?task=${esc(cur.id)}">#${esc(cur.id)}</a></td><td>${esc(cur.title)}</td><td><span class="status st-${esc(cur.status)}">${esc(statusLabel(cur.status))}</span></td><td><span class="prio p-${esc(cur.priority)}">${esc(cur.priority)}</span></td></tr>`;
  }).join("") + `</tbody></table>`;
}

function messagesHtml() {
  const list = (detail && detail.messages) || [];
  if (!list.length) return `<p class="muted">No messages.</p>`;
  return list.map(messageRow).join("");
}

function renderBody() {
  const body = root.querySelector("#agent-body");
  if (!body) return;
  body.innerHTML = `
    <section class="panel-box"><h2>Context fuel over time</h2>${gaugeChart()}</section>
    <section class="panel-box"><h2>Recent LLM calls</h2>${callsHtml()}</section>
    <div class="two">
      <section class="panel-box"><h2>Memory notes</h2>${notesHtml()}</section>
      <section class="panel-box"><h2>Denied by policy</h2>${denialsHtml()}</section>
    </div>
    <div class="two">
      <section class="panel-box"><h2>Tasks</h2>${tasksHtml()}</section>
      <section class="panel-box"><h2>Messages</h2><div class="msglog small-log">${messagesHtml()}</div></section>
    </div>`;
  const log = body.querySelector(".small-log");
  if (log) log.scrollTop = log.scrollHeight;
}

function renderHead() {
  const a = agentObj();
  const head = root.querySelector("#agent-headwrap");
  if (!a || !head) return;
  const typed = head.querySelector("input[name=reason]");
  const value = typed ? typed.value : "";
  const hadFocus = typed && document.activeElement === typed;
  head.innerHTML = headHtml(a);
  const input = head.querySelector("input[name=reason]");
  input.value = value;
  if (hadFocus) input.focus();
}

async function load() {
  const want = name;
  try {
    const d = await get(`/api/v1/dashboard/agents/${encodeURIComponent(want)}`);
    if (want !== name || !root) return;
    detail = d;
    renderHead();
    renderBody();
  } catch (e) {
    if (want !== name || !root) return;
    root.querySelector("#agent-body").innerHTML = `<p class="error">${esc(e.display || e.message)}</p>`;
  }
}

function scheduleRefetch() {
  if (refetchTimer) return;
  refetchTimer = setTimeout(() => { refetchTimer = null; if (root) load(); }, 1000);
}

async function onSubmit(e) {
  if (e.target.dataset.form !== "nudge") return;
  e.preventDefault();
  const input = e.target.querySelector("input[name=reason]");
  const reason = input.value.trim() || "nudged from the dashboard";
  const btn = e.target.querySelector("button");
  btn.disabled = true;
  try {
    await post(`/api/v1/agents/${encodeURIComponent(name)}/nudge`, { reason });
    input.value = "";
    ok(`${name} nudged.`);
  } catch (ex) {
    refusal(`Nudge refused: ${ex.display || ex.message}`);
  } finally {
    btn.disabled = false;
  }
}

function concerns(ev) {
  const d = ev.data || {};
  if (ev.subject === `agent:${name}` || d.agent === name) return true;
  if (ev.type === "message.sent") return d.to === name || d.sender === `agent:${name}`;
  if (ev.type && ev.type.startsWith("task.")) return d.assignee === name || d.to === name || d.from === name || ev.actor === `agent:${name}`;
  return false;
}

export default {
  async mount(el, param) {
    root = el;
    name = param;
    detail = null;
    if (!S.agents.has(name)) {
      root.innerHTML = `<p class="error">No agent named “${esc(name)}” in this fleet. <a href="#/fleet">Back to the fleet</a></p>`;
      return;
    }
    root.innerHTML = `<nav class="crumbs"><a href="#/fleet">Fleet</a> › ${esc(name)}</nav><div id="agent-headwrap"></div><div id="agent-body"><p class="muted">Loading…</p></div>`;
    renderHead();
    root.addEventListener("submit", onSubmit);
    await load();
  },
  unmount() { root = null; name = null; detail = null; clearTimeout(refetchTimer); refetchTimer = null; },
  update(ch) {
    if (!root || !name) return;
    if (ch.agents.has(name) || ch.pieces) renderHead();
    let refetch = false;
    let chart = false;
    for (const ev of ch.events) {
      if (!concerns(ev)) continue;
      if (ev.type === "agent.heartbeat") {
        if (detail && ev.data.gauge) {
          detail.gauge_history.push({ ts: ev.ts, tokens: ev.data.gauge.tokens, window: ev.data.gauge.window, flush_line: ev.data.gauge.flush_line });
          if (detail.gauge_history.length > 200) detail.gauge_history.shift();
          chart = true;
        }
      } else if (ev.type !== "agent.liveness_changed") {
        refetch = true;
      }
    }
    if (refetch) scheduleRefetch();
    else if (chart) {
      const box = root.querySelector(".gauge-chart");
      if (box) box.outerHTML = gaugeChart();
    }
  },
  tick() {
    if (!root) return;
    const el = root.querySelector("[data-field=since]");
    const a = agentObj();
    if (el && a) { const t = sinceText(a); if (el.textContent !== t) el.textContent = t; }
  },
};
