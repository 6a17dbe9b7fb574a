// DetailPanel: everything about one alert, and every action on it. It opens
// beside the list (a non-modal dialog), follows the alert as changes arrive
// over the socket, and closes with Esc.

import {
  label, fullTime, clockTime, shortTime, parseTime, escalationView, requiredAcks, hasAcknowledged,
  kindLabel, noteStateLabel, resolveView, isUnanswered, unansweredText,
} from './format.js';
import { ackWho } from './list.js';
import { fetchAlert } from './api.js';
import { ReportsTable } from './reports.js';
import { AttributionSection } from './attribution.js';
import { InfoRequestsSection } from './inforequests.js';
import { el, setText } from './dom.js';

const TIMELINE_MAX = 100;
const SNOOZES = [
  ['15m', '15 min'],
  ['1h', '1 h'],
  ['4h', '4 h'],
];
const VERIFY_STATUSES = [
  ['confirmed', 'Confirmed'],
  ['cannot_confirm', 'Cannot confirm'],
  ['disputed', 'Disputed'],
  ['not_applicable', 'Not applicable'],
];

function button(className, text, testid) {
  const b = el('button', `btn ${className}`, text);
  b.type = 'button';
  if (testid) b.dataset.testid = testid;
  return b;
}

function timeEl(iso, text) {
  const t = el('time', 'when', text);
  if (iso) {
    t.dateTime = iso;
    t.title = fullTime(parseTime(iso));
  }
  return t;
}

