import { ApiError, post } from "../api.js";
import { badge, clear, h, table } from "../dom.js";

const LAST = "appliance.lastAnswer";

export function sectionHref(citation, n) {
  const acc = encodeURIComponent(citation.accession);
  const item = encodeURIComponent(citation.section);
  return `#/section/${acc}/${item}?cite=${n}`;
}

export function lastAnswer() {
  try {
    return JSON.parse(sessionStorage.getItem(LAST) || "null");
  } catch {
    return null;
  }
}

// The API's statuses (answered / no_answer / not_indexed); older answers carry none.
function statusOf(data) {
  if (data.status) return data.status;
  return data.citations && data.citations.length ? "answered" : "no_answer";
}

function answerText(data) {
  // "... sentence. [1] Another. [2]" -> text with each [n] linking to its cited section.
  const out = [];
  const parts = (data.answer || "").split(/\[(\d+)\]/);
  parts.forEach((part, i) => {
    if (i % 2 === 0) {
      if (part) out.push(part);
      return;
    }
    const n = Number(part);
    const c = data.citations[n - 1];
    out.push(c ? h("a", { class: "cite", href: sectionHref(c, n), title: `${c.company || c.ticker} ${c.form} ${c.filing_date}` }, `[${n}]`) : `[${n}]`);
  });
  return out;
}

function citationCard(c, n) {
  return h(
    "article",
    { class: "card citation", id: `citation-${n}` },
    h(
      "header",
      {},
      h("strong", {}, `[${n}] ${c.company || c.ticker || "Unknown company"}`),
      c.ticker ? h("span", { class: "muted" }, c.ticker) : null,
      h("span", {}, c.form),
      h("span", { class: "muted" }, `filed ${c.filing_date}`),
      h("span", {}, `Item ${c.section}${c.section_title ? ` · ${c.section_title}` : ""}`),
    ),
    h("blockquote", {}, c.text),
    h(
      "div",
      { class: "links" },
      h("a", { href: sectionHref(c, n), class: "open-section" }, "Open the section"),
      c.url ? h("a", { href: c.url, target: "_blank", rel: "noopener noreferrer" }, "Filing on SEC.gov ↗") : null,
    ),
  );
}

function periodText(p) {
  return p.instant ? `as of ${p.instant}` : `${p.start} to ${p.end}`;
}

// The reported figures a numeric answer states (inline XBRL), with where they were filed.
function factsTable(facts) {
  return h(
    "div",
    { class: "card", id: "answer-facts" },
    h("h2", {}, "Figures (inline XBRL)"),
    table(
      [
        { title: "", cell: (f) => f.role },
        { title: "Line", cell: (f) => `${f.label} (${f.concept})` },
        { title: "Value", num: true, cell: (f) => `${Number(f.value).toLocaleString("en-US")} ${f.unit}` },
        { title: "Period", cell: (f) => `${f.fy} ${f.fp} · ${periodText(f.period)}${f.derived ? " (computed)" : ""}` },
        { title: "Filed", cell: (f) => (f.form ? `${f.form} ${f.filing_date}` : "") },
      ],
      facts,
    ),
  );
}

// {ticker, cik, company, indexed}: "MSFT (MICROSOFT CORP, not indexed)".
function companyText(c) {
  if (typeof c === "string") return c;
  const name = c.company || c.name || `CIK ${c.cik}`;
  const label = c.ticker ? `${c.ticker} (${name}` : `${name} (CIK ${c.cik}`;
  return `${label}${c.indexed === false ? ", not indexed" : ""})`;
}

function showAnswer(out, data) {
  const status = statusOf(data);
  const message = data.message || (status === "answered" ? null : data.answer);
  const companies = data.companies && data.companies.length ? data.companies : null;
  clear(
    out,
    h(
      "div",
      { class: "card", id: "answer" },
      h(
        "p",
        {},
        badge(status),
        data.as_of ? h("span", { class: "muted small" }, `  as of ${data.as_of}`) : null,
        typeof data.confidence === "number" ? h("span", { class: "muted small" }, `  confidence ${data.confidence.toFixed(2)}`) : null,
      ),
      status === "answered"
        ? h("p", { class: "answer" }, answerText(data))
        : h("p", { class: "answer", id: "answer-message" }, message || "No answer."),
      companies ? h("p", { class: "muted small", id: "answer-companies" }, `Companies: ${companies.map(companyText).join(", ")}`) : null,
    ),
    data.facts && data.facts.length ? factsTable(data.facts) : null,
    data.citations && data.citations.length ? h("h2", {}, "Citations") : null,
    (data.citations || []).map((c, i) => citationCard(c, i + 1)),
  );
}

export function render(main, app) {
  const last = lastAnswer();
  const q = last ? last.request : {};
  const query = h("textarea", { id: "question", name: "query", required: true, maxlength: 2000, placeholder: "How many employees does Apple have?" });
  query.value = q.query || "";
  const ticker = h("input", { type: "text", id: "ticker", name: "ticker", placeholder: "AAPL", maxlength: 12, size: 8 });
  ticker.value = q.ticker || "";
  const cutoff = h("input", { type: "date", id: "cutoff", name: "cutoff" });
  cutoff.value = q.cutoff || "";
  const form = h("select", { id: "form", name: "form" }, ["", "10-K", "10-Q", "8-K"].map((f) => h("option", { value: f }, f || "any form")));
  form.value = (q.forms && q.forms[0]) || "";
  const sections = h("input", { type: "text", id: "sections", name: "sections", placeholder: "1A, 7", size: 12 });
  sections.value = (q.sections || []).join(", ");
  const button = h("button", { class: "primary", type: "submit", id: "ask-button" }, "Ask");
  const out = h("div", { id: "ask-result" });
  const el = h(
    "form",
    { id: "ask-form", class: "card" },
    h("label", { for: "question" }, h("strong", {}, "Question")),
    query,
    h(
      "div",
      { class: "grid" },
      h("label", {}, "Ticker ", ticker),
      h("label", {}, "As of (cutoff) ", cutoff),
      h("label", {}, "Form ", form),
      h("label", {}, "Items ", sections),
    ),
    h("p", {}, button, h("span", { class: "muted small" }, "  Only answered questions cost credits: \"no answer\" and \"not indexed\" are free.")),
  );
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = { query: query.value.trim() };
    if (ticker.value.trim()) request.ticker = ticker.value.trim().toUpperCase();
    if (cutoff.value) request.cutoff = cutoff.value;
    if (form.value) request.forms = [form.value];
    const items = sections.value.split(/[,\s]+/).filter(Boolean);
    if (items.length) request.sections = items;
    button.disabled = true;
    clear(out, h("p", { class: "muted" }, "Searching the filings…"));
    try {
      const data = await post("/v1/qa/filings", request);
      sessionStorage.setItem(LAST, JSON.stringify({ request, data }));
      if (app.alive()) showAnswer(out, data);
    } catch (err) {
      if (err instanceof ApiError && err.status === 503) {
        clear(out, h("div", { class: "card" }, badge(err.code === "index_building" ? "index building" : "not ready", "not-ready"), h("p", {}, err.message)));
      } else {
        clear(out);
        app.showError(err);
      }
    } finally {
      button.disabled = false;
    }
  });
  main.append(h("h1", {}, "Ask the filings"), el, out);
  if (last && last.data) showAnswer(out, last.data);
  query.focus();
}
