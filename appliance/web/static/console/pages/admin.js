import { del, get, post } from "../api.js";
import { badge, clear, fmtNumber, fmtTime, h, table } from "../dom.js";

function components(box) {
  return async () => {
    // 503 while a component is not ready: the body names them all either way.
    const body = await fetch("/readyz", { cache: "no-store" }).then((r) => r.json());
    clear(
      box,
      table(
        [
          { title: "Component", cell: ([name]) => name },
          { title: "State", cell: ([, s]) => badge(s.ready ? "ready" : "not ready", s.ready ? "ready" : "not-ready") },
          { title: "Detail", cell: ([, s]) => s.detail },
        ],
        Object.entries(body.components),
      ),
    );
  };
}

function keyOnce(email, key) {
  return h(
    "div",
    { class: "card", id: "new-key" },
    h("p", {}, h("strong", {}, `API key for ${email}`), " — shown once; copy it now. It is stored hashed and cannot be shown again."),
    h("div", { class: "key-once" }, key),
  );
}

function users(app, box, keysBox) {
  const load = async () => {
    const { users: list } = await get("/v1/users", { limit: 1000 });
    if (!app.alive()) return;
    const grant = (u) => {
      const amount = h("input", { type: "number", step: 1, size: 6, "aria-label": `credits for ${u.email}`, class: "grant-amount" });
      const form = h("form", { class: "row grant" }, amount, h("button", { class: "secondary", type: "submit" }, "Grant"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const r = await post(`/v1/users/${u.id}/credits`, { credits: Number(amount.value) });
          app.flash(`Granted ${fmtNumber(r.credits)} credits to ${u.email}; purchased balance ${fmtNumber(r.purchased)}.`, "ok");
          await load();
          if (u.id === app.user.id) await app.refreshBalance();
        } catch (err) {
          app.showError(err);
        }
      });
      return form;
    };
    clear(
      box,
      table(
        [
          { title: "Id", num: true, cell: (u) => u.id },
          { title: "E-mail", cell: (u) => u.email },
          { title: "Role", cell: (u) => (u.is_admin ? "admin" : "user") },
          { title: "Plan", cell: (u) => u.plan },
          { title: "Spendable", num: true, cell: (u) => fmtNumber(u.remaining) },
          { title: "Purchased", num: true, cell: (u) => fmtNumber(u.purchased) },
          { title: "Grant credits", cell: grant },
          { title: "", cell: (u) => h("button", { class: "link", type: "button", onclick: () => showKeys(app, u, keysBox) }, "API keys") },
        ],
        list,
      ),
    );
    box.querySelector("table").id = "users";
  };
  return load;
}

async function showKeys(app, user, box) {
  const { keys } = await get(`/v1/users/${user.id}/keys`);
  const revoke = (k) =>
    k.revoked
      ? badge("revoked", "failed")
      : h(
          "button",
          {
            class: "link",
            type: "button",
            onclick: async () => {
              try {
                await del(`/v1/keys/${k.id}`);
                app.flash(`Key ${k.prefix} revoked.`, "ok");
                await showKeys(app, user, box);
              } catch (err) {
                app.showError(err);
              }
            },
          },
          "Revoke",
        );
  clear(
    box,
    h("h3", {}, `API keys of ${user.email}`),
    table(
      [
        { title: "Id", num: true, cell: (k) => k.id },
        { title: "Prefix", cell: (k) => `apk_${k.prefix}_…` },
        { title: "Name", cell: (k) => k.name || "" },
        { title: "Created", cell: (k) => fmtTime(k.created_at) },
        { title: "Last used", cell: (k) => fmtTime(k.last_used_at) },
        { title: "", cell: revoke },
      ],
      keys,
      "No keys.",
    ),
  );
}

function createUser(app, reload) {
  const email = h("input", { type: "email", id: "new-email", required: true, placeholder: "analyst@example.com" });
  const password = h("input", { type: "password", id: "new-password", placeholder: "optional, 8+ characters", autocomplete: "new-password" });
  const credits = h("input", { type: "number", id: "new-credits", min: 0, step: 1, value: 0, size: 6 });
  const isAdmin = h("input", { type: "checkbox", id: "new-admin" });
  const out = h("div", {});
  const form = h(
    "form",
    { class: "row", id: "create-user" },
    h("label", {}, "E-mail", email),
    h("label", {}, "Password", password),
    h("label", {}, "Credits", credits),
    h("label", {}, "Admin", isAdmin),
    h("button", { class: "primary", type: "submit" }, "Create user"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { email: email.value.trim(), credits: Number(credits.value || 0), is_admin: isAdmin.checked };
    if (password.value) body.password = password.value;
    try {
      const u = await post("/v1/users", body);
      form.reset();
      clear(out, keyOnce(u.email, u.api_key));
      await reload();
    } catch (err) {
      app.showError(err);
    }
  });
  return h("div", {}, form, out);
}

