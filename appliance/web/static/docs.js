// The API reference at /docs: every operation of /openapi.json, grouped by tag in the
// document's order, its schemas resolved through local $refs into nested field lists, and a
// try-it-out form per operation. Swagger UI (/docs/swagger) does the same with a 1.7 MB bundle
// that takes about a second to compile and run; this page is small enough to draw at once.
// Everything goes into the DOM as text (dom.js), and no inline style is used (the CSP).
import { h, clear } from "./console/dom.js";

const METHODS = ["get", "post", "put", "patch", "delete"];
// The answer headers worth showing next to a try-it-out response.
const SHOWN_HEADERS = [
  "X-Request-ID", "X-Credits-Remaining", "Idempotent-Replayed", "RateLimit-Limit",
  "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Content-Type",
];

let doc = null;
let apiKey = ""; // in memory only: never stored
let csrf = null;

// --- $refs and schemas -----------------------------------------------------------------

function deref(node) {
  // Local pointers only ("#/components/..."); tests/test_api_contract.py keeps them so.
  let seen = 0;
  while (node && node.$ref && seen++ < 32) {
    const keys = node.$ref.slice(2).split("/").map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    node = keys.reduce((n, k) => (n ? n[k] : undefined), doc);
  }
  return node || {};
}

const refName = (s) => (s && s.$ref ? s.$ref.split("/").pop() : null);
const isNull = (s) => s && s.type === "null";

function variants(s) {
  return s.anyOf || s.oneOf || null;
}

function typeLabel(schema) {
  if (!schema) return "any";
  const name = refName(schema);
  if (name) return name;
  const alts = variants(schema);
  if (alts) return alts.map(typeLabel).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  let t = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  if (t === "array") return `array of ${typeLabel(schema.items)}`;
  if (!t) t = schema.properties ? "object" : "any";
  return schema.format ? `${t} (${schema.format})` : t;
}

function constraints(s) {
  const out = [];
  const add = (key, text) => s[key] !== undefined && out.push(`${text} ${s[key]}`);
  add("minLength", "min length"); add("maxLength", "max length");
  add("minimum", "≥"); add("maximum", "≤");
  add("exclusiveMinimum", ">"); add("exclusiveMaximum", "<");
  add("minItems", "min items"); add("maxItems", "max items");
  add("pattern", "pattern");
  if (s.default !== undefined && s.default !== null) out.push(`default ${JSON.stringify(s.default)}`);
  return out;
}

// The schema whose fields are listed under a property: the object itself, an array's items,
// the non-null variant of "X | null". Several object variants are listed one by one.
function fieldsOf(schema, path) {
  const s = deref(schema);
  const name = refName(schema);
  if (name && path.includes(name)) return [h("p", { class: "muted small" }, `(${name}, as above)`)];
  const here = name ? [...path, name] : path;
  const alts = variants(s);
  if (alts) {
    const real = alts.filter((a) => !isNull(a) && hasFields(a));
    if (real.length === 1) return fieldsOf(real[0], here);
    return real.map((a, i) =>
      h("div", { class: "variant" }, h("p", { class: "small" }, `variant ${i + 1}: ${typeLabel(a)}`),
        fieldsOf(a, here)));
  }
  if (s.type === "array" || s.items) {
    return s.items && hasFields(s.items) ? fieldsOf(s.items, here) : [];
  }
  if (!s.properties) return [];
  const required = new Set(s.required || []);
  return [h("ul", { class: "fields" },
    Object.entries(s.properties).map(([prop, sub]) => fieldRow(prop, sub, required.has(prop), here)))];
}

function hasFields(schema) {
  const s = deref(schema);
  const alts = variants(s);
  if (alts) return alts.some((a) => !isNull(a) && hasFields(a));
  if (s.type === "array" || s.items) return Boolean(s.items) && hasFields(s.items);
  return Boolean(s.properties);
}

