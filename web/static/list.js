// AlertList: renders the alert rows. Rows are kept by alert id and updated
// in place; changes are batched into one requestAnimationFrame pass, so a
// burst of frames costs one layout, and 500 rows are never rebuilt at once.

import { compareEntries } from './store.js';
import {
  label, relativeTime, fullTime, parseTime, escalationView, requiredAcks, hasAcknowledged,
  deliveryProblems, fallbackLines, noteWho, resolveView, isUnanswered, unansweredText, clockTime, countdown,
} from './format.js';
import { el, setAttr, setHidden, setText } from './dom.js';
import { owedRequests } from './inforequests.js';

const FLASH_MS = 4200;

/** "Co-chair A (Rahman)" or "duty officer". */
export function ackWho(ack, partyName) {
  if (!ack) return '';
  if (!ack.party) return ack.by || 'anonymous';
  const name = partyName(ack.party);
  return ack.by && ack.by !== name ? `${name} (${ack.by})` : name;
}

export class AlertList {
  /**
   * @param {HTMLElement} root  element with role="list"
   * @param {object} opts
   *   store      AlertStore
   *   zoneName   (zoneId) => display name
   *   partyName  (partyId) => display name
   *   actor      () => {by, party}         who the board acts as (the user)
   *   canAct     () => bool                whether the user acts on alerts
   *   onAction   (id, action) => void      action: "ack" | "resolve"
   *   onOpen     (id) => void              a row was clicked: show its details
   *   onRendered ({visible}) => void       after each render pass
   */
  constructor(root, { store, zoneName, partyName, actor, canAct, onAction, onOpen, onRendered }) {
    this.root = root;
    this.store = store;
    this.zoneName = zoneName;
    this.partyName = partyName || ((id) => id);
    this.actor = actor || (() => ({ by: '', party: '' }));
    this.canAct = canAct || (() => false);
    this.onAction = onAction;
    this.onOpen = onOpen || (() => {});
    this.onRendered = onRendered || (() => {});
    /** bumped by refillAll: rows of an older epoch are filled again */
    this._epoch = 0;

    /** id -> row record {el, alert, zoneLabel, refs} */
    this.rows = new Map();
    /** ids in display order */
    this.order = [];
    this.filter = () => true;
    this.selectedId = null;

    this._dirty = new Set();
    this._all = true;
    this._frame = 0;
    this._flash = new Set();
    /** "id:action" -> true while a request is in flight (button disabled) */
    this._busy = new Set();

    root.addEventListener('click', (ev) => this._onClick(ev));
  }

  // --- invalidation --------------------------------------------------------

  invalidate(id) {
    this._dirty.add(id);
    this._schedule();
  }

  /** Schedule a render pass even if no row changed (refreshes the summary). */
  refresh() {
    this._schedule();
  }

  invalidateAll() {
    this._all = true;
    this._schedule();
  }

  /** Fill every row again (party names or the user changed). */
  refillAll() {
    this._epoch++;
    this.invalidateAll();
  }

  setFilter(fn) {
    this.filter = fn;
    this.invalidateAll();
  }

  /** Briefly highlight a row (applied at the next render). */
  flash(id) {
    this._flash.add(id);
    this.invalidate(id);
  }

  setBusy(id, action, busy) {
    const key = `${id}:${action}`;
    if (busy) this._busy.add(key);
    else this._busy.delete(key);
    const row = this.rows.get(id);
    if (row) this._applyBusy(row, id);
  }

  isBusy(id, action) {
    return this._busy.has(`${id}:${action}`);
  }

  _schedule() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  /** Render synchronously now (e.g. before reading the DOM). */
  flush() {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    this._render();
  }

  // --- rendering -----------------------------------------------------------

