// Spend & health: liveness mix, missed heartbeats, watched services, spend per agent and per
// model, tokens over time.

import { S, livenessCounts, spendToday, totalDailyBudget } from "../state.js";
import { get } from "../api.js";
import { esc, money, tokens, int, LIVENESS, time, dateTime, isSimulated, hm } from "../format.js";
import { stackedBar, lineChart, meter } from "../charts.js";
import { glyph } from "../ui.js";
import { servicesHtml } from "./services.js";

let root = null;
let series = null;
let showAll = false;
let period = "today";
let seriesTimer = null;
let seriesDue = 0;
let dirty = false;
let services = null;
let servicesTimer = null;

function modelProviders() {
  const m = new Map();
  for (const a of S.agents.values()) {
    if (!a.model) continue;
    const cur = m.get(a.model);
    m.set(a.model, cur === undefined || cur === a.provider ? a.provider : "mixed");
  }
  return m;
}

function modelName(model, providers) {
  const p = providers.get(model);
  const sim = isSimulated(p, model);
  return `${esc(model)}${sim ? ` <span class="badge sim-badge">simulated</span>` : ""}`;
}

function healthHtml() {
  const c = livenessCounts();
  const segs = LIVENESS.map((s) => ({ value: c[s] || 0, cls: `seg lv-${s}`, label: s.replace("_", " ") }));
  const legend = LIVENESS.filter((s) => c[s]).map((s) =>
    `<span class="legend lv-${s}"><span class="swatch"></span><span class="glyph" aria-hidden="true">${glyph(s)}</span> ${esc(s.replace("_", " "))} <b class="num">${c[s]}</b></span>`).join("");
  const h = S.health || {};
  const cooldowns = (h.cooldowns || []).map((x) =>
    `<li><a href="#/agents/${encodeURIComponent(x.agent)}">${esc(x.agent)}</a> <span class="muted">${esc(x.credential_env || "")}</span> until <b>${esc(time(x.until))}</b></li>`).join("");
  return `<section class="panel-box health">
    <h2>Fleet health</h2>
    <div class="stack-wrap">${stackedBar(segs, { label: "agents by liveness" })}</div>
    <div class="legends">${legend}</div>
    <div class="kpis">
      <div class="kpi"><span class="k">Agents</span><span class="v num">${int(S.agents.size)}</span></div>
      <div class="kpi${(h.heartbeats_missed_24h || 0) > 0 ? " warn" : ""}"><span class="k">Heartbeats missed (24 h)</span><span class="v num">${int(h.heartbeats_missed_24h ?? 0)}</span></div>
      <div class="kpi"><span class="k">Cooling down</span><span class="v num">${int((h.cooldowns || []).length)}</span></div>
    </div>
    ${cooldowns ? `<h3>Cooldowns</h3><ul class="cooldowns">${cooldowns}</ul>` : `<p class="muted small">No credential is cooling down.</p>`}
  </section>`;
}

// ROI on the seed's own cost basis: value over model spend plus the fleet file's fixed costs
// ([costs]), each prorated to the month so far.
function roiBasis(m) {
  const f = m.fixed_costs;
  if (!f) return "";
  const share = `${f.days}/${f.days_in_month} of the month`;
  const fixed = f.items.map((c) => `<tr data-fixed-cost="${esc(c.name)}"><td>Fixed: ${esc(c.name)}${c.description ? ` <span class="muted">${esc(c.description)}</span>` : ""}</td>` +
    `<td class="num muted">${esc(c.currency)} ${esc(c.monthly.toLocaleString())}/month</td><td class="num">${esc(money(c.usd))}</td></tr>`).join("");
  const ratio = m.roi === null || m.roi === undefined ? "n/a" : `${m.roi}:1`;
  return `<table class="data roi-basis" aria-label="ROI this month"><thead><tr><th>This month</th><th class="num">Basis</th><th class="num">USD</th></tr></thead><tbody>
    <tr data-basis="spend"><td>Model spend</td><td class="num muted">measured</td><td class="num">${esc(money(m.spend_usd))}</td></tr>
    ${fixed}
    <tr data-basis="cost"><td><b>Cost</b></td><td class="num muted">${f.items.length ? `fixed costs: ${esc(share)}` : "no [costs] in the fleet file"}</td><td class="num"><b>${esc(money(m.cost_usd))}</b></td></tr>
    <tr data-basis="value"><td>Value</td><td class="num muted">${esc(m.tasks_credited)} tasks accepted</td><td class="num">${esc(money(m.value_usd))}</td></tr>
    <tr data-basis="roi"><td><b>ROI</b></td><td class="num muted">value / cost</td><td class="num"><b>${esc(ratio)}</b></td></tr>
  </tbody></table>`;
}

