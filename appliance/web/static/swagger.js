// Swagger UI over this appliance's /openapi.json (the full explorer at /docs/swagger; /docs is
// our own lighter reference, static/docs.js). Try-it-out works with a key entered under
// "Authorize" or, when this browser is signed in to the console, with its session cookie:
// the session's CSRF token is added to state-changing requests.
"use strict";
(function () {
  let csrf = null;
  fetch("/auth/session", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (s && s.signed_in) {
        csrf = s.csrf_token;
        document.getElementById("docs-session").textContent =
          "signed in to the console as " + s.user.email + " (try-it-out uses that session)";
      }
    })
    .catch(() => {});

  // Swagger UI resolves the $refs of a part of the document (an operation, the security
  // schemes) on demand, and for an OpenAPI 3.1 document it first normalizes the whole
  // document through ApiDOM: about 40% of the page's CPU at load (profiled), repeated on every
  // operation opened. Our document's $refs are all local JSON pointers with no sibling
  // keywords (tests/test_api_contract.py checks it), which the 3.0 resolver (swagger-client's
  // JSON-reference resolver) resolves identically, so the resolver is told the document is
  // 3.0. Only the resolver sees that: the page still renders the document as 3.1. A subtree
  // with no $ref at all (the security schemes) needs no resolving.
  const localRefResolver = {
    afterLoad() {
      const resolveSubtree = this.fn.resolveSubtree;
      this.fn.resolveSubtree = (spec, path, options) => {
        if (path[0] !== "paths") {
          const subtree = path.reduce((node, key) => (node ? node[key] : undefined), spec);
          if (subtree && !JSON.stringify(subtree).includes('"$ref"')) {
            return Promise.resolve({ spec: subtree, errors: [] });
          }
        }
        return resolveSubtree({ ...spec, openapi: "3.0.4" }, path, options);
      };
    },
  };

  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger",
    plugins: [localRefResolver],
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
