// Briefing: the last day of the fleet, as GET /api/v1/briefing assembles it from the data.

import { get } from "../api.js";
import { esc, money, dateTime } from "../format.js";
import { S } from "../state.js";
import { digestHtml } from "./mail.js";

let root = null;

function taskLine(t, extra = "") {
  return `<li><a href="#/board?task=${esc(t.id)}" class="tid">#${esc(t.id)}</a> ${esc(t.title)}` +
    ` <span class="muted">— ${t.assignee ? esc(t.assignee) : "unassigned"}</span>${extra}</li>`;
}

function list(items, empty) {
  return items.length ? `<ul class="brief-list">${items.join("")}</ul>` : `<p class="muted">${esc(empty)}</p>`;
}

function section(title, count, body) {
  return `<section class="panel-box brief-section"><h2>${esc(title)}${count === null ? "" : ` <span class="count">${esc(count)}</span>`}</h2>${body}</section>`;
}

// The orchestrator's own words, marked as the model's; the figures stay the data's below.
function written(w) {
  if (!w) return "";
  const warn = w.unverified_numbers.length
    ? `<p class="banner cool" data-unverified>Numbers not in the data: ${esc(w.unverified_numbers.join(", "))}. Trust the figures below.</p>`
    : "";
  return `<section class="panel-box brief-written" data-written><h2>From ${esc(w.label)} <span class="badge warn">written by the model ${esc(w.model)}</span></h2>` +
    `<p class="muted small">task <a href="#/board?task=${esc(w.task_id)}" class="tid">#${esc(w.task_id)}</a> · ${esc(dateTime(w.written_at))} · every figure below is the data's</p>` +
    `${warn}<div class="brief-text">${esc(w.text).replace(/\n/g, "<br>")}</div></section>`;
}

function fleetToday() {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: S.fleet.timezone || undefined }).format(new Date());
  } catch {
    return new Date().toLocaleDateString("en-CA");
  }
}

// The communications agent's latest digest, rendered as the Mail view renders it.
function inboxDigest(d) {
  if (!d) return "";
  const stale = d.day !== fleetToday()
    ? ` <span class="badge warn" data-stale-digest>not today's: ${esc(d.day)}</span>` : "";
  return `<section class="panel-box brief-digest" data-brief-digest="${esc(d.id)}"><h2>Inbox digest${stale} ` +
    `<a class="small" href="#/mail">all mail →</a></h2>${digestHtml(d)}</section>`;
}