function totalsHtml() {
  const u = S.usage || {};
  const budget = totalDailyBudget();
  let monthBudget = 0, anyMonth = false;
  for (const a of S.agents.values()) {
    const b = a.spend && a.spend.monthly_budget_usd;
    if (b !== null && b !== undefined) { monthBudget += b; anyMonth = true; }
  }
  const today = spendToday();
  const v = S.value;
  let roi = "", basis = "";
  if (v && v.month) {
    // The value ledger (fleet file): time that finished work saved, against spend this month.
    const m = v.month;
    const ratio = m.roi === null || m.roi === undefined ? "ROI n/a (no spend or no exchange rate)" : `ROI ${m.roi}:1`;
    const local = m.kinds.filter((k) => k.currency !== "USD").reduce((sum, k) => sum + k.value, 0);
    const cur = v.currencies.find((c) => c !== "USD");
    roi = `<div class="kpi roi" title="${esc(m.tasks_credited)} tasks credited, ${esc(m.hours_saved)} h saved this month` +
      (cur ? ` (${esc(cur)} ${esc(local.toLocaleString())})` : "") + `"><span class="k">Value this month</span>` +
      `<span class="v num">${esc(money(m.value_usd))}</span><span class="muted">${esc(ratio)} · ${esc(m.hours_saved)} h saved</span></div>`;
    basis = roiBasis(m);
  }
  return `<section class="panel-box totals"><h2>Spend</h2><div class="kpis">
    <div class="kpi${budget !== null && today > budget ? " crit" : ""}"><span class="k">Today</span><span class="v num">${esc(money(today))}</span><span class="muted">of ${budget === null ? "no budget" : esc(money(budget))}</span></div>
    <div class="kpi"><span class="k">This month</span><span class="v num">${esc(money(u.month_usd ?? 0))}</span><span class="muted">of ${anyMonth ? esc(money(monthBudget)) : "no budget"}</span></div>
    ${roi}</div>
    ${basis}
    ${u.day_starts ? `<p class="muted small">Day started ${esc(dateTime(u.day_starts))}; month ${esc(dateTime(u.month_starts))}.</p>` : ""}
  </section>`;
}

function agentsHtml() {
  const rows = [];
  for (const a of S.agents.values()) {
    const sp = a.spend || {};
    rows.push({ a, v: period === "today" ? sp.today_usd || 0 : sp.month_usd || 0,
      b: period === "today" ? sp.daily_budget_usd : sp.monthly_budget_usd });
  }
  rows.sort((x, y) => y.v - x.v || x.a.name.localeCompare(y.a.name));
  const max = Math.max(0.01, ...rows.map((r) => Math.max(r.v, r.b || 0)));
  const shown = showAll ? rows : rows.slice(0, 25);
  const body = shown.map(({ a, v, b }) => {
    const over = b !== null && b !== undefined && v > b;
    return `<tr data-spend-agent="${esc(a.name)}"><td><a href="#/agents/${encodeURIComponent(a.name)}">${esc(a.display_name || a.name)}</a>${a.paused ? ` <span class="badge crit">paused</span>` : ""}</td>
      <td class="bar-cell">${meter(v, max, { mark: b ?? null, cls: over ? "over" : "", title: `${money(v)} of ${b == null ? "no budget" : money(b)}` })}</td>
      <td class="num${over ? " over" : ""}">${esc(money(v))}</td><td class="num muted">${b == null ? "—" : esc(money(b))}</td></tr>`;
  }).join("");
  return `<section class="panel-box per-agent"><div class="box-head"><h2>Per agent</h2>
      <div class="seg-toggle" role="group" aria-label="Period"><button type="button" data-period="today" aria-pressed="${period === "today"}">Today</button><button type="button" data-period="month" aria-pressed="${period === "month"}">This month</button></div>
      ${rows.length > 25 ? `<button type="button" class="ghost small" data-act="all">${showAll ? "Top 25" : `All ${rows.length}`}</button>` : ""}</div>
    <table class="data"><thead><tr><th>Agent</th><th>Against budget (mark)</th><th class="num">Spent</th><th class="num">Budget</th></tr></thead><tbody>${body}</tbody></table>
  </section>`;
}

