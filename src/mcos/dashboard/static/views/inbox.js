// Inbox: the escalation queue (unconfirmed incidents), the approvals waiting for a decision, and
// the committees where the operator has a vote still to give.

import { S, refreshPieces, touch, mayDecide } from "../state.js";
import { post } from "../api.js";
import { esc, dur, dateTime, who, prettyJson } from "../format.js";
import { refusal, ok } from "../ui.js";

let root = null;
let linked = null; // {kind, id} from a notification's link: #/inbox?approval=12
let scrolled = false;

const LINKABLE = { approval: "Approval", incident: "Incident", committee: "Committee" };

function linkedFrom(param) {
  const q = new URLSearchParams(param || "");
  for (const kind of Object.keys(LINKABLE)) {
    const id = q.get(kind);
    if (id && /^\d+$/.test(id)) return { kind, id };
  }
  return null;
}

function showLinked() {
  if (!root || !linked) return;
  const el = root.querySelector(`[data-${linked.kind}="${linked.id}"]`);
  let note = root.querySelector(".link-note");
  if (el) {
    el.classList.add("linked");
    if (note) note.remove();
    if (!scrolled) { el.scrollIntoView({ block: "center" }); scrolled = true; }
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = "link-note";
    note.setAttribute("role", "status");
    root.prepend(note);
  }
  note.textContent = `${LINKABLE[linked.kind]} #${linked.id} is no longer waiting for you (decided, expired, or not yours to vote on).`;
}

function left(expiresAt) {
  if (!expiresAt) return null;
  return (Date.parse(expiresAt) - Date.now() - S.skew) / 1000;
}

function leftHtml(expiresAt) {
  const s = left(expiresAt);
  if (s === null) return "";
  const cls = s <= 0 ? "crit" : s < 600 ? "warn" : "";
  return `<span class="left ${cls}" data-left="${esc(expiresAt)}" title="expires ${esc(dateTime(expiresAt))}">${s <= 0 ? "expired" : esc(dur(s)) + " left"}</span>`;
}

function parties(required, waiting) {
  const w = new Set(waiting || []);
  return (required || []).map((p) => `<span class="party ${w.has(p) ? "waiting" : "done"}">${w.has(p) ? "…" : "✓"} ${esc(p)}</span>`).join(" ");
}

function decideBlock(kind, item, acts) {
  const may = mayDecide(item);
  const waiting = (item.waiting_for || []).join(", ") || "nobody";
  const ph = kind === "incident" ? "Comment (required to dismiss)" : "Comment (optional)";
  return `<div class="decide" data-write>
    <textarea rows="2" name="comment" placeholder="${esc(ph)}" aria-label="Comment"${may ? "" : " disabled"}></textarea>
    <div class="buttons">
      ${acts.map(([act, label, cls]) => `<button type="button" class="${cls}" data-act="${act}"${may ? "" : " disabled"}>${label}</button>`).join("")}
      ${may ? "" : `<span class="muted small">Not yours to decide: waiting for ${esc(waiting)}.</span>`}
    </div>
  </div>`;
}

function commandOf(subject) {
  if (!subject || typeof subject !== "object") return null;
  for (const k of ["command", "cmd", "shell"]) {
    const v = subject[k] ?? (subject.args && subject.args[k]);
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.join(" ");
  }
  return null;
}