  _render() {
    let ids;
    if (this._all) {
      ids = new Set(this.rows.keys());
      for (const id of this.store.entries.keys()) ids.add(id);
    } else {
      ids = this._dirty;
    }
    const touched = ids.size > 0;
    for (const id of ids) {
      const entry = this.store.get(id);
      if (entry && this.filter(entry.alert)) this._upsertRow(id, entry.alert);
      else this._removeRow(id);
    }
    this._all = false;
    this._dirty = new Set();
    this._flash.clear();
    if (touched) this._reorder();
    this.onRendered({ visible: this.order.length });
  }

  _reorder() {
    const entries = [];
    for (const id of this.rows.keys()) entries.push(this.store.get(id));
    entries.sort(compareEntries);
    this.order = entries.map((e) => e.id);

    // Moving a focused node blurs it; remember and restore focus.
    const active = document.activeElement;
    const hadFocus = active && this.root.contains(active) ? active : null;

    let cursor = this.root.firstElementChild;
    for (const id of this.order) {
      const node = this.rows.get(id).el;
      if (node === cursor) cursor = cursor.nextElementSibling;
      else this.root.insertBefore(node, cursor);
    }
    if (hadFocus && hadFocus.isConnected && document.activeElement !== hadFocus) {
      hadFocus.focus({ preventScroll: true });
    }
  }

  _removeRow(id) {
    const row = this.rows.get(id);
    if (!row) return;
    row.el.remove();
    this.rows.delete(id);
    if (this.selectedId === id) this.selectedId = null;
  }

  _upsertRow(id, alert) {
    let row = this.rows.get(id);
    if (!row) {
      row = this._createRow(id);
      this.rows.set(id, row);
    }
    const zoneLabel = this.zoneName(alert.zone);
    if (row.alert !== alert || row.zoneLabel !== zoneLabel || row.epoch !== this._epoch) {
      this._fill(row, alert, zoneLabel);
    }
    if (this._flash.has(id)) this._startFlash(row);
  }

