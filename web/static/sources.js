// Monitored sources: per zone, the observation posts, party systems and
// feeds that must be heard, and where each stands ("heard 12 s ago",
// "late", "silent for 4 min", "paused by schedule"), from GET
// /api/v1/sources. A zone whose sources are all silent is not quiet, it is
// unwatched: the zone table marks it ("no source heard").
//
// The list is fetched again on every heartbeat of the live feed (at most
// every 5 s) and at once when a source_silent alert changes; the times in
// it tick every second. A list that could not be refreshed for a while
// says since when it is unchanged.

import { agoShort, clockTime, fullTime, label, parseTime } from './format.js';
import { el, setText, setAttr, setHidden } from './dom.js';

/** Fetched at most this often on heartbeats. */
const REFRESH_MS = 4500;
/** Older than this, the list says it is not up to date. */
const STALE_MS = 20000;

const KINDS = {
  observation_post: 'observation post',
  party_system: 'party system',
  feed: 'feed',
  reporter: 'reporter',
};

/** "45 s", "4 min", "2 h 5 min", "3 d" */
export function spanText(ms) {
  const sec = Math.max(0, Math.floor(ms / 1000));
  if (sec < 60) return `${sec} s`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** What the board says of a source at now (server time, ms). */
export function sourceText(s, now) {
  const heard = parseTime(s.heard);
  switch (s.state) {
    case 'heard':
      return `heard ${agoShort(heard, now)}`;
    case 'late':
      return heard ? `late · heard ${agoShort(heard, now)}` : 'late · never heard';
    case 'silent':
      return `silent for ${spanText(now - (parseTime(s.silent_since) || heard))}`;
    case 'paused':
      return 'paused by schedule';
    case 'waiting':
      return 'waiting for its first beat';
    default:
      return label(s.state || 'unknown');
  }
}

export class SourcesPanel {
  /**
   * @param {HTMLElement} root  the section to fill (hidden while no zone
   *   shown has a monitored source)
   * @param {object} opts
   *   fetch     (signal) => Promise<{at, sources}>   GET /api/v1/sources
   *   zones     () => [zone id]   the zones the board shows, in order
   *   zoneName  (id) => name
   *   onChange  () => void   the list changed (the zone table redraws)
   */
  constructor(root, { fetch, zones, zoneName, onChange }) {
    this.root = root;
    this.fetch = fetch;
    this.zones = zones;
    this.zoneName = zoneName;
    this.onChange = onChange || (() => {});
    this.body = el('div', 'source-zones');
    this.body.dataset.testid = 'sources';
    this.stale = el('p', 'source-stale');
    this.stale.dataset.testid = 'sources-stale';
    this.stale.hidden = true;
    root.replaceChildren(el('h2', 'side-subtitle', 'Sources'), this.stale, this.body);
    root.hidden = true;
    this.reset();
  }

  /** Forget everything (signed out). */
  reset() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.sources = [];
    this.offset = 0; // server clock - local clock
    this.fetchedAt = 0; // local ms of the last good answer
    this.askedAt = 0;
    this.key = '';
    this.items = [];
    this.body.replaceChildren();
    this.root.hidden = true;
  }

  /** Fetch again: at once when now is true, else when the last is old. */
  refresh(now = false) {
    if (this.ctrl || (!now && Date.now() - this.askedAt < REFRESH_MS)) return;
    this.askedAt = Date.now();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    this.fetch(ctrl.signal)
      .then((answer) => {
        if (this.ctrl !== ctrl) return;
        const at = parseTime(answer && answer.at);
        this.offset = at ? at - Date.now() : 0;
        this.sources = Array.isArray(answer && answer.sources) ? answer.sources : [];
        this.fetchedAt = Date.now();
        this.render();
        this.onChange();
      })
      .catch(() => {
        /* kept as it was; the list says since when once it is old */
      })
      .finally(() => {
        if (this.ctrl === ctrl) this.ctrl = null;
      });
  }

  /** The sources of a zone. */
  of(zone) {
    return this.sources.filter((s) => Array.isArray(s.zones) && s.zones.includes(zone));
  }

  /** For the zone table: {text, allSilent}, or null for a zone without
   *  monitored sources. */
  zoneLine(zone) {
    const list = this.of(zone);
    if (!list.length) return null;
    const count = (state) => list.filter((s) => s.state === state).length;
    const allSilent = count('silent') === list.length;
    if (allSilent) return { text: 'No source heard', allSilent };
    const parts = [list.length === 1 ? '1 source' : `${list.length} sources`];
    for (const state of ['silent', 'late', 'paused']) {
      const n = count(state);
      if (n) parts.push(n === list.length && n > 1 ? `all ${state}` : n === list.length ? state : `${n} ${state}`);
    }
    return { text: parts.join(' · '), allSilent };
  }

  /** Redraw when the list or the zones changed; else tick the times. */
  render(local = Date.now()) {
    const now = local + this.offset;
    const zones = this.zones().filter((z) => this.of(z).length);
    const key = JSON.stringify([zones, this.sources.map((s) => [s.monitor, s.name, s.kind, s.state, s.zones])]);
    if (key !== this.key) {
      this.key = key;
      this.items = [];
      const groups = [];
      for (const zone of zones) {
        const list = this.of(zone);
        const allSilent = list.every((s) => s.state === 'silent');
        const group = el('section', allSilent ? 'source-zone is-unwatched' : 'source-zone');
        group.dataset.testid = 'source-zone';
        group.dataset.zone = zone;
        const head = el('h3', 'source-zone-name', this.zoneName(zone));
        if (allSilent) {
          const badge = el('span', 'no-source-badge', 'no source heard');
          badge.title = 'Every source of this zone is silent: its quiet means nothing';
          head.append(' ', badge);
        }
        const ul = el('ul', 'source-list');
        for (const s of list) {
          const li = el('li', `source-item state-${s.state}`);
          li.dataset.testid = 'source';
          li.dataset.monitor = s.monitor;
          li.dataset.state = s.state;
          const name = el('span', 'source-name', s.name || s.monitor);
          name.title = [s.monitor, KINDS[s.kind] || s.kind].filter(Boolean).join(' · ');
          const state = el('span', 'source-state');
          state.dataset.testid = 'source-state';
          li.append(name, state);
          ul.append(li);
          this.items.push({ s, state, li });
        }
        group.append(head, ul);
        groups.push(group);
      }
      this.body.replaceChildren(...groups);
      setHidden(this.root, groups.length === 0);
    }
    for (const { s, state, li } of this.items) {
      setText(state, sourceText(s, now));
      const heard = parseTime(s.heard);
      const deadline = parseTime(s.deadline);
      setAttr(li, 'title', [heard ? `Last heard ${fullTime(heard)}` : 'Never heard', deadline && s.state !== 'silent' ? `due by ${fullTime(deadline)}` : '']
        .filter(Boolean).join('; '));
    }
    const old = this.fetchedAt && local - this.fetchedAt > STALE_MS;
    setHidden(this.stale, !old);
    this.root.classList.toggle('is-stale', Boolean(old));
    if (old) setText(this.stale, `Not updated since ${clockTime(this.fetchedAt)}`);
  }
}
