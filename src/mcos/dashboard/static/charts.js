// Our own inline SVG charts. All text goes through esc().

import { esc, tokens as fmtTokens } from "./format.js";

const n = (v) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : 0);

/**
 * Area/line chart over evenly spaced points.
 * opts: {points: [{y, label, title}], width, height, yMax, hline: {y, label}, area, yFmt, cls}
 */
export function lineChart(opts) {
  const W = opts.width || 800, H = opts.height || 180;
  const padL = 48, padR = 12, padT = 12, padB = 24;
  const pts = opts.points || [];
  const yFmt = opts.yFmt || fmtTokens;
  let yMax = opts.yMax || 0;
  for (const p of pts) yMax = Math.max(yMax, p.y || 0);
  if (opts.hline) yMax = Math.max(yMax, opts.hline.y);
  if (yMax <= 0) yMax = 1;
  const iw = W - padL - padR, ih = H - padT - padB;
  // x: by time when every point has one (p.x, ms), else evenly spaced
  const timed = pts.length > 1 && pts.every((p) => Number.isFinite(p.x));
  const x0 = timed ? pts[0].x : 0, x1 = timed ? pts[pts.length - 1].x : 1;
  const X = (i) => padL + (pts.length <= 1 ? iw / 2 :
    timed ? (x1 > x0 ? ((pts[i].x - x0) / (x1 - x0)) * iw : iw / 2) : (i * iw) / (pts.length - 1));
  const Y = (v) => padT + ih - (Math.max(0, v) / yMax) * ih;
  const parts = [];
  parts.push(`<svg class="chart ${esc(opts.cls || "")}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.label || "chart")}">`);
  // grid + y labels
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4, y = n(Y(v));
    parts.push(`<line class="grid" x1="${padL}" x2="${W - padR}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="axis" x="${padL - 6}" y="${y + 4}" text-anchor="end">${esc(yFmt(v))}</text>`);
  }
  if (pts.length) {
    const line = pts.map((p, i) => `${n(X(i))},${n(Y(p.y || 0))}`).join(" ");
    if (opts.area !== false) {
      parts.push(`<polygon class="area" points="${n(X(0))},${n(Y(0))} ${line} ${n(X(pts.length - 1))},${n(Y(0))}"/>`);
    }
    parts.push(`<polyline class="line" points="${line}"/>`);
    // x labels (about 6)
    const step = Math.max(1, Math.ceil(pts.length / 6));
    for (let i = 0; i < pts.length; i += step) {
      const anchor = i === 0 ? "start" : i + step >= pts.length && i === pts.length - 1 ? "end" : "middle";
      if (pts[i].label) parts.push(`<text class="axis" x="${n(X(i))}" y="${H - 6}" text-anchor="${anchor}">${esc(pts[i].label)}</text>`);
    }
    // hover targets with <title>
    pts.forEach((p, i) => {
      if (!p.title) return;
      const left = i === 0 ? padL : (X(i - 1) + X(i)) / 2;
      const right = i === pts.length - 1 ? padL + iw : (X(i) + X(i + 1)) / 2;
      parts.push(`<rect class="hover" x="${n(left)}" y="${padT}" width="${n(Math.max(1, right - left))}" height="${ih}"><title>${esc(p.title)}</title></rect>`);
      if (pts.length <= 60) parts.push(`<circle class="dot" cx="${n(X(i))}" cy="${n(Y(p.y || 0))}" r="2.5"><title>${esc(p.title)}</title></circle>`);
    });
  } else {
    parts.push(`<text class="axis" x="${W / 2}" y="${H / 2}" text-anchor="middle">no data yet</text>`);
  }
  if (opts.hline) {
    const y = n(Y(opts.hline.y));
    parts.push(`<line class="hline" x1="${padL}" x2="${W - padR}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="hline-label" x="${padL + 6}" y="${y - 5}" text-anchor="start">${esc(opts.hline.label || "")}</text>`);
  }
  parts.push(`</svg>`);
  return parts.join("");
}

/** One horizontal stacked bar: segments [{value, cls, label}] */
export function stackedBar(segments, opts = {}) {
  const W = opts.width || 600, H = opts.height || 26;
  const total = segments.reduce((s, x) => s + (x.value || 0), 0) || 1;
  let x = 0;
  const parts = [`<svg class="chart stacked" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(opts.label || "")}">`];
  for (const s of segments) {
    if (!s.value) continue;
    const w = (s.value / total) * W;
    parts.push(`<rect class="${esc(s.cls)}" x="${n(x)}" y="0" width="${n(w)}" height="${H}"><title>${esc(s.label)}: ${esc(s.value)}</title></rect>`);
    x += w;
  }
  parts.push(`</svg>`);
  return parts.join("");
}

/** HTML bar (a div) with an optional budget mark: used in dense tables. */
export function meter(value, max, { mark = null, cls = "", title = "" } = {}) {
  const scale = Math.max(max || 0, mark || 0, value || 0) || 1;
  const w = Math.min(100, ((value || 0) / scale) * 100);
  const over = mark !== null && mark !== undefined && value > mark;
  let html = `<span class="meter ${esc(cls)}${over ? " over" : ""}" title="${esc(title)}"><span class="fill" style="width:${n(w)}%"></span>`;
  if (mark !== null && mark !== undefined && mark > 0) {
    html += `<span class="mark" style="left:${n(Math.min(100, (mark / scale) * 100))}%"></span>`;
  }
  return html + `</span>`;
}
