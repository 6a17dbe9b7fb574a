// DetailPanel: everything about one alert, and every action on it. It opens
// beside the list (a non-modal dialog), follows the alert as changes arrive
// over the socket, and closes with Esc. Its head (severity, state, title)
// is drawn here; each section of its body by a module of its own, in the
// order the panel shows them: actions.js, acks.js and escalation.js side by
// side, verification.js, attribution.js, inforequests.js, facts.js,
// reports.js, notifications.js and timeline.js.

import { label, isUnanswered, unansweredText } from './format.js';
import { fetchAlert } from './api.js';
import { ActionsSection } from './actions.js';
import { AcksSection } from './acks.js';
import { EscalationSection } from './escalation.js';
import { VerificationSection } from './verification.js';
import { AttributionSection } from './attribution.js';
import { InfoRequestsSection } from './inforequests.js';
import { FactsSection } from './facts.js';
import { ReportsTable } from './reports.js';
import { NotificationsSection } from './notifications.js';
import { TimelineSection } from './timeline.js';
import { el, setText } from './dom.js';

export class DetailPanel {
  /**
   * @param {HTMLElement} root  the panel element (hidden while closed)
   * @param {object} opts
   *   store     AlertStore
   *   catalog   Catalog
   *   zoneName  (zoneId) => name
   *   me        () => Me | null   the signed-in user
   *   run       (id, action, body) => Promise<boolean>   sends an action
   *   onOpen    (id) => void
   *   onClose   (id) => void
   *   onLocate  ({lat, lon, precision_m}) => void   show a report's place on the map
   */
  constructor(root, { store, catalog, zoneName, me, run, onOpen, onClose, onLocate }) {
    this.root = root;
    this.store = store;
    this.catalog = catalog;
    this.zoneName = zoneName;
    this.me = me || (() => null);
    this.run = run;
    this.onOpen = onOpen || (() => {});
    this.onClose = onClose || (() => {});
    this.onLocate = onLocate || (() => {});
    this.id = null;
    this.alert = null;
    /** the alert fetched by id when the board does not hold it (resolved
     *  alerts, or a link opened before the snapshots arrived) */
    this._fetched = null;
    this._fetching = null;
    /** actions in flight for the shown alert */
    this._busy = new Set();
    this._build();
  }

  get isOpen() {
    return this.id !== null;
  }

  open(id, { focus = true } = {}) {
    const other = this.id !== id;
    if (other) {
      this._busy.clear();
      this._resetForms();
      this.info.reset();
      this._fetched = null;
      this._fetching = null;
      this._fetchError = false;
    }
    this.id = id;
    this.alert = null;
    this.root.hidden = false;
    document.body.classList.add('has-detail');
    this.render();
    if (other) this.r.body.scrollTop = 0;
    if (focus) this.r.title.focus({ preventScroll: true });
    if (other) this.onOpen(id);
  }

  close() {
    if (!this.isOpen) return;
    const id = this.id;
    this.id = null;
    this.alert = null;
    this.root.hidden = true;
    document.body.classList.remove('has-detail');
    this.onClose(id);
  }

  /** Close without a trace and forget the alert shown (the user signed
   *  out: nothing of theirs may stay behind for the next). */
  reset() {
    this.id = null;
    this.alert = null;
    this._fetched = null;
    this._fetching = null;
    this._fetchError = false;
    this._busy.clear();
    this._resetForms();
    this.info.reset();
    this.root.hidden = true;
    document.body.classList.remove('has-detail');
  }

  /** An alert changed: re-render when it is the one shown. */
  update(id) {
    if (this.isOpen && id === this.id) this.render();
  }

  // --- building ---------------------------------------------------------------

