// HTTP calls to the truceline API (same origin). The board is signed in
// with a session cookie (HttpOnly: this code never sees it); every change it
// makes carries the session's CSRF token, held here in memory only.

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };
const CSRF_HEADER = 'X-CSRF-Token';

/** The session's CSRF token: in memory only, never in storage. */
let csrf = '';

/** Called when an API call answers 401: the session ended. */
let unauthenticated = () => {};

/** Set (or, with "", forget) the CSRF token sent with every change. */
export function setCSRF(token) {
  csrf = typeof token === 'string' ? token : '';
}

/**
 * fn(error, sentWith) runs whenever a call answers 401 (not the session
 * calls themselves); sentWith is the CSRF token the request was sent under,
 * telling which session it was.
 */
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

/**
 * An API error: message for people, code for programs, fields for the
 * problems with particular fields ({field, problem}).
 */
export class ApiError extends Error {
  constructor(message, { code = '', status = 0, fields = [] } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.fields = fields;
  }

  /** The problem with one field, or "". */
  problem(field) {
    const f = this.fields.find((x) => x.field === field);
    return f ? f.problem : '';
  }
}

function capitalise(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/**
 * Turn an API error body of any reasonable shape into an ApiError. The
 * documented shape is {"error":{"code","message","fields":[{field,problem}]}};
 * when there are field problems they say more than the summary message.
 */
async function apiError(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const opts = { status: res.status };
  let message = '';
  if (body && typeof body === 'object') {
    const e = body.error;
    if (e && typeof e === 'object') {
      if (typeof e.code === 'string') opts.code = e.code;
      if (typeof e.message === 'string') message = e.message;
      if (Array.isArray(e.fields)) {
        opts.fields = e.fields.filter((f) => f && typeof f.field === 'string' && typeof f.problem === 'string');
      }
    } else if (typeof e === 'string') {
      message = e;
    } else if (typeof body.message === 'string') {
      message = body.message;
    }
  }
  if (opts.fields && opts.fields.length) {
    const said = opts.fields.map((f) => (f.field.startsWith('(') ? f.problem : `${f.field} ${f.problem}`));
    message = capitalise(said.join('; '));
  }
  if (!message) message = `Request failed (${res.status}${res.statusText ? ' ' + res.statusText : ''})`;
  return new ApiError(message, opts);
}

/**
 * Send a request and return the response; throws ApiError on a network
 * failure or an error status. Every method but GET and HEAD carries the CSRF
 * token. A 401 also tells the board the session ended, unless quiet401.
 */
async function request(method, path, { body, signal, quiet401 = false } = {}) {
  const headers = body === undefined ? { Accept: 'application/json' } : { ...JSON_HEADERS };
  const sentWith = csrf;
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers[CSRF_HEADER] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError('Network error: the server could not be reached');
  }
  if (!res.ok) {
    const err = await apiError(res);
    if (res.status === 401 && !quiet401) {
      try {
        unauthenticated(err, sentWith);
      } catch (e) {
        console.warn('truceline: sign-out handler failed', e);
      }
    }
    throw err;
  }
  return res;
}

async function getJSON(path, signal) {
  const res = await request('GET', path, { signal });
  return res.json();
}

/** Whether an error is the server refusing a change for a missing or stale
 *  CSRF token (another tab signed in with another session meanwhile). */
export function isCSRFError(err) {
  return Boolean(err && err.status === 403 && /csrf/i.test(err.message || ''));
}

// --- session ---------------------------------------------------------------------

/**
 * GET /api/v1/session -> {user, full_name, role, party, zones, via, csrf,
 * expires_at}, or null when nobody is signed in (401).
 */
export async function fetchSession(signal) {
  try {
    const res = await request('GET', '/api/v1/session', { signal, quiet401: true });
    return await res.json();
  } catch (err) {
    if (err && err.status === 401) return null;
    throw err;
  }
}

/**
 * POST /api/v1/session: sign in. Resolves to the session (as fetchSession);
 * throws ApiError: 401 for a wrong user name or password, 429 when there
 * were too many attempts (err.retryAfter in seconds).
 */
export async function signIn(user, password) {
  let res;
  try {
    res = await fetch('/api/v1/session', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ user, password }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('Network error: the server could not be reached');
  }
  if (!res.ok) {
    const err = await apiError(res);
    const after = Number.parseInt(res.headers.get('Retry-After') || '', 10);
    err.retryAfter = Number.isFinite(after) && after > 0 ? after : 0;
    throw err;
  }
  return res.json();
}

