// Mail: the communications agent's digest, the mailboxes' health, the recent mail (#/mail), and
// one mail whole (#/mail/ID). A mail's text, subject and sender are the sender's: untrusted,
// escaped like everything else, and the text shown under a banner that says so.

import { get } from "../api.js";
import { esc, dateTime, who, int } from "../format.js";
import { options } from "../ui.js";
import { renderDigest } from "../markdown.js";

export const CATEGORIES = [
  ["operator", "needs you"], ["jarvis", "flagged to Jarvis"], ["handled", "handled"], ["later", "can wait"],
];
const CATEGORY_LABEL = Object.fromEntries(CATEGORIES);
const LIST_LIMIT = 200;

let root = null;
let mailId = null;          // #/mail/ID, else null (the overview)
let pickedDigest = null;    // a digest picked in the selector; null follows the latest
const filters = { status: "all", category: "" };
let digests = [];
let digestKey = null;       // the digests last rendered (ids and pick)
let reloadTimer = null;
let generation = 0;         // a mount's loads ignore answers that arrive after it unmounted

// ---- shared pieces ---------------------------------------------------------------------

export function categoryBadge(category) {
  if (!category) return `<span class="badge mail-cat cat-none">untriaged</span>`;
  return `<span class="badge mail-cat cat-${esc(category)}" data-category="${esc(category)}">${esc(CATEGORY_LABEL[category] || category)}</span>`;
}

function classifiedBy(by) {
  if (!by) return "nobody yet";
  if (by.startsWith("rule:")) return `the fleet file's rule <code>${esc(by.slice(5))}</code>`;
  if (by === "model") return "the model";
  if (by === "operator") return "an operator";
  return esc(by);
}

function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, "")} KB`;
  return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, "")} MB`;
}

function senderHtml(m) {
  return m.sender_name
    ? `${esc(m.sender_name)} <span class="muted">&lt;${esc(m.sender)}&gt;</span>`
    : esc(m.sender);
}

/** The digest: what it covers, and its Markdown rendered safely. */
export function digestHtml(d) {
  const c = d.counts || {};
  const counts = CATEGORIES.map(([k, label]) => `${esc(c[k] || 0)} ${esc(label)}`).join(" · ") +
    (c.untriaged ? ` · ${esc(c.untriaged)} untriaged` : "");
  return `<p class="muted small digest-meta">digest #${esc(d.id)} for ${esc(d.day)} · written by ` +
    `<a href="#/agents/${encodeURIComponent(d.agent)}">${esc(d.agent)}</a> at ${esc(dateTime(d.created_at))}` +
    `${d.task_id ? ` · task <a href="#/board?task=${esc(d.task_id)}">#${esc(d.task_id)}</a>` : ""} · ${counts}</p>` +
    renderDigest(d.markdown);
}

// ---- the overview (#/mail) ---------------------------------------------------------------

function accountsHtml(accounts) {
  if (!accounts.length) return `<p class="muted">No mail accounts in the fleet file (<code>[[mail.accounts]]</code>).</p>`;
  const rows = accounts.map((a) => {
    const failing = a.failing_since
      ? `<span class="mail-failing" data-failing>failing since ${esc(dateTime(a.failing_since))} (${esc(a.error_kind)}): ${esc(a.error)}</span>`
      : `<span class="ok-text">ok</span>`;
    return `<tr data-account="${esc(a.name)}"${a.failing_since ? ` class="failing"` : ""}>
      <td><b>${esc(a.name)}</b><br><span class="muted small">${esc(a.address)}</span></td>
      <td><a href="#/agents/${encodeURIComponent(a.owner)}">${esc(a.owner)}</a></td>
      <td>${esc(a.kind)}<br><span class="muted small">${esc((a.may || []).join(", "))}</span></td>
      <td>${a.synced_at ? esc(dateTime(a.synced_at)) : `<span class="muted">never</span>`}</td>
      <td class="num">${esc(int(a.messages))}</td>
      <td>${failing}</td></tr>`;
  }).join("");
  return `<table class="data mail-accounts"><thead><tr><th>Mailbox</th><th>Owner</th><th>Kind</th><th>Last sync</th><th class="num">Messages</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function mailRow(m) {
  const flags = [
    m.task_id ? `<a href="#/board?task=${esc(m.task_id)}" title="task made from this mail">task #${esc(m.task_id)}</a>` : "",
    m.flag_message_id ? `<span class="muted" title="flagged by message #${esc(m.flag_message_id)}">flagged</span>` : "",
    m.attachments ? `<span class="muted">${esc(m.attachments)} attachment${m.attachments === 1 ? "" : "s"}</span>` : "",
  ].filter(Boolean).join(" ");
  return `<tr data-mail="${esc(m.id)}">
    <td class="nowrap">${esc(dateTime(m.received_at))}</td>
    <td>${senderHtml(m)}</td>
    <td><a href="#/mail/${esc(m.id)}" class="mail-subject">${esc(m.subject || "(no subject)")}</a>${m.reason ? `<br><span class="muted small">${esc(m.reason)}</span>` : ""}</td>
    <td>${esc(m.account)}</td>
    <td>${categoryBadge(m.category)}${m.topic ? ` <span class="muted small">${esc(m.topic)}</span>` : ""}</td>
    <td class="small">${flags}</td></tr>`;
}

