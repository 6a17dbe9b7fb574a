// ReportsTable: an alert's reports as facts, in the detail panel. Newest
// first, ten at a time (the ids from GET /api/v1/alerts/{id}/reports, each
// report from GET /api/v1/reports/{id}, fetched once), filterable by the
// party a report alleges did it. Each row: when it was observed and how
// late it arrived (and until when it lasted), who says so and in what
// capacity, who handed it over, what happened (weapon and calibre, target,
// alleged perpetrator, certainty, impacts, where, with a button that shows
// the place on the map, and the observer's bearing and distance to it, with
// the observer's position), casualties and the description.

import { fetchAlertReports, reportOnce } from './api.js';
import { clockTime, fullTime, label, parseTime, submitterLabel } from './format.js';
import { el, setText } from './dom.js';

const PAGE = 10;
/** a report that arrived this long after it was observed says so */
const LATE_MS = 5 * 60 * 1000;

const SOURCES = {
  own_monitor: 'own monitor',
  party_allegation: 'party allegation',
  ngo: 'NGO',
  media: 'media',
  public: 'public',
  sensor: 'sensor',
};

/** "2 h 5 min", "40 min" */
function span(ms) {
  const min = Math.round(ms / 60000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.round(h / 24)} days`;
}

/** "1.5 km", "800 m" */
function metres(m, km) {
  return km ? `${+(m / 1000).toFixed(1)}` : `${Math.round(m)}`;
}

/**
 * What an observer recorded of fire: "bearing 45° · 3–5 km", or ""
 * when the report says nothing of it.
 */
export function observation(rep) {
  const parts = [];
  if (Number.isFinite(rep.direction_deg)) parts.push(`bearing ${+rep.direction_deg.toFixed(1)}°`);
  const d = rep.distance_m;
  if (d && Number.isFinite(d.min) && Number.isFinite(d.max)) {
    const km = d.max >= 1000;
    const unit = km ? 'km' : 'm';
    parts.push(d.min === d.max ? `${metres(d.max, km)} ${unit}` : `${metres(d.min, km)}–${metres(d.max, km)} ${unit}`);
  }
  if (!parts.length && rep.observer) parts.push('position given');
  return parts.join(' · ');
}

export class ReportsTable {
  /**
   * @param {object} opts
   *   partyName  (id) => name
   *   parties    () => [{id, name}]
   *   onLocate   ({lat, lon, precision_m}) => void   show a place on the map
   */
  constructor({ partyName, parties, onLocate }) {
    this.partyName = partyName;
    this.parties = parties;
    this.onLocate = onLocate || (() => {});
    this.alertId = '';
    this.lastReport = '';
    /** the ids shown, newest first, and how many the alert has in all */
    this.ids = [];
    this.total = 0;
    this.gen = 0;

    const s = el('section', 'detail-section detail-reports');
    const h = el('h3', 'detail-h', 'Reports');
    this.count = el('span', 'head-pill');
    this.count.dataset.testid = 'reports-count';
    h.append(' ', this.count);
    const tools = el('div', 'reports-tools');
    const pick = el('label', 'reports-filter');
    this.party = el('select');
    this.party.dataset.testid = 'reports-party';
    pick.append(el('span', null, 'Alleged perpetrator'), this.party);
    tools.append(pick);
    this.table = el('table', 'reports-table');
    this.table.dataset.testid = 'reports-table';
    const head = el('thead');
    const hr = el('tr');
    for (const t of ['Observed', 'Reported by', 'What and where', 'Casualties']) hr.append(el('th', null, t));
    head.append(hr);
    this.body = el('tbody');
    this.table.append(head, this.body);
    this.status = el('p', 'reports-status muted');
    this.status.dataset.testid = 'reports-status';
    this.more = el('button', 'btn reports-more', `Show ${PAGE} older`);
    this.more.type = 'button';
    this.more.dataset.testid = 'reports-more';
    this.more.hidden = true;
    s.append(h, tools, this.table, this.status, this.more);
    this.el = s;

    this.party.addEventListener('change', () => this._filter());
    this.more.addEventListener('click', () => this._older());
  }

  /** Follow an alert: a new one starts over, new reports join at the top. */
  show(alert) {
    const ids = Array.isArray(alert.report_ids) ? alert.report_ids : [];
    const last = ids.length ? ids[ids.length - 1] : '';
    const n = Number.isFinite(alert.report_count) ? alert.report_count : 0;
    setText(this.count, String(n));
    this._parties();
    if (alert.id !== this.alertId) {
      this.alertId = alert.id;
      this.lastReport = last;
      this.ids = [];
      this.total = 0;
      this.gen++;
      this.body.replaceChildren();
      this.party.value = '';
      this._newer();
      return;
    }
    if (last !== this.lastReport) {
      this.lastReport = last;
      this._newer();
    }
  }

  _parties() {
    const list = this.parties();
    const key = list.map((p) => p.id).join(',');
    if (this._partiesKey === key) return;
    this._partiesKey = key;
    const keep = this.party.value;
    this.party.replaceChildren(new Option('Any', ''), ...list.map((p) => new Option(p.name || p.id, p.id)));
    this.party.value = list.some((p) => p.id === keep) ? keep : '';
  }

  _page(offset, limit) {
    return fetchAlertReports(this.alertId, offset, limit);
  }

  /**
   * Reports that came since: the newest page, or what is new above it. One
   * load at a time: a report that arrives while one is under way loads
   * again after it, rather than alongside it (both would add the same rows).
   */
  async _newer() {
    if (this._loading) {
      this._again = true;
      return;
    }
    this._loading = true;
    try {
      do {
        this._again = false;
        await this._newerOnce();
      } while (this._again);
    } finally {
      this._loading = false;
    }
  }

  async _newerOnce() {
    const gen = this.gen;
    try {
      const { total } = await this._page(0, 1);
      if (gen !== this.gen) return;
      const known = this.total;
      const from = this.ids.length ? known : Math.max(0, total - PAGE);
      if (total > from) {
        const page = await this._page(from, total - from);
        if (gen !== this.gen) return;
        const fresh = page.report_ids.slice().reverse();
        this.ids = [...fresh, ...this.ids];
        this.total = total;
        for (const id of fresh.reverse()) this._row(id, true);
      }
      this.total = total;
      this._status();
    } catch (err) {
      if (gen === this.gen) setText(this.status, `Reports could not be loaded (${err.message}).`);
    }
  }

  /** The next page of older reports. */
  async _older() {
    const gen = this.gen;
    const shownFrom = this.total - this.ids.length; // offset of the oldest shown
    if (shownFrom <= 0) return;
    const from = Math.max(0, shownFrom - PAGE);
    this.more.disabled = true;
    try {
      const page = await this._page(from, shownFrom - from);
      if (gen !== this.gen) return;
      const older = page.report_ids.slice().reverse();
      this.ids = [...this.ids, ...older];
      for (const id of older) this._row(id, false);
      this._status();
    } catch (err) {
      if (gen === this.gen) setText(this.status, `Older reports could not be loaded (${err.message}).`);
    } finally {
      this.more.disabled = false;
    }
  }

  _status() {
    const older = this.total - this.ids.length;
    this.more.hidden = older <= 0;
    this._filter();
  }

  _filter() {
    const party = this.party.value;
    let shown = 0;
    for (const tr of this.body.children) {
      const hide = Boolean(party) && tr.dataset.alleged !== party;
      tr.hidden = hide;
      if (!hide) shown++;
    }
    const of = `${this.ids.length === this.total ? 'all' : `the newest ${this.ids.length} of`} ${this.total}`;
    setText(this.status, party ? `${shown} of ${of} reports allege ${this.partyName(party)}` : `Showing ${of} reports, newest first`);
  }

  /** A row for a report, at the top (newer) or the bottom (older). */
  _row(id, top) {
    const tr = el('tr', 'report-row');
    tr.dataset.testid = 'report-row';
    tr.dataset.reportId = id;
    const when = el('td', 'r-when');
    const who = el('td', 'r-who');
    const what = el('td', 'r-what');
    const cas = el('td', 'r-cas');
    const link = el('a', 'report-id', id);
    link.dataset.testid = 'report-id';
    link.href = `/api/v1/reports/${encodeURIComponent(id)}`;
    link.target = '_blank';
    link.rel = 'noopener';
    link.title = 'The report as stored (JSON)';
    when.append(el('span', 'muted', '…'));
    who.append(link);
    tr.append(when, who, what, cas);
    if (top) this.body.prepend(tr);
    else this.body.append(tr);
    const gen = this.gen;
    reportOnce(id).then(
      (rep) => {
        if (gen === this.gen) this._fill(tr, link, rep);
      },
      () => {
        if (gen === this.gen) when.replaceChildren(el('span', 'muted', 'not found'));
      },
    );
  }

  _fill(tr, link, rep) {
    const [when, who, what, cas] = tr.children;
    tr.dataset.alleged = rep.attributed_to || '';
    if (rep.submitted_id) {
      setText(link, rep.submitted_id);
      link.title = `Kept as ${rep.id}: the report as stored (JSON)`;
    }

    const observed = parseTime(rep.observed_at);
    const received = parseTime(rep.received_at);
    const t = el('time', 'r-time', clockTime(observed));
    t.dateTime = rep.observed_at || '';
    t.title = `Observed ${fullTime(observed)}${received ? `\nReceived ${fullTime(received)}` : ''}`;
    when.replaceChildren(t);
    const until = parseTime(rep.observed_until);
    if (until && observed && until > observed) {
      const u = el('time', 'r-until', `until ${clockTime(until)}`);
      u.dateTime = rep.observed_until;
      u.dataset.testid = 'report-until';
      u.title = `Observed until ${fullTime(until)} (${span(until - observed)})`;
      when.append(u);
    }
    if (rep.classification && rep.classification.late) {
      const flag = el('span', 'r-late-flag', 'Late report');
      flag.dataset.testid = 'report-late-flag';
      const held = rep.classification.late_held || [];
      flag.title = 'It arrived long after it was observed: it pages nobody unless a rule takes late reports' +
        (held.length ? `; held by ${held.join(', ')}` : '');
      when.append(flag);
    }
    if (received && observed && received - observed > LATE_MS) {
      const late = el('span', 'r-late', `arrived ${span(received - observed)} late`);
      late.dataset.testid = 'report-late';
      when.append(late);
    }

    const claim = el('span', 'r-claim', rep.reported_by || '—');
    claim.dataset.testid = 'report-claim';
    const src = rep.source_type ? el('span', 'r-source muted', SOURCES[rep.source_type] || label(rep.source_type)) : null;
    const sender = el('span', 'r-sender muted', `sent by ${submitterLabel(rep.submitted_by)}`);
    sender.dataset.testid = 'report-sender';
    who.replaceChildren(link, claim, ...(src ? [src] : []), sender);

    const facts = [];
    const fact = (k, v) => {
      if (!v) return;
      const p = el('span', 'r-fact');
      p.append(el('span', 'r-k', k), ` ${v}`);
      facts.push(p);
    };
    fact('Weapon', [rep.weapon, rep.weapon_calibre].filter(Boolean).join(' '));
    fact('Target', rep.target ? (this.partyName(rep.target) || rep.target) : '');
    fact('Alleged', rep.attributed_to ? this.partyName(rep.attributed_to) : '');
    fact('Certainty', rep.certainty ? label(rep.certainty) : '');
    if (rep.count > 1) fact('Events', String(rep.count));
    if (Number.isFinite(rep.impacts)) fact('Impacts', String(rep.impacts));
    const loc = rep.location;
    if (loc && Number.isFinite(loc.lat) && Number.isFinite(loc.lon)) {
      const b = el('button', 'r-place', `${loc.lat.toFixed(4)}, ${loc.lon.toFixed(4)}${loc.precision_m ? ` ±${Math.round(loc.precision_m)} m` : ''}`);
      b.type = 'button';
      b.dataset.testid = 'report-place';
      b.title = 'Show on the map';
      b.addEventListener('click', () => this.onLocate(loc));
      facts.push(b);
    }
    const seen = observation(rep);
    if (seen) {
      const o = el('span', 'r-fact r-observer');
      o.dataset.testid = 'report-observation';
      o.append(el('span', 'r-k', 'Observer'), ` ${seen}`);
      const at = rep.observer;
      if (at && Number.isFinite(at.lat) && Number.isFinite(at.lon)) {
        const b = el('button', 'r-place', `from ${at.lat.toFixed(4)}, ${at.lon.toFixed(4)}`);
        b.type = 'button';
        b.dataset.testid = 'report-observer-place';
        b.title = 'Show where the observer stood on the map';
        b.addEventListener('click', () => this.onLocate({ lat: at.lat, lon: at.lon }));
        o.append(' ', b);
      }
      facts.push(o);
    }
    if (rep.exercise) facts.push(el('span', 'ex-tag', 'EXERCISE'));
    what.replaceChildren(...facts);
    if (rep.description) {
      const d = el('p', 'r-desc', rep.description);
      d.dataset.testid = 'report-description';
      what.append(d);
    }

    const c = rep.casualties || {};
    cas.replaceChildren(...(c.killed || c.injured
      ? [el('span', null, `${c.killed || 0} killed`), el('span', null, `${c.injured || 0} injured`)]
      : [el('span', 'muted', '—')]));
    this._filter();
  }
}