/** DELETE /api/v1/session: sign out (the session already ended is fine). */
export async function signOut() {
  try {
    await request('DELETE', '/api/v1/session', { quiet401: true });
  } catch (err) {
    if (!err || err.status !== 401) throw err;
  }
}

/** GET /api/v1/rule-failures -> [RuleFault] (roles that read the configuration) */
export async function fetchRuleFaults(signal) {
  const body = await getJSON('/api/v1/rule-failures', signal);
  return Array.isArray(body && body.failures) ? body.failures : [];
}

/** DELETE /api/v1/rule-failures/{rule} (admins) */
export async function dismissRuleFault(rule) {
  await request('DELETE', `/api/v1/rule-failures/${encodeURIComponent(rule)}`);
}

// --- reports ---------------------------------------------------------------------

/**
 * POST /api/v1/reports: submit a report in schema v1 as the signed-in user.
 * Resolves to the answer {id, submitted_id?, duplicate?, warnings?}; throws
 * ApiError (400 with fields, one {field, problem} per problem).
 */
export async function submitReport(report) {
  const res = await request('POST', '/api/v1/reports', { body: report });
  return res.json();
}

// --- reading ---------------------------------------------------------------------

/** GET /api/v1/zones -> [{id, name, tags, geometry}] */
export async function fetchZones(signal) {
  const body = await getJSON('/api/v1/zones', signal);
  return Array.isArray(body && body.zones) ? body.zones : [];
}

/** GET /api/v1/reports/{id} -> Report (with location {lat, lon, precision_m}
 *  when it has one) */
export async function fetchReport(id, signal) {
  return getJSON(`/api/v1/reports/${encodeURIComponent(id)}`, signal);
}

/** Reports by id, as promises: a report never changes once stored, so the
 *  map and the detail panel share one fetch of each. */
const reports = new Map();
const REPORT_CACHE = 500;

/** fetchReport, once per id (a failed fetch is tried again next time). */
export function reportOnce(id) {
  let p = reports.get(id);
  if (!p) {
    p = fetchReport(id).catch((err) => {
      reports.delete(id);
      throw err;
    });
    reports.set(id, p);
    if (reports.size > REPORT_CACHE) reports.delete(reports.keys().next().value);
  }
  return p;
}

/** Forget every report fetched (on sign-out: nothing of a user remains). */
export function forgetReports() {
  reports.clear();
}

/** GET /api/v1/alerts/{id}/reports -> {report_ids, total, offset}: a page of
 *  the alert's report ids, oldest first. */
export async function fetchAlertReports(id, offset, limit) {
  return getJSON(`/api/v1/alerts/${encodeURIComponent(id)}/reports?offset=${offset}&limit=${limit}`);
}

/** GET /api/v1/alerts/{id} -> Alert */
export async function fetchAlert(id, signal) {
  return getJSON(`/api/v1/alerts/${encodeURIComponent(id)}`, signal);
}

/** GET /api/v1/parties -> [{id, name, status}] */
export async function fetchParties(signal) {
  const body = await getJSON('/api/v1/parties', signal);
  return Array.isArray(body && body.parties) ? body.parties : [];
}

/** GET /api/v1/policies -> [{id, name, steps, ...}] */
export async function fetchPolicies(signal) {
  const body = await getJSON('/api/v1/policies', signal);
  return Array.isArray(body && body.policies) ? body.policies : [];
}

/** GET /api/v1/regimes -> [{id, name, kind, ...}] */
export async function fetchRegimes(signal) {
  const body = await getJSON('/api/v1/regimes', signal);
  return Array.isArray(body && body.regimes) ? body.regimes : [];
}

/** GET /api/v1/sources -> {at, sources: [{monitor, name, zones, state, ...}]} */
export async function fetchSources(signal) {
  return getJSON('/api/v1/sources', signal);
}

/**
 * POST /api/v1/alerts/{id}/{action} with body (an object: note, status, for,
 * until, alleged). action is "ack", "resolve", "verify", "attribution",
 * "comment" or "snooze". The
 * actor is the signed-in user, acting for their own party. Resolves to the
 * alert after the change; throws ApiError.
 */
export async function alertAction(id, action, body = {}) {
  const res = await request('POST', `/api/v1/alerts/${encodeURIComponent(id)}/${action}`, { body });
  try {
    return await res.json();
  } catch {
    return null;
  }
}