function listHtml(list) {
  if (!list.length) return `<p class="empty">No mail matches.</p>`;
  return `<div class="scroll-x"><table class="data mail-list"><thead><tr><th>Received</th><th>From</th><th>Subject</th><th>Account</th><th>Triage</th><th><span class="sr-only">Flags</span></th></tr></thead>` +
    `<tbody>${list.map(mailRow).join("")}</tbody></table></div>` +
    (list.length >= LIST_LIMIT ? `<p class="muted small">The newest ${LIST_LIMIT} shown.</p>` : "");
}

function chipsHtml() {
  const chip = (value, label) => `<button type="button" class="chip-btn${filters.category === value ? " on" : ""}" data-category-chip="${esc(value)}" aria-pressed="${filters.category === value}">${esc(label)}</button>`;
  return chip("", "all") + CATEGORIES.map(([k, label]) => chip(k, label)).join("");
}

function digestBoxHtml() {
  if (!digests.length) return `<h2>Digest</h2><p class="muted">No digest written yet.</p>`;
  const shown = digests.find((d) => d.id === pickedDigest) || digests[0];
  const opts = digests.map((d) => [String(d.id), `${d.day} · #${d.id}${d.id === digests[0].id ? " (latest)" : ""}`]);
  return `<h2>Digest <select id="mail-digest-pick" aria-label="Earlier digests">${options(opts, String(shown.id))}</select></h2>` +
    `<div data-digest="${esc(shown.id)}">${digestHtml(shown)}</div>`;
}

function overviewShell() {
  return `<div class="toolbar"><h1>Mail</h1><span id="mail-info" class="muted small"></span></div>
    <div class="mail-grid">
      <section class="panel-box mail-digest" id="mail-digest" aria-label="Digest"><p class="muted">Loading…</p></section>
      <section class="panel-box" aria-labelledby="h-mailboxes"><h2 id="h-mailboxes">Mailboxes</h2><div id="mail-accounts"></div></section>
    </div>
    <section class="panel-box mail-recent" aria-labelledby="h-recent">
      <div class="toolbar"><h2 id="h-recent">Recent mail</h2>
        <label>Status <select id="mail-status">${options([["all", "all"], ["untriaged", "untriaged"], ["triaged", "triaged"]], filters.status)}</select></label>
        <span class="chips" id="mail-chips" role="group" aria-label="Category">${chipsHtml()}</span></div>
      <div id="mail-list"><p class="muted">Loading…</p></div>
    </section>`;
}

function listQuery() {
  const q = new URLSearchParams({ limit: String(LIST_LIMIT) });
  if (filters.status !== "all") q.set("status", filters.status);
  if (filters.category) q.set("category", filters.category);
  return q.toString();
}

async function loadList(gen) {
  const box = root && root.querySelector("#mail-list");
  try {
    const res = await get(`/api/v1/mail/messages?${listQuery()}`);
    if (gen !== generation || !box.isConnected) return;
    box.innerHTML = listHtml(res.messages);
  } catch (e) {
    if (gen === generation && box.isConnected) box.innerHTML = `<p class="error">${esc(e.display || e.message)}</p>`;
  }
}

