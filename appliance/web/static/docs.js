// Swagger UI over this appliance's /openapi.json. Try-it-out works with a key entered under
// "Authorize" or, when this browser is signed in to the console, with its session cookie:
// the session's CSRF token is added to state-changing requests.
"use strict";
(function () {
  let csrf = null;
  fetch("/auth/session", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (s) {
        csrf = s.csrf_token;
        document.getElementById("docs-session").textContent =
          "signed in to the console as " + s.user.email + " (try-it-out uses that session)";
      }
    })
    .catch(() => {});
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger",
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    displayRequestDuration: true,
    requestInterceptor: (req) => {
      const method = (req.method || "GET").toUpperCase();
      if (csrf && !["GET", "HEAD", "OPTIONS"].includes(method)) {
        req.headers["X-CSRF-Token"] = csrf;
      }
      return req;
    },
  });
})();