function describe(schema) {
  const s = deref(schema);
  const alts = variants(s);
  const nullable = alts && alts.some(isNull);
  const inner = nullable && alts.length === 2 ? deref(alts.find((a) => !isNull(a))) : s;
  const enums = inner.enum || (inner.items && deref(inner.items).enum);
  const text = schema.description || s.description;
  return [
    nullable ? h("span", { class: "tag" }, "nullable") : null,
    text ? h("span", { class: "desc" }, md(text)) : null,
    enums
      ? h("span", { class: "enum" }, "one of: ", enums.map((v) => h("code", {}, JSON.stringify(v))))
      : null,
    [...constraints(s), ...(inner !== s ? constraints(inner) : [])]
      .map((c) => h("span", { class: "tag" }, c)),
  ];
}

function fieldRow(name, schema, required, path) {
  return h("li", {},
    h("div", { class: "field" },
      h("code", { class: "name" }, name),
      h("span", { class: "type" }, typeLabel(schema)),
      required ? h("span", { class: "req" }, "required") : null,
      describe(schema)),
    fieldsOf(schema, path));
}

function schemaBlock(schema) {
  return h("div", { class: "schema" },
    h("div", { class: "field" }, h("span", { class: "type" }, typeLabel(schema)), describe(schema)),
    fieldsOf(schema, []));
}

// An example from the schema: the document's own examples and defaults first.
function exampleOf(schema, depth = 0) {
  const s = deref(schema);
  if (depth > 6) return null;
  if (s.examples && s.examples.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined && s.default !== null) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  const alts = variants(s);
  if (alts) return exampleOf(alts.find((a) => !isNull(a)) || alts[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  if (type === "object" || s.properties) {
    const props = Object.entries(s.properties || {});
    const required = new Set(s.required || []);
    const chosen = required.size ? props.filter(([k]) => required.has(k)) : props;
    return Object.fromEntries(chosen.map(([k, v]) => [k, exampleOf(v, depth + 1)]));
  }
  if (type === "array") return [exampleOf(s.items, depth + 1)];
  if (type === "integer" || type === "number") return s.minimum ?? 0;
  if (type === "boolean") return false;
  if (type === "string") {
    if (s.format === "date") return "2025-01-01";
    if (s.format === "date-time") return "2025-01-01T00:00:00Z";
    if (s.format === "email") return "user@example.com";
    return "string";
  }
  return null;
}

// --- operations ------------------------------------------------------------------------

function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const params = [...(item.parameters || []), ...(item[method].parameters || [])].map(deref);
      ops.push({ path, method, op: item[method], params });
    }
  }
  return ops;
}

const jsonBody = (op) => (op.requestBody && (op.requestBody.content || {})["application/json"]) || null;
const tagsOf = (op) => (op.tags && op.tags.length ? op.tags : ["other"]);

function billable(op) {
  const b = op["x-billable"];
  if (!b) return null;
  return h("span", { class: "badge billable", title: `metered as ${b.meter}` }, `billable: ${b.cost}`);
}

function paramsTable(params) {
  if (!params.length) return null;
  return [h("h4", {}, "Parameters"),
    h("table", { class: "params" },
      h("thead", {}, h("tr", {}, ["name", "in", "type", "description"].map((c) => h("th", {}, c)))),
      h("tbody", {}, params.map((p) => h("tr", {},
        h("td", {}, h("code", {}, p.name), p.required ? h("span", { class: "req" }, "required") : null),
        h("td", {}, p.in),
        h("td", {}, typeLabel(p.schema)),
        h("td", {}, md(p.description || ""), describe(p.schema || {}))))))];
}

function responsesBlock(responses) {
  return [h("h4", {}, "Responses"),
    Object.entries(responses || {}).map(([status, r0]) => {
      const r = deref(r0);
      const headers = Object.entries(r.headers || {}).map(([name, hd]) => [name, deref(hd)]);
      const content = Object.entries(r.content || {});
      return h("div", { class: `response s${status[0]}xx` },
        h("div", { class: "field" },
          h("span", { class: "status" }, status), h("span", { class: "desc" }, md(r.description || ""))),
        headers.length
          ? h("ul", { class: "headers" }, headers.map(([name, hd]) => h("li", {},
            h("code", {}, name),
            h("span", { class: "type" }, typeLabel(hd.schema)),
            h("span", { class: "desc" }, md(hd.description || "")))))
          : null,
        content.map(([type, media]) => [h("p", { class: "small muted" }, type), bodySchema(media.schema)]));
    })];
}

const ERROR_REF = "#/components/schemas/Error";

