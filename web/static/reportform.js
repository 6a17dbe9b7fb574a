// ReportForm: the "New report" dialog, for duty officers who take reports by
// phone or radio. It sends a report in schema v1 (POST /api/v1/reports) as
// the signed-in user, with the server's problems shown next to the fields
// they concern. Each report gets an id of the board's own, kept while the
// same content is sent again, so that a retry never counts twice.
//
// Closing the dialog keeps the draft (a stray Esc loses nothing); Clear,
// sending it and signing out forget it.

import { submitReport, isCSRFError } from './api.js';
import { label } from './format.js';
import { el } from './dom.js';

const NICE_METRES = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000];
const TARGETS = [
  ['civilian', 'Civilians'],
  ['infrastructure', 'Infrastructure'],
  ['humanitarian', 'Humanitarian'],
];

/** A report id of this board's: "board-" and a random UUID. */
export function newReportID() {
  const c = window.crypto;
  if (typeof c.randomUUID === 'function') return `board-${c.randomUUID()}`;
  // randomUUID is for secure contexts only (HTTPS, or loopback).
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `board-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pad = (n, w = 2) => String(Math.abs(Math.trunc(n))).padStart(w, '0');

/** "+03:00" for the local offset at date d. */
function offsetText(d) {
  const off = -d.getTimezoneOffset();
  return `${off < 0 ? '-' : '+'}${pad(off / 60)}:${pad(off % 60)}`;
}

/** A datetime-local value ("2026-11-23T14:05"), read as local time, as RFC
 *  3339 with the local offset; "" when it is not a time. */
export function rfc3339(value) {
  if (!value) return '';
  const d = new Date(value);
  if (!Number.isFinite(d.getTime())) return '';
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}${offsetText(d)}`;
}

