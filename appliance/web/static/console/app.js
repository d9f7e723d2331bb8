// The console: a hash-routed single page over the JSON API (no build step, no framework).
import { ApiError, get, del, onCredits, setCsrf } from "./api.js";
import { clear, fmtNumber, h } from "./dom.js";
import * as admin from "./pages/admin.js";
import * as ask from "./pages/ask.js";
import * as credits from "./pages/credits.js";
import * as section from "./pages/section.js";
import * as sentiment from "./pages/sentiment.js";
import * as signin from "./pages/signin.js";

const PAGES = { ask, sentiment, credits, admin, section };
const main = document.getElementById("main");
const state = { session: null, checkout: null, render: 0 };

function flash(message, kind = "info") {
  const el = document.getElementById("flash");
  if (!message) {
    el.hidden = true;
    return;
  }
  el.className = `flash ${kind}`;
  el.textContent = message;
  el.hidden = false;
}

function showError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401 && state.session) {
      // The session ended (expired, signed out elsewhere, key revoked).
      state.session = null;
      setCsrf(null);
      flash("Your session has ended; please sign in again.", "error");
      route();
      return;
    }
    flash(`${err.message} (${err.code})`, "error");
  } else {
    flash(String(err && err.message ? err.message : err), "error");
  }
}

function setBalance(n) {
  document.getElementById("balance").textContent = `${fmtNumber(n)} credits`;
}
onCredits(setBalance);

async function refreshBalance() {
  const q = await get("/v1/quota");
  setBalance(q.remaining);
  return q;
}

function header() {
  const signedIn = Boolean(state.session);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (signedIn) {
    const user = state.session.user;
    document.getElementById("who-email").textContent = user.email;
    document.getElementById("nav-admin").hidden = !user.is_admin;
  }
}

async function signedIn(session) {
  state.session = session;
  setCsrf(session.csrf_token);
  header();
  await refreshBalance().catch(showError);
}

async function signOut() {
  try {
    await del("/auth/session");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showError(err);
  }
  state.session = null;
  setCsrf(null);
  header();
  flash("Signed out.", "ok");
  location.hash = "#/ask";
  route();
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "ask", args: parts.slice(1), params: new URLSearchParams(query || "") };
}

function route() {
  const token = ++state.render;
  const { name, args, params } = parseHash();
  for (const a of document.querySelectorAll("#nav a[data-page]")) {
    a.classList.toggle("active", a.dataset.page === name);
  }
  const app = {
    user: state.session && state.session.user,
    args,
    params,
    flash,
    showError,
    refreshBalance,
    checkout: state.checkout,
    alive: () => token === state.render,
    signedIn: async (session) => {
      await signedIn(session);
      flash(`Signed in as ${session.user.email}.`, "ok");
      route();
    },
  };
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Financial NLP appliance`;
  if (!state.session) {
    clear(main);
    signin.render(main, app);
    return;
  }
  const page = PAGES[name];
  if (!page || (name === "admin" && !app.user.is_admin)) {
    clear(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/ask" }, "Back to Ask")));
    return;
  }
  clear(main);
  Promise.resolve(page.render(main, app))
    .then(() => {
      if (app.alive()) main.dataset.ready = name;
    })
    .catch(showError);
}

async function boot() {
  // Back from Stripe Checkout: remember the result for the Credits page, and drop it from
  // the address so a reload does not show it again.
  const search = new URLSearchParams(location.search);
  if (search.has("checkout")) {
    state.checkout = { result: search.get("checkout"), sessionId: search.get("session_id") };
    history.replaceState(null, "", "/#/credits");
  }
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => {
    flash(null);
    route();
  });
  try {
    const session = await get("/auth/session");
    if (session.signed_in) await signedIn(session);
  } catch (err) {
    showError(err);
  }
  header();
  route();
}

boot();