function modelsHtml() {
  const u = S.usage || {};
  const list = (period === "today" ? u.models_today : u.models_this_month) || [];
  const providers = modelProviders();
  const max = Math.max(0.0001, ...list.map((m) => m.cost_usd || 0));
  const rows = list.slice().sort((x, y) => (y.cost_usd || 0) - (x.cost_usd || 0)).map((m) =>
    `<tr><td>${modelName(m.model, providers)}</td><td class="bar-cell">${meter(m.cost_usd || 0, max, {})}</td>
     <td class="num">${esc(int(m.calls))}</td><td class="num">${esc(tokens(m.tokens))}</td><td class="num">${esc(money(m.cost_usd))}</td></tr>`).join("");
  return `<section class="panel-box per-model"><h2>Per model <span class="muted small">(${period === "today" ? "today" : "this month"})</span></h2>
    ${rows ? `<table class="data"><thead><tr><th>Model</th><th><span class="sr-only">Share of the cost</span></th><th class="num">Calls</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody>${rows}</tbody></table>` : `<p class="muted">No calls yet.</p>`}
  </section>`;
}

function seriesHtml() {
  if (!series) return `<section class="panel-box series"><h2>Tokens, last 24 h</h2><p class="muted">Loading…</p></section>`;
  const pts = (series.buckets || []).map((b) => {
    const models = Object.entries(b.by_model || {}).map(([m, t]) => `${m}: ${tokens(t)}`).join(", ");
    return { y: b.tokens || 0, label: hm(b.start),
      title: `${dateTime(b.start)}\n${tokens(b.tokens)} tokens · ${money(b.cost_usd)} · ${int(b.calls)} calls${models ? "\n" + models : ""}` };
  });
  const totalCost = (series.buckets || []).reduce((s, b) => s + (b.cost_usd || 0), 0);
  const misses = (series.misses || []).slice(-12).reverse().map((m) =>
    `<li><time>${esc(time(m.ts))}</time> <a href="#/agents/${encodeURIComponent(m.agent)}">${esc(m.agent)}</a> → <span class="pill lv-${esc(m.to)}"><span class="glyph" aria-hidden="true">${glyph(m.to)}</span>${esc(m.to)}</span></li>`).join("");
  return `<section class="panel-box series"><h2>Tokens, last 24 h <span class="muted small">${esc(money(totalCost))} · hover for cost</span></h2>
    ${lineChart({ points: pts, label: "tokens per hour", width: 1000, height: 220 })}
    ${misses ? `<h3>Recent misses</h3><ul class="misses">${misses}</ul>` : ""}
  </section>`;
}

function render() {
  if (!root) return;
  root.innerHTML = `<div class="toolbar"><h1>Spend &amp; health</h1></div>
    <div class="spend-grid">
      <div class="col">${totalsHtml()}${healthHtml()}</div>
      <div class="col wide">${servicesHtml(services)}${seriesHtml()}${agentsHtml()}${modelsHtml()}</div>
    </div>`;
}

async function loadServices() {
  try {
    services = await get("/api/v1/services");
  } catch (e) {
    services = { services: [], totals: {}, window_days: 30 };
  }
  render();
}

async function loadSeries() {
  try {
    series = await get("/api/v1/dashboard/series?hours=24");
  } catch (e) {
    series = { buckets: [], misses: [] };
  }
  seriesDue = Date.now() + 60000;
  render();
}

export default {
  async mount(el) {
    root = el;
    render();
    root.addEventListener("click", (e) => {
      const p = e.target.closest("[data-period]");
      if (p) { period = p.dataset.period; render(); return; }
      if (e.target.closest("[data-act=all]")) { showAll = !showAll; render(); }
    });
    await Promise.all([loadSeries(), loadServices()]);
  },
  unmount() {
    root = null;
    clearTimeout(seriesTimer); seriesTimer = null;
    clearTimeout(servicesTimer); servicesTimer = null;
  },
  update(ch) {
    if (!root) return;
    if (ch.pieces || ch.reorder) render();
    else if (ch.spend) dirty = true; // many usage events: re-render at most once a second
    // A service went down, came back or was remedied: read the services again (at most 4/s).
    const watched = ch.full || ch.events.some((ev) => (ev.type || "").startsWith("service.") ||
      (ev.type || "").startsWith("incident."));
    if (watched && !servicesTimer) {
      servicesTimer = setTimeout(() => { servicesTimer = null; if (root) loadServices(); }, 250);
    }
    if (ch.spend && !seriesTimer) {
      seriesTimer = setTimeout(() => { seriesTimer = null; if (root) loadSeries(); }, 10000);
    }
  },
  tick() {
    if (root && dirty) { dirty = false; render(); }
    if (root && Date.now() > seriesDue && !seriesTimer) { seriesDue = Date.now() + 60000; loadSeries(); }
  },
};
