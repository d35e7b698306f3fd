// In-memory state of the fleet, fed by the snapshot and the event stream.
// Changes are collected and flushed once per animation frame to the subscribers.

import { get } from "./api.js";

export const S = {
  loaded: false,
  fleet: { name: "", timezone: "" },
  operator: "",
  role: "",               // the signed-in person's: owner, approver or viewer
  agents: new Map(),      // name -> agent (+ _hbAt: client ms of last heartbeat)
  tasks: new Map(),       // id -> task summary
  counts: {},             // status -> total (server's task_counts, kept current by events)
  columns: [],
  transitions: {},
  approvals: [],
  incidents: [],
  scenes: [],             // mcos demo's narration, oldest first
  escalations: [],       // silent agents supervision has told the operator about
  committees: [],         // open committees (the inbox shows those where the human votes)
  messages: [],
  usage: null,
  health: null,
  value: null,
  stalledAfter: {},
  offlineAfter: {},
  lastSeq: 0,
  skew: 0,                // server clock - client clock, ms
  snapshotAt: 0,
  generation: 0,         // bumped on every full snapshot load
};

const MAX_MESSAGES = 3000;

let changes = freshChanges();
let scheduled = false;
const subscribers = new Set();

function freshChanges() {
  return { full: false, agents: new Set(), reorder: false, tasks: new Set(), columns: new Set(),
    messages: [], pieces: false, spend: false, events: [] };
}

export function subscribe(fn) { subscribers.add(fn); return () => subscribers.delete(fn); }

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
  // rAF does not run in a hidden tab: flush anyway so state never lags behind.
  setTimeout(() => { if (scheduled) flush(); }, 200);
}

function flush() {
  if (!scheduled) return;
  scheduled = false;
  const c = changes;
  changes = freshChanges();
  for (const fn of subscribers) {
    try { fn(c); } catch (e) { console.error("render failed", e); }
  }
}

export function serverNow() { return Date.now() + S.skew; }

function hbFromSnapshot(a, receivedAt) {
  if (a.seconds_since_heartbeat !== null && a.seconds_since_heartbeat !== undefined) {
    a._hbAt = receivedAt - a.seconds_since_heartbeat * 1000;
  } else if (a.last_heartbeat_at) {
    a._hbAt = Date.parse(a.last_heartbeat_at) - S.skew;
  } else {
    a._hbAt = null;
  }
}

export function loadSnapshot(snap) {
  const receivedAt = Date.now();
  S.skew = snap.now ? Date.parse(snap.now) - receivedAt : 0;
  S.snapshotAt = receivedAt;
  S.fleet = snap.fleet || { name: "" };
  S.operator = snap.operator || "";
  if (snap.role) S.role = snap.role;
  S.agents = new Map();
  for (const a of snap.agents || []) { hbFromSnapshot(a, receivedAt); S.agents.set(a.name, a); }
  S.tasks = new Map();
  for (const t of snap.tasks || []) S.tasks.set(t.id, t);
  S.counts = { ...(snap.task_counts || {}) };
  S.columns = snap.columns || ["inbox", "assigned", "in_progress", "review", "done", "blocked"];
  S.transitions = snap.transitions || {};
  S.messages = (snap.messages || []).slice();
  S.stalledAfter = snap.liveness_stalled_after_seconds || {};
  S.offlineAfter = snap.liveness_offline_after_seconds || {};
  applyPiecesOnly(snap);
  S.lastSeq = snap.last_seq || 0;
  S.loaded = true;
  S.generation++;
  changes = freshChanges();
  changes.full = true;
  schedule();
}

