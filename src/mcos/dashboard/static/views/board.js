// Kanban board: columns from the snapshot, drag and drop + keyboard moves, create form, card panel.

import { S, setTaskStatus, putTask, mayWrite } from "../state.js";
import { post } from "../api.js";
import { esc, PRIORITY_RANK, statusLabel } from "../format.js";
import { refusal, ok, options } from "../ui.js";
import { openPanel, closePanel, panelUpdate } from "./taskpanel.js";

const PAGE = 150;
let root = null;
let boardEl = null;
let limits = {};
let pendingFocus = null;
let dragId = null;
const filters = { assignee: "", q: "", priority: "" };

function label(col) { return statusLabel(col); }

function tasksIn(col) {
  const out = [];
  const q = filters.q.toLowerCase();
  for (const t of S.tasks.values()) {
    if (t.status !== col) continue;
    if (filters.assignee === "-" ? t.assignee : filters.assignee && t.assignee !== filters.assignee) continue;
    if (filters.priority && t.priority !== filters.priority) continue;
    if (q && !(`#${t.id} ${t.title}`.toLowerCase().includes(q))) continue;
    out.push(t);
  }
  if (col === "done") {
    out.sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || "") || b.id - a.id);
  } else {
    out.sort((a, b) => (PRIORITY_RANK[a.priority] ?? 2) - (PRIORITY_RANK[b.priority] ?? 2) || a.id - b.id);
  }
  return out;
}

function cardHtml(t) {
  const a = t.assignee ? S.agents.get(t.assignee) : null;
  return `<article class="tcard pri-${esc(t.priority)}" data-task="${esc(t.id)}" data-status="${esc(t.status)}" draggable="${mayWrite()}" tabindex="0" ` +
    `aria-label="Task ${esc(t.id)}: ${esc(t.title)}, ${esc(t.priority)} priority, ${t.assignee ? "assigned to " + esc(t.assignee) : "unassigned"}">` +
    `<div class="tc-top"><span class="tid">#${esc(t.id)}</span><span class="prio p-${esc(t.priority)}">${esc(t.priority)}</span></div>` +
    `<div class="tc-title">${esc(t.title)}</div>` +
    `<div class="tc-foot">${t.assignee ? `<span class="assignee${a && (a.liveness === "stalled" || a.liveness === "offline") ? " warn" : ""}">@${esc(a ? a.display_name || a.name : t.assignee)}</span>` : `<span class="muted">unassigned</span>`}` +
    (t.kind && t.kind !== "task" ? `<span class="kind">${esc(t.kind)}</span>` : "") +
    (t.artifacts ? `<span class="attachments" data-attachments="${esc(t.artifacts)}" title="${esc(t.artifacts)} attached file${t.artifacts === 1 ? "" : "s"}">📎 ${esc(t.artifacts)}</span>` : "") +
    `</div></article>`;
}

function columnBody(col) {
  const list = tasksIn(col);
  const limit = limits[col] || PAGE;
  const shown = list.slice(0, limit);
  let html = shown.map(cardHtml).join("");
  if (list.length > limit) {
    const more = Math.min(PAGE, list.length - limit);
    html += `<button type="button" class="more" data-more="${esc(col)}">show ${more} more (${list.length - limit} hidden)</button>`;
  }
  if (!list.length) html = `<p class="empty small">nothing here</p>`;
  return { html, shown: list.length };
}

function countText(col, shownCount) {
  const total = S.counts[col] ?? shownCount;
  const filtered = filters.assignee || filters.q || filters.priority;
  if (col === "done" && total > shownCount && !filtered) return `${shownCount} recent of ${total}`;
  return filtered ? `${shownCount} of ${total}` : String(total);
}

function renderColumn(col) {
  const sec = boardEl.querySelector(`[data-column="${CSS.escape(col)}"]`);
  if (!sec) return;
  const { html, shown } = columnBody(col);
  sec.querySelector(".cards").innerHTML = html;
  sec.querySelector(".count").textContent = countText(col, shown);
}

function renderBoard() {
  boardEl.innerHTML = S.columns.map((col) =>
    `<section class="column col-${esc(col)}" data-column="${esc(col)}" aria-label="${esc(label(col))}">` +
    `<header><h2>${esc(label(col))}</h2><span class="count num"></span></header><div class="cards"></div></section>`).join("");
  for (const col of S.columns) renderColumn(col);
}

