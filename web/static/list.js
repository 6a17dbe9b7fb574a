// AlertList: renders the alert rows. Rows are kept by alert id and updated
// in place; changes are batched into one requestAnimationFrame pass, so a
// burst of frames costs one layout, and 500 rows are never rebuilt at once.

import { compareEntries } from './store.js';
import { label, relativeTime, fullTime } from './format.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

const FLASH_MS = 4200;

export class AlertList {
  /**
   * @param {HTMLElement} root  element with role="list"
   * @param {object} opts
   *   store      AlertStore
   *   zoneName   (zoneId) => display name
   *   onAction   (id, action) => void      action: "ack" | "resolve"
   *   onRendered ({visible}) => void       after each render pass
   */
  constructor(root, { store, zoneName, onAction, onRendered }) {
    this.root = root;
    this.store = store;
    this.zoneName = zoneName;
    this.onAction = onAction;
    this.onRendered = onRendered || (() => {});

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
    if (row.alert !== alert || row.zoneLabel !== zoneLabel) {
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

    const sev = el('span', 'cell cell-sev');
    const badge = el('span', 'sev-badge');
    sev.append(badge);

    const title = el('div', 'cell cell-title');
    const titleText = el('span', 'title-text');
    const exTag = el('span', 'ex-tag', 'EXERCISE');
    exTag.hidden = true;
    title.append(titleText, exTag);

    const meta = el('div', 'meta');
    const zone = el('span', 'cell cell-zone');
    const cat = el('span', 'cell cell-cat');
    const state = el('span', 'cell cell-state');
    const stateChip = el('span', 'state-chip');
    state.append(stateChip);
    const reports = el('span', 'cell cell-reports');
    const reportNum = el('span', 'num');
    const reportUnit = el('span', 'unit');
    reports.append(reportNum, reportUnit);
    const seen = el('time', 'cell cell-seen');
    const verif = el('span', 'cell cell-verif');
    meta.append(zone, cat, state, reports, seen, verif);

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

    node.append(sev, title, meta, actions);
    return {
      el: node,
      alert: null,
      zoneLabel: null,
      refs: { badge, titleText, exTag, zone, cat, stateChip, reportNum, reportUnit, seen, verif, ack, resolve },
    };
  }

  _fill(row, alert, zoneLabel) {
    const r = row.refs;
    const node = row.el;
    const severity = String(alert.severity || 'unknown');
    const state = String(alert.state || 'unknown');
    const title = alert.title || '(untitled alert)';

    node.dataset.state = state;
    node.dataset.severity = severity;
    node.className = `alert sev-${severity} state-${state}` +
      (alert.exercise === true ? ' is-exercise' : '') +
      (row.el.classList.contains('is-selected') ? ' is-selected' : '') +
      (row.el.classList.contains('flash') ? ' flash' : '');

    setText(r.badge, label(severity));
    setText(r.titleText, title);
    r.titleText.title = title;
    r.exTag.hidden = alert.exercise !== true;
    setText(r.zone, zoneLabel);
    setText(r.cat, label(alert.category));
    setText(r.stateChip, label(state));
    if (state === 'acknowledged' && Array.isArray(alert.acks) && alert.acks.length) {
      const last = alert.acks[alert.acks.length - 1];
      r.stateChip.title = `Acknowledged by ${[last.by, last.party].filter(Boolean).join(', ')}`;
    } else {
      r.stateChip.removeAttribute('title');
    }
    const n = Number.isFinite(alert.report_count) ? alert.report_count : 0;
    setText(r.reportNum, String(n));
    setText(r.reportUnit, n === 1 ? ' report' : ' reports');

    const entry = this.store.get(alert.id);
    const seenMs = entry ? entry.lastSeen : 0;
    r.seen.dateTime = alert.last_seen || '';
    r.seen.title = seenMs ? `Last report ${fullTime(seenMs)}` : '';
    r.seen._ms = seenMs;
    setText(r.seen, relativeTime(seenMs));

    const verification = alert.verification || 'unverified';
    r.verif.className = `cell cell-verif verif-${verification}`;
    setText(r.verif, label(verification));

    r.ack.hidden = state !== 'open';
    r.resolve.hidden = state === 'resolved';
    r.ack.setAttribute('aria-label', `Acknowledge: ${title}`);
    r.resolve.setAttribute('aria-label', `Resolve: ${title}`);

    row.alert = alert;
    row.zoneLabel = zoneLabel;
    this._applyBusy(row, alert.id);
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
    this.select(id);
  }
}
