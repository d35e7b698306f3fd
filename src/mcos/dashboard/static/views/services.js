// Watched services on the Spend & health view: state, machine, last change, uptime, downtime,
// MTTR, outages stopped, and links to an open outage's incident and task (GET /api/v1/services).

import { esc, dur, pct, dateTime, time } from "../format.js";

const GLYPH = { up: "●", down: "▼", unknown: "?" };

function stateCell(s) {
  return `<span class="pill svc-${esc(s.state)}" title="${esc(s.detail)}"><span class="glyph" aria-hidden="true">${GLYPH[s.state] || "?"}</span>${esc(s.state)}</span>`;
}

function openOutage(s) {
  const o = s.open_outage;
  if (!o) return `<span class="muted">—</span>`;
  const incident = o.incident_id ? `<a href="#/inbox" data-incident="${esc(o.incident_id)}">incident #${esc(o.incident_id)}</a>` : "";
  const task = o.task_id ? `<a href="#/board?task=${esc(o.task_id)}" class="tid" data-task="${esc(o.task_id)}">task #${esc(o.task_id)}</a>` : "";
  return `${incident} ${task} <span class="muted">down ${esc(dur(o.downtime_seconds))}</span>`;
}

/** The services section; ``data`` is GET /api/v1/services (or null while loading). */
export function servicesHtml(data) {
  if (!data) return `<section class="panel-box services"><h2>Services</h2><p class="muted">Loading…</p></section>`;
  if (!data.services.length) {
    return `<section class="panel-box services"><h2>Services</h2><p class="muted">No services are watched: add <code>[[services]]</code> to the fleet file.</p></section>`;
  }
  const t = data.totals;
  const rows = data.services.map((s) => `<tr data-service="${esc(s.name)}" data-state="${esc(s.state)}">
      <td><b>${esc(s.name)}</b> <span class="muted small">${esc(s.kind)} ${esc(s.target)}</span>${s.production ? ` <span class="badge warn">production</span>` : ""}</td>
      <td>${stateCell(s)}</td>
      <td>${esc(s.machine)} <span class="muted small">${s.owner ? `<a href="#/agents/${encodeURIComponent(s.owner)}">${esc(s.owner)}</a>` : ""}</span></td>
      <td title="${esc(s.since ? dateTime(s.since) : "")}">${s.since ? esc(time(s.since)) : "—"}</td>
      <td class="num">${esc(pct(s.uptime))}</td>
      <td class="num">${esc(dur(s.downtime_seconds))}</td>
      <td class="num">${s.mttr_seconds === null ? "—" : esc(dur(s.mttr_seconds))}</td>
      <td class="num">${esc(s.outages_stopped)}</td>
      <td>${openOutage(s)}</td></tr>`).join("");
  return `<section class="panel-box services"><h2>Services <span class="muted small">last ${esc(data.window_days)} days · ${esc(t.down)} down · ${esc(t.outages_stopped)} of ${esc(t.outages)} outages stopped</span></h2>
    <table class="data"><thead><tr><th>Service</th><th>State</th><th>Machine · owner</th><th>Since</th><th class="num">Uptime</th><th class="num">Down</th><th class="num">MTTR</th><th class="num">Stopped</th><th>Open outage</th></tr></thead>
    <tbody>${rows}</tbody></table></section>`;
}
