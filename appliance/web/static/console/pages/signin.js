import { ApiError, post } from "../api.js";
import { h } from "../dom.js";

export function render(main, app) {
  const error = h("p", { class: "error", id: "signin-error", role: "alert" });
  const fail = (err) => {
    if (err instanceof ApiError && err.code === "login_throttled") {
      // Locked after too many failed sign-ins: no password is checked until the lock ends.
      error.textContent =
        `Too many failed sign-ins for this account or from this address. ` +
        `Try again ${waitText(err.retryAfter)}, or ask an administrator to unlock it ` +
        `(appliance users unlock EMAIL).`;
      return;
    }
    error.textContent =
      err instanceof ApiError ? `${err.message}` : `Sign-in failed: ${err.message || err}`;
  };
  const submit = (form, body) => async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const session = await post("/auth/session", body());
      await app.signedIn(session);
    } catch (err) {
      fail(err);
    } finally {
      button.disabled = false;
    }
  };
  const email = h("input", { type: "email", name: "email", id: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", id: "password", autocomplete: "current-password", required: true });
  const byPassword = h(
    "form",
    { class: "stack card", id: "signin-password" },
    h("h2", {}, "E-mail and password"),
    h("label", { for: "email" }, "E-mail"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    h("p", {}, h("button", { class: "primary", type: "submit" }, "Sign in")),
  );
  byPassword.addEventListener("submit", submit(byPassword, () => ({ email: email.value, password: password.value })));
  const key = h("input", { type: "password", name: "api_key", id: "api-key", autocomplete: "off", placeholder: "apk_…", required: true });
  const byKey = h(
    "form",
    { class: "stack card", id: "signin-key" },
    h("h2", {}, "API key"),
    h("label", { for: "api-key" }, "Paste an API key"),
    key,
    h("p", { class: "muted small" }, "The key is exchanged for a browser session and not kept by the page."),
    h("p", {}, h("button", { class: "primary", type: "submit" }, "Sign in with key")),
  );
  byKey.addEventListener("submit", submit(byKey, () => ({ api_key: key.value.trim() })));
  main.append(
    h(
      "div",
      { class: "signin" },
      h("h1", {}, "Sign in"),
      h(
        "p",
        { class: "muted" },
        "Ask questions about SEC filings, score the sentiment of financial text, and manage credits. ",
        "The API itself is documented at ",
        h("a", { href: "/docs" }, "/docs"),
        ".",
      ),
      error,
      h("div", { class: "split" }, byPassword, byKey),
    ),
  );
  email.focus();
}

function waitText(seconds) {
  if (!seconds) return "later";
  if (seconds < 90) return `in ${seconds} s`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}
