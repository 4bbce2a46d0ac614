// The console's one way to the API: same-origin fetch with the session cookie, the session's
// CSRF token on every change, JSON both ways, and the API's one error shape as an ApiError.
import { errorText } from './i18n.js';

let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, error = {}, headers = null) {
    super(errorText(error.code, error.message || `HTTP ${status}`));
    this.apiMessage = error.message || '';
    this.status = status;
    this.code = error.code || '';
    this.field = error.field || '';
    this.details = error.details ?? null;
    this.headers = headers;
  }
}

let onUnauthenticated = () => {};
export function whenSignedOut(callback) {
  onUnauthenticated = callback;
}

export async function api(method, path, body = undefined, { ifMatch = null, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  }
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onUnauthenticated();
    throw new ApiError(response.status, data?.error, response.headers);
  }
  return { status: response.status, body: data, etag: response.headers.get('ETag') };
}

export const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '' && value !== false) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
};