function applyPiecesOnly(snap) {
  S.approvals = snap.approvals || [];
  S.incidents = snap.incidents || [];
  S.committees = snap.committees || [];
  S.escalations = snap.escalations || [];
  S.notify = snap.notify || [];
  S.scenes = snap.scenes || [];
  S.usage = snap.usage || null;
  S.health = snap.health || null;
  S.value = snap.value === undefined ? null : snap.value;
  const receivedAt = Date.now();
  for (const a of snap.agents || []) {
    const mine = S.agents.get(a.name);
    if (!mine) continue;
    if (mine.cooldown_until !== a.cooldown_until || mine.paused !== a.paused || mine.paused_reason !== a.paused_reason ||
        (mine.warnings || []).join("\n") !== (a.warnings || []).join("\n")) {
      changes.agents.add(a.name);
    }
    mine.spend = a.spend;
    mine.warnings = a.warnings || [];
    mine.cooldown_until = a.cooldown_until;
    mine.paused = a.paused;
    mine.paused_reason = a.paused_reason;
    if (a.liveness !== mine.liveness && snap.last_seq >= S.lastSeq) {
      mine.liveness = a.liveness;
      changes.reorder = true;
      changes.agents.add(a.name);
    }
    if (!mine._hbAt) { hbFromSnapshot(a, receivedAt); mine._hbAt = a._hbAt; }
  }
}

// ---- refreshes: the snapshot's pieces (approvals, incidents, usage, health) -------------

let pieceTimer = null;
let lastPieceLoad = 0;
let fullTimer = null;
const PIECE_MIN_INTERVAL = 2000;

export function refreshPieces(delay = 300) {
  if (pieceTimer) return;
  const wait = Math.max(delay, lastPieceLoad + PIECE_MIN_INTERVAL - Date.now());
  pieceTimer = setTimeout(async () => {
    lastPieceLoad = Date.now();
    try {
      const snap = await get("/api/v1/dashboard/snapshot");
      pieceTimer = null;
      applyPiecesOnly(snap);
      changes.pieces = true;
      changes.spend = true;
      schedule();
    } catch (e) {
      pieceTimer = null;
      console.warn("snapshot refresh failed", e && e.message);
    }
  }, wait);
}

let fullReloader = null;
export function setFullReloader(fn) { fullReloader = fn; }
export function refreshFull(delay = 500) {
  if (fullTimer) return;
  fullTimer = setTimeout(() => { fullTimer = null; if (fullReloader) fullReloader(); }, delay);
}

// ---- task refetch (debounced per id) ---------------------------------------------------

const taskFetch = new Set();
let taskTimer = null;
export function refetchTask(id) {
  taskFetch.add(id);
  if (taskTimer) return;
  taskTimer = setTimeout(async () => {
    taskTimer = null;
    const ids = [...taskFetch];
    taskFetch.clear();
    for (const tid of ids.slice(0, 50)) {
      try {
        const t = await get(`/api/v1/tasks/${tid}`);
        putTask(t);
        schedule();
      } catch (e) { /* gone or refused: leave as is */ }
    }
  }, 150);
}

// ---- agent refetch (debounced per name): the server's own view of its warnings -------------

const agentFetch = new Set();
let agentTimer = null;
export function refetchAgent(name) {
  agentFetch.add(name);
  if (agentTimer) return;
  agentTimer = setTimeout(async () => {
    agentTimer = null;
    const names = [...agentFetch];
    agentFetch.clear();
    for (const n of names.slice(0, 50)) {
      try {
        const fresh = await get(`/api/v1/agents/${encodeURIComponent(n)}`);
        const mine = S.agents.get(n);
        if (!mine) continue;
        const warnings = fresh.warnings || [];
        if ((mine.warnings || []).join("\n") !== warnings.join("\n")) {
          mine.warnings = warnings;
          changes.agents.add(n);
          schedule();
        }
      } catch (e) { /* gone or refused: leave as is */ }
    }
  }, 150);
}

function summary(t) {
  const keep = ["id", "title", "kind", "status", "priority", "assignee", "creator", "parent_id",
    "due_at", "created_at", "updated_at", "artifacts"];
  const o = {};
  for (const k of keep) if (k in t) o[k] = t[k];
  return o;
}

export function putTask(t) {
  const old = S.tasks.get(t.id);
  const next = { ...(old || {}), ...summary(t) };
  if (old && old.status !== next.status) {
    changes.columns.add(old.status);
    S.counts[old.status] = Math.max(0, (S.counts[old.status] || 0) - 1);
    S.counts[next.status] = (S.counts[next.status] || 0) + 1;
  } else if (!old) {
    S.counts[next.status] = (S.counts[next.status] || 0) + 1;
  }
  S.tasks.set(t.id, next);
  changes.tasks.add(t.id);
  changes.columns.add(next.status);
}

