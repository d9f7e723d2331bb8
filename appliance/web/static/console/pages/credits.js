import { get, post } from "../api.js";
import { dayRange, usageChart } from "../chart.js";
import { badge, clear, fmtNumber, fmtTime, h, table } from "../dom.js";

function money(cents, currency) {
  return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

function balances(q) {
  return h(
    "div",
    { class: "grid", id: "balances" },
    h("div", { class: "card" }, h("div", { class: "muted small" }, "Spendable now"), h("div", { class: "stat", id: "credits-remaining" }, fmtNumber(q.remaining))),
    h("div", { class: "card" }, h("div", { class: "muted small" }, "Monthly allowance left"), h("div", { class: "stat" }, `${fmtNumber(q.allowance_remaining)} / ${fmtNumber(q.monthly_allowance)}`)),
    h("div", { class: "card" }, h("div", { class: "muted small" }, "Purchased"), h("div", { class: "stat" }, fmtNumber(q.purchased))),
    h("div", { class: "card" }, h("div", { class: "muted small" }, "Plan"), h("div", { class: "stat" }, q.plan), h("div", { class: "muted small" }, `allowance renews ${fmtTime(q.resets_at)}`)),
  );
}

async function checkoutResult(app, box) {
  const co = app.checkout;
  if (!co) return;
  app.checkout = null;
  if (co.result !== "success" || !co.sessionId) {
    clear(box, h("div", { class: "card", id: "checkout-result" }, badge("cancelled", "expired"), " Checkout was cancelled; nothing was charged."));
    return;
  }
  const show = (s) =>
    clear(
      box,
      h(
        "div",
        { class: "card", id: "checkout-result" },
        badge(s.status),
        s.status === "credited"
          ? ` Payment received: ${fmtNumber(s.credits)} credits (${s.pack}) were added.`
          : s.status === "failed" || s.status === "expired"
            ? ` The payment for ${s.pack} did not go through (${s.status}).`
            : ` Waiting for Stripe to confirm the payment for ${s.pack} (${fmtNumber(s.credits)} credits)…` +
              " Credits are added when Stripe's notification arrives (or `appliance billing reconcile`).",
      ),
    );
  for (let i = 0; i < 30 && app.alive(); i++) {
    const s = await get(`/billing/checkout/sessions/${encodeURIComponent(co.sessionId)}`);
    show(s);
    if (!["open", "pending"].includes(s.status)) {
      await app.refreshBalance();
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function topUps(app, packs, refresh) {
  const key = h("input", { type: "text", id: "license-key", placeholder: "APL1.…", autocomplete: "off", size: 40, required: true });
  const redeem = h("form", { class: "row", id: "redeem-form" }, h("label", {}, "License key", key), h("button", { class: "primary", type: "submit" }, "Redeem"));
  const result = h("p", { id: "redeem-result" });
  redeem.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const r = await post("/billing/licenses/redeem", { license_key: key.value.trim() });
      key.value = "";
      result.textContent = `Redeemed ${fmtNumber(r.credits)} credits (license ${r.license_id}); purchased balance ${fmtNumber(r.purchased)}.`;
      app.flash(`License redeemed: ${fmtNumber(r.credits)} credits added.`, "ok");
      await refresh();
    } catch (err) {
      app.showError(err);
    }
  });
  const buy =
    packs.provider === "stripe"
      ? h(
          "div",
          { id: "packs" },
          packs.packs.map((p) =>
            h(
              "button",
              {
                class: "secondary",
                type: "button",
                onclick: async (event) => {
                  event.target.disabled = true;
                  try {
                    const co = await post("/billing/checkout/credits", { pack: p.name });
                    window.location.assign(co.checkout_url);
                  } catch (err) {
                    event.target.disabled = false;
                    app.showError(err);
                  }
                },
              },
              `Buy ${fmtNumber(p.credits)} credits · ${money(p.amount_cents, p.currency)}`,
            ),
          ),
        )
      : h("p", { class: "muted" }, "Card payments are not set up on this appliance; redeem a license key from your vendor.");
  return h("div", { class: "card" }, h("h2", {}, "Top up"), buy, h("h2", {}, "Redeem a license key"), redeem, result);
}

export async function render(main, app) {
  const resultBox = h("div", { id: "checkout-box" });
  const balancesSlot = h("div", { id: "balances-slot" });
  const topUpSlot = h("div", {});
  const chart = h("div", { class: "card" }, h("p", { class: "muted" }, "Loading usage…"));
  const events = h("div", {});
  main.append(h("h1", {}, "Credits"), resultBox, balancesSlot, topUpSlot, h("h2", {}, "Credits per day (last 30 days)"), chart, h("h2", {}, "Recent usage"), events);
  const refresh = async () => {
    const [q, daily, usage] = await Promise.all([app.refreshBalance(), get("/v1/usage/daily", { days: 30 }), get("/v1/usage", { limit: 20 })]);
    if (!app.alive()) return;
    clear(balancesSlot, balances(q));
    clear(chart, usageChart(dayRange(daily.since, daily.until), daily.days));
    clear(
      events,
      table(
        [
          { title: "When", cell: (e) => fmtTime(e.created_at) },
          { title: "Endpoint", cell: (e) => e.endpoint },
          { title: "Credits", num: true, cell: (e) => e.cost },
          { title: "Balance after", num: true, cell: (e) => e.quota_after },
          { title: "Status", cell: (e) => badge(e.status) },
          { title: "HTTP", num: true, cell: (e) => e.status_code ?? "" },
        ],
        usage.events,
        "No billable calls yet.",
      ),
    );
    const t = events.querySelector("table");
    if (t) t.id = "usage-events";
  };
  const packs = await get("/billing/packs");
  if (!app.alive()) return;
  clear(topUpSlot, topUps(app, packs, refresh));
  await refresh();
  checkoutResult(app, resultBox).then(refresh).catch(app.showError);
}
