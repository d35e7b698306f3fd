// The task card panel: full history, assign, comment. Lives in document.body (an overlay).

import { S, putTask } from "../state.js";
import { get, post } from "../api.js";
import { esc, dateTime, who, statusLabel } from "../format.js";
import { refusal, ok, options } from "../ui.js";
import { renderArtifacts } from "./artifacts.js";

let panel = null;
let openId = null;
let refreshTimer = null;
let lastFocus = null;

function ensurePanel() {
  if (panel && panel.isConnected) return panel;
  panel = document.createElement("div");
  panel.className = "panel";
  panel.dataset.panel = "task";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Task");
  panel.hidden = true;
  panel.addEventListener("click", onClick);
  panel.addEventListener("change", onChange);
  panel.addEventListener("submit", onSubmit);
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanel(); });
  document.body.appendChild(panel);
  return panel;
}

function historyLine(h) {
  const d = h.data || {};
  let what;
  switch (h.type) {
    case "task.created": what = `created in <b>${esc(statusLabel(d.status || "inbox"))}</b>${d.assignee ? ` for @${esc(d.assignee)}` : ""}`; break;
    case "task.moved": what = `moved <b>${esc(statusLabel(d.from))}</b> → <b>${esc(statusLabel(d.to))}</b>${d.reason ? ` — ${esc(d.reason)}` : ""}`; break;
    case "task.assigned": what = d.to ? `assigned to @${esc(d.to)}${d.from ? ` (was @${esc(d.from)})` : ""}` : `unassigned (was @${esc(d.from || "nobody")})`; break;
    case "task.commented": what = `<span class="comment">${esc(d.body)}</span>`; break;
    case "task.updated": what = `changed <code>${esc(JSON.stringify(d.changes || d))}</code>`; break;
    default: what = `${esc(h.type)} <code>${esc(JSON.stringify(d))}</code>`;
  }
  return `<li class="h-${esc((h.type || "").replace(".", "-"))}"><time>${esc(dateTime(h.ts))}</time> <span class="actor">${esc(who(h.actor))}</span> ${what}</li>`;
}