// An email.send approval: the message itself, as it would leave (the draft the action names).
function emailHtml(a) {
  if (!a.subject || a.subject.kind !== "email.send") return "";
  const m = a.mail;
  if (!m) return `<p class="banner crit" data-mail-mismatch>The draft this approval names (#${esc(a.subject.draft)}) cannot be found: do not approve.</p>`;
  const list = (xs) => (xs && xs.length ? xs.map(esc).join(", ") : `<span class="muted">—</span>`);
  return `<section class="outgoing-mail" data-outgoing-mail="${esc(m.id)}" aria-label="The message to be sent">
    ${m.matches_approval ? "" : `<p class="banner crit" data-mail-mismatch>Draft #${esc(m.id)} is not the message this approval was asked for (its hash differs): what would be sent is not what was approved.</p>`}
    ${m.status !== "draft" ? `<p class="banner cool">Draft #${esc(m.id)} is already ${esc(m.status)}.</p>` : ""}
    <dl class="facts">
      <dt>From account</dt><dd>${esc(m.account)}</dd>
      <dt>To</dt><dd data-field="to">${list(m.to)}</dd>
      <dt>Cc</dt><dd>${list(m.cc)}</dd>
      <dt>Subject</dt><dd data-field="subject"><b>${esc(m.subject)}</b></dd>
      ${m.reply_to ? `<dt>In reply to</dt><dd><a href="#/mail/${esc(m.reply_to)}">mail #${esc(m.reply_to)}</a></dd>` : ""}
    </dl>
    <pre class="mail-text" data-field="body">${esc(m.body)}</pre>
  </section>`;
}

/** Who decided what so far: each party's decision names its person (``op:alice``). */
function decisionsHtml(x) {
  const items = (x.decisions || []).map((d) =>
    `<li>${esc(d.party)}: <b>${esc(d.decision)}</b> by ${esc(who(d.decider))} ${esc(dateTime(d.ts))}${d.comment ? ` — “${esc(d.comment)}”` : ""}</li>`).join("");
  return items ? `<ul class="decisions">${items}</ul>` : "";
}

function incidentHtml(i) {
  return `<article class="item incident sev-${esc(i.severity)}${mayDecide(i) ? " mine" : ""}" data-incident="${esc(i.id)}">
    <header><span class="sev sev-${esc(i.severity)}">${esc(i.severity)}</span>
      <h3>${esc(i.title)}</h3>${leftHtml(i.expires_at)}</header>
    <div class="meta">Incident #${esc(i.id)} · raised by <b>${esc(who(i.reporter))}</b> · ${esc(dateTime(i.ts))}${i.reach ? ` · would reach <b>${esc(i.reach)}</b>` : ""}</div>
    ${i.body ? `<div class="body">${esc(i.body)}</div>` : ""}
    <div class="meta">Confirmers: ${parties(i.required || i.waiting_for, i.waiting_for) || "nobody"}</div>
    ${decisionsHtml(i)}
    ${decideBlock("incident", i, [["confirm", "Confirm", "danger"], ["dismiss", "Dismiss", ""]])}
  </article>`;
}

function isEmail(a) { return !!(a.subject && a.subject.kind === "email.send"); }

function approvalHtml(a) {
  const cmd = commandOf(a.subject);
  return `<article class="item approval${mayDecide(a) ? " mine" : ""}" data-approval="${esc(a.id)}">
    <header><span class="badge kind">${esc(a.kind)}</span>
      <h3>${a.agent ? `<a href="#/agents/${encodeURIComponent(a.agent)}">${esc(a.agent)}</a>` : "fleet"}</h3>${leftHtml(a.expires_at)}</header>
    <div class="meta">Approval #${esc(a.id)} · requested by <b>${esc(who(a.requested_by))}</b> · ${esc(dateTime(a.created_at))}</div>
    ${a.reason ? `<div class="body"><span class="muted">Reason:</span> ${esc(a.reason)}</div>` : ""}
    ${cmd ? `<pre class="command"><span class="prompt" aria-hidden="true">$ </span>${esc(cmd)}</pre>` : ""}
    ${emailHtml(a)}
    <details${cmd || isEmail(a) ? "" : " open"}><summary>Frozen action</summary><pre class="action">${esc(prettyJson(a.subject))}</pre></details>
    <div class="meta">Required: ${parties(a.required, a.waiting_for)}</div>
    ${decisionsHtml(a)}
    ${decideBlock("approval", a, [["approve", "Approve", "primary"], ["deny", "Deny", "danger"]])}
  </article>`;
}

function humanVotes(c) {
  return c.human && c.status === "open" && (c.waiting_for || []).includes("human");
}

function committeeHtml(c) {
  const positions = (c.positions || []).map((p) =>
    `<li><b>${esc(p.member)}</b>${p.member === "human" && p.given_by ? ` (${esc(who(p.given_by))})` : ""}: <span class="badge position-${esc(p.position)}">${esc(p.position)}</span> — ${esc(p.reasons)}</li>`).join("");
  const choices = [["for", "For", "primary"], ["against", "Against", "danger"], ["abstain", "Abstain", ""]];
  if (c.rule === "veto") choices.push(["veto", "Veto", "danger"]);
  return `<article class="item committee mine" data-committee="${esc(c.id)}">
    <header><span class="badge kind">committee</span><h3>${esc(c.title)}</h3></header>
    <div class="meta">Committee #${esc(c.id)} · opened by <b>${esc(who(c.opened_by))}</b> · ${esc(dateTime(c.created_at))} · rule <b>${esc(c.rule)}</b>, quorum ${esc(c.quorum)} of ${esc((c.voters || []).length)}${c.approval_id ? ` · gates approval #${esc(c.approval_id)}` : ""}</div>
    <div class="body">${esc(c.question)}</div>
    <div class="meta">${esc(c.explanation)}</div>
    ${positions ? `<ul class="positions">${positions}</ul>` : `<p class="muted small">No positions yet.</p>`}
    <div class="meta">Waiting for: ${esc((c.waiting_for || []).join(", ") || "nobody")}</div>
    <div class="decide" data-write>
      <textarea rows="2" name="reasons" placeholder="Your reasons (required; they go into the minutes)" aria-label="Reasons"></textarea>
      <div class="buttons">
        ${choices.map(([v, label, cls]) => `<button type="button" class="${cls}" data-vote="${v}">${label}</button>`).join("")}
      </div>
    </div>
  </article>`;
}

const decidedHere = new Set(); // "approval:ID" / "incident:ID" decided from this page

function decidedByOperator(x) {
  if (mayDecide(x)) return false;
  if (decidedHere.has((x.severity ? "incident:" : "approval:") + x.id)) return true;
  if ((x.required || []).includes("human") && !(x.waiting_for || []).includes("human")) return true;
  return (x.decisions || []).some((d) => String(d.decider || "").startsWith("operator:"));
}

function otherHtml(x) {
  const what = x.severity ? `${x.severity} incident #${x.id}: ${x.title}` : `${x.kind} approval #${x.id} for ${x.agent || "fleet"}`;
  const decided = (x.decisions || []).map((d) => `${d.party}: ${d.decision} by ${who(d.decider)}`).join("; ");
  return `<li data-waiting-item="${esc(x.id)}">${esc(what)}${decided ? ` (${esc(decided)})` : ""} — waiting for ${esc((x.waiting_for || []).join(", ") || "nobody")} ${leftHtml(x.expires_at)}</li>`;
}