function section(title, className) {
  const s = el('section', `detail-section ${className || ''}`.trim());
  const h = el('h3', 'detail-h', title);
  s.append(h);
  return { s, h };
}

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

    // Actions.
    const actions = el('div', 'detail-actions');
    const mainActions = el('div', 'detail-buttons');
    r.ack = button('btn-ack', 'Acknowledge', 'detail-ack');
    r.resolve = button('btn-resolve', 'Resolve', 'detail-resolve');
    mainActions.append(r.ack, r.resolve);
    const snooze = el('div', 'snooze');
    snooze.setAttribute('role', 'group');
    snooze.setAttribute('aria-label', 'Snooze escalation');
    snooze.append(el('span', 'snooze-label', 'Snooze'));
    r.snoozes = SNOOZES.map(([dur, text]) => {
      const b = button('btn-snooze', text, 'snooze');
      b.dataset.for = dur;
      b.setAttribute('aria-label', `Snooze escalation for ${text}`);
      snooze.append(b);
      return b;
    });
    r.actingHint = el('p', 'acting-hint');
    r.actingHint.dataset.testid = 'acting-hint';
    r.ackNote = el('p', 'ack-note');
    actions.append(mainActions, snooze, r.actingHint, r.ackNote);
    r.actions = actions;
    // Instead of the actions, for those who only look.
    r.readOnly = el('p', 'read-only-note');
    r.readOnly.dataset.testid = 'read-only-note';
    r.readOnly.hidden = true;

    // Facts.
    const facts = section('Details', 'detail-facts');
    r.facts = el('dl', 'facts');
    facts.s.append(r.facts);

    // Acknowledgement and escalation, side by side when there is room.
    const pair = el('div', 'detail-pair');
    const acks = section('Acknowledgement', 'detail-acks');
    r.ackSummary = el('span', 'head-pill');
    acks.h.append(' ', r.ackSummary);
    r.acks = el('div', 'ack-list');
    acks.s.append(r.acks);
    const esc = section('Escalation', 'detail-esc');
    r.esc = el('div', 'esc-box');
    esc.s.append(r.esc);
    pair.append(acks.s, esc.s);

    // Verification: one card per party, and the form.
    const verif = section('Verification', 'detail-verif');
    r.verifSummary = el('span', 'head-pill');
    verif.h.append(' ', r.verifSummary);
    r.verifSentence = el('p', 'verif-sentence');
    r.verifSentence.dataset.testid = 'verification-summary';
    r.verifs = el('div', 'verif-grid');
    r.verifs.dataset.testid = 'verifications';
    const vform = el('form', 'inline-form verify-form');
    vform.noValidate = true;
    vform.setAttribute('aria-label', 'Verify');
    r.vStatus = el('select', 'verify-status');
    r.vStatus.dataset.testid = 'verify-status';
    r.vStatus.setAttribute('aria-label', 'Verification status');
    r.vStatus.append(new Option('Status…', ''), ...VERIFY_STATUSES.map(([v, t]) => new Option(t, v)));
    r.vStatus.options[0].disabled = true;
    r.vReason = noteInput('verify-reason', 'Reason (required)', 'Reason for the verification');
    r.vSubmit = el('button', 'btn btn-primary', 'Verify');
    r.vSubmit.type = 'submit';
    r.vSubmit.dataset.testid = 'verify-submit';
    r.vError = formError();
    r.vHint = el('p', 'form-hint');
    vform.append(r.vStatus, r.vReason, r.vSubmit);
    verif.s.append(r.verifSentence, r.verifs, vform, r.vHint, r.vError);

    // Attribution: each party's judgement of each alleged party.
    this.attribution = new AttributionSection({
      catalog: this.catalog, noteInput, formError,
      submit: (body) => this._attribute(body),
    });
    r.vForm = vform;

    // Timeline, newest first, with the comment form on top.
    const tl = section('Timeline', 'detail-timeline');
    const cform = el('form', 'inline-form comment-form');
    cform.noValidate = true;
    cform.setAttribute('aria-label', 'Comment');
    r.cText = noteInput('comment-text', 'Add a comment to the timeline', 'Comment');
    r.cSubmit = el('button', 'btn', 'Comment');
    r.cSubmit.type = 'submit';
    r.cSubmit.dataset.testid = 'comment-submit';
    r.cError = formError();
    cform.append(r.cText, r.cSubmit);
    r.timeline = el('ol', 'timeline');
    tl.s.append(cform, r.cError, r.timeline);
    r.cForm = cform;

    // Notifications: who was told, and whether it reached them. Above the
    // timeline, which only grows: a delivery that failed must not scroll
    // out of sight.
    const notes = section('Notifications', 'detail-notes');
    r.notesSummary = el('span', 'head-pill');
    r.notesSummary.dataset.testid = 'notifications-summary';
    notes.h.append(' ', r.notesSummary);
    r.notes = el('ol', 'notes');
    r.notes.dataset.testid = 'notifications';
    notes.s.append(r.notes);

    // The reports themselves, as facts.
    this.reports = new ReportsTable({
      partyName: (id) => this.catalog.partyName(id),
      parties: () => [...this.catalog.parties.values()],
      onLocate: (loc) => this.onLocate(loc),
    });

    // Requests for information, with their clocks and forms.
    this.info = new InfoRequestsSection({
      catalog: this.catalog,
      me: () => this.me(),
      run: (action, b) => this._act(action, b, { quiet: true }),
    });

    body.append(actions, r.readOnly, pair, verif.s, this.attribution.el, this.info.el, facts.s, this.reports.el, notes.s, tl.s);
    root.append(head, body);

    // Events.
    r.close.addEventListener('click', () => this.close());
    r.ack.addEventListener('click', () => this._act('ack'));
    r.resolve.addEventListener('click', () => this._act('resolve'));
    for (const b of r.snoozes) b.addEventListener('click', () => this._act('snooze', { for: b.dataset.for }));
    vform.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._verify();
    });
    cform.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._comment();
    });
    for (const input of [r.vStatus, r.vReason]) input.addEventListener('input', () => this._clearError(r.vError, input));
    r.cText.addEventListener('input', () => this._clearError(r.cError, r.cText));
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !ev.defaultPrevented) {
        ev.preventDefault();
        ev.stopPropagation();
        this.close();
      }
    });
  }

  _resetForms() {
    const r = this.r;
    r.vStatus.value = '';
    r.vReason.value = '';
    r.cText.value = '';
    this.attribution.reset();
    for (const [box, input] of [[r.vError, r.vReason], [r.vError, r.vStatus], [r.cError, r.cText]]) {
      this._clearError(box, input);
    }
  }

  _clearError(box, input) {
    box.hidden = true;
    box.textContent = '';
    input.removeAttribute('aria-invalid');
  }

  _showError(box, text, input) {
    box.textContent = text;
    box.hidden = false;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
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

  async _verify() {
    const r = this.r;
    this._clearError(r.vError, r.vStatus);
    this._clearError(r.vError, r.vReason);
    const me = this.me();
    if (!me || !me.canVerify()) {
      this._showError(r.vError, 'Verification is a party’s judgement: you act for no party.', null);
      return;
    }
    const status = r.vStatus.value;
    const note = r.vReason.value.trim();
    if (!status) return this._showError(r.vError, 'Choose confirmed, cannot confirm, disputed or not applicable.', r.vStatus);
    if (!note) return this._showError(r.vError, 'Give a reason: it goes on the record.', r.vReason);
    const id = this.id;
    const ok = await this._act('verify', { status, note }, { quiet: true });
    if (ok === true && this.id === id) {
      r.vReason.value = '';
      r.vStatus.value = '';
    } else if (ok && ok.error && this.id === id) {
      const err = ok.error;
      const input = err.problem && (err.problem('reason') || err.problem('note')) ? r.vReason
        : err.problem && err.problem('status') ? r.vStatus : null;
      this._showError(r.vError, err.message, input);
    }
  }

  /** Record the user's party's attribution judgement: true when done. */
  async _attribute(body) {
    const id = this.id;
    const ok = await this._act('attribution', body, { quiet: true });
    return this.id === id ? ok : false;
  }

  async _comment() {
    const r = this.r;
    this._clearError(r.cError, r.cText);
    const note = r.cText.value.trim();
    if (!note) return this._showError(r.cError, 'Write the comment first.', r.cText);
    const id = this.id;
    const ok = await this._act('comment', { note }, { quiet: true });
    if (ok === true && this.id === id) r.cText.value = '';
    else if (ok && ok.error && this.id === id) this._showError(r.cError, ok.error.message, r.cText);
  }

  _applyBusy() {
    const r = this.r;
    const set = (b, action) => {
      const busy = this._busy.has(action);
      b.disabled = busy || b._blocked === true;
      if (busy) b.setAttribute('aria-busy', 'true');
      else b.removeAttribute('aria-busy');
    };
    set(r.ack, 'ack');
    set(r.resolve, 'resolve');
    set(r.vSubmit, 'verify');
    set(this.attribution.button, 'attribution');
    set(r.cSubmit, 'comment');
    for (const b of r.snoozes) set(b, 'snooze');
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
      r.esc._sig = null;
      this._renderFacts(a);
      this._renderAcks(a);
      this._renderVerifications(a);
      this.attribution.render(a);
      this._renderTimeline(a);
      this._renderNotifications(a);
    }
    this._renderEscalation(a, now);
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
      this._renderEscalation(this.alert, now);
      this.info.tick(now);
    }
  }

  _renderActions(a) {
    const r = this.r;
    const me = this.me();
    const canAct = Boolean(me && me.canAct());
    const canVerify = Boolean(me && me.canVerify());
    const actor = me ? me.actor() : { by: '', party: '' };
    const who = me ? me.label() : '';
    const acked = canAct && hasAcknowledged(a, actor);
    const active = a.state !== 'resolved';

    // Those who only look get no buttons, but a word on why.
    r.actions.hidden = !canAct;
    r.readOnly.hidden = canAct || !me;
    setText(r.readOnly, me ? me.whyNot() : '');

    r.ack.hidden = !canAct || a.state !== 'open' || acked;
    setText(r.ack, actor.party ? `Acknowledge for ${who}` : 'Acknowledge');
    const rv = resolveView(a, actor);
    r.resolve.hidden = !canAct || !active || rv.agreed;
    setText(r.resolve, rv.label);
    r.resolve.title = rv.joint
      ? `Agree to resolve for ${who}; it resolves once ${rv.waiting.map((p) => this.catalog.partyName(p)).join(' and ')} agree${rv.waiting.length === 1 ? 's' : ''}`
      : 'Resolve the alert';
    for (const b of r.snoozes) b._blocked = !active || !a.escalation || Boolean(a.escalation.stopped) || !rv.snooze;
    r.snoozes[0].parentElement.hidden = !active || !a.escalation || !rv.snooze;
    setText(r.actingHint, !me ? '' : actor.party ? `Acting as ${me.name}, for ${who}` : `Acting as ${me.name} (for no party)`);

    let note = '';
    if (a.state === 'open' && acked) {
      const waiting = requiredAcks(a).filter((x) => !x.ack).map((x) => this.catalog.partyName(x.party));
      note = (actor.party ? `${who} has acknowledged.` : 'You have acknowledged.') +
        (waiting.length ? ` Waiting for ${waiting.join(' and ')}.` : '');
    }
    if (active && rv.agreedBy.length) {
      const names = (ps) => ps.map((p) => this.catalog.partyName(p)).join(' and ');
      const mine = rv.waiting.length === 1 && rv.waiting[0] === actor.party;
      note = `${note ? `${note} ` : ''}${names(rv.agreedBy)} agreed to resolve.` +
        (mine ? ` It resolves if you agree for ${who}.`
          : rv.waiting.length ? ` It resolves when ${names(rv.waiting)} agree${rv.waiting.length === 1 ? 's' : ''}.` : '');
    }
    if (active && canAct && !rv.snooze) {
      note = `${note ? `${note} ` : ''}Snoozing would hold the escalation towards the other party: only someone acting for no party may.`;
    }
    setText(r.ackNote, note);
    r.ackNote.hidden = !note;

    // Verification is per party (and stays possible after resolving: the
    // facts may be established later); the form is for those acting for one.
    r.vForm.hidden = !canVerify;
    r.vStatus.disabled = !canVerify;
    r.vReason.disabled = !canVerify;
    r.vSubmit._blocked = !canVerify;
    setText(r.vHint, canVerify ? `Recorded as ${who}'s judgement, replacing any earlier one.`
      : canAct ? 'Verification is a party’s judgement: you act for no party, so you cannot verify.' : '');
    r.vHint.hidden = !canAct;
    this.attribution.renderActions(canAct, canVerify, who);
    r.cForm.hidden = !canAct;
    r.cText.disabled = !canAct;
  }

  _renderFacts(a) {
    const rows = [];
    const add = (term, ...defs) => {
      const dt = el('dt', null, term);
      const dd = el('dd');
      dd.append(...defs.filter((d) => d !== null && d !== undefined && d !== ''));
      if (!dd.childNodes.length) dd.append(el('span', 'muted', '—'));
      rows.push(dt, dd);
    };
    add('Zone', this.zoneName(a.zone));
    const ruleName = a.rule_name || a.rule || '';
    const rule = el('span', null, ruleName || '—');
    if (a.rule && a.rule !== ruleName) rule.title = `rule ${a.rule}`;
    add('Rule', rule);
    add('Regime', a.regime ? named(this.catalog.regimeName(a.regime), a.regime) : el('span', 'muted', 'none in force'));
    add('Policy', a.policy ? named(this.catalog.policyName(a.policy), a.policy) : el('span', 'muted', 'none'));

    const n = Number.isFinite(a.report_count) ? a.report_count : 0;
    const reports = el('span', 'report-count', `${n} ${n === 1 ? 'report' : 'reports'}, listed below`);
    add('Reports', reports);
    add('Seen', seenRange(a));
    const c = a.casualties || {};
    if (c.killed || c.injured) add('Casualties', `${c.killed || 0} killed, ${c.injured || 0} injured`);
    const alleged = Array.isArray(a.alleged) ? a.alleged : [];
    if (alleged.length) {
      const who = el('span', null, alleged.map((x) => `${this.catalog.partyName(x.party)} (${x.reports} ${x.reports === 1 ? 'report' : 'reports'})`).join(', '));
      who.dataset.testid = 'alleged';
      add('Alleged', who);
    }
    add('Opened', timeEl(a.opened_at, fullTime(parseTime(a.opened_at))));
    this.r.facts.replaceChildren(...rows);
  }

  _renderAcks(a) {
    const items = [];
    const acks = Array.isArray(a.acks) ? a.acks : [];
    const required = requiredAcks(a);
    for (const { party, ack } of required) {
      const row = el('div', `ack-row ${ack ? 'is-acked' : 'is-waiting'}`);
      row.dataset.testid = 'detail-ack-party';
      row.dataset.party = party;
      row.dataset.acked = ack ? 'true' : 'false';
      row.append(el('span', 'ack-mark', ack ? '✓' : '○'), el('span', 'ack-party', this.catalog.partyName(party)));
      const what = el('span', 'ack-when');
      if (ack) {
        what.append(timeEl(ack.at, clockTime(parseTime(ack.at))));
        if (ack.by && ack.by !== this.catalog.partyName(party)) what.append(` · ${ack.by}`);
      } else {
        what.textContent = 'waiting';
      }
      row.append(what);
      items.push(row);
    }
    const others = acks.filter((x) => !required.some((q) => q.party && q.party === x.party));
    for (const ack of others) {
      const row = el('div', 'ack-row is-acked is-extra');
      row.append(el('span', 'ack-mark', '✓'), el('span', 'ack-party', ackWho(ack, (p) => this.catalog.partyName(p))),
        el('span', 'ack-when', clockTime(parseTime(ack.at))));
      items.push(row);
    }
    const pill = this.r.ackSummary;
    if (required.length) {
      const done = required.filter((x) => x.ack).length;
      pill.hidden = false;
      pill.className = `head-pill ${done === required.length ? 'is-done' : ''}`.trim();
      setText(pill, `${done} of ${required.length}`);
      pill.title = 'Joint acknowledgement: every one of these parties must acknowledge';
    } else {
      pill.hidden = true;
    }
    if (!required.length && !acks.length) {
      items.push(el('p', 'muted', a.state === 'resolved' ? 'Resolved without acknowledgement.' : 'Not acknowledged yet. One acknowledgement is enough.'));
    }
    this.r.acks.replaceChildren(...items);
  }

  _renderEscalation(a, now) {
    const r = this.r;
    const v = escalationView(a, now);
    const sig = v ? `${v.level}|${v.next}|${v.snoozedUntil}|${v.unanswered}` : 'none';
    if (r.esc._sig === sig) return;
    r.esc._sig = sig;
    if (!v) {
      r.esc.replaceChildren(el('p', 'muted', a.policy ? 'Escalation has not started.' : 'No escalation policy.'));
      return;
    }
    const lines = [];
    const top = el('div', 'esc-top');
    top.append(el('span', 'esc-level-big', v.level));
    const cd = el('span', ['esc-next', v.stopped && 'is-stopped', v.unanswered && 'is-unanswered', v.soon && 'is-soon']
      .filter(Boolean).join(' '), v.next);
    cd.dataset.testid = 'countdown';
    top.append(cd);
    lines.push(top);
    if (v.unanswered) {
      lines.push(el('p', 'small esc-unanswered', 'Every step of the policy ran and the alert is still open: acknowledge it, or resolve it.'));
    }
    const e = a.escalation || {};
    const policy = this.catalog.policies.get(a.policy);
    if (!v.stopped && policy && Array.isArray(policy.steps) && policy.steps[e.step]) {
      const targets = policy.steps[e.step].notify || [];
      if (targets.length) lines.push(el('p', 'small', `Next: step ${e.step + 1} notifies ${targets.join(', ')}`));
    }
    if (policy && policy.repeat) {
      lines.push(el('p', 'small muted', `Pass ${(e.repeat || 0) + 1} of ${policy.repeat + 1}`));
    }
    if (v.snoozedUntil) {
      lines.push(el('p', 'small snoozed', `Snoozed until ${shortTime(v.snoozedUntil, now)}`));
    }
    r.esc.replaceChildren(...lines);
  }

  _renderVerifications(a) {
    const r = this.r;
    const vs = Array.isArray(a.verifications) ? a.verifications : [];
    const verification = a.verification || 'unverified';
    r.verifSummary.className = `head-pill verif-${verification}`;
    setText(r.verifSummary, label(verification));
    setText(r.verifSentence, a.verification_summary || '');
    r.verifSentence.hidden = !a.verification_summary;
    const parties = [];
    for (const p of a.require_ack_from || []) if (!parties.includes(p)) parties.push(p);
    for (const v of vs) if (v && v.party && !parties.includes(v.party)) parties.push(v.party);
    const cards = parties.map((party) => {
      const v = vs.find((x) => x && x.party === party);
      const status = v ? v.status : 'none';
      const card = el('div', 'verif-card');
      card.dataset.testid = 'verification';
      card.dataset.party = party;
      card.dataset.status = status;
      const head = el('div', 'verif-card-head');
      head.append(el('span', 'verif-party', this.catalog.partyName(party)),
        el('span', 'verif-status', v ? label(v.status) : 'Not verified'));
      card.append(head);
      if (v) {
        card.append(el('p', 'verif-reason', v.reason || '(no reason given)'));
        const meta = el('p', 'verif-meta');
        meta.append(timeEl(v.at, clockTime(parseTime(v.at))));
        if (v.by && v.by !== this.catalog.partyName(party)) meta.append(` · ${v.by}`);
        card.append(meta);
      } else {
        card.append(el('p', 'verif-reason muted', 'No judgement yet.'));
      }
      return card;
    });
    if (!cards.length) cards.push(el('p', 'muted', 'No party has verified this alert yet.'));
    r.verifs.replaceChildren(...cards);
  }

  _renderTimeline(a) {
    const tl = Array.isArray(a.timeline) ? a.timeline : [];
    const items = [];
    const newest = tl.slice(-TIMELINE_MAX).reverse();
    for (const e of newest) {
      if (!e) continue;
      const { kind, text } = describe(e, (id) => this.catalog.partyName(id));
      const li = el('li', `tl-item tl-${kind}`);
      if (kind === 'delivery') {
        // "webhook to up/hook: failed, attempt 1: …": colour by the outcome.
        const m = /^[^:]*: (sent|failed|gave_up|cancelled|pending)\b/.exec(text);
        if (m) li.classList.add(`tl-delivery-${m[1]}`);
      }
      li.dataset.testid = 'timeline-entry';
      const head = el('div', 'tl-head');
      head.append(timeEl(e.at, clockTime(parseTime(e.at))), el('span', 'tl-action', tlLabel(kind)));
      // "Delivery delivery" would say it twice.
      if (kind !== 'delivery') head.append(el('span', `tl-by${e.by === 'engine' ? ' is-engine' : ''}`, e.by || ''));
      li.append(head);
      if (text) li.append(el('p', 'tl-note', text));
      items.push(li);
    }
    if (tl.length > TIMELINE_MAX) items.push(el('li', 'muted small', `${tl.length - TIMELINE_MAX} older entries not shown`));
    this.r.timeline.replaceChildren(...items);
  }

  _renderNotifications(a) {
    const ns = Array.isArray(a.notifications) ? a.notifications.filter((n) => n && typeof n === 'object') : [];
    const items = ns.slice().reverse().map(noteRow);
    if (!items.length) items.push(el('li', 'muted', 'No notifications requested.'));
    this.r.notes.replaceChildren(...items);

    // The summary: how the deliveries (not the board) went.
    const pill = this.r.notesSummary;
    const counts = new Map();
    for (const n of ns) {
      if (n.kind === 'board') continue;
      counts.set(n.state, (counts.get(n.state) || 0) + 1);
    }
    const order = ['gave_up', 'failed', 'pending', 'sent', 'cancelled'];
    const parts = order.filter((st) => counts.get(st)).map((st) => `${counts.get(st)} ${st === 'failed' ? 'retrying' : noteStateLabel(st).toLowerCase()}`);
    pill.hidden = !parts.length;
    setText(pill, parts.join(' · '));
    pill.className = 'head-pill' + (counts.get('gave_up') ? ' is-bad' : counts.get('failed') ? ' is-warn'
      : counts.get('pending') ? '' : counts.get('sent') ? ' is-done' : '');
  }
}