function render(b, digest) {
  const u = b.spend.usage;
  const waiting = [
    ...b.waiting.approvals.map((a) => `<li><a href="#/inbox">approval #${esc(a.id)}</a> ${esc(a.kind)}, ${esc(a.agent)}: ${esc(a.reason || "no reason given")} <span class="muted">— waiting for ${esc(a.waiting_for.join(", "))}</span></li>`),
    ...b.waiting.incidents.map((i) => `<li><a href="#/inbox">incident #${esc(i.id)}</a> <span class="sev sev-${esc(i.severity)}">${esc(i.severity)}</span> ${esc(i.title)} <span class="muted">— waiting for ${esc(i.waiting_for.join(", "))}</span></li>`),
    ...(b.waiting.committees || []).map((c) => `<li><a href="#/inbox">committee #${esc(c.id)}</a> ${esc(c.title)} <span class="muted">— waiting for ${esc(c.waiting_for.join(", "))}</span></li>`),
  ];
  const spenders = u.agents.filter((a) => a.spent.monthly_usd > 0 || a.paused)
    .sort((x, y) => y.spent.monthly_usd - x.spent.monthly_usd);
  const spendRows = spenders.map((a) => `<tr><td><a href="#/agents/${encodeURIComponent(a.agent)}">${esc(a.agent)}</a>${a.paused ? ' <span class="badge crit">paused</span>' : ""}</td>` +
    `<td class="num">${esc(money(a.spent.daily_usd))}</td><td class="num muted">${a.budget.daily_usd == null ? "—" : esc(money(a.budget.daily_usd))}</td>` +
    `<td class="num">${esc(money(a.spent.monthly_usd))}</td><td class="num muted">${a.budget.monthly_usd == null ? "—" : esc(money(a.budget.monthly_usd))}</td></tr>`);
  const v = b.value && b.value.month;
  root.innerHTML = `<div class="toolbar"><h1>Briefing</h1>
      <span class="muted small">the last ${esc(b.hours)} h to ${esc(dateTime(b.generated_at))} · assembled from the data · also <code>mcos brief</code></span></div>
    ${written(b.written)}
    ${inboxDigest(digest)}
    <div class="brief-grid" data-brief>
    ${section("Work done", b.work.done.length, list(b.work.done.map((t) => taskLine(t)), "nothing finished"))}
    ${section("Waiting for review", b.work.review.length, list(b.work.review.map((t) => taskLine(t)), "nothing: every finished task was accepted"))}
    ${section("Blocked", b.work.blocked.length, list(b.work.blocked.map((t) => taskLine(t, t.reason ? `: ${esc(t.reason)}` : "")), "nothing blocked"))}
    ${section("Incidents", b.incidents.length, list(b.incidents.map((i) => `<li><span class="sev sev-${esc(i.severity)}">${esc(i.severity)}</span> #${esc(i.id)} ${esc(i.title)} <span class="muted">from ${esc(i.reporter)}: ${esc(i.status)}${i.resolved_by ? " by " + esc(i.resolved_by) : ""}${i.resolution ? " — " + esc(i.resolution) : ""}</span></li>`), "none raised"))}
    ${section("Waiting for a decision", waiting.length, list(waiting, "nothing"))}
    ${section("Spend", null, `<p>last ${esc(b.hours)} h: <b class="num">${esc(money(b.spend.window_usd))}</b> over ${esc(b.spend.window_calls)} calls · today <b class="num">${esc(money(u.today_usd))}</b> · this month <b class="num">${esc(money(u.month_usd))}</b></p>` +
      (v ? `<p data-value>value this month: <b class="num">${esc(money(v.value_usd))}</b> from ${esc(v.tasks_credited)} tasks, ${esc(v.hours_saved)} h saved · ` +
        `cost <b class="num">${esc(money(v.cost_usd))}</b> (model spend ${esc(money(v.spend_usd))} + fixed costs ${esc(money(v.fixed_costs_usd))}) · ROI ${v.roi === null ? "n/a" : esc(v.roi) + ":1"}</p>` : "") +
      (spendRows.length ? `<table class="data"><thead><tr><th>Agent</th><th class="num">Today</th><th class="num">Daily budget</th><th class="num">Month</th><th class="num">Monthly budget</th></tr></thead><tbody>${spendRows.join("")}</tbody></table>` : `<p class="muted">nothing spent this month</p>`))}
    ${section("Agents that misbehaved", b.misbehaviour.length, list(b.misbehaviour.map((m) => `<li><a href="#/agents/${encodeURIComponent(m.agent)}">${esc(m.agent)}</a>: ${Object.entries(m.what).map(([what, n]) => `${esc(what)} (${esc(n)})`).join("; ")}</li>`), "none"))}
    ${section("Planned today", b.planned.length, list(b.planned.map((t) => taskLine(t, ` <span class="muted">[${esc(t.status.replace("_", " "))}, ${esc(t.priority)}]</span>${t.due_today ? ' <span class="badge warn">due today</span>' : ""}`)), "nothing open"))}
    </div>`;
}

export default {
  async mount(el) {
    root = el;
    root.innerHTML = `<p class="muted">Assembling the briefing…</p>`;
    try {
      // the digest is optional (a fleet without mail has none): its failure never hides the brief
      const [b, digests] = await Promise.all([
        get("/api/v1/briefing"),
        get("/api/v1/mail/digests?limit=1").catch(() => ({ digests: [] })),
      ]);
      if (root === el) render(b, digests.digests[0] || null);
    } catch (e) {
      if (root === el) root.innerHTML = `<p class="error">${esc(e.display || e.message)}</p>`;
    }
  },
  unmount() { root = null; },
  update() {},
  tick() {},
};