  _build() {
    const root = this.root;
    root.replaceChildren();
    const r = {};
    this.r = r;

    // Head: badges, title, zone and category, close button.
    const head = el('div', 'detail-head');
    const badges = el('div', 'detail-badges');
    r.sev = el('span', 'sev-badge');
    r.state = el('span', 'state-chip');
    r.ex = el('span', 'ex-tag', 'EXERCISE');
    r.late = el('span', 'ex-tag late-tag', 'LATE');
    r.late.dataset.testid = 'detail-late';
    r.late.title = 'Opened by a report that arrived long after it was observed';
    r.unanswered = el('span', 'loud-badge is-unanswered');
    r.unanswered.dataset.testid = 'detail-unanswered';
    badges.append(r.sev, r.state, r.ex, r.late, r.unanswered);
    r.close = el('button', 'detail-close', '×');
    r.close.type = 'button';
    r.close.dataset.testid = 'detail-close';
    r.close.title = 'Close (Esc)';
    r.close.setAttribute('aria-label', 'Close details');
    r.title = el('h2', 'detail-title');
    r.title.id = 'detail-title';
    r.title.tabIndex = -1;
    r.title.dataset.testid = 'detail-title';
    r.sub = el('p', 'detail-sub');
    head.append(badges, r.close, r.title, r.sub);

    const body = el('div', 'detail-body');
    r.body = body;

    const catalog = this.catalog;
    const me = () => this.me();
    this.actions = new ActionsSection({ catalog, act: (action, b) => this._act(action, b) });
    // Acknowledgement and escalation, side by side when there is room.
    this.acks = new AcksSection({ catalog });
    this.escalation = new EscalationSection({ catalog });
    const pair = el('div', 'detail-pair');
    pair.append(this.acks.el, this.escalation.el);
    this.verification = new VerificationSection({ catalog, me, submit: (b) => this._submit('verify', b) });
    this.attribution = new AttributionSection({ catalog, submit: (b) => this._submit('attribution', b) });
    this.info = new InfoRequestsSection({ catalog, me, run: (action, b) => this._act(action, b, { quiet: true }) });
    this.facts = new FactsSection({ catalog, zoneName: this.zoneName });
    this.reports = new ReportsTable({
      partyName: (id) => catalog.partyName(id),
      parties: () => [...catalog.parties.values()],
      onLocate: (loc) => this.onLocate(loc),
    });
    // Above the timeline, which only grows: a delivery that failed must not
    // scroll out of sight.
    this.notes = new NotificationsSection();
    this.timeline = new TimelineSection({ catalog, submit: (b) => this._submit('comment', b) });

    body.append(this.actions.el, this.actions.readOnly, pair, this.verification.el, this.attribution.el, this.info.el,
      this.facts.el, this.reports.el, this.notes.el, this.timeline.el);
    root.append(head, body);

    r.close.addEventListener('click', () => this.close());
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !ev.defaultPrevented) {
        ev.preventDefault();
        ev.stopPropagation();
        this.close();
      }
    });
  }

  _resetForms() {
    this.verification.reset();
    this.attribution.reset();
    this.timeline.reset();
  }

  // --- actions ----------------------------------------------------------------

  /** Send an action for the shown alert: true when done, {error} when the
   *  server refused it (quiet: the caller shows the error itself). */
  async _act(action, extra = {}, { quiet = false } = {}) {
    const id = this.id;
    const me = this.me();
    if (!id || !me || !me.canAct() || this._busy.has(action)) return false;
    this._busy.add(action);
    this._applyBusy();
    try {
      return await this.run(id, action, { ...me.body(), ...extra }, { quiet });
    } finally {
      if (this.id === id) {
        this._busy.delete(action);
        this._applyBusy();
      }
    }
  }

  /** Send a section's form (its errors shown by itself): what _act
   *  answers, or false when the panel has moved on to another alert. */
  async _submit(action, body) {
    const id = this.id;
    const ok = await this._act(action, body, { quiet: true });
    return this.id === id ? ok : false;
  }

  _applyBusy() {
    const buttons = [...this.actions.buttons, [this.verification.button, 'verify'],
      [this.attribution.button, 'attribution'], [this.timeline.button, 'comment']];
    for (const [b, action] of buttons) {
      const busy = this._busy.has(action);
      b.disabled = busy || b._blocked === true;
      if (busy) b.setAttribute('aria-busy', 'true');
      else b.removeAttribute('aria-busy');
    }
  }

  // --- rendering --------------------------------------------------------------

  render(now = Date.now()) {
    if (!this.isOpen) return;
    const entry = this.store.get(this.id);
    const a = entry ? entry.alert : this._fetched;
    const r = this.r;
    if (!a) {
      this.root.dataset.alertId = this.id;
      if (this._fetching !== this.id) this._fetch(this.id);
      if (!this._fetchError) {
        setText(r.title, 'Loading…');
        setText(r.sub, this.id);
      }
      return;
    }
    const changed = a !== this.alert;
    this.alert = a;
    this.root.dataset.alertId = a.id;
    this.root.dataset.state = a.state || '';
    const severity = String(a.severity || 'unknown');
    const state = String(a.state || 'unknown');
    const unanswered = isUnanswered(a);
    this.root.className = `detail sev-${severity} state-${state}${unanswered ? ' is-unanswered' : ''}`;

    setText(r.sev, label(severity));
    setText(r.state, label(state));
    r.ex.hidden = a.exercise !== true;
    r.late.hidden = a.late !== true;
    r.unanswered.hidden = !unanswered;
    setText(r.unanswered, unanswered ? unansweredText(a, (p) => this.catalog.partyName(p)) : '');
    setText(r.title, a.title || '(untitled alert)');
    setText(r.sub, `${this.zoneName(a.zone)} · ${label(a.category)}`);

    this._renderActions(a);
    this.reports.show(a);
    if (changed || this._catalogSeen !== this.catalog.parties) {
      this._catalogSeen = this.catalog.parties;
      this.escalation.invalidate();
      this.facts.render(a);
      this.acks.render(a);
      this.verification.render(a);
      this.attribution.render(a);
      this.timeline.render(a);
      this.notes.render(a);
    }
    this.escalation.render(a, now);
    this.info.render(a, now);
    this._applyBusy();
  }

  /** Fetch an alert the board does not hold. */
  async _fetch(id) {
    this._fetching = id;
    this._fetchError = false;
    try {
      const a = await fetchAlert(id);
      if (this.id !== id) return;
      this._fetched = a;
    } catch (err) {
      if (this.id !== id) return;
      this._fetchError = true;
      setText(this.r.title, err.status === 404 ? 'No such alert' : 'The alert could not be loaded');
      setText(this.r.sub, err.status === 404 ? id : `${id}: ${err.message}`);
      return;
    }
    this.render();
  }

  /** The user or the catalog changed: buttons and hints depend on them. */
  refresh() {
    this._catalogSeen = null;
    this.render();
  }

  tick(now = Date.now()) {
    if (this.isOpen && this.alert) {
      this.escalation.render(this.alert, now);
      this.info.tick(now);
    }
  }

  /** What the user may do: the buttons, and which forms they get. */
  _renderActions(a) {
    const me = this.me();
    const canAct = Boolean(me && me.canAct());
    const canVerify = Boolean(me && me.canVerify());
    const who = me ? me.label() : '';
    this.actions.render(a, me);
    this.verification.renderActions(canAct, canVerify, who);
    this.attribution.renderActions(canAct, canVerify, who);
    this.timeline.renderActions(canAct);
  }
}
