// The console talks to the same JSON API as every other client. It is authenticated by its
// HttpOnly session cookie (the browser sends it; no script can read it); state-changing
// requests carry the session's CSRF token, which only this origin's scripts can read.

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_error";
    this.details = err.details;
    this.requestId = err.request_id;
    // Seconds to wait (429 login_throttled / rate_limited, 503 index_building), if given.
    this.retryAfter = retryAfter;
  }
}

let csrfToken = null;
const listeners = [];

export function setCsrf(token) {
  csrfToken = token;
}

// Called with the X-Credits-Remaining of every billable answer (the header's balance).
export function onCredits(fn) {
  listeners.push(fn);
}

export async function api(method, path, { body, query, headers } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== null && v !== undefined && v !== "") params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const sent = { Accept: "application/json", ...(headers || {}) };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (csrfToken && method !== "GET") sent["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  const credits = response.headers.get("X-Credits-Remaining");
  if (credits !== null) for (const fn of listeners) fn(Number(credits));
  if (!response.ok) {
    const wait = Number(response.headers.get("Retry-After"));
    throw new ApiError(response.status, data, Number.isFinite(wait) && wait > 0 ? wait : null);
  }
  return data;
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body, query) => api("POST", path, { body, query });
export const del = (path) => api("DELETE", path);