function sortItems(list) {
  return list.slice().sort((x, y) => (mayDecide(y) ? 1 : 0) - (mayDecide(x) ? 1 : 0) ||
    (left(x.expires_at) ?? 1e12) - (left(y.expires_at) ?? 1e12));
}

function render() {
  if (!root) return;
  // keep what the operator is typing across live re-renders
  const typed = new Map();
  for (const ta of root.querySelectorAll("textarea")) {
    const item = ta.closest("[data-approval],[data-incident],[data-committee]");
    if (item && ta.value) typed.set(keyOf(item), ta.value);
  }
  const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement : null;
  const focusKey = focused ? keyOf(focused.closest("[data-approval],[data-incident],[data-committee]")) : null;
  const focusAct = focused ? focused.dataset.act || focused.dataset.vote || focused.tagName : null;

  const incidents = sortItems(S.incidents.filter((i) => !decidedByOperator(i)));
  const approvals = sortItems(S.approvals.filter((a) => !decidedByOperator(a)));
  const others = [...S.incidents, ...S.approvals].filter(decidedByOperator);
  const mineI = incidents.filter(mayDecide).length;
  const mineA = approvals.filter(mayDecide).length;
  const committees = (S.committees || []).filter(humanVotes);
  const silent = S.escalations || [];
  root.innerHTML = `<div class="toolbar"><h1>Inbox</h1><span class="muted small">${mineI + mineA + committees.length + silent.length} waiting for you · ${incidents.length + approvals.length} pending in all</span></div>
    <div class="inbox-cols">
    <section class="inbox-section" aria-labelledby="h-esc"><h2 id="h-esc">Escalation queue <span class="count">${incidents.length}</span></h2>
      <div class="items">${incidents.map(incidentHtml).join("") || `<p class="empty">No unconfirmed incidents.</p>`}</div>
      ${silent.length ? `<h2 id="h-silent">Silent agents <span class="count">${silent.length}</span></h2><div class="items">${silent.map(silentHtml).join("")}</div>` : ""}</section>
    <section class="inbox-section" aria-labelledby="h-appr"><h2 id="h-appr">Approvals <span class="count">${approvals.length}</span></h2>
      <div class="items">${approvals.map(approvalHtml).join("") || `<p class="empty">No approvals waiting.</p>`}</div>
      ${committees.length ? `<h2 id="h-comm">Committees <span class="count">${committees.length}</span></h2><div class="items">${committees.map(committeeHtml).join("")}</div>` : ""}
      ${others.length ? `<h2>Decided by an operator, waiting for others <span class="count">${others.length}</span></h2><ul class="others">${others.map(otherHtml).join("")}</ul>` : ""}
      </section>
    </div>`;
  for (const [key, value] of typed) {
    const ta = root.querySelector(`${key} textarea`);
    if (ta) ta.value = value;
  }
  if (focusKey) {
    const el = root.querySelector(focusAct === "TEXTAREA" ? `${focusKey} textarea` : `${focusKey} [data-act="${focusAct}"],${focusKey} [data-vote="${focusAct}"]`);
    if (el) el.focus();
  }
  showLinked();
}