  _createRow(id) {
    const node = el('div', 'alert');
    node.setAttribute('role', 'listitem');
    node.tabIndex = -1;
    node.dataset.testid = 'alert';
    node.dataset.alertId = id;

    const sev = el('div', 'cell cell-sev');
    const badge = el('span', 'sev-badge');
    sev.append(badge);

    // Title over category.
    const main = el('div', 'cell cell-main');
    const titleLine = el('div', 'title-line');
    const titleText = el('span', 'title-text');
    titleLine.append(titleText);
    const subLine = el('div', 'sub-line');
    const cat = el('span', 'cell-cat');
    const exTag = el('span', 'ex-tag', 'EXERCISE');
    exTag.hidden = true;
    // Opened by a late report, under a rule that takes late reports.
    const lateTag = el('span', 'ex-tag late-tag', 'LATE');
    lateTag.dataset.testid = 'late';
    lateTag.title = 'Opened by a report that arrived long after it was observed';
    lateTag.hidden = true;
    // The verification, in the sub-line where its column is folded away.
    const verifTag = el('span', 'verif-tag');
    // Every escalation step ran and nobody acknowledged: the loudest.
    const unansweredTag = el('span', 'loud-badge is-unanswered');
    unansweredTag.dataset.testid = 'unanswered';
    unansweredTag.title = 'Every step of the escalation policy ran and the alert is still open';
    unansweredTag.hidden = true;
    // Deliveries that went wrong, loud, without opening the alert.
    const deliveryBadge = (cls, text, testid) => {
      const tag = el('span', `loud-badge ${cls}`, text);
      tag.dataset.testid = testid;
      tag.hidden = true;
      // The title is for the mouse; this says the same to screen readers.
      tag._why = el('span', 'sr-only');
      tag.append(tag._why);
      return tag;
    };
    const failedTag = deliveryBadge('is-failed', 'delivery failed', 'delivery-failed');
    const nobodyTag = deliveryBadge('is-nobody', 'nobody on call', 'nobody-on-call');
    // An acknowledged alert that reports made worse since.
    const worseTag = deliveryBadge('is-worse', 'worse since ack', 'worse-since-ack');
    // A regime-end notice: how long the regime has left, live.
    const regimeTag = el('span', 'regime-tag');
    regimeTag.dataset.testid = 'regime-end-countdown';
    regimeTag.hidden = true;
    // Information requested from the user's party, and not answered yet.
    const infoTag = el('span', 'info-tag');
    infoTag.dataset.testid = 'info-requested';
    infoTag.hidden = true;
    subLine.append(cat, exTag, lateTag, regimeTag, infoTag, worseTag, verifTag, unansweredTag, failedTag, nobodyTag);
    main.append(titleLine, subLine);

    // Zone over "3 reports · 4 min ago".
    const where = el('div', 'cell cell-where');
    const zone = el('span', 'cell-zone');
    const activity = el('span', 'activity');
    const reports = el('span', 'cell-reports');
    const reportNum = el('span', 'num');
    const reportUnit = el('span', 'unit');
    reports.append(reportNum, reportUnit);
    const seen = el('time', 'cell-seen');
    activity.append(reports, el('span', 'sep', ' · '), seen);
    where.append(zone, activity);

    // State over the per-party acknowledgement chips.
    const state = el('div', 'cell cell-state');
    const stateChip = el('span', 'state-chip');
    const acks = el('div', 'ack-chips');
    state.append(stateChip, acks);

    // Escalation level over the countdown to the next step.
    const esc = el('div', 'cell cell-esc');
    const escLevel = el('span', 'esc-level');
    const escNext = el('span', 'esc-next');
    escNext.dataset.testid = 'countdown';
    esc.append(escLevel, escNext);

    const verif = el('div', 'cell cell-verif');

    const actions = el('div', 'cell cell-actions');
    const ack = el('button', 'btn btn-ack', 'Acknowledge');
    ack.type = 'button';
    ack.dataset.testid = 'ack';
    ack.dataset.action = 'ack';
    const resolve = el('button', 'btn btn-resolve', 'Resolve');
    resolve.type = 'button';
    resolve.dataset.testid = 'resolve';
    resolve.dataset.action = 'resolve';
    actions.append(ack, resolve);

    node.append(sev, main, where, state, esc, verif, actions);
    return {
      el: node,
      alert: null,
      zoneLabel: null,
      epoch: -1,
      ticking: false,
      refs: { badge, titleText, exTag, lateTag, zone, cat, verifTag, unansweredTag, failedTag, nobodyTag, worseTag, regimeTag, infoTag, stateChip, acks, reportNum, reportUnit, seen, escLevel, escNext, verif, ack, resolve },
    };
  }

