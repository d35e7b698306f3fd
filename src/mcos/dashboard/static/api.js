// fetch wrapper: cookie session + CSRF header on writes, one error shape.

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(value) { csrf = value; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message, field, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.body = body;
  }
  /** "message (field: x)" for display. */
  get display() {
    return this.field ? `${this.message} (field: ${this.field})` : this.message;
  }
}

export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let res;
  try {
    res = await fetch(path.startsWith("/") ? path : "/api/v1/" + path, init);
  } catch (e) {
    throw new ApiError(0, "network", "cannot reach the control plane: " + (e && e.message), null, null);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const message = err.message || (text && !data ? text.slice(0, 200) : `HTTP ${res.status}`);
    const e = new ApiError(res.status, err.code || "http_" + res.status, message, err.field || null, data);
    if (res.status === 401 && !quiet401) onUnauthorized(e);
    throw e;
  }
  return data;
}

export const get = (p, o) => api("GET", p, undefined, o);
export const post = (p, b, o) => api("POST", p, b === undefined ? {} : b, o);
export const del = (p, o) => api("DELETE", p, undefined, o);
