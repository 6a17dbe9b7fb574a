// HTTP calls to the truceline API (same origin).

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

/** Extract a human message from an API error body of any reasonable shape. */
async function errorMessage(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (body && typeof body === 'object') {
    const e = body.error;
    if (typeof body.message === 'string' && body.message) return body.message;
    if (e && typeof e === 'object' && typeof e.message === 'string' && e.message) return e.message;
    if (typeof e === 'string' && e) return e;
  }
  return `Request failed (${res.status}${res.statusText ? ' ' + res.statusText : ''})`;
}

/** GET /api/v1/zones -> [{id, name, tags, geometry}] */
export async function fetchZones(signal) {
  const res = await fetch('/api/v1/zones', { headers: { Accept: 'application/json' }, signal });
  if (!res.ok) throw new Error(await errorMessage(res));
  const body = await res.json();
  return Array.isArray(body && body.zones) ? body.zones : [];
}

/**
 * POST /api/v1/alerts/{id}/{action} with {"by": by}.
 * action is "ack" or "resolve". Resolves on 2xx, throws Error(message) otherwise.
 */
export async function alertAction(id, action, by = 'duty officer') {
  let res;
  try {
    res = await fetch(`/api/v1/alerts/${encodeURIComponent(id)}/${action}`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ by }),
    });
  } catch {
    throw new Error('Network error: the server could not be reached');
  }
  if (!res.ok) throw new Error(await errorMessage(res));
}
