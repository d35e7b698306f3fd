// A tiny Markdown renderer for exactly what the inbox digest uses, and nothing more:
// "# " and "## " headings, "- " list items, paragraphs, [text](/#/...) links and _emphasis_.
// Every piece of text is escaped; only a link into this page (starting "/#/") becomes an anchor,
// any other link stays text. The digest quotes senders, subjects and a model's reasons:
// whatever they contain is shown, never interpreted.

import { esc } from "./format.js";

const LINK = /\[([^\]\n]*)\]\(([^)\s]*)\)/g;
// A page-internal target: "/#/" then a conservative set of characters (no quotes, no spaces).
const INTERNAL = /^\/#\/[A-Za-z0-9/_.\-?=&%]*$/;
// _emphasis_: opened after a start or a space/bracket, closed before an end, space or punctuation,
// so the underscores inside a rule name (test_vip) or an address stay as they are.
const EMPHASIS = /(^|[\s(])_(\S(?:.*?\S)?)_(?=$|[\s.,;:!?)])/g;

function emphasis(text) {
  let html = "";
  let last = 0;
  for (const m of text.matchAll(EMPHASIS)) {
    const start = m.index + m[1].length;
    html += esc(text.slice(last, start)) + `<em>${esc(m[2])}</em>`;
    last = m.index + m[0].length;
  }
  return html + esc(text.slice(last));
}

/** One line's inline Markdown as safe HTML. */
export function inline(text) {
  let html = "";
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    const [whole, label, target] = m;
    html += emphasis(text.slice(last, m.index));
    if (INTERNAL.test(target)) {
      // "/#/mail/5" → "#/mail/5": a hash change in this page, never a reload
      html += `<a href="${esc(target.slice(1))}" data-md-link>${esc(label)}</a>`;
    } else {
      html += esc(whole);
    }
    last = m.index + whole.length;
  }
  return html + emphasis(text.slice(last));
}

/** The digest's Markdown as safe HTML (headings one level down: the view has its own h1). */
export function renderDigest(markdown) {
  const out = [];
  let list = null;
  let para = [];
  const closeList = () => { if (list) { out.push(`<ul class="md-list">${list.join("")}</ul>`); list = null; } };
  const closePara = () => { if (para.length) { out.push(`<p>${para.join("<br>")}</p>`); para = []; } };
  for (const raw of String(markdown || "").split(/\r?\n/)) {
    const line = raw.trimEnd();
    let m;
    if (!line.trim()) { closeList(); closePara(); continue; }
    if ((m = /^(#{1,2}) +(.*)$/.exec(line))) {
      closeList(); closePara();
      const tag = m[1].length === 1 ? "h2" : "h3";
      out.push(`<${tag} class="md-h${m[1].length}">${inline(m[2])}</${tag}>`);
    } else if ((m = /^- +(.*)$/.exec(line))) {
      closePara();
      (list ||= []).push(`<li>${inline(m[1])}</li>`);
    } else {
      closeList();
      para.push(inline(line));
    }
  }
  closeList(); closePara();
  return `<div class="md digest-md">${out.join("")}</div>`;
}