function bodySchema(schema) {
  if (!schema) return null;
  if (schema.$ref === ERROR_REF) {
    return h("p", { class: "field" },
      h("span", { class: "type" }, "Error"), h("a", { href: "#tag-errors" }, "the error shape"));
  }
  return schemaBlock(schema);
}

function tryForm(entry) {
  const { op, params, method } = entry;
  const id = op.operationId;
  const inputs = params.filter((p) => ["path", "query", "header"].includes(p.in)).map((p) => {
    const input = h("input", {
      type: "text", id: `${id}--${p.in}-${p.name}`, name: p.name, "data-in": p.in,
      required: p.required && p.in === "path",
    });
    const ex = p.example ?? (p.schema && (p.schema.default ?? (p.schema.examples || [])[0]));
    if (p.required && ex !== undefined && ex !== null) input.value = String(ex);
    return h("label", { for: input.id }, `${p.name} (${p.in}${p.required ? ", required" : ""})`, input);
  });
  const media = jsonBody(op);
  let body = null;
  if (media) {
    const example = media.example !== undefined ? media.example : exampleOf(media.schema);
    body = h("textarea", { id: `${id}--body`, rows: 6, spellcheck: "false", class: "json" });
    body.value = JSON.stringify(example, null, 2);
  }
  const out = h("div", { class: "result", "aria-live": "polite" });
  const send = h("button", { type: "submit", class: "primary" }, "Send");
  const form = h("form", { class: "try", id: `${id}--try` },
    h("h4", {}, "Try it"),
    inputs.length ? h("div", { class: "grid" }, inputs) : null,
    body ? [h("label", { for: body.id }, "Request body (JSON)"), body] : null,
    h("div", { class: "actions" },
      send, h("span", { class: "muted small" }, `${method.toUpperCase()} ${entry.path}`)),
    out);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send.disabled = true;
    run(entry, form, body, out).finally(() => { send.disabled = false; });
  });
  return form;
}

async function run(entry, form, bodyInput, out) {
  let url = entry.path;
  const query = new URLSearchParams();
  const headers = { Accept: "application/json" };
  for (const input of form.querySelectorAll("input[data-in]")) {
    const value = input.value.trim();
    if (!value) continue;
    if (input.dataset.in === "path") url = url.replace(`{${input.name}}`, encodeURIComponent(value));
    else if (input.dataset.in === "query") query.set(input.name, value);
    else headers[input.name] = value;
  }
  const unfilled = url.match(/{[^}]+}/g);
  if (unfilled) return show(out, h("p", { class: "error" }, `Fill in ${unfilled.join(", ")}.`));
  let body;
  if (bodyInput) {
    try {
      body = JSON.stringify(JSON.parse(bodyInput.value));
    } catch (err) {
      return show(out, h("p", { class: "error" }, `The request body is not valid JSON: ${err.message}`));
    }
    headers["Content-Type"] = "application/json";
  }
  const method = entry.method.toUpperCase();
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  else if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  const qs = query.toString();
  const started = performance.now();
  let response;
  try {
    // With a key, the cookie is left out so the key is what authenticates.
    response = await fetch(url + (qs ? `?${qs}` : ""), {
      method, headers, body, credentials: apiKey ? "omit" : "same-origin", cache: "no-store",
    });
  } catch (err) {
    return show(out, h("p", { class: "error" }, `The request failed: ${err.message}`));
  }
  const text = await response.text();
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON (/metrics): shown as sent
  }
  const shown = SHOWN_HEADERS.filter((n) => response.headers.get(n) !== null);
  show(out,
    h("p", {},
      h("span", { class: `status s${String(response.status)[0]}xx`, "data-status": response.status },
        `${response.status} ${response.statusText}`),
      h("span", { class: "muted small" }, ` in ${Math.round(performance.now() - started)} ms`)),
    shown.length
      ? h("dl", { class: "resp-headers" }, shown.map((n) =>
        [h("dt", {}, n), h("dd", { "data-header": n }, response.headers.get(n))]))
      : null,
    h("pre", { class: "body" }, pretty || "(empty body)"));
}

