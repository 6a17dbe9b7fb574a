// Catalog: the configured parties, policies and regimes, by id, for names.
// Loaded over HTTP, retried with backoff, and reloaded when asked (after a
// reconnect, or when an alert names something unknown).

import { fetchParties, fetchPolicies, fetchRegimes } from './api.js';

const RELOAD_GAP_MS = 30000;

export class Catalog {
  constructor() {
    /** id -> {id, name, status} */
    this.parties = new Map();
    /** id -> {id, name, steps, repeat, require_ack_from} */
    this.policies = new Map();
    /** id -> {id, name, kind} */
    this.regimes = new Map();
    this.loaded = false;
    this._listeners = new Set();
    this._loading = null;
    this._lastLoad = 0;
    this._retry = 0;
    this._retryTimer = 0;
    /** bumped by reset: loads begun before are dropped */
    this._gen = 0;
  }

  /** Forget everything (the user signed out); loads in flight are dropped. */
  reset() {
    this._gen++;
    clearTimeout(this._retryTimer);
    this._retryTimer = 0;
    this.parties = new Map();
    this.policies = new Map();
    this.regimes = new Map();
    this.loaded = false;
    this._loading = null;
    this._lastLoad = 0;
    this._retry = 0;
  }

  /** fn() runs after every successful load. */
  onChange(fn) {
    this._listeners.add(fn);
  }

  partyName(id) {
    const p = this.parties.get(id);
    return (p && p.name) || id || '—';
  }

  policyName(id) {
    const p = this.policies.get(id);
    return (p && p.name) || id || '';
  }

  regimeName(id) {
    const r = this.regimes.get(id);
    return (r && r.name) || id || '';
  }

  /** Reload soon if the alert names a party, policy or regime not known. */
  noteAlert(alert) {
    if (!this.loaded || !alert) return;
    const unknown =
      (alert.policy && !this.policies.has(alert.policy)) ||
      (alert.regime && !this.regimes.has(alert.regime)) ||
      (Array.isArray(alert.require_ack_from) && alert.require_ack_from.some((p) => !this.parties.has(p)));
    if (unknown && Date.now() - this._lastLoad > RELOAD_GAP_MS) this.load();
  }

  /** Load everything; on failure retry with backoff. */
  load() {
    if (this._loading) return this._loading;
    this._lastLoad = Date.now();
    const gen = this._gen;
    const loading = (async () => {
      try {
        // Parties matter most (the user's party, acknowledgement chips);
        // policies and regimes only give names, so their failure is not
        // fatal (and a liaison may not read them at all).
        const [parties, policies, regimes] = await Promise.all([
          fetchParties(),
          fetchPolicies().catch(() => null),
          fetchRegimes().catch(() => null),
        ]);
        if (gen !== this._gen) return;
        this.parties = byID(parties);
        if (policies) this.policies = byID(policies);
        if (regimes) this.regimes = byID(regimes);
        this.loaded = true;
        this._retry = 0;
        for (const fn of this._listeners) {
          try {
            fn();
          } catch (err) {
            console.warn('truceline: catalog listener failed', err);
          }
        }
      } catch (err) {
        if (gen !== this._gen || err.status === 401) return; // signed out
        const delay = Math.min(30000, 2000 * 2 ** this._retry++);
        console.warn(`truceline: parties not loaded (${err.message}); retrying in ${delay / 1000} s`);
        this._retryTimer = setTimeout(() => this.load(), delay);
      } finally {
        if (this._loading === loading) this._loading = null;
      }
    })();
    this._loading = loading;
    return loading;
  }
}

function byID(list) {
  const m = new Map();
  for (const x of list) if (x && typeof x.id === 'string') m.set(x.id, x);
  return m;
}
