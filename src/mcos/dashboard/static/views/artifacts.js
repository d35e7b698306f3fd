// A task's files in its panel: every version, a download link, a preview, and what was accepted.
//
// An agent's file is untrusted. Nothing of it reaches innerHTML: names, notes and previews are
// set with textContent (Markdown goes through markdown.js, which escapes every piece of text),
// the file itself is only ever downloaded (the server sends it as an attachment, nosniff).

import { get } from "../api.js";
import { dateTime, who } from "../format.js";
import { renderDigest } from "../markdown.js";

const previewing = new Map(); // task id → artifact id shown, kept across the panel's refreshes

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

export function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function base(taskId, artifactId) {
  return `/api/v1/tasks/${Number(taskId)}/artifacts/${Number(artifactId)}`;
}

function row(taskId, a) {
  const li = el("li", { class: "artifact", "data-artifact": String(a.id) });
  li.append(
    el("span", { class: "a-name", text: a.name }),
    el("span", { class: "a-version", text: ` v${a.version}` }),
    el("span", { class: "a-meta muted", text: ` · ${size(a.size)} · ${who(a.created_by)} · ${dateTime(a.created_at)}` }),
  );
  const actions = el("span", { class: "a-actions" },
    el("button", { type: "button", class: "ghost small", "data-preview": String(a.id), text: "Preview" }),
    el("a", { href: `${base(taskId, a.id)}/content`, download: "", class: "small", "data-download": String(a.id), text: "Download" }),
  );
  li.append(actions);
  if (a.note) li.append(el("div", { class: "a-note muted small", text: a.note }));
  return li;
}

function acceptanceLine(x) {
  const opened = x.opened ? "opened" : "not opened";
  return el("li", { class: x.opened ? "acc" : "acc warn", text: `accepted v${x.version} of ${x.name} — ${who(x.accepted_by)}, ${opened}` });
}

function table(rows) {
  const t = el("table", { class: "a-sheet" });
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    for (const v of r) tr.append(el("td", { text: v === null || v === undefined ? "" : String(v) }));
    body.append(tr);
  }
  t.append(body);
  return t;
}

function previewNode(a, p) {
  const box = el("div", { class: "artifact-preview", "data-preview-of": String(a.id) });
  box.append(el("h4", { text: `${a.name} v${a.version}` }));
  if (p.kind === "markdown") {
    const md = el("div", { class: "digest-md" });
    md.innerHTML = renderDigest(p.text); // markdown.js escapes every piece of text
    box.append(md);
  } else if (p.kind === "text") {
    box.append(el("pre", { class: "a-text", text: p.text }));
  } else if (p.kind === "docx") {
    for (const para of p.paragraphs) if (para.trim()) box.append(el("p", { text: para }));
    for (const rows of p.tables) box.append(table(rows));
  } else if (p.kind === "xlsx") {
    for (const s of p.sheets) {
      box.append(el("h5", { text: `Sheet ${s.name}` }), table(s.rows));
      if (s.clipped) box.append(el("p", { class: "muted small", text: "(first rows only)" }));
    }
  } else {
    box.append(el("p", { class: "muted", text: `No preview for ${a.content_type}; download it to open it.` }));
  }
  if (p.clipped && p.kind !== "xlsx") box.append(el("p", { class: "muted small", text: "(clipped)" }));
  return box;
}

async function showPreview(section, taskId, artifacts, artifactId) {
  const a = artifacts.find((x) => x.id === artifactId);
  const slot = section.querySelector(".artifact-preview-slot");
  if (!a || !slot) return;
  previewing.set(taskId, artifactId);
  slot.replaceChildren(el("p", { class: "muted small", text: `Loading ${a.name}…` }));
  try {
    const answer = await get(`${base(taskId, artifactId)}/preview`);
    slot.replaceChildren(previewNode(a, answer.preview));
  } catch (e) {
    slot.replaceChildren(el("p", { class: "error", text: `${a.name} v${a.version}: ${e.display || e.message}` }));
  }
}

/** Fill ``section`` with the task's files; returns when they are listed. */
export async function renderArtifacts(section, taskId) {
  let listed;
  try {
    listed = await get(`/api/v1/tasks/${Number(taskId)}/artifacts`);
  } catch (e) {
    section.replaceChildren(el("p", { class: "error", text: `Files: ${e.display || e.message}` }));
    return;
  }
  const { artifacts, acceptances } = listed;
  const heading = el("h3", {}, "Files ", el("span", { class: "muted small", text: `(${artifacts.length})` }));
  if (!artifacts.length) {
    section.replaceChildren(heading, el("p", { class: "muted small", text: "No files attached." }));
    return;
  }
  const list = el("ul", { class: "artifact-list" });
  for (const a of artifacts) list.append(row(taskId, a));
  const parts = [heading, list];
  if (acceptances.length) {
    const acc = el("ul", { class: "acceptances" });
    for (const x of acceptances) acc.append(acceptanceLine(x));
    parts.push(acc);
  }
  parts.push(el("div", { class: "artifact-preview-slot", "aria-live": "polite" }));
  section.replaceChildren(...parts);
  section.onclick = (e) => {
    const button = e.target.closest("[data-preview]");
    if (button) showPreview(section, taskId, artifacts, Number(button.dataset.preview));
  };
  const shown = previewing.get(taskId);
  if (shown && artifacts.some((a) => a.id === shown)) showPreview(section, taskId, artifacts, shown);
}