function formHtml() {
  const agents = [...S.agents.values()].map((a) => [a.name, a.display_name && a.display_name !== a.name ? `${a.display_name} (${a.name})` : a.name])
    .sort((x, y) => x[1].localeCompare(y[1]));
  return `<form id="task-form" class="task-form" data-write hidden>
    <h2>New task</h2>
    <label>Title <input name="title" required maxlength="500" autocomplete="off"></label>
    <label>Description <textarea name="description" rows="3"></textarea></label>
    <div class="form-row">
      <label>Priority <select name="priority">${options(["low", "normal", "high", "urgent"], "normal")}</select></label>
      <label>Assignee <select name="assignee"><option value="">— inbox (unassigned) —</option>${options(agents, "")}</select></label>
    </div>
    <p class="error small" data-role="form-error" role="alert"></p>
    <div class="form-row"><button type="submit" class="primary">Create task</button><button type="button" class="ghost" data-act="cancel-form">Cancel</button></div>
  </form>`;
}

function toolbar() {
  const assignees = [["-", "unassigned"], ...[...S.agents.keys()].sort()];
  return `<div class="toolbar">
    <h1>Board</h1>
    <button id="new-task" type="button" class="primary" data-write>New task</button>
    <label>Assignee <select id="filter-task-assignee">${options(assignees, filters.assignee, { all: "all" })}</select></label>
    <label>Priority <select id="filter-task-priority">${options(["urgent", "high", "normal", "low"], filters.priority, { all: "all" })}</select></label>
    <input id="task-q" type="search" placeholder="Find #id or title…" value="${esc(filters.q)}" aria-label="Find task">
    <span class="muted small hint">${mayWrite() ? "Drag cards, or focus one and press Shift+←/→ to move it; Enter opens it." : "Enter opens a card; as a viewer you cannot move it."}</span>
  </div>`;
}

// ---- moves -----------------------------------------------------------------------------

export async function moveTask(id, to) {
  const t = S.tasks.get(id);
  if (!t || t.status === to || !mayWrite()) return;
  const from = t.status;
  pendingFocus = id;
  setTaskStatus(id, to); // optimistic
  try {
    const res = await post(`/api/v1/tasks/${id}/move`, { status: to });
    if (res && res.id) putTask(res);
  } catch (e) {
    const now = S.tasks.get(id);
    if (now && now.status === to) { pendingFocus = id; setTaskStatus(id, from); }
    refusal(`Move of #${id} to ${statusLabel(to)} refused: ${e.display || e.message}`);
  }
}

function neighbour(col, step) {
  const i = S.columns.indexOf(col);
  return S.columns[i + step] || null;
}

function onKey(e) {
  const card = e.target.closest && e.target.closest("[data-task]");
  if (!card || e.target !== card) {
    if (e.key === "Escape") closePanel();
    return;
  }
  const id = Number(card.dataset.task);
  const t = S.tasks.get(id);
  if (!t) return;
  if (e.shiftKey && (e.key === "ArrowRight" || e.key === "ArrowLeft")) {
    e.preventDefault();
    const to = neighbour(t.status, e.key === "ArrowRight" ? 1 : -1);
    if (to) moveTask(id, to);
  } else if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    openPanel(id);
  } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const sib = e.key === "ArrowDown" ? card.nextElementSibling : card.previousElementSibling;
    if (sib && sib.dataset.task) sib.focus();
  } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
    e.preventDefault();
    const col = neighbour(t.status, e.key === "ArrowRight" ? 1 : -1);
    const first = col && boardEl.querySelector(`[data-column="${CSS.escape(col)}"] [data-task]`);
    if (first) first.focus();
  } else if (e.key === "Escape") {
    closePanel();
  }
}

function onDragStart(e) {
  const card = e.target.closest && e.target.closest("[data-task]");
  if (!card) return;
  dragId = Number(card.dataset.task);
  e.dataTransfer.setData("text/plain", String(dragId));
  e.dataTransfer.effectAllowed = "move";
  const t = S.tasks.get(dragId);
  const allowed = new Set((t && S.transitions[t.status]) || []);
  card.classList.add("dragging");
  boardEl.classList.add("is-dragging");
  for (const sec of boardEl.querySelectorAll("[data-column]")) {
    const col = sec.dataset.column;
    sec.classList.toggle("dim", t && col !== t.status && !allowed.has(col));
  }
}

