// AlertStore: the alerts the board currently holds, keyed by id.
// Pure data; the board decides what to render from the change sets returned.

import { isUnanswered, parseTime, severityRank } from './format.js';

/**
 * An entry wraps the alert as received plus a few parsed fields used for
 * sorting, so timestamps are parsed once per change and not on every sort.
 */
function makeEntry(alert) {
  return {
    alert,
    id: alert.id,
    zone: alert.zone,
    rank: severityRank(alert.severity),
    lastSeen: parseTime(alert.last_seen),
    resolvedLast: alert.state === 'resolved' ? 1 : 0,
    unanswered: isUnanswered(alert) ? 1 : 0,
  };
}

/**
 * Board order: active before resolved (only matters when resolved ones are
 * shown), then unanswered alerts (every escalation step ran, nobody
 * acknowledged) whatever their severity, then most severe first, then most
 * recent last_seen, then id. The server's alerting.SortByUrgency agrees.
 */
export function compareEntries(a, b) {
  return (
    a.resolvedLast - b.resolvedLast ||
    b.unanswered - a.unanswered ||
    b.rank - a.rank ||
    b.lastSeen - a.lastSeen ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export class AlertStore {
  constructor({ maxResolved = 300 } = {}) {
    /** id -> entry */
    this.entries = new Map();
    this.maxResolved = maxResolved;
  }

  get size() {
    return this.entries.size;
  }

  get(id) {
    return this.entries.get(id);
  }

  values() {
    return this.entries.values();
  }

  /** Forget every alert (the user signed out). */
  clear() {
    this.entries.clear();
  }

  /**
   * Insert or replace one alert. Returns {prev, pruned}: the previous alert
   * (or undefined) and ids of old resolved alerts dropped to bound memory.
   */
  upsert(alert) {
    const prev = this.entries.get(alert.id);
    this.entries.set(alert.id, makeEntry(alert));
    const pruned = alert.state === 'resolved' ? this._pruneResolved() : [];
    return { prev: prev ? prev.alert : undefined, pruned };
  }

  /**
   * Replace everything held for a zone with a snapshot (which holds the
   * zone's non-resolved alerts). Resolved alerts already held are kept so the
   * "all" view does not lose them; anything else missing from the snapshot
   * is dropped. Returns {added, removed, changed} as arrays of ids.
   */
  replaceZone(zone, alerts) {
    const incoming = new Map();
    for (const a of alerts) {
      if (a && typeof a.id === 'string') incoming.set(a.id, a);
    }
    const added = [];
    const removed = [];
    const changed = [];
    for (const [id, entry] of this.entries) {
      if (entry.zone !== zone || incoming.has(id)) continue;
      if (entry.alert.state === 'resolved') continue;
      this.entries.delete(id);
      removed.push(id);
    }
    for (const [id, a] of incoming) {
      const prev = this.entries.get(id);
      if (!prev) added.push(id);
      else if (prev.alert !== a) changed.push(id);
      this.entries.set(id, makeEntry(a));
    }
    return { added, removed, changed };
  }

  /** Counts over everything held (not filtered). */
  counts() {
    let open = 0;
    let acknowledged = 0;
    let exercise = false;
    for (const { alert } of this.entries.values()) {
      if (alert.state === 'open') open++;
      else if (alert.state === 'acknowledged') acknowledged++;
      if (alert.exercise === true) exercise = true;
    }
    return { open, acknowledged, exercise };
  }

  /** Zones referenced by held alerts. */
  zones() {
    const set = new Set();
    for (const e of this.entries.values()) if (e.zone) set.add(e.zone);
    return set;
  }

  /** Keep memory bounded: only the most recent resolved alerts are kept. */
  _pruneResolved() {
    const resolved = [];
    for (const e of this.entries.values()) if (e.alert.state === 'resolved') resolved.push(e);
    if (resolved.length <= this.maxResolved) return [];
    resolved.sort((a, b) => a.lastSeen - b.lastSeen);
    const drop = resolved.slice(0, resolved.length - this.maxResolved).map((e) => e.id);
    for (const id of drop) this.entries.delete(id);
    return drop;
  }
}
