// Entity registry: the companies and people documents name, read-only, as GET /api/v1/registry
// serves them. Every value is set as text (textContent), never as markup.

import { get } from "../api.js";

let root = null;

// el("dl", {class: "x", "data-company": key}, child, "text", ...): an element built as text.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function facts(rows) {
  const dl = el("dl", { class: "registry-facts" });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", {}, label), el("dd", {}, value));
  }
  return dl;
}

function companyCard(c) {
  const name = c.trading_as ? `${c.legal_name} (trading as ${c.trading_as})` : c.legal_name;
  const signatories = c.signatories.length
    ? el("table", { class: "data" },
      el("thead", {}, el("tr", {}, el("th", {}, "Signs"), el("th", {}, "Capacity"))),
      el("tbody", {}, c.signatories.map((s) => el("tr", { "data-signatory": s.person },
        el("td", {}, `${s.full_name} (${s.person})`), el("td", {}, s.capacity)))))
    : el("p", { class: "muted" }, "nobody signs for it: list directors or signatories");
  return el("section", { class: "panel-box registry-company", "data-company": c.key },
    el("h2", {}, name, " ", el("span", { class: "muted small" }, c.key)),
    facts([
      ["Kind", `${c.kind} (${c.country})`],
      ["Registration number", c.registration_number],
      ["VAT number", c.vat_number],
      ["Registered address", c.registered_address],
      ["Domicilium", c.domicilium_address],
      ["Postal address", c.postal_address],
      ["Email", c.email],
      ["Bank account (reference)", c.bank_ref],
      ["Directors", c.directors.map((d) => `${d.full_name || "?"} (${d.person})`).join(", ") || "none listed"],
    ]),
    el("h3", {}, "Signatories"),
    signatories);
}

function peopleTable(people) {
  if (!people.length) return el("p", { class: "muted" }, "no people in the registry");
  return el("table", { class: "data registry-people" },
    el("thead", {}, el("tr", {}, ["Person", "Full name", "ID number", "Title", "Email", "Companies"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, people.map((p) => el("tr", { "data-person": p.key },
      el("td", {}, p.key),
      el("td", {}, p.full_name),
      el("td", { class: "num" }, p.id_number || (p.passport ? `passport ${p.passport}` : "—")),
      el("td", {}, p.capacity || ""),
      el("td", {}, p.email || ""),
      el("td", {}, p.companies.map((r) =>
        `${r.legal_name}${r.director ? ", director" : ""}${r.signs_as ? `, signs as ${r.signs_as}` : ""}`).join("; "))))));
}

function render(reg) {
  root.replaceChildren(
    el("div", { class: "toolbar" },
      el("h1", {}, "Entity registry"),
      el("span", { class: "muted small" },
        "read-only · edit registry.toml beside the fleet file (review it in git) and restart the control plane · checked by ",
        el("code", {}, "mcos fleet check"))),
    !reg.companies.length && !reg.people.length
      ? el("p", { class: "muted", "data-registry-empty": "" },
        "The registry is empty: there is no registry.toml beside the fleet file. `mcos init` writes a sample.")
      : el("div", { "data-registry": "" },
        el("h2", {}, `Companies (${reg.companies.length})`),
        el("div", { class: "registry-grid" }, reg.companies.map(companyCard)),
        el("h2", {}, `People (${reg.people.length})`),
        peopleTable(reg.people)));
}

export default {
  async mount(node) {
    root = node;
    root.replaceChildren(el("p", { class: "muted" }, "Loading the registry…"));
    try {
      const reg = await get("/api/v1/registry");
      if (root === node) render(reg);
    } catch (e) {
      if (root === node) root.replaceChildren(el("p", { class: "error" }, e.display || e.message));
    }
  },
  unmount() { root = null; },
  update() {},
  tick() {},
};