/** One notification: step, who, how, and what became of it. */
function noteRow(n) {
  const state = String(n.state || 'unknown');
  const li = el('li', `note-item note-is-${state}${n.fallback === true ? ' is-fallback' : ''}`);
  li.dataset.testid = 'notification';
  li.dataset.state = state;
  li.dataset.kind = n.kind || '';
  if (n.contact) li.dataset.contact = n.contact;
  if (n.target) li.dataset.target = n.target;

  if (n.fallback === true) {
    const fb = el('p', 'note-fallback', `NOBODY ON CALL in ${n.target || '?'} — sent to fallback ${n.contact || '?'}`);
    fb.dataset.testid = 'fallback';
    li.append(fb);
  }

  const main = el('div', 'note-main');
  const step = el('span', 'note-step', `Step ${(Number.isFinite(n.step) ? n.step : 0) + 1}` + (n.repeat ? ` · repeat ${n.repeat}` : ''));
  const who = el('span', 'note-who');
  if (n.kind === 'board') {
    who.append(el('span', 'note-contact', 'Board'));
  } else if (n.contact) {
    who.append(el('span', 'note-contact', n.contact));
    if (n.method) who.append(el('span', 'note-method', ` / ${n.method}`));
    // Reached through a schedule (on call, or the fallback for it).
    if (n.target && n.target !== n.contact && n.fallback !== true) who.append(el('span', 'note-via', ` via ${n.target}`));
  } else {
    who.append(el('span', 'note-contact is-nobody', n.target || '?'), el('span', 'note-method', ' — nobody reached'));
  }
  who.title = n.key || '';
  main.append(step, who);
  if (n.kind && n.kind !== 'board') main.append(el('span', 'note-kind', kindLabel(n.kind)));
  let stateText = noteStateLabel(state);
  const next = parseTime(n.next_attempt);
  if (state === 'failed' && next) stateText += ` · retrying at ${clockTime(next)}`;
  const chip = el('span', `note-state note-${state}`, stateText);
  chip.dataset.testid = 'notification-state';
  if (state === 'failed' && next) chip.title = `Next attempt ${fullTime(next)}`;
  main.append(chip);
  li.append(main);

  const meta = el('p', 'note-meta');
  meta.append(timeEl(n.at, clockTime(parseTime(n.at))));
  if (n.attempts > 0) meta.append(el('span', 'note-attempts', `${n.attempts} ${n.attempts === 1 ? 'attempt' : 'attempts'}`));
  const sent = parseTime(n.sent_at);
  if (sent) {
    const s = el('span', 'note-sent-at', 'sent ');
    s.append(timeEl(n.sent_at, clockTime(sent)));
    meta.append(s);
  }
  if (n.urgent === true) meta.append(el('span', 'note-urgent', 'urgent'));
  li.append(meta);

  if (n.error) {
    const err = el('p', 'note-error', String(n.error));
    err.dataset.testid = 'notification-error';
    li.append(err);
  }
  return li;
}