  _fill(row, alert, zoneLabel) {
    const r = row.refs;
    const node = row.el;
    const severity = String(alert.severity || 'unknown');
    const state = String(alert.state || 'unknown');
    const title = alert.title || '(untitled alert)';
    const actor = this.actor();
    const canAct = this.canAct();
    const unanswered = isUnanswered(alert);

    node.dataset.state = state;
    node.dataset.severity = severity;
    node.className = `alert sev-${severity} state-${state}` +
      (unanswered ? ' is-unanswered' : '') +
      (alert.exercise === true ? ' is-exercise' : '') +
      (row.el.classList.contains('is-selected') ? ' is-selected' : '') +
      (row.el.classList.contains('flash') ? ' flash' : '');

    setText(r.badge, label(severity));
    setText(r.titleText, title);
    r.titleText.title = title;
    r.exTag.hidden = alert.exercise !== true;
    r.lateTag.hidden = alert.late !== true;
    r.unansweredTag.hidden = !unanswered;
    if (unanswered) setText(r.unansweredTag, unansweredText(alert, this.partyName));
    setText(r.zone, zoneLabel);
    r.zone.title = zoneLabel;
    setText(r.cat, label(alert.category));

    // State, and who has acknowledged.
    const required = requiredAcks(alert);
    const acks = Array.isArray(alert.acks) ? alert.acks : [];
    let stateText = label(state);
    if (state === 'open' && required.length && required.some((x) => x.ack)) {
      stateText = `Open · ${required.filter((x) => x.ack).length} of ${required.length} acked`;
    }
    setText(r.stateChip, stateText);
    if (acks.length) {
      r.stateChip.title = 'Acknowledged by ' + acks.map((a) => ackWho(a, this.partyName)).join('; ');
    } else {
      r.stateChip.removeAttribute('title');
    }
    this._fillChips(r.acks, required, acks);

    const n = Number.isFinite(alert.report_count) ? alert.report_count : 0;
    setText(r.reportNum, String(n));
    setText(r.reportUnit, n === 1 ? ' report' : ' reports');

    const entry = this.store.get(alert.id);
    const seenMs = entry ? entry.lastSeen : 0;
    r.seen.dateTime = alert.last_seen || '';
    r.seen.title = seenMs ? `Last report ${fullTime(seenMs)}` : '';
    r.seen._ms = seenMs;
    setText(r.seen, relativeTime(seenMs));

    row.ticking = this._fillEscalation(r, alert);

    const verification = alert.verification || 'unverified';
    r.verif.className = `cell cell-verif verif-${verification}`;
    setText(r.verif, label(verification));
    r.verifTag.className = `verif-tag verif-${verification}`;
    setText(r.verifTag, verification === 'unverified' ? '' : label(verification));
    const vs = Array.isArray(alert.verifications) ? alert.verifications : [];
    if (vs.length) {
      r.verif.title = vs.map((v) => `${this.partyName(v.party)}: ${label(v.status)}${v.reason ? ` — ${v.reason}` : ''}`).join('\n');
    } else {
      r.verif.removeAttribute('title');
    }

    this._fillDelivery(r, alert);
    this._fillRegimeEnd(r, alert);
    this._fillInfo(r, alert, actor);

    // Acknowledge only what is open and this user (or their party) has not
    // acknowledged; nothing at all for those who may not act.
    const acked = hasAcknowledged(alert, actor);
    r.ack.hidden = !canAct || state !== 'open' || acked;
    const rv = resolveView(alert, actor);
    r.resolve.hidden = !canAct || state === 'resolved' || rv.agreed;
    const as = actor.party ? ` for ${this.partyName(actor.party)}` : '';
    r.ack.title = `Acknowledge${as}`;
    r.ack.setAttribute('aria-label', `Acknowledge${as}: ${title}`);
    r.resolve.title = rv.joint ? `${rv.label}: ${this.partyName(actor.party)} agrees; it resolves when every party has` : 'Resolve';
    r.resolve.setAttribute('aria-label', `${rv.label}: ${title}`);

    row.alert = alert;
    row.zoneLabel = zoneLabel;
    row.epoch = this._epoch;
    this._applyBusy(row, alert.id);
  }

  /** "Information requested from your party": the requests the user's
   *  party owes, loud once one is overdue. */
  _fillInfo(r, alert, actor) {
    const owed = owedRequests(alert, actor.party);
    r.infoTag.hidden = !owed.length;
    if (!owed.length) return;
    const overdue = owed.filter((q) => q.state === 'overdue').length;
    r.infoTag.className = `info-tag${overdue ? ' is-overdue' : ''}`;
    r.infoTag.dataset.overdue = overdue ? 'true' : 'false';
    setText(r.infoTag, overdue ? `Information from your party OVERDUE${owed.length > 1 ? ` (${owed.length})` : ''}`
      : `Information requested from your party${owed.length > 1 ? ` (${owed.length})` : ''}`);
    r.infoTag.title = owed.map((q) => `${q.id}: ${q.question} (deadline ${fullTime(parseTime(q.deadline))})`).join('\n');
  }