function browser(app) {
  const q = h("input", { type: "text", id: "symbol-q", placeholder: "apple or AAPL", required: true });
  const symbols = h("div", { id: "symbols" });
  const filings = h("div", { id: "filings" });
  const sections = h("div", { id: "sections" });
  const showFilings = async (ticker) => {
    const { filings: list } = await get("/v1/filings", { ticker, limit: 50 });
    clear(
      filings,
      h("h3", {}, ticker ? `Imported filings of ${ticker}` : "Imported filings"),
      table(
        [
          { title: "Company", cell: (f) => `${f.company || ""} ${f.ticker ? `(${f.ticker})` : ""}` },
          { title: "Form", cell: (f) => f.form },
          { title: "Filed", cell: (f) => f.filing_date },
          { title: "Accession", cell: (f) => h("button", { class: "link", type: "button", onclick: () => showSections(f) }, f.accession) },
        ],
        list,
        "No imported filings.",
      ),
    );
  };
  const showSections = async (f) => {
    const detail = await get(`/v1/filings/${encodeURIComponent(f.accession)}`);
    clear(
      sections,
      h("h3", {}, `${detail.company || detail.ticker} ${detail.form} filed ${detail.filing_date}`),
      table(
        [
          { title: "Item", cell: (s) => h("a", { href: `#/section/${encodeURIComponent(f.accession)}/${encodeURIComponent(s.item)}` }, s.item) },
          { title: "Title", cell: (s) => s.title },
          { title: "Characters", num: true, cell: (s) => fmtNumber(s.char_count) },
        ],
        detail.sections,
      ),
    );
  };
  const form = h("form", { class: "row", id: "symbol-search" }, h("label", {}, "Symbol or company", q), h("button", { class: "secondary", type: "submit" }, "Search"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { symbols: list } = await get("/v1/symbols", { q: q.value.trim(), limit: 20 });
      clear(
        symbols,
        table(
          [
            { title: "Ticker", cell: (s) => h("button", { class: "link", type: "button", onclick: () => showFilings(s.ticker).catch(app.showError) }, s.ticker) },
            { title: "Company", cell: (s) => s.name },
            { title: "CIK", num: true, cell: (s) => s.cik },
            { title: "Exchange", cell: (s) => s.exchange || "" },
          ],
          list,
          "No match in the symbol map.",
        ),
      );
    } catch (err) {
      app.showError(err);
    }
  });
  return { el: h("div", {}, form, symbols, filings, sections), showFilings };
}

function jobRow(job) {
  const p = job.progress;
  const bar = h("div", {});
  bar.style.width = p.total ? `${Math.round((100 * p.done) / p.total)}%` : job.status === "done" ? "100%" : "0";
  return h(
    "div",
    { class: "card job", id: `job-${job.job_id}`, dataset: { status: job.status } },
    h("p", {}, h("strong", {}, `Job ${job.job_id}: ${job.ticker || "all"}`), " ", badge(job.status), job.phase ? h("span", { class: "muted small" }, `  ${job.phase}`) : null),
    h("div", { class: "progress" }, bar),
    h("p", { class: "muted small" }, `${fmtNumber(p.done)} of ${fmtNumber(p.total)} sections · ${fmtNumber(p.filings)} filings · ${fmtNumber(p.chunks)} chunks`, job.error ? h("span", { class: "error" }, ` · ${job.error}`) : null),
  );
}

function indexer(app) {
  const ticker = h("input", { type: "text", id: "index-ticker", placeholder: "MSFT", required: true, size: 8 });
  const live = h("div", { id: "job-live" });
  const recent = h("div", { id: "jobs" });
  const loadRecent = async () => {
    const { jobs } = await get("/ops/jobs", { limit: 10 });
    clear(
      recent,
      table(
        [
          { title: "Job", num: true, cell: (j) => j.job_id },
          { title: "Ticker", cell: (j) => j.ticker || "all" },
          { title: "Status", cell: (j) => badge(j.status) },
          { title: "Progress", cell: (j) => `${j.progress.done}/${j.progress.total}` },
          { title: "Updated", cell: (j) => fmtTime(j.updated_at) },
        ],
        jobs,
        "No indexing jobs yet.",
      ),
    );
  };
  const watch = async (job) => {
    while (app.alive()) {
      clear(live, jobRow(job));
      if (job.status === "done" || job.status === "failed") break;
      await new Promise((r) => setTimeout(r, 1000));
      job = await get(`/ops/jobs/${job.job_id}`);
    }
    if (app.alive()) await loadRecent();
  };
  const form = h("form", { class: "row", id: "index-form" }, h("label", {}, "Ticker", ticker), h("button", { class: "primary", type: "submit" }, "Index"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await post("/ops/index", undefined, { ticker: ticker.value.trim().toUpperCase() });
      await watch(job);
    } catch (err) {
      app.showError(err);
    }
  });
  const note = h("p", { class: "muted small" }, "Fetches the ticker's filings from EDGAR when edgar_user_agent is set, else imports <data_dir>/inbox/<TICKER>/; then indexes them.");
  return { el: h("div", {}, form, note, live, recent), loadRecent };
}

export async function render(main, app) {
  const comps = h("div", { id: "components" });
  const usersBox = h("div", { id: "users-box" });
  const keysBox = h("div", { id: "keys-box" });
  const loadUsers = users(app, usersBox, keysBox);
  const idx = indexer(app);
  const br = browser(app);
  main.append(
    h("h1", {}, "Admin"),
    h("h2", {}, "Components"),
    h("div", { class: "card" }, comps),
    h("h2", {}, "Index a ticker"),
    h("div", { class: "card" }, idx.el),
    h("h2", {}, "Users"),
    h("div", { class: "card" }, createUser(app, loadUsers), usersBox, keysBox),
    h("h2", {}, "Filings and symbols"),
    h("div", { class: "card" }, br.el),
  );
  await Promise.all([components(comps)(), loadUsers(), idx.loadRecent(), br.showFilings(undefined)]);
}
