// The live stream: one EventSource on /api/v1/stream, reopened with backoff when it closes.

import { S, applyEvent } from "./state.js";

const TYPES = [
  "agent.synced", "agent.removed", "agent.heartbeat", "agent.liveness_changed", "agent.nudged",
  "agent.cooling_down", "agent.report_set_aside", "token.issued", "token.revoked", "token.rotated",
  "task.created", "task.updated", "task.assigned", "task.moved", "task.commented",
  "artifact.added", "artifact.accepted",
  "message.sent", "policy.decided",
  "approval.requested", "approval.decided", "approval.approved", "approval.denied",
  "approval.expired", "approval.applied", "grant.created",
  "incident.raised", "incident.confirmed", "incident.dismissed",
  "committee.opened", "committee.position_given", "committee.decided",
  "memory.flushed", "memory.compacted", "memory.compaction_refused",
  "usage.recorded", "budget.exceeded", "budget.refused", "budget.changed",
  "routing.decided", "agent.suspended", "agent.resumed",
  "supervision.nudged", "supervision.reassigned", "supervision.escalated", "supervision.recovered",
  "notify.sent", "notify.failed", "notify.recovered",
  "schedule.fired", "schedule.missed", "schedule.not_started",
  "demo.scene",
  "mail.synced", "mail.sync_failed", "mail.triaged", "mail.flagged", "mail.digest_written",
  "mail.drafted", "mail.sent", "mail.send_failed",
  "service.down", "service.up", "service.changed", "service.remediated",
  "stream.resync",
];

let es = null;
let backoff = 1000;
let reopenTimer = null;
let watchdog = null;
let stateListener = () => {};
let stopped = true;

export function onStreamState(fn) { stateListener = fn; }

function setState(s) {
  if (document.body.dataset.stream !== s) {
    document.body.dataset.stream = s;
    stateListener(s);
  }
}

function handle(e) {
  if (e.type === "stream.resync") {
    // The server dropped us (we fell behind): reload the snapshot, which reopens the stream.
    close();
    setState("connecting");
    resyncHandler();
    return;
  }
  let ev;
  try { ev = JSON.parse(e.data); } catch { return; }
  if (!ev || typeof ev !== "object") return;
  if (!ev.type) ev.type = e.type;
  if (typeof ev.seq !== "number" && e.lastEventId) ev.seq = Number(e.lastEventId);
  applyEvent(ev);
  document.body.dataset.lastSeq = String(S.lastSeq);
}

let resyncHandler = () => open(S.lastSeq);
export function onResync(fn) { resyncHandler = fn; }

export function open(after) {
  stopped = false;
  close();
  setState("connecting");
  const seq = after ?? S.lastSeq;
  const src = new EventSource(`/api/v1/stream?after=${encodeURIComponent(seq)}`);
  es = src;
  src.onopen = () => {
    if (es !== src) return;
    backoff = 1000;
    setState("live");
  };
  src.onmessage = handle; // untyped frames, if any
  for (const t of TYPES) src.addEventListener(t, handle);
  src.onerror = () => {
    if (es !== src) return;
    if (src.readyState === EventSource.CLOSED) {
      setState("offline");
      scheduleReopen();
    } else {
      setState("connecting"); // the browser reconnects by itself with Last-Event-ID
    }
  };
  clearInterval(watchdog);
  watchdog = setInterval(() => {
    if (es === src && src.readyState === EventSource.CLOSED && !reopenTimer && !stopped) {
      setState("offline");
      scheduleReopen();
    }
  }, 3000);
}

function scheduleReopen() {
  if (reopenTimer || stopped) return;
  const wait = backoff;
  backoff = Math.min(backoff * 2, 10000);
  reopenTimer = setTimeout(() => {
    reopenTimer = null;
    if (!stopped) open(S.lastSeq);
  }, wait);
}

export function close() {
  if (es) {
    const old = es;
    es = null;
    old.close();
  }
  clearTimeout(reopenTimer);
  reopenTimer = null;
}

export function stop() {
  stopped = true;
  close();
  clearInterval(watchdog);
  setState("offline");
}