/** Local move (optimistic or from an event). Returns the previous status. */
export function setTaskStatus(id, status, extra = {}) {
  const t = S.tasks.get(id);
  if (!t) return null;
  const from = t.status;
  if (from !== status) {
    S.counts[from] = Math.max(0, (S.counts[from] || 0) - 1);
    S.counts[status] = (S.counts[status] || 0) + 1;
    changes.columns.add(from);
    changes.columns.add(status);
  }
  Object.assign(t, extra, { status });
  changes.tasks.add(id);
  changes.columns.add(status);
  schedule();
  return from;
}

export function touch() { schedule(); }
export function markTask(id) { changes.tasks.add(id); const t = S.tasks.get(id); if (t) changes.columns.add(t.status); schedule(); }

// ---- events ----------------------------------------------------------------------------

function agentOf(ev) {
  const d = ev.data || {};
  if (d.agent) return d.agent;
  if (ev.subject && ev.subject.startsWith("agent:")) return ev.subject.slice(6);
  return null;
}

function taskIdOf(ev) {
  const d = ev.data || {};
  const v = d.task ?? d.task_id ?? d.id;
  if (typeof v === "number") return v;
  if (ev.subject && ev.subject.startsWith("task:")) return Number(ev.subject.slice(5));
  return null;
}

export function applyEvent(ev) {
  if (typeof ev.seq === "number") {
    if (ev.seq <= S.lastSeq) return; // seen (replay overlap)
    S.lastSeq = ev.seq;
  }
  const d = ev.data || {};
  const type = ev.type || "";
  changes.events.push(ev);
  if (type === "agent.heartbeat") {
    const a = S.agents.get(d.agent);
    if (!a) { refreshFull(); return schedule(); }
    if (a.liveness !== d.liveness) changes.reorder = true;
    a.reported_status = d.status;
    if (d.liveness) a.liveness = d.liveness;
    a.gauge = d.gauge || null;
    a.current_task = d.current_task ?? null;
    a.note = d.note ?? a.note;
    const at = ev.ts ? Date.parse(ev.ts) - S.skew : Date.now();
    a._hbAt = Math.min(Date.now(), at);
    a.last_heartbeat_at = ev.ts || a.last_heartbeat_at;
    changes.agents.add(a.name);
    if (a.current_task && !S.tasks.has(a.current_task)) refetchTask(a.current_task);
  } else if (type === "agent.liveness_changed") {
    const a = S.agents.get(d.agent);
    if (!a) { refreshFull(); return schedule(); }
    if (a.liveness !== d.to) changes.reorder = true;
    a.liveness = d.to;
    changes.agents.add(a.name);
    refreshPieces(); // health counts
  } else if (type === "agent.cooling_down") {
    const a = S.agents.get(agentOf(ev));
    if (a) { a.cooldown_until = d.until || a.cooldown_until; changes.agents.add(a.name); }
    refreshPieces();
  } else if (type === "agent.report_set_aside") {
    refreshPieces(); // its card's warnings are written by the server
  } else if (type === "agent.synced" || type === "agent.removed") {
    refreshFull();
  } else if (type.startsWith("task.")) {
    applyTaskEvent(ev, type, d);
  } else if (type === "artifact.added" || type === "artifact.accepted") {
    const t = S.tasks.get(taskIdOf(ev));
    // the card counts files (names), not versions: a name's first version adds one
    if (t && type === "artifact.added" && d.version === 1) t.artifacts = (t.artifacts || 0) + 1;
    if (t) markTask(t.id); // the open panel lists it
  } else if (type === "message.sent") {
    if (d && d.id !== undefined) {
      S.messages.push(d);
      if (S.messages.length > MAX_MESSAGES) S.messages.splice(0, S.messages.length - MAX_MESSAGES);
      changes.messages.push(d);
    }
  } else if (type === "demo.scene") {
    S.scenes.push({ ...d, seq: ev.seq });
    if (S.scenes.length > 40) S.scenes.splice(0, S.scenes.length - 40);
    changes.scenes = true;
  } else if (type === "usage.recorded") {
    const a = S.agents.get(agentOf(ev));
    const cost = Number(d.cost_usd) || 0;
    if (a && a.spend) {
      a.spend.today_usd = (a.spend.today_usd || 0) + cost;
      a.spend.month_usd = (a.spend.month_usd || 0) + cost;
      changes.agents.add(a.name);
    }
    if (a && d.gauge) { a.gauge = d.gauge; changes.agents.add(a.name); } // an OTLP span's prompt
    if (S.usage) {
      S.usage.today_usd = (S.usage.today_usd || 0) + cost;
      S.usage.month_usd = (S.usage.month_usd || 0) + cost;
    }
    changes.spend = true;
    refreshPieces(2000);
  } else if (type === "mail.sync_failed" || type === "mail.synced") {
    // a mailbox that cannot be read is a warning on its owner's card (the server words it)
    if (d.owner && S.agents.has(d.owner)) refetchAgent(d.owner);
  } else if (type.startsWith("approval.") || type.startsWith("incident.") ||
             type.startsWith("committee.") || type.startsWith("supervision.") ||
             type.startsWith("budget.") || type === "grant.created" ||
             (type === "policy.decided" && d.outcome === "needs_approval")) {
    refreshPieces();
  } else if (type === "notify.failed" || type === "notify.recovered") {
    refreshPieces(); // a channel's banner appears or goes
  }
  schedule();
}

