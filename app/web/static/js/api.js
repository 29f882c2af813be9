// The JSON API as the logged-in browser: the session cookie goes along by itself, and every call
// that changes something carries the page's CSRF token (the API refuses it otherwise).

const CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  // status 0 means the request never got an answer (offline, server down).
  constructor(status, problem) {
    super(problem?.detail || (status ? `The server answered ${status}.` : "The server could not be reached."));
    this.status = status;
    this.problem = problem || {};
  }
}

// Resolves to {status, body, headers} for any answer, 4xx included, so callers can show
// errors next to what caused them; rejects with ApiError(0) when there is no answer at all.
export async function api(path, {method = "GET", body, headers = {}} = {}) {
  const init = {method, credentials: "same-origin", cache: "no-store", headers: {Accept: "application/json", ...headers}};
  if (!SAFE.has(method)) init.headers["X-CSRFToken"] = CSRF_TOKEN;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0);
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { data = await response.json(); } catch (error) { data = null; }
  }
  return {status: response.status, ok: response.ok, body: data, headers: response.headers};
}

// The server's clock minus ours, from the Date header, so countdowns run on the server's time.
// The header has whole seconds only: a difference under two seconds is that rounding, not skew.
export function clockSkew(headers) {
  const date = Date.parse(headers.get("Date") || "");
  const skew = Number.isNaN(date) ? 0 : date + 500 - Date.now();
  return Math.abs(skew) < 2000 ? 0 : skew;
}