async function loadOverview() {
  const gen = generation;
  const [acc, dig] = await Promise.allSettled([get("/api/v1/mail/accounts"), get("/api/v1/mail/digests?limit=30")]);
  if (gen !== generation || !root) return;
  const accBox = root.querySelector("#mail-accounts");
  if (acc.status === "fulfilled") {
    accBox.innerHTML = accountsHtml(acc.value.accounts);
    const failing = acc.value.accounts.filter((a) => a.failing_since).length;
    root.querySelector("#mail-info").textContent = `${acc.value.accounts.length} mailbox${acc.value.accounts.length === 1 ? "" : "es"}` +
      (failing ? ` · ${failing} failing` : "");
  } else {
    accBox.innerHTML = `<p class="error">${esc(acc.reason.display || acc.reason.message)}</p>`;
  }
  const digBox = root.querySelector("#mail-digest");
  if (dig.status === "fulfilled") {
    digests = dig.value.digests;
    if (pickedDigest !== null && !digests.some((d) => d.id === pickedDigest)) {
      // an older digest linked from a mail: fetched on its own, listed last
      try { digests.push(await get(`/api/v1/mail/digests/${encodeURIComponent(pickedDigest)}`)); } catch { pickedDigest = null; }
      if (gen !== generation || !root) return;
    }
    // re-render only when the digests changed, so an open selector is not pulled from under you
    const key = digests.map((d) => d.id).join(",") + "|" + pickedDigest;
    if (key !== digestKey) {
      digestKey = key;
      digBox.innerHTML = digestBoxHtml();
    }
  } else {
    digBox.innerHTML = `<h2>Digest</h2><p class="error">${esc(dig.reason.display || dig.reason.message)}</p>`;
  }
  await loadList(gen);
}

// ---- one mail (#/mail/ID) ----------------------------------------------------------------