  /** The "delivery failed" and "nobody on call" badges, with the errors and
   *  the schedules in their titles (and for screen readers). */
  _fillDelivery(r, alert) {
    const worse = alert.worsened && alert.state !== 'resolved' ? alert.worsened : null;
    r.worseTag.hidden = !worse;
    if (worse) {
      r.worseTag.title = `Worse since it was acknowledged (${clockTime(parseTime(worse.at))}): ${worse.what}`;
      setText(r.worseTag._why, `: ${worse.what}`);
    }
    const { gaveUp, fallback } = deliveryProblems(alert);
    r.failedTag.hidden = !gaveUp.length;
    if (gaveUp.length) {
      const why = [];
      for (const n of gaveUp) {
        const line = `${noteWho(n)}: ${n.error || 'gave up'}`;
        if (!why.includes(line)) why.push(line);
      }
      r.failedTag.title = `Delivery failed\n${why.join('\n')}`;
      setText(r.failedTag._why, `: ${why.join('; ')}`);
    }
    r.nobodyTag.hidden = !fallback.length;
    if (fallback.length) {
      const lines = fallbackLines(fallback);
      r.nobodyTag.title = lines.join('\n');
      setText(r.nobodyTag._why, `: ${lines.join('; ')}`);
    }
  }

  /** One chip per party whose acknowledgement is required; without a joint
   *  acknowledgement, who acknowledged (if anyone). */
  _fillChips(box, required, acks) {
    const chips = [];
    if (required.length) {
      for (const { party, ack } of required) {
        const chip = el('span', `ack-chip ${ack ? 'is-acked' : 'is-waiting'}`);
        chip.dataset.testid = 'ack-chip';
        chip.dataset.party = party;
        chip.dataset.acked = ack ? 'true' : 'false';
        chip.append(
          el('span', 'ack-chip-mark', ack ? '✓' : '○'),
          el('span', 'ack-chip-name', this.partyName(party)),
          el('span', 'sr-only', ack ? ' acknowledged' : ' not yet acknowledged'),
        );
        chip.title = ack
          ? `${this.partyName(party)} acknowledged at ${fullTime(parseTime(ack.at))}${ack.by ? ` (${ack.by})` : ''}`
          : `Waiting for ${this.partyName(party)} to acknowledge`;
        chips.push(chip);
      }
    } else if (acks.length) {
      const last = acks[acks.length - 1];
      const extra = acks.length > 1 ? ` +${acks.length - 1}` : '';
      chips.push(el('span', 'ack-by', `by ${ackWho(last, this.partyName)}${extra}`));
    }
    // Replace only when something changed (chips are small; compare text).
    const sig = chips.map((c) => `${c.dataset.party || ''}:${c.dataset.acked || ''}:${c.textContent}`).join('|');
    if (box._sig !== sig) {
      box._sig = sig;
      box.replaceChildren(...chips);
    }
  }

  /** Fill the escalation cell; returns whether it needs a per-second tick. */
  _fillEscalation(r, alert, now = Date.now()) {
    const v = escalationView(alert, now);
    const cell = r.escLevel.parentElement;
    if (!v) {
      setText(r.escLevel, 'No escalation');
      setText(r.escNext, '');
      setAttr(cell, 'class', 'cell cell-esc is-none');
      return false;
    }
    setText(r.escLevel, v.snoozedUntil ? `${v.level} · snoozed` : v.level);
    setText(r.escNext, v.next);
    setAttr(cell, 'class', 'cell cell-esc' + (v.stopped ? ' is-stopped' : '') + (v.unanswered ? ' is-unanswered' : '') +
      (v.soon ? ' is-soon' : '') + (v.snoozedUntil ? ' is-snoozed' : ''));
    setAttr(cell, 'title', v.snoozedUntil
      ? `Snoozed until ${fullTime(v.snoozedUntil)}`
      : v.nextAt ? `Next escalation step at ${fullTime(v.nextAt)}` : '');
    return Boolean(v.nextAt);
  }

