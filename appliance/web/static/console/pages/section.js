import { get } from "../api.js";
import { append, h } from "../dom.js";
import { lastAnswer } from "./ask.js";

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Where the cited passage is in the section: its words in order, whatever the whitespace
// between them (chunks are cut from the section's text, spacing may differ).
export function locate(text, passage) {
  const words = (passage || "").split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  for (const take of [words.length, Math.min(words.length, 40), Math.min(words.length, 12)]) {
    const pattern = new RegExp(words.slice(0, take).map(escapeRegExp).join("\\s+"));
    const m = pattern.exec(text);
    if (m) {
      if (take === words.length) return [m.index, m.index + m[0].length];
      // Only the start matched: highlight as many characters as the passage has.
      return [m.index, Math.min(text.length, m.index + passage.length)];
    }
  }
  return null;
}

export async function render(main, app) {
  const [accession, item] = app.args;
  const n = Number(app.params.get("cite") || 0);
  const last = lastAnswer();
  const citation = n && last && last.data && last.data.citations ? last.data.citations[n - 1] : null;
  const [filing, section] = await Promise.all([
    get(`/v1/filings/${encodeURIComponent(accession)}`),
    get(`/v1/filings/${encodeURIComponent(accession)}/sections/${encodeURIComponent(item)}`),
  ]);
  if (!app.alive()) return;
  const text = section.text;
  const span = citation && citation.accession === accession ? locate(text, citation.text) : null;
  const body = h("div", { class: "section-text", id: "section-text" });
  if (span) {
    body.append(text.slice(0, span[0]), h("mark", { id: "cited" }, text.slice(span[0], span[1])), text.slice(span[1]));
  } else {
    body.append(text);
  }
  append(main, [
    h("p", {}, h("a", { href: "#/ask" }, "← Back to the answer")),
    h("h1", {}, `${filing.company || filing.ticker || "Filing"} · ${filing.form} · Item ${section.item}`),
    h(
      "p",
      { class: "muted" },
      `${section.title} · filed ${filing.filing_date}`,
      filing.period_of_report ? ` · period ${filing.period_of_report}` : "",
      ` · accession ${accession} · `,
      filing.url ? h("a", { href: filing.url, target: "_blank", rel: "noopener noreferrer", id: "sec-link" }, "the filing on SEC.gov ↗") : "not on SEC.gov",
    ),
    citation && !span ? h("p", { class: "muted small" }, "The cited passage could not be located in this section's text.") : null,
    body,
  ]);
  const mark = document.getElementById("cited");
  if (mark) mark.scrollIntoView({ block: "center" });
}