function named(name, id) {
  const s = el('span', null, name || id);
  if (name && name !== id) s.title = id;
  return s;
}

function seenRange(a) {
  const first = parseTime(a.first_seen);
  const last = parseTime(a.last_seen);
  if (!first && !last) return '';
  if (!first || first === last) return timeEl(a.last_seen || a.first_seen, fullTime(last || first));
  const box = el('span');
  box.append(timeEl(a.first_seen, shortTime(first, last)), ' – ', timeEl(a.last_seen, shortTime(last)));
  return box;
}

/** What a timeline entry was, from its action and note; party ids in the
 *  engine's notes are given their names. */
function describe(e, partyName) {
  const note = e.note || '';
  if (e.by === 'delivery') return { kind: 'delivery', text: note };
  switch (e.action) {
    case 'updated': {
      if (note.startsWith('comment: ')) return { kind: 'comment', text: note.slice('comment: '.length) };
      const snooze = /^snoozed until (\S+?)\.\s*(.*)$/s.exec(note);
      if (snooze) {
        const until = parseTime(snooze[1]);
        const text = until ? `Escalation held until ${fullTime(until)}` : note;
        return { kind: 'snoozed', text: snooze[2] ? `${text}. ${snooze[2]}` : text };
      }
      const verified = /^([A-Za-z0-9._-]+): (confirmed|cannot_confirm|disputed|not_applicable) \((.*)\)$/s.exec(note);
      if (verified) return { kind: 'verified', text: `${partyName(verified[1])}: ${label(verified[2]).toLowerCase()} — ${verified[3]}` };
      const attributed = /^attribution of ([a-z0-9-]+) by ([a-z0-9-]+): (substantiated|not_substantiated|undetermined) \((.*)\)$/s.exec(note);
      if (attributed) {
        return { kind: 'attributed', text: `${partyName(attributed[2])} on ${partyName(attributed[1])}: ${label(attributed[3]).toLowerCase()} — ${attributed[4]}` };
      }
      return { kind: 'updated', text: note };
    }
    case 'acknowledged':
      return {
        kind: 'acknowledged',
        text: note.replace(/\(still waiting for ([^)]*)\)/, (_, ids) =>
          `(still waiting for ${ids.split(', ').map((id) => partyName(id)).join(', ')})`),
      };
    case 'opened':
    case 'reopened':
    case 'escalated':
    case 'resolved':
      return { kind: e.action, text: note };
    default:
      return { kind: 'other', text: note };
  }
}

function tlLabel(kind) {
  return {
    comment: 'Comment',
    snoozed: 'Snoozed',
    verified: 'Verified',
    attributed: 'Attribution',
    updated: 'Updated',
    opened: 'Opened',
    reopened: 'Reopened',
    escalated: 'Escalated',
    acknowledged: 'Acknowledged',
    resolved: 'Resolved',
    delivery: 'Delivery',
  }[kind] || 'Change';
}

/** A text field for a note of at most 2048 characters (the server's limit). */
function noteInput(cls, placeholder, label) {
  const input = el('input', cls);
  input.type = 'text';
  input.maxLength = 2048;
  input.placeholder = placeholder;
  input.dataset.testid = cls;
  input.setAttribute('aria-label', label);
  return input;
}

/** A form's error line, announced when shown. */
function formError() {
  const p = el('p', 'form-error');
  p.setAttribute('role', 'alert');
  p.hidden = true;
  return p;
}
