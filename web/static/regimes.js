// Regimes in force: each with its kind, when it began, a live countdown to
// its end (with its extensions) and the zones it covers among those the
// user sees; and, for the zone table, the regime that ends first in a zone.
// The regimes are those GET /api/v1/regimes gives the user (a liaison's view
// is limited to its zones).

import { countdown, fullTime, label, parseTime } from './format.js';
import { el, setText } from './dom.js';

const KINDS = {
  cessation_of_hostilities: 'Cessation of hostilities',
  regime_of_silence: 'Regime of silence',
  de_escalation: 'De-escalation',
};

/** When a regime ends with its extensions (ms), or 0 when it has no end. */
export function regimeEnd(r) {
  let end = parseTime(r.ends_at);
  if (!end) return 0;
  for (const e of Array.isArray(r.extensions) ? r.extensions : []) end = Math.max(end, parseTime(e.until));
  return end;
}

export function inForce(r, now) {
  const start = parseTime(r.starts_at);
  const end = regimeEnd(r);
  return start <= now && (!end || now < end);
}

/** Whether a zone pattern of a regime ("*", "homs-*", an id) covers zone. */
function covers(pattern, zone) {
  if (!/[*?[]/.test(pattern)) return pattern === zone;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(zone);
}

export function regimeCovers(r, zone) {
  return (Array.isArray(r.zones) ? r.zones : []).some((p) => covers(String(p), zone));
}

/** "3:12:05" within a day, "2 d 23 h 59 min" beyond */
export function timeLeft(ms) {
  if (ms < 24 * 3600 * 1000) return countdown(ms);
  const min = Math.floor(ms / 60000);
  return `${Math.floor(min / 1440)} d ${Math.floor((min % 1440) / 60)} h ${min % 60} min`;
}

/** "ends in 3:12:05", "no end set" */
export function endsText(r, now) {
  const end = regimeEnd(r);
  return end ? `ends in ${timeLeft(end - now)}` : 'no end set';
}

export class RegimesPanel {
  /**
   * @param {HTMLElement} root  the section to fill
   * @param {object} opts
   *   regimes   () => [regime]   as the catalog holds them
   *   zones     () => [zone id]   the zones the board shows
   *   zoneName  (id) => name
   */
  constructor(root, { regimes, zones, zoneName }) {
    this.root = root;
    this.regimes = regimes;
    this.zones = zones;
    this.zoneName = zoneName;
    this.list = el('ul', 'regime-list');
    this.list.dataset.testid = 'regimes';
    this.none = el('p', 'muted regime-none', 'No regime is in force in the zones shown.');
    root.replaceChildren(el('h2', 'side-subtitle', 'Regimes in force'), this.list, this.none);
    /** regime id -> {li, left} */
    this.items = new Map();
    this.key = '';
  }

  /** The regimes in force now, soonest end first (no end last). Worked
   *  out once a second: the panel and every zone's row ask for them. */
  current(now) {
    const sec = Math.floor(now / 1000);
    if (this._memo && this._memo.sec === sec) return this._memo.list;
    const zones = this.zones();
    const list = this.regimes()
      .filter((r) => inForce(r, now) && zones.some((z) => regimeCovers(r, z)))
      .sort((a, b) => (regimeEnd(a) || Infinity) - (regimeEnd(b) || Infinity) || String(a.id).localeCompare(String(b.id)));
    this._memo = { sec, list };
    return list;
  }

  /** The regime that ends first in a zone, for the zone table's line. */
  zoneLine(zone, now) {
    const r = this.current(now).find((x) => regimeCovers(x, zone));
    return r ? `${r.name || r.id} · ${endsText(r, now)}` : '';
  }

  /** Redraw when the regimes or the zones changed; else tick the countdowns. */
  render(now = Date.now()) {
    const zones = this.zones();
    const regimes = this.current(now);
    const key = regimes.map((r) => `${r.id}@${regimeEnd(r)}`).join(',') + '|' + zones.join(',');
    if (key !== this.key) {
      this.key = key;
      this.items.clear();
      this.list.replaceChildren();
      for (const r of regimes) {
        const li = el('li', `regime-item kind-${r.kind || 'other'}`);
        li.dataset.testid = 'regime';
        li.dataset.regime = r.id;
        const name = el('span', 'regime-name', r.name || r.id);
        const kind = el('span', 'regime-kind muted', KINDS[r.kind] || label(r.kind || 'regime'));
        const start = parseTime(r.starts_at);
        const since = el('span', 'regime-since muted', `since ${fullTime(start)}`);
        const left = el('span', 'regime-left');
        left.dataset.testid = 'regime-left';
        const end = regimeEnd(r);
        if (end) left.title = `Ends ${fullTime(end)}${Array.isArray(r.extensions) && r.extensions.length ? ' (extended)' : ''}`;
        const covered = zones.filter((z) => regimeCovers(r, z)).map(this.zoneName);
        const where = el('span', 'regime-zones muted', covered.length === zones.length && zones.length > 1 ? 'every zone shown' : covered.join(', '));
        li.append(name, kind, since, left, where);
        this.list.append(li);
        this.items.set(r.id, { li, left, r });
      }
      this.none.hidden = regimes.length > 0;
    }
    for (const { left, r } of this.items.values()) setText(left, endsText(r, now));
  }
}
