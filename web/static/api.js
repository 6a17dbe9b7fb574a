// HTTP calls to the truceline API (same origin).

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

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

async function getJSON(path, signal) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  } catch {
    throw new ApiError('Network error: the server could not be reached');
  }
  if (!res.ok) throw await apiError(res);
  return res.json();
}

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

/**
 * POST /api/v1/alerts/{id}/{action} with body (an object: by, party, note,
 * status, for, until). action is "ack", "resolve", "verify", "comment" or
 * "snooze". Resolves to the alert after the change; throws ApiError.
 */
export async function alertAction(id, action, body = {}) {
  let res;
  try {
    res = await fetch(`/api/v1/alerts/${encodeURIComponent(id)}/${action}`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError('Network error: the server could not be reached');
  }
  if (!res.ok) throw await apiError(res);
  try {
    return await res.json();
  } catch {
    return null;
  }
}