function triageHtml(m) {
  if (!m.triaged_at && !m.category) {
    return `<p class="muted">Not triaged yet.</p>`;
  }
  const overridden = m.classified_by && m.classified_by.startsWith("rule:") && m.model_category
    ? (m.model_category !== m.category
      ? `<p class="banner cool" data-overridden>The model said ${categoryBadge(m.model_category)}; the rule <code>${esc(m.classified_by.slice(5))}</code> has the last word.</p>`
      : `<p class="muted small">The model agreed.</p>`)
    : "";
  return `<dl class="facts">
      <dt>Category</dt><dd>${categoryBadge(m.category)}${m.topic ? ` <span class="badge">${esc(m.topic)}</span>` : ""}</dd>
      <dt>Reason</dt><dd>${m.reason ? esc(m.reason) : `<span class="muted">none given</span>`}</dd>
      <dt>Classified by</dt><dd data-classified-by>${classifiedBy(m.classified_by)}</dd>
      <dt>Triaged</dt><dd>${m.triaged_at ? esc(dateTime(m.triaged_at)) : "—"}</dd>
      <dt>Flagged</dt><dd>${m.flag_message_id ? `<a href="#/messages?msg=${esc(m.flag_message_id)}" data-flag-link>message #${esc(m.flag_message_id)}</a>` : `<span class="muted">no</span>`}</dd>
      <dt>Task</dt><dd>${m.task_id ? `<a href="#/board?task=${esc(m.task_id)}" data-task-link>task #${esc(m.task_id)}</a>` : `<span class="muted">none</span>`}</dd>
      <dt>Digest</dt><dd>${m.digest_id ? `<a href="#/mail?digest=${esc(m.digest_id)}">digest #${esc(m.digest_id)}</a>` : `<span class="muted">not yet</span>`}</dd>
    </dl>${overridden}`;
}

function attachmentsHtml(list) {
  if (!list || !list.length) return `<span class="muted">none</span>`;
  // names, types and sizes only: an attachment is never a link from here
  return `<ul class="attachments">${list.map((a) => `<li data-attachment><span class="att-name">${esc(a.filename)}</span> <span class="muted">${esc(a.content_type)} · ${esc(size(a.size))}</span></li>`).join("")}</ul>`;
}

function oneHtml(m) {
  const list = (xs) => (xs && xs.length ? xs.map(esc).join(", ") : `<span class="muted">—</span>`);
  return `<nav class="crumbs"><a href="#/mail">Mail</a> › #${esc(m.id)}</nav>
    <article class="mail-one" data-mail-one="${esc(m.id)}">
      <h1 class="mail-title">${esc(m.subject || "(no subject)")}</h1>
      <div class="two mail-two">
        <section class="panel-box"><h2>Message</h2><dl class="facts">
          <dt>From</dt><dd data-field="from">${senderHtml(m)}</dd>
          <dt>To</dt><dd>${list(m.to)}</dd>
          <dt>Cc</dt><dd>${list(m.cc)}</dd>
          <dt>Date</dt><dd>${esc(dateTime(m.received_at))}</dd>
          <dt>Account</dt><dd>${esc(m.account)}</dd>
          <dt>Attachments</dt><dd>${attachmentsHtml(m.attachments)}</dd>
        </dl></section>
        <section class="panel-box"><h2>Triage</h2>${triageHtml(m)}</section>
      </div>
      <section class="panel-box mail-body">
        <p class="banner crit untrusted" role="note">Untrusted: written by the sender. Nothing in it is an instruction.</p>
        <pre class="mail-text" data-mail-text>${esc(m.text)}</pre>
      </section>
      <section class="panel-box"><h2>Thread</h2><div id="mail-thread"><p class="muted">Loading…</p></div></section>
    </article>`;
}

async function loadOne() {
  const gen = generation;
  const id = mailId;
  let m;
  try {
    m = await get(`/api/v1/mail/messages/${encodeURIComponent(id)}`);
  } catch (e) {
    if (gen === generation && root) root.innerHTML = `<nav class="crumbs"><a href="#/mail">Mail</a></nav><p class="error">${esc(e.display || e.message)}</p>`;
    return;
  }
  if (gen !== generation || !root) return;
  const keep = root.querySelector(".mail-text");
  const scroll = keep ? keep.scrollTop : 0;
  root.innerHTML = oneHtml(m);
  root.querySelector(".mail-text").scrollTop = scroll;
  try {
    const res = await get(`/api/v1/mail/messages?thread=${encodeURIComponent(m.thread.slice(0, 255))}&limit=100`);
    if (gen !== generation || !root) return;
    const others = res.messages.filter((x) => x.id !== m.id);
    root.querySelector("#mail-thread").innerHTML = others.length
      ? `<table class="data mail-list"><tbody>${others.map(mailRow).join("")}</tbody></table>`
      : `<p class="muted">No other mail in this thread.</p>`;
  } catch (e) {
    if (gen === generation && root) root.querySelector("#mail-thread").innerHTML = `<p class="error">${esc(e.display || e.message)}</p>`;
  }
}

// ---- the view ----------------------------------------------------------------------------

function onChange(e) {
  if (e.target.id === "mail-status") {
    filters.status = e.target.value;
    loadList(generation);
  } else if (e.target.id === "mail-digest-pick") {
    pickedDigest = Number(e.target.value);
    digestKey = digests.map((d) => d.id).join(",") + "|" + pickedDigest;
    root.querySelector("#mail-digest").innerHTML = digestBoxHtml();
    root.querySelector("#mail-digest-pick").focus();
  }
}

function onClick(e) {
  const chip = e.target.closest("[data-category-chip]");
  if (!chip) return;
  filters.category = chip.dataset.categoryChip;
  root.querySelector("#mail-chips").innerHTML = chipsHtml();
  loadList(generation);
}

function scheduleReload() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => {
    reloadTimer = null;
    if (!root) return;
    if (mailId !== null) loadOne(); else loadOverview();
  }, 600);
}

export default {
  async mount(el, param) {
    root = el;
    generation++;
    mailId = param && /^\d+$/.test(param) ? param : null;
    if (mailId !== null) {
      root.innerHTML = `<nav class="crumbs"><a href="#/mail">Mail</a> › #${esc(mailId)}</nav><p class="muted">Loading…</p>`;
      return loadOne();
    }
    const q = new URLSearchParams(param || "");
    pickedDigest = /^\d+$/.test(q.get("digest") || "") ? Number(q.get("digest")) : null;
    digestKey = null;
    root.innerHTML = overviewShell();
    root.addEventListener("change", onChange);
    root.addEventListener("click", onClick);
    return loadOverview();
  },
  unmount() {
    if (root) {
      root.removeEventListener("change", onChange);
      root.removeEventListener("click", onClick);
    }
    root = null;
    generation++;
    clearTimeout(reloadTimer);
    reloadTimer = null;
  },
  update(ch) {
    if (!root) return;
    if (ch.full || ch.events.some((ev) => (ev.type || "").startsWith("mail."))) scheduleReload();
  },
  tick() {},
};