// The document's descriptions use `code` and **bold**; both become elements, the rest text.
function md(text) {
  // ``double`` backticks too: the pydantic models' docstrings are reStructuredText.
  return String(text).split(/(``[^`]+``|`[^`]+`|\*\*[^*]+\*\*)/).map((part) => {
    if (part.length > 1 && part.startsWith("`") && part.endsWith("`")) {
      return h("code", {}, part.replace(/^`+|`+$/g, ""));
    }
    if (part.startsWith("**") && part.endsWith("**")) return h("strong", {}, part.slice(2, -2));
    return part;
  });
}

function show(out, ...children) {
  clear(out, children);
}

function operationView(entry) {
  const { op, method, path } = entry;
  const details = h("details", { class: `op ${method}`, id: op.operationId },
    h("summary", {},
      h("span", { class: `method ${method}` }, method.toUpperCase()),
      h("code", { class: "path" }, path),
      h("span", { class: "summary" }, op.summary || ""),
      billable(op),
      op.security && op.security.length === 0 ? h("span", { class: "badge" }, "public") : null));
  // Drawn on first open: the collapsed page stays cheap, and opening is still instant.
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.drawn) {
      details.dataset.drawn = "1";
      const media = jsonBody(op);
      details.append(h("div", { class: "op-body" },
        op.description ? op.description.split("\n\n").map((p) => h("p", { class: "desc" }, md(p))) : null,
        paramsTable(entry.params),
        media
          ? [h("h4", {}, "Request body",
            op.requestBody.required ? h("span", { class: "req" }, "required") : null),
          schemaBlock(media.schema)]
          : null,
        responsesBlock(op.responses),
        tryForm(entry)));
    }
  });
  return details;
}

function render() {
  const ops = operations();
  const tags = (doc.tags || []).map((t) => t.name);
  for (const e of ops) for (const t of tagsOf(e.op)) if (!tags.includes(t)) tags.push(t);
  const described = Object.fromEntries((doc.tags || []).map((t) => [t.name, t.description]));
  document.getElementById("docs-title").textContent = `${doc.info.title} ${doc.info.version}: API reference`;
  clear(document.getElementById("docs-intro"), md(doc.info.description || ""));
  const sections = tags.map((tag) => {
    const mine = ops.filter((e) => tagsOf(e.op).includes(tag));
    if (!mine.length) return null;
    return h("section", { class: "tag-group", id: `tag-${tag}` },
      h("h2", {}, tag, described[tag] ? h("span", { class: "muted small" }, ` · ${described[tag]}`) : null),
      mine.map(operationView));
  });
  clear(document.getElementById("docs-toc"), tags.map((t) => h("a", { href: `#tag-${t}` }, t)));
  clear(document.getElementById("docs-ops"), sections,
    h("section", { class: "tag-group", id: "tag-errors" }, h("h2", {}, "The error shape"),
      h("p", { class: "muted" }, "Every error answer (4xx, 5xx) has this body."),
      schemaBlock({ $ref: ERROR_REF })));
}

function openFromHash() {
  const id = decodeURIComponent(location.hash.slice(1));
  const el = id && document.getElementById(id);
  if (el && el.tagName === "DETAILS") {
    el.open = true;
    el.scrollIntoView({ block: "start" });
  }
}

function fail(message) {
  const box = document.getElementById("docs-error");
  box.textContent = message;
  box.hidden = false;
}

async function start() {
  const keyInput = document.getElementById("docs-key");
  keyInput.addEventListener("input", () => { apiKey = keyInput.value.trim(); });
  document.getElementById("docs-key-clear").addEventListener("click", () => {
    keyInput.value = "";
    apiKey = "";
  });
  fetch("/auth/session", { credentials: "same-origin", cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (s && s.signed_in) {
        csrf = s.csrf_token;
        document.getElementById("docs-session").textContent = `signed in to the console as ${s.user.email}`;
        document.getElementById("docs-auth-note").textContent = "Kept in this page's memory only"
          + " (gone on reload). Without a key, requests use your console session.";
      }
    })
    .catch(() => {});
  try {
    // Same mode and credentials as the <link rel=preload>, so the preloaded answer is used.
    const r = await fetch("/openapi.json");
    if (!r.ok) throw new Error(`/openapi.json answered ${r.status}`);
    doc = await r.json();
    render();
  } catch (err) {
    fail(`Could not load the API description: ${err.message}`);
    return;
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
  document.querySelector("main").dataset.ready = "docs";
}

start();