function applyTaskEvent(ev, type, d) {
  const id = taskIdOf(ev);
  if (id === null || Number.isNaN(id)) return;
  const t = S.tasks.get(id);
  if (type === "task.created") {
    if (d.id !== undefined) putTask(d); else refetchTask(id);
  } else if (type === "task.moved") {
    if (t) {
      setTaskStatus(id, d.to, { updated_at: ev.ts || t.updated_at, ...(d.assignee !== undefined ? { assignee: d.assignee } : {}) });
    } else {
      putTask({ id, title: d.title || `#${id}`, status: d.to, assignee: d.assignee ?? null,
        priority: "normal", updated_at: ev.ts });
      refetchTask(id);
    }
  } else if (type === "task.assigned") {
    if (t) setTaskStatus(id, d.status || t.status, { assignee: d.to ?? null, updated_at: ev.ts || t.updated_at });
    else refetchTask(id);
  } else if (type === "task.updated") {
    if (t && d.changes) { Object.assign(t, d.changes, { updated_at: ev.ts || t.updated_at }); markTask(id); }
    else refetchTask(id);
  } else if (type === "task.commented") {
    changes.tasks.add(id);
  } else {
    refetchTask(id);
  }
}

// ---- derived ---------------------------------------------------------------------------

/**
 * May the operator decide this approval/incident now? The server's operator_may_decide, except
 * where a human is required and a human has already decided (the server still says "may").
 */
export function mayDecide(x) {
  if (!x || !x.operator_may_decide) return false;
  const req = x.required || [];
  if (req.includes("human") && Array.isArray(x.waiting_for) && !x.waiting_for.includes("human")) return false;
  return true;
}

/** May the signed-in person change anything? A viewer may not (the server refuses anyway). */
export function mayWrite() {
  return S.role !== "viewer";
}

export function waitingCount() {
  let n = 0;
  for (const a of S.approvals) if (mayDecide(a)) n++;
  for (const i of S.incidents) if (mayDecide(i)) n++;
  for (const c of S.committees) if (c.human && c.status === "open" && (c.waiting_for || []).includes("human")) n++;
  n += (S.escalations || []).length; // silent agents supervision told you about
  return n;
}

export function livenessCounts() {
  const c = {};
  for (const a of S.agents.values()) c[a.liveness] = (c[a.liveness] || 0) + 1;
  return c;
}

export function totalDailyBudget() {
  let total = 0, any = false;
  for (const a of S.agents.values()) {
    const b = a.spend && a.spend.daily_budget_usd;
    if (b !== null && b !== undefined) { total += b; any = true; }
  }
  return any ? total : null;
}

export function spendToday() {
  if (S.usage && typeof S.usage.today_usd === "number") return S.usage.today_usd;
  let t = 0;
  for (const a of S.agents.values()) t += (a.spend && a.spend.today_usd) || 0;
  return t;
}

export function sinceSeconds(a) {
  if (!a || !a._hbAt) return null;
  return Math.max(0, (Date.now() - a._hbAt) / 1000);
}