function silentHtml(x) {
  const a = S.agents.get(x.agent);
  const state = a ? a.liveness : x.liveness;
  const handed = x.reassigned && x.reassigned.length
    ? `its task${x.reassigned.length > 1 ? "s" : ""} ${x.reassigned.map((t) => `#${esc(t)}`).join(", ")} went to <a href="#/agents/${encodeURIComponent(x.reassigned_to)}">${esc(x.reassigned_to)}</a>`
    : "no other agent of its role took its work";
  return `<article class="item silent" data-silent="${esc(x.agent)}">
    <header><a class="title" href="#/agents/${encodeURIComponent(x.agent)}">${esc(x.agent)}</a> is ${esc(state)}
      <span class="muted small">· silent since ${esc(dateTime(x.silent_since))}</span></header>
    <p class="small">Supervision nudged it ${esc(x.nudges)} time${x.nudges === 1 ? "" : "s"} with no answer; ${handed}. Its runner needs a person: restart <code>mcos run</code> where it lives.</p>
    <div class="acts" data-write><button type="button" class="small" data-nudge="${esc(x.agent)}">Nudge again</button></div>
  </article>`;
}

function keyOf(item) {
  if (!item) return null;
  if (item.dataset.committee) return `[data-committee="${item.dataset.committee}"]`;
  return item.dataset.approval ? `[data-approval="${item.dataset.approval}"]` : `[data-incident="${item.dataset.incident}"]`;
}