function clearDrag() {
  dragId = null;
  if (!boardEl) return;
  boardEl.classList.remove("is-dragging");
  for (const el of boardEl.querySelectorAll(".dim, .over, .dragging")) el.classList.remove("dim", "over", "dragging");
}

function onDragOver(e) {
  const sec = e.target.closest && e.target.closest("[data-column]");
  if (!sec) return;
  e.preventDefault(); // always droppable: the server decides
  e.dataTransfer.dropEffect = "move";
  if (!sec.classList.contains("over")) {
    for (const o of boardEl.querySelectorAll(".column.over")) o.classList.remove("over");
    sec.classList.add("over");
  }
}

function onDrop(e) {
  const sec = e.target.closest && e.target.closest("[data-column]");
  if (!sec) return;
  e.preventDefault();
  const id = Number(e.dataTransfer.getData("text/plain") || dragId);
  clearDrag();
  if (id) moveTask(id, sec.dataset.column);
}

// ---- create form -----------------------------------------------------------------------

async function onSubmit(e) {
  if (e.target.id !== "task-form") return;
  e.preventDefault();
  const form = e.target;
  const err = form.querySelector("[data-role=form-error]");
  err.textContent = "";
  const fd = new FormData(form);
  const body = { title: String(fd.get("title") || "").trim(), priority: fd.get("priority") || "normal" };
  const desc = String(fd.get("description") || "").trim();
  if (desc) body.description = desc;
  if (fd.get("assignee")) body.assignee = fd.get("assignee");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const t = await post("/api/v1/tasks", body);
    putTask(t);
    form.reset();
    form.hidden = true;
    pendingFocus = t.id;
    ok(`Task #${t.id} created in ${statusLabel(t.status)}.`);
  } catch (ex) {
    err.textContent = ex.display || ex.message;
    refusal(`Task not created: ${ex.display || ex.message}`);
  } finally {
    button.disabled = false;
  }
}

function onClick(e) {
  const more = e.target.closest("[data-more]");
  if (more) {
    const col = more.dataset.more;
    limits[col] = (limits[col] || PAGE) + PAGE;
    renderColumn(col);
    return;
  }
  if (e.target.closest("#new-task")) {
    const f = root.querySelector("#task-form");
    f.hidden = !f.hidden;
    if (!f.hidden) f.querySelector("[name=title]").focus();
    return;
  }
  if (e.target.closest("[data-act=cancel-form]")) {
    const f = root.querySelector("#task-form");
    f.reset();
    f.hidden = true;
    return;
  }
  const card = e.target.closest("[data-task]");
  if (card && boardEl.contains(card)) openPanel(Number(card.dataset.task));
}

function onFilter(e) {
  const id = e.target.id;
  if (id === "filter-task-assignee") filters.assignee = e.target.value;
  else if (id === "filter-task-priority") filters.priority = e.target.value;
  else if (id === "task-q") filters.q = e.target.value.trim();
  else return;
  for (const col of S.columns) renderColumn(col);
}

export default {
  mount(el, taskParam) {
    root = el;
    limits = {};
    root.innerHTML = toolbar() + formHtml() + `<div class="board" id="board"></div>`;
    boardEl = root.querySelector("#board");
    renderBoard();
    root.addEventListener("click", onClick);
    root.addEventListener("submit", onSubmit);
    root.addEventListener("change", onFilter);
    root.addEventListener("input", (e) => { if (e.target.id === "task-q") onFilter(e); });
    root.addEventListener("keydown", onKey);
    boardEl.addEventListener("dragstart", onDragStart);
    boardEl.addEventListener("dragover", onDragOver);
    boardEl.addEventListener("drop", onDrop);
    boardEl.addEventListener("dragend", clearDrag);
    const open = taskParam && new URLSearchParams(taskParam).get("task");
    if (open) openPanel(Number(open));
  },
  unmount() { closePanel(); root = null; boardEl = null; },
  update(ch) {
    if (!boardEl) return;
    const focusId = pendingFocus ?? (document.activeElement && document.activeElement.dataset && Number(document.activeElement.dataset.task)) ?? null;
    pendingFocus = null;
    for (const col of ch.columns) renderColumn(col);
    if (focusId && ch.columns.size) {
      const card = boardEl.querySelector(`[data-task="${focusId}"]`);
      if (card && document.activeElement !== card) card.focus({ preventScroll: false });
    }
    panelUpdate(ch);
  },
};