/** Now as a datetime-local value, to the minute. */
function localNow(d = new Date()) {
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The smallest round number of metres at least m. */
function niceMetres(m) {
  return NICE_METRES.find((n) => n >= m) || NICE_METRES[NICE_METRES.length - 1];
}

function capitalise(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/** s capitalised, ending with a full stop. */
function sentence(s) {
  const t = capitalise(String(s).trim());
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}

export class ReportForm {
  /**
   * @param {HTMLDialogElement} dialog  the dialog holding the form
   * @param {object} opts
   *   me          () => Me | null      the signed-in user
   *   zones       () => [{id, name}]   the zones known, by name
   *   parties     () => [{id, name}]   the configured parties
   *   zoneFilter  () => zone id or ""  the zone the board shows, as a default
   *   pickOnMap   () => Promise<{lat, lon, zone, metresPerPixel} | null>
   *   setPin      ({lat, lon} | null) => void   mark the location on the map
   *   onAccepted  (answer) => void     after a 202: {id, submitted_id, duplicate}
   *   onSessionChanged () => void      the CSRF token was refused
   *   submit      (report) => Promise<answer>   (POST /api/v1/reports)
   */
  constructor(dialog, opts) {
    this.dialog = dialog;
    this.form = dialog.querySelector('form');
    this.opts = opts;
    this.submit = opts.submit || submitReport;
    const $ = (id) => dialog.querySelector(`#${id}`);
    this.f = {
      zone: $('rf-zone'),
      category: $('rf-category'),
      observedAt: $('rf-observed-at'),
      observedHint: $('rf-observed-at-hint'),
      observedUntil: $('rf-observed-until'),
      impacts: $('rf-impacts'),
      calibre: $('rf-weapon-calibre'),
      observerLat: $('rf-observer-lat'),
      observerLon: $('rf-observer-lon'),
      direction: $('rf-direction'),
      distanceMin: $('rf-distance-min'),
      distanceMax: $('rf-distance-max'),
      reportedBy: $('rf-reported-by'),
      lat: $('rf-lat'),
      lon: $('rf-lon'),
      precision: $('rf-precision'),
      pick: $('rf-pick'),
      source: $('rf-source'),
      certainty: $('rf-certainty'),
      severity: $('rf-severity'),
      count: $('rf-count'),
      weapon: $('rf-weapon'),
      attributedTo: $('rf-attributed-to'),
      target: $('rf-target'),
      killed: $('rf-killed'),
      injured: $('rf-injured'),
      description: $('rf-description'),
      exercise: $('rf-exercise'),
      summary: $('rf-summary'),
      body: dialog.querySelector('.rf-body'),
      submit: dialog.querySelector('[type="submit"]'),
    };
    /** field path ("location.lat") -> {box, wrap}: where its problems show */
    this.slots = new Map();
    for (const wrap of dialog.querySelectorAll('[data-field]')) {
      const box = wrap.querySelector(':scope > .form-error');
      if (box) this.slots.set(wrap.dataset.field, { box, wrap });
    }
    /** the element that opened the form, for the focus to go back to */
    this.opener = null;
    /** whether the form is open, or away for a pick */
    this.shown = false;
    /** whether the person changed anything since the form was last cleared */
    this.dirty = false;
    this.sending = false;
    this.picking = false;
    /** the report last sent and its id: sent again unchanged, it keeps it */
    this.lastSent = '';
    this.lastID = '';
    /** the precision a pick filled in, while the field still shows it */
    this.autoPrecision = '';
    /** bumped by reset: a pick or a send begun before ends quietly */
    this.gen = 0;

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.form.addEventListener('input', (ev) => this._edited(ev.target));
    this.form.addEventListener('change', (ev) => this._edited(ev.target));
    for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => this.close());
    dialog.querySelector('.rf-clear').addEventListener('click', () => {
      this.clear();
      this.f.zone.focus();
    });
    this.f.pick.addEventListener('click', () => this.pick());
    this.f.category.addEventListener('change', () => this._severityDefault());
    // Esc closes the dialog by itself.
    dialog.addEventListener('close', () => this._closed());
    this.clear();
  }

  /** Whether the form is in use: open, or waiting for a place on the map. */
  get isOpen() {
    return this.dialog.open || this.picking;
  }

  /** Open the form; the focus goes back to opener when it closes. */
  open(opener = document.activeElement) {
    if (this.isOpen) return;
    const me = this.opts.me();
    if (!me || !me.canReport()) return;
    this.opener = opener instanceof HTMLElement ? opener : null;
    this._fillZones(me);
    this._fillParties();
    if (!this.dirty) this._defaults();
    this._observedHint();
    this.dialog.showModal();
    this.shown = true;
    this.opts.setPin(this._location());
    this.f.body.scrollTop = 0;
    (this.f.zone.value ? this.f.category : this.f.zone).focus();
  }

  /** Close the form, keeping the draft. */
  close() {
    if (this.dialog.open) this.dialog.close();
    this._closed();
  }

  /** After the dialog closed (not for a pick): the pin goes, and the focus
   *  goes back to what opened the form (not to whatever had it when the
   *  dialog last opened: after a pick, the map). */
  _closed() {
    if (!this.shown || this.picking || this.dialog.open) return;
    this.shown = false;
    this.opts.setPin(null);
    const to = this.opener;
    this.opener = null;
    if (to && to.isConnected && to.getClientRects().length) to.focus({ preventScroll: true });
  }

  /** Forget the draft: empty fields, the defaults, no problems shown. */
  clear() {
    this.form.reset();
    this._clearProblems();
    this.dirty = false;
    this.autoPrecision = '';
    this._defaults();
    this._severityDefault();
    this.opts.setPin(null);
  }

  /** Close and forget everything (the user signed out). */
  reset() {
    this.gen++;
    this.picking = false;
    this.opener = null;
    this.close();
    this.lastSent = '';
    this.lastID = '';
    this.sending = false;
    this._busy(false);
    this.clear();
  }

  // --- the fields ---------------------------------------------------------------

  _defaults() {
    this.f.observedAt.value = localNow();
    const zones = [...this.f.zone.options].filter((o) => o.value);
    const preferred = this.opts.zoneFilter();
    if (zones.length === 1) this.f.zone.value = zones[0].value;
    else if (preferred && zones.some((o) => o.value === preferred)) this.f.zone.value = preferred;
    else this.f.zone.value = '';
  }

  /** The zones the user may submit for, keeping the choice made. */
  _fillZones(me) {
    const keep = this.f.zone.value;
    const zones = this.opts.zones().filter((z) => me.submits(z.id));
    const options = zones.map((z) => new Option(z.name, z.id));
    this.f.zone.replaceChildren(new Option(zones.length ? 'Choose a zone…' : 'No zone to report for', ''), ...options);
    this.f.zone.value = zones.some((z) => z.id === keep) ? keep : '';
  }

  /** The parties, for "attributed to" and "target", keeping the choices. */
  _fillParties() {
    const parties = this.opts.parties();
    const keepBy = this.f.attributedTo.value;
    const keepTarget = this.f.target.value;
    const partyOptions = () => parties.map((p) => new Option(p.name || p.id, p.id));
    this.f.attributedTo.replaceChildren(new Option('—', ''), ...partyOptions());
    const group = document.createElement('optgroup');
    group.label = 'A party';
    group.append(...partyOptions());
    this.f.target.replaceChildren(new Option('—', ''), ...TARGETS.map(([v, t]) => new Option(t, v)), group);
    for (const [sel, keep] of [[this.f.attributedTo, keepBy], [this.f.target, keepTarget]]) {
      if (keep && ![...sel.options].some((o) => o.value === keep)) sel.add(new Option(keep, keep));
      sel.value = keep;
    }
  }

  /** "The category's default (severe)" once a category is chosen. */
  _severityDefault() {
    const opt = this.f.category.selectedOptions[0];
    const sev = opt && opt.dataset.severity;
    this.f.severity.options[0].text = sev ? `The category's default (${label(sev).toLowerCase()})` : "The category's default";
  }

  _observedHint() {
    const d = new Date();
    this.f.observedHint.textContent = `Your local time (UTC${offsetText(d)}).`;
  }

  _edited(input) {
    if (!(input instanceof HTMLElement) || !this.form.contains(input)) return;
    this.dirty = true;
    const wrap = input.closest('[data-field]');
    if (wrap) {
      // its problem, and the group's (location, casualties)
      for (let w = wrap; w && this.form.contains(w); w = w.parentElement?.closest('[data-field]')) {
        this._clearSlot(w.dataset.field);
      }
    }
    if (input === this.f.precision) this.autoPrecision = '';
    if (input === this.f.lat || input === this.f.lon) this.opts.setPin(this._location());
  }

  /** The location typed, when lat and lon are numbers in range; else null. */
  _location() {
    const lat = Number.parseFloat(this.f.lat.value);
    const lon = Number.parseFloat(this.f.lon.value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat, lon };
  }

  // --- picking a place on the map ---------------------------------------------------

  /** Close the dialog while the person clicks the map; then fill in the
   *  place (and the zone there, when none is chosen) and come back. */
  async pick() {
    if (this.picking || !this.dialog.open) return;
    const gen = this.gen;
    this.picking = true;
    this.dialog.close();
    let place = null;
    try {
      place = await this.opts.pickOnMap();
    } catch (err) {
      console.warn('truceline: picking a place failed', err);
    } finally {
      if (gen === this.gen) this.picking = false;
    }
    if (gen !== this.gen) return;
    this.dialog.showModal();
    if (place) {
      this.f.lat.value = String(Number(place.lat.toFixed(5)));
      this.f.lon.value = String(Number(place.lon.toFixed(5)));
      if (!this.f.precision.value || this.f.precision.value === this.autoPrecision) {
        this.autoPrecision = Number.isFinite(place.metresPerPixel) && place.metresPerPixel > 0
          ? String(niceMetres(place.metresPerPixel * 4)) : '';
        this.f.precision.value = this.autoPrecision;
      }
      if (!this.f.zone.value && place.zone && [...this.f.zone.options].some((o) => o.value === place.zone)) {
        this.f.zone.value = place.zone;
        this._clearSlot('zone');
      }
      this.dirty = true;
      for (const f of ['location', 'location.lat', 'location.lon', 'location.precision_m']) this._clearSlot(f);
    }
    this.opts.setPin(this._location());
    this.f.pick.focus();
  }

  // --- sending ------------------------------------------------------------------------

  /** The report the form describes, and problems found before sending (a
   *  number field holding what is not a number). */
  _collect() {
    const f = this.f;
    const report = {};
    const problems = [];
    const text = (key, input, trim = true) => {
      const v = trim ? input.value.trim() : input.value.replace(/\s+$/, '');
      if (v) report[key] = v;
    };
    const number = (path, input) => {
      if (input.validity.badInput) {
        problems.push({ field: path, problem: 'is not a number' });
        return undefined;
      }
      const v = input.value.trim();
      return v === '' ? undefined : Number(v);
    };
    text('zone', f.zone);
    text('category', f.category);
    const at = rfc3339(f.observedAt.value);
    if (at) report.observed_at = at;
    else if (f.observedAt.validity.badInput) problems.push({ field: 'observed_at', problem: 'is not a complete date and time' });
    text('reported_by', f.reportedBy);
    text('source_type', f.source);
    const loc = {};
    for (const [key, input] of [['lat', f.lat], ['lon', f.lon], ['precision_m', f.precision]]) {
      const v = number(`location.${key}`, input);
      if (v !== undefined) loc[key] = v;
    }
    if (Object.keys(loc).length) report.location = loc;
    text('severity', f.severity);
    text('certainty', f.certainty);
    const count = number('count', f.count);
    if (count !== undefined) report.count = count;
    text('weapon', f.weapon);
    text('weapon_calibre', f.calibre);
    const impacts = number('impacts', f.impacts);
    if (impacts !== undefined) report.impacts = impacts;
    const until = rfc3339(f.observedUntil.value);
    if (until) report.observed_until = until;
    else if (f.observedUntil.validity.badInput) problems.push({ field: 'observed_until', problem: 'is not a complete date and time' });
    const observer = {};
    for (const [key, input] of [['lat', f.observerLat], ['lon', f.observerLon]]) {
      const v = number(`observer.${key}`, input);
      if (v !== undefined) observer[key] = v;
    }
    if (Object.keys(observer).length) report.observer = observer;
    const bearing = number('direction_deg', f.direction);
    if (bearing !== undefined) report.direction_deg = bearing;
    // One estimate in either box is a range of one.
    const lo = number('distance_m', f.distanceMin);
    const hi = number('distance_m', f.distanceMax);
    if (lo !== undefined || hi !== undefined) report.distance_m = { min: lo ?? hi, max: hi ?? lo };
    text('attributed_to', f.attributedTo);
    text('target', f.target);
    const cas = {};
    for (const [key, input] of [['killed', f.killed], ['injured', f.injured]]) {
      const v = number(`casualties.${key}`, input);
      if (v !== undefined) cas[key] = v;
    }
    if (Object.keys(cas).length) report.casualties = cas;
    text('description', f.description, false);
    if (f.exercise.checked) report.exercise = true;
    return { report, problems };
  }

  /** Send the report; on 202 close, forget the draft and tell the board. */
  async send() {
    if (this.sending || this.picking) return;
    this._clearProblems();
    const { report, problems } = this._collect();
    if (problems.length) {
      this._showProblems(problems, 'Not sent');
      return;
    }
    // The same content sent again (after a failure) keeps its id, so that
    // the server stores and counts it once; anything changed is another
    // report.
    const content = JSON.stringify(report);
    if (content !== this.lastSent || !this.lastID) {
      this.lastSent = content;
      this.lastID = newReportID();
    }
    const gen = this.gen;
    this.sending = true;
    this._busy(true);
    let answer;
    try {
      answer = await this.submit({ id: this.lastID, ...report });
    } catch (err) {
      if (gen !== this.gen || (err && err.status === 401)) return; // signed out
      this._refused(err);
      return;
    } finally {
      if (gen === this.gen) {
        this.sending = false;
        this._busy(false);
      }
    }
    if (gen !== this.gen) return;
    this.lastSent = '';
    this.lastID = '';
    this.clear();
    this.close();
    this.opts.onAccepted(answer || {});
  }

  _refused(err) {
    if (Array.isArray(err.fields) && err.fields.length) {
      this._showProblems(err.fields, 'The server refused the report');
      return;
    }
    let text = sentence(err.message || 'The report was not sent');
    if (isCSRFError(err)) {
      this.opts.onSessionChanged();
      text = 'The session changed (signed in again in another tab?): send the report again.';
    } else if (err.status === 429) {
      text += ' Wait a moment, then send it again.';
    } else if (!err.status || err.status >= 500) {
      // Maybe stored, maybe not: sent again unchanged, it counts once.
      text += ' Send it again: it will not count twice.';
    }
    this._summary(text);
    this.f.summary.focus();
  }

  _busy(busy) {
    const b = this.f.submit;
    b.disabled = busy;
    if (busy) b.setAttribute('aria-busy', 'true');
    else b.removeAttribute('aria-busy');
    b.textContent = busy ? 'Sending…' : 'Send report';
  }

  // --- problems -----------------------------------------------------------------------

  /** The slot of a field path: "location.lat", else "location"; index
   *  suffixes ("references[2]") are dropped. */
  _slotOf(field) {
    let f = String(field);
    while (f) {
      const slot = this.slots.get(f);
      if (slot) return slot;
      const cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
      f = cut > 0 ? f.slice(0, cut) : '';
    }
    return null;
  }

  /** Show each problem next to its field, the rest in the summary, and
   *  put the focus on the first field with a problem. */
  _showProblems(problems, intro) {
    const per = new Map();
    const unplaced = [];
    for (const p of problems) {
      const slot = this._slotOf(p.field);
      if (!slot) {
        unplaced.push(p.field.startsWith('(') ? capitalise(p.problem) : `${p.field} ${p.problem}`);
        continue;
      }
      if (!per.has(slot)) per.set(slot, []);
      per.get(slot).push(p.problem);
    }
    for (const [slot, texts] of per) {
      slot.box.textContent = sentence(texts.join('; '));
      slot.box.hidden = false;
      slot.wrap.classList.add('is-invalid');
      for (const input of this._inputsOf(slot.wrap)) input.setAttribute('aria-invalid', 'true');
    }
    const n = problems.length;
    const head = `${intro}: ${n} problem${n === 1 ? '' : 's'}`;
    if (!unplaced.length) this._summary(`${head}, marked below.`);
    else this._summary(`${head}:`, unplaced, per.size ? 'The others are marked below.' : '');
    const first = [...this.form.querySelectorAll('[aria-invalid="true"]')][0];
    if (first) first.focus();
    else this.f.summary.focus();
  }

  /** The summary above the fields: text, a list of items, and after. */
  _summary(text, items = [], after = '') {
    const s = this.f.summary;
    s.replaceChildren(el('p', '', text));
    if (items.length) {
      const ul = el('ul');
      ul.append(...items.map((t) => el('li', '', t)));
      s.append(ul);
    }
    if (after) s.append(el('p', '', after));
    s.tabIndex = -1;
    s.hidden = false;
    this.f.body.scrollTop = 0;
  }

  /** The inputs a problem of the element's field marks: its own, or for a
   *  group (location) every one in it. */
  _inputsOf(wrap) {
    if (wrap.matches('input, select, textarea')) return [wrap];
    return [...wrap.querySelectorAll('input, select, textarea')];
  }

  _clearSlot(field) {
    const slot = this.slots.get(field);
    if (!slot || slot.box.hidden) return;
    slot.box.hidden = true;
    slot.box.textContent = '';
    slot.wrap.classList.remove('is-invalid');
    for (const input of this._inputsOf(slot.wrap)) {
      // an input of the group keeps the mark of its own problem
      const own = input.closest('[data-field]');
      const ownSlot = own && this.slots.get(own.dataset.field);
      if (own !== slot.wrap && ownSlot && !ownSlot.box.hidden) continue;
      input.removeAttribute('aria-invalid');
    }
  }

  _clearProblems() {
    for (const field of this.slots.keys()) this._clearSlot(field);
    this.f.summary.hidden = true;
    this.f.summary.replaceChildren();
  }
}