function render(t) {
  const agents = [...S.agents.keys()].sort();
  const hist = (t.history || []).slice().reverse();
  panel.innerHTML = `<div class="panel-head"><h2><span class="tid">#${esc(t.id)}</span> ${esc(t.title)}</h2>
      <button type="button" class="ghost" data-act="close" aria-label="Close">×</button></div>
    <dl class="facts">
      <dt>Status</dt><dd><span class="status st-${esc(t.status)}">${esc(statusLabel(t.status))}</span></dd>
      <dt>Priority</dt><dd><span class="prio p-${esc(t.priority)}">${esc(t.priority)}</span></dd>
      <dt>Kind</dt><dd>${esc(t.kind || "task")}</dd>
      <dt>Creator</dt><dd>${esc(who(t.creator))}</dd>
      <dt>Created</dt><dd>${esc(dateTime(t.created_at))}</dd>
      <dt>Updated</dt><dd>${esc(dateTime(t.updated_at))}</dd>
      ${t.due_at ? `<dt>Due</dt><dd>${esc(dateTime(t.due_at))}</dd>` : ""}
      ${t.parent_id ? `<dt>Parent</dt><dd><a href="#" data-open="${esc(t.parent_id)}">#${esc(t.parent_id)}</a></dd>` : ""}
      ${(t.depends_on || t.dependencies || []).length ? `<dt>Depends on</dt><dd>${(t.depends_on || t.dependencies).map((i) => `<a href="#" data-open="${esc(typeof i === "object" ? i.id : i)}">#${esc(typeof i === "object" ? i.id : i)}</a>`).join(" ")}</dd>` : ""}
      ${(t.children || []).length ? `<dt>Children</dt><dd>${t.children.map((i) => `<a href="#" data-open="${esc(i)}">#${esc(i)}</a>`).join(" ")}</dd>` : ""}
    </dl>
    <label class="assign" data-write>Assignee <select data-act="assign"><option value="">— unassigned —</option>${options(agents, t.assignee || "")}</select></label>
    ${t.description ? `<div class="description">${esc(t.description)}</div>` : `<p class="muted small">No description.</p>`}
    <section class="artifacts" data-artifacts aria-label="Files"><p class="muted small">Loading files…</p></section>
    <form class="comment-form" data-form="comment" data-write>
      <label>Comment <textarea name="body" rows="2" required placeholder="Add a comment…"></textarea></label>
      <button type="submit" class="primary small">Comment</button>
    </form>
    <h3>History <span class="muted small">(${hist.length})</span></h3>
    <ol class="history">${hist.map(historyLine).join("")}</ol>`;
}

async function load(id, { keepFocus = false } = {}) {
  try {
    const t = await get(`/api/v1/tasks/${id}`);
    if (openId !== id) return;
    putTask(t);
    const active = document.activeElement;
    const typing = active && panel.contains(active) && active.tagName === "TEXTAREA" ? active.value : null;
    render(t);
    renderArtifacts(panel.querySelector("[data-artifacts]"), id);
    if (typing !== null) {
      const ta = panel.querySelector("textarea");
      ta.value = typing;
      ta.focus();
    } else if (!keepFocus) {
      panel.querySelector("[data-act=close]").focus();
    }
  } catch (e) {
    if (openId !== id) return;
    panel.innerHTML = `<div class="panel-head"><h2>#${esc(id)}</h2><button type="button" class="ghost" data-act="close" aria-label="Close">×</button></div>` +
      `<p class="error">${esc(e.display || e.message)}</p>`;
  }
}

export function openPanel(id) {
  if (!id) return;
  ensurePanel();
  if (!panel.hidden && openId === id) return;
  lastFocus = document.activeElement;
  openId = id;
  const t = S.tasks.get(id);
  panel.innerHTML = `<div class="panel-head"><h2><span class="tid">#${esc(id)}</span> ${esc(t ? t.title : "")}</h2>` +
    `<button type="button" class="ghost" data-act="close" aria-label="Close">×</button></div><p class="muted">Loading history…</p>`;
  panel.hidden = false;
  load(id);
}

export function closePanel() {
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  panel.innerHTML = "";
  openId = null;
  if (lastFocus && lastFocus.isConnected) lastFocus.focus();
  lastFocus = null;
}

export function panelUpdate(ch) {
  if (!panel || panel.hidden || openId === null) return;
  if (!ch.tasks.has(openId)) return;
  clearTimeout(refreshTimer);
  const id = openId;
  refreshTimer = setTimeout(() => { if (openId === id) load(id, { keepFocus: true }); }, 300);
}

function onClick(e) {
  if (e.target.closest("[data-act=close]")) { closePanel(); return; }
  const open = e.target.closest("[data-open]");
  if (open) { e.preventDefault(); openId = null; openPanel(Number(open.dataset.open)); }
}

async function onChange(e) {
  if (e.target.dataset.act !== "assign") return;
  const id = openId;
  const assignee = e.target.value || null;
  e.target.disabled = true;
  try {
    const t = await post(`/api/v1/tasks/${id}/assign`, { assignee });
    putTask(t);
    ok(assignee ? `#${id} assigned to ${assignee}.` : `#${id} unassigned.`);
    load(id, { keepFocus: true });
  } catch (ex) {
    refusal(`Assignment of #${id} refused: ${ex.display || ex.message}`);
    load(id, { keepFocus: true });
  }
}

async function onSubmit(e) {
  if (e.target.dataset.form !== "comment") return;
  e.preventDefault();
  const id = openId;
  const ta = e.target.querySelector("textarea");
  const body = ta.value.trim();
  if (!body) return;
  const button = e.target.querySelector("button");
  button.disabled = true;
  try {
    await post(`/api/v1/tasks/${id}/comments`, { body });
    ta.value = "";
    ok(`Comment added to #${id}.`);
    load(id, { keepFocus: true });
  } catch (ex) {
    refusal(`Comment refused: ${ex.display || ex.message}`);
  } finally {
    button.disabled = false;
  }
}