const PATHS = {
  approve: (id) => `/api/v1/approvals/${id}/approve`,
  deny: (id) => `/api/v1/approvals/${id}/deny`,
  confirm: (id) => `/api/v1/incidents/${id}/confirm`,
  dismiss: (id) => `/api/v1/incidents/${id}/dismiss`,
};
const DONE = { approve: "approved", deny: "denied", confirm: "confirmed", dismiss: "dismissed" };

async function decide(button) {
  const item = button.closest("[data-approval],[data-incident]");
  const act = button.dataset.act;
  const isApproval = !!item.dataset.approval;
  const id = Number(isApproval ? item.dataset.approval : item.dataset.incident);
  const comment = item.querySelector("textarea").value.trim();
  const buttons = item.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await post(PATHS[act](id), { comment });
    const label = `${isApproval ? "Approval" : "Incident"} #${id}`;
    const list = isApproval ? S.approvals : S.incidents;
    const idx = list.findIndex((x) => x.id === id);
    if (idx >= 0) list.splice(idx, 1);
    decidedHere.add((isApproval ? "approval:" : "incident:") + id);
    const waiting = (res && res.status === "pending" && res.waiting_for) || [];
    ok(waiting.length ? `${label}: ${act} recorded; still waiting for ${waiting.join(", ")}.` : `${label} ${DONE[act]}.`);
    render();
    touch();
    refreshPieces();
  } catch (e) {
    buttons.forEach((b) => { b.disabled = false; });
    refusal(`${DONE[act] ? act[0].toUpperCase() + act.slice(1) : act} refused: ${e.display || e.message}`);
    if (e.status === 404 || e.status === 409) refreshPieces();
  }
}

async function vote(button) {
  const item = button.closest("[data-committee]");
  const id = Number(item.dataset.committee);
  const position = button.dataset.vote;
  const ta = item.querySelector("textarea");
  const reasons = ta.value.trim();
  if (!reasons) {
    refusal(`Committee #${id}: give your reasons; they go into the minutes.`);
    ta.focus();
    return;
  }
  const buttons = item.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await post(`/api/v1/committees/${id}/positions`, { position, reasons });
    const idx = S.committees.findIndex((c) => c.id === id);
    if (idx >= 0) S.committees.splice(idx, 1);
    ok(res && res.status !== "open"
      ? `Committee #${id} ${res.outcome || res.status.replace("_", " ")}: ${res.explanation}`
      : `Committee #${id}: your position (${position}) is recorded.`);
    render();
    touch();
    refreshPieces();
  } catch (e) {
    buttons.forEach((b) => { b.disabled = false; });
    refusal(`Position refused: ${e.display || e.message}`);
    if (e.status === 404 || e.status === 409) refreshPieces();
  }
}

async function nudge(button) {
  const name = button.dataset.nudge;
  button.disabled = true;
  try {
    await post(`/api/v1/agents/${encodeURIComponent(name)}/nudge`, { reason: "nudged from the inbox after supervision told you" });
    ok(`Nudged ${name}`);
  } catch (e) {
    refusal(`Nudge refused: ${e.display || e.message}`);
  } finally {
    button.disabled = false;
  }
}

export default {
  mount(el, param) {
    root = el;
    linked = linkedFrom(param);
    scrolled = false;
    render();
    root.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-act]");
      if (b && !b.disabled && PATHS[b.dataset.act]) decide(b);
      const v = e.target.closest("button[data-vote]");
      if (v && !v.disabled) vote(v);
      const n = e.target.closest("button[data-nudge]");
      if (n && !n.disabled) nudge(n);
    });
  },
  unmount() { root = null; linked = null; },
  update(ch) { if (ch.pieces) render(); },
  tick() {
    if (!root) return;
    for (const el of root.querySelectorAll("[data-left]")) {
      const s = left(el.dataset.left);
      const text = s <= 0 ? "expired" : dur(s) + " left";
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("warn", s > 0 && s < 600);
      el.classList.toggle("crit", s <= 0);
    }
  },
};