  /** Update the countdowns (once a second). */
  tick(now = Date.now()) {
    for (const row of this.rows.values()) {
      if (row.ticking && row.alert) row.ticking = this._fillEscalation(row.refs, row.alert, now);
      if (row.alert && row.alert.rule === 'regime-end') this._fillRegimeEnd(row.refs, row.alert, now);
    }
  }

  /** A regime-end notice's countdown, from the end its group names
   *  ("regime-end:<regime>:<zone>:<unix seconds>"). */
  _fillRegimeEnd(r, alert, now = Date.now()) {
    const end = Number(String(alert.group_key || '').split(':').pop()) * 1000;
    const show = alert.rule === 'regime-end' && Number.isFinite(end) && end > 0;
    setHidden(r.regimeTag, !show);
    if (!show) return;
    setText(r.regimeTag, end > now ? `regime ends in ${countdown(end - now)}` : 'regime ended');
    setAttr(r.regimeTag, 'title', `Ends ${fullTime(end)}`);
  }

  _applyBusy(row, id) {
    for (const btn of [row.refs.ack, row.refs.resolve]) {
      const busy = this._busy.has(`${id}:${btn.dataset.action}`);
      btn.disabled = busy;
      if (busy) btn.setAttribute('aria-busy', 'true');
      else btn.removeAttribute('aria-busy');
    }
  }

  _startFlash(row) {
    const node = row.el;
    clearTimeout(row.flashTimer);
    const arm = () => {
      node.classList.add('flash');
      row.flashTimer = setTimeout(() => node.classList.remove('flash'), FLASH_MS);
    };
    if (node.classList.contains('flash')) {
      // Restart on the next frame (no forced synchronous layout).
      node.classList.remove('flash');
      requestAnimationFrame(arm);
    } else {
      arm();
    }
  }

  /** Refresh the "N min ago" texts (cheap: text nodes only). */
  refreshTimes(now = Date.now()) {
    for (const row of this.rows.values()) {
      const seen = row.refs.seen;
      setText(seen, relativeTime(seen._ms, now));
    }
  }

  // --- selection -----------------------------------------------------------

  select(id, { focus = true } = {}) {
    if (this.selectedId && this.selectedId !== id) {
      const prev = this.rows.get(this.selectedId);
      if (prev) {
        prev.el.classList.remove('is-selected');
        prev.el.removeAttribute('aria-current');
      }
    }
    this.selectedId = id;
    const row = id ? this.rows.get(id) : null;
    if (!row) return;
    row.el.classList.add('is-selected');
    row.el.setAttribute('aria-current', 'true');
    if (focus) {
      row.el.focus({ preventScroll: true });
      row.el.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Move the selection by delta rows (j = +1, k = -1). */
  move(delta) {
    if (!this.order.length) return;
    let idx = this.selectedId ? this.order.indexOf(this.selectedId) : -1;
    if (idx < 0) idx = delta > 0 ? 0 : this.order.length - 1;
    else idx = Math.max(0, Math.min(this.order.length - 1, idx + delta));
    this.select(this.order[idx]);
  }

  _onClick(ev) {
    const rowEl = ev.target.closest('[data-alert-id]');
    if (!rowEl || !this.root.contains(rowEl)) return;
    const id = rowEl.dataset.alertId;
    const btn = ev.target.closest('button[data-action]');
    if (btn) {
      if (!btn.disabled) this.onAction(id, btn.dataset.action);
      this.select(id, { focus: false });
      return;
    }
    // Selecting text in a row is not a click on it.
    const sel = window.getSelection && window.getSelection();
    if (sel && !sel.isCollapsed && rowEl.contains(sel.anchorNode)) return;
    this.select(id);
    this.onOpen(id);
  }
}
