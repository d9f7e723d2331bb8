import { post } from "../api.js";
import { clear, h } from "../dom.js";
import { textsOf, toCsv } from "../csv.js";

const BATCH = 64; // the API's most texts per request

function label(l) {
  return h("span", { class: `label-${l}` }, l);
}

function score(x) {
  return x.toFixed(3);
}

function sentencesOf(result) {
  if (!result.sentences || result.sentences.length < 2) return null;
  return h(
    "details",
    {},
    h("summary", {}, `${result.sentences.length} sentences`),
    h(
      "table",
      { class: "small" },
      h("tbody", {}, result.sentences.map((s) => h("tr", {}, h("td", {}, s.text), h("td", {}, label(s.label)), h("td", { class: "num" }, score(s.scores[s.label]))))),
    ),
  );
}

function resultsTable(rows) {
  return h(
    "table",
    { id: "sentiment-results" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "Text"), h("th", {}, "Label"), h("th", { class: "num" }, "negative"), h("th", { class: "num" }, "neutral"), h("th", { class: "num" }, "positive")),
    ),
    h(
      "tbody",
      {},
      rows.map(({ text, result }, i) =>
        h(
          "tr",
          {},
          h("td", { class: "num" }, i + 1),
          h("td", {}, text.length > 240 ? `${text.slice(0, 240)}…` : text, sentencesOf(result)),
          h("td", { class: "label" }, label(result.label)),
          h("td", { class: "num" }, score(result.scores.negative)),
          h("td", { class: "num" }, score(result.scores.neutral)),
          h("td", { class: "num" }, score(result.scores.positive)),
        ),
      ),
    ),
  );
}

function downloadLink(rows) {
  const csv = toCsv(
    ["text", "label", "negative", "neutral", "positive", "sentences"],
    rows.map(({ text, result }) => [text, result.label, result.scores.negative, result.scores.neutral, result.scores.positive, (result.sentences || []).map((s) => `${s.label}: ${s.text}`).join(" | ")]),
  );
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  return h("a", { href: url, download: "sentiment.csv", id: "download-csv", class: "secondary" }, "Download the results (CSV)");
}

export function render(main, app) {
  const text = h("textarea", { id: "sentiment-text", placeholder: "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn." });
  const file = h("input", { type: "file", id: "sentiment-file", accept: ".csv,.txt,text/csv,text/plain" });
  const info = h("p", { class: "muted small", id: "file-info" }, "A CSV with a “text” column, or a file with one text per line.");
  const button = h("button", { class: "primary", type: "submit", id: "score-button" }, "Score");
  const out = h("div", { id: "sentiment-out" });
  let fileTexts = null;
  file.addEventListener("change", async () => {
    fileTexts = null;
    const f = file.files && file.files[0];
    if (!f) return;
    fileTexts = textsOf(await f.text());
    info.textContent = `${f.name}: ${fileTexts.length} texts (each costs credits). The text box is ignored while a file is chosen.`;
  });
  const form = h(
    "form",
    { class: "card", id: "sentiment-form" },
    h("label", { for: "sentiment-text" }, h("strong", {}, "Text")),
    text,
    h("p", {}, h("label", { for: "sentiment-file" }, "Or upload a file: "), file),
    info,
    h("p", {}, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const texts = fileTexts || (text.value.trim() ? [text.value.trim()] : []);
    if (!texts.length) {
      app.flash("Enter a text or choose a file.", "error");
      return;
    }
    button.disabled = true;
    const rows = [];
    let model = "";
    try {
      for (let i = 0; i < texts.length; i += BATCH) {
        clear(out, h("p", { class: "muted" }, `Scoring ${Math.min(i + BATCH, texts.length)} of ${texts.length}…`));
        const batch = texts.slice(i, i + BATCH);
        const data = await post("/v1/nlp/sentiment", { texts: batch });
        data.results.forEach((result, j) => rows.push({ text: batch[j], result }));
        model = data.model;
      }
      if (!app.alive()) return;
      clear(out, h("p", { id: "sentiment-summary" }, `${rows.length} texts scored by ${model}. `, downloadLink(rows)), resultsTable(rows));
    } catch (err) {
      clear(out, rows.length ? [h("p", {}, `Stopped after ${rows.length} texts.`), downloadLink(rows), resultsTable(rows)] : []);
      app.showError(err);
    } finally {
      button.disabled = false;
    }
  });
  main.append(h("h1", {}, "Sentiment"), form, out);
}
