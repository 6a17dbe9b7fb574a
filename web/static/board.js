// truceline board: entry point. Wires the live feed, the alert store, the
// list renderer and the header together.

import { LiveFeed } from './live.js';
import { AlertStore } from './store.js';
import { AlertList } from './list.js';
import { DetailPanel } from './detail.js';
import { Catalog } from './catalog.js';
import { ActingAs } from './actor.js';
import { Toasts } from './toast.js';
import { fetchZones, alertAction } from './api.js';
import { agoShort, clockTime, hasAcknowledged } from './format.js';

const HIGHLIGHT_EVENTS = new Set(['opened', 'reopened', 'escalated']);
const HIGHLIGHT_SEVERITIES = new Set(['severe', 'extreme']);

const $ = (id) => document.getElementById(id);
const els = {
  conn: $('conn'),
  connLabel: $('conn-label'),
  updated: $('updated'),
  openCount: $('open-count'),
  ackCount: $('ack-count'),
  shownCount: $('shown-count'),
  zoneFilter: $('zone-filter'),
  stateFilter: $('state-filter'),
  offlineBar: $('offline-bar'),
  offlineText: $('offline-text'),
  exerciseBanner: $('exercise-banner'),
  list: $('alerts'),
  empty: $('empty'),
  connSr: $('conn-sr'),
  toasts: $('toasts'),
  actingAs: $('acting-as'),
  detail: $('detail'),
};

// --- state -------------------------------------------------------------------

const store = new AlertStore();
const toasts = new Toasts(els.toasts);
/** zone id -> display name */
const zoneNames = new Map();
/** zones for which at least one snapshot was applied */
const seeded = new Set();
const filters = readFiltersFromURL();

const zoneName = (id) => zoneNames.get(id) || id || '—';
const catalog = new Catalog();
const acting = new ActingAs(els.actingAs, catalog, () => {
  // Which Acknowledge buttons show depends on who acts.
  list.refillAll();
  detail.refresh();
});

const list = new AlertList(els.list, {
  store,
  zoneName,
  partyName: (id) => catalog.partyName(id),
  actor: () => acting.actor(),
  onAction: (id, action) => runAction(id, action, acting.body()),
  onOpen: (id) => detail.open(id),
  onRendered: ({ visible }) => renderSummary(visible),
});
list.setFilter(makeFilter());

const detail = new DetailPanel(els.detail, {
  store,
  catalog,
  zoneName,
  acting,
  run: (id, action, body, opts) => runAction(id, action, body, opts),
  onOpen: (id) => {
    filters.alert = id;
    writeFiltersToURL();
  },
  onClose: (id) => {
    filters.alert = '';
    writeFiltersToURL();
    if (list.rows.has(id)) list.select(id);
  },
});

catalog.onChange(() => {
  const notice = acting.refresh();
  if (notice) toasts.notice(notice);
  list.refillAll();
  detail.refresh();
});

const feed = new LiveFeed({ zones: ['*'] });

// --- feed events ---------------------------------------------------------------

feed.on('snapshot', ({ zone, alerts, reason }) => {
  const { added, removed, changed } = store.replaceZone(zone, alerts);
  const reseed = seeded.has(zone);
  seeded.add(zone);
  for (const id of removed) list.invalidate(id);
  for (const id of changed) list.invalidate(id);
  for (const id of [...removed, ...changed, ...added]) detail.update(id);
  for (const a of alerts) catalog.noteAlert(a);
  for (const id of added) {
    const a = store.get(id).alert;
    // Alerts that appeared while we were away are new to the officer.
    if (reseed && a.state === 'open' && HIGHLIGHT_SEVERITIES.has(a.severity)) list.flash(id);
    else list.invalidate(id);
  }
  ensureZoneOption(zone);
  list.refresh();
  if (reason) toasts.notice(`Could not resume ${zoneName(zone)}; reloaded current state`);
});

feed.on('alert', ({ event, alert }) => {
  // The answer to our own action may have brought this version (or a later
  // one) already.
  const held = store.get(alert.id)?.alert;
  if (held && Number.isFinite(held.version) && Number.isFinite(alert.version) && alert.version < held.version) return;
  const { prev, pruned } = store.upsert(alert);
  for (const id of pruned) list.invalidate(id);
  detail.update(alert.id);
  catalog.noteAlert(alert);
  if (
    HIGHLIGHT_EVENTS.has(event) &&
    alert.state === 'open' &&
    HIGHLIGHT_SEVERITIES.has(alert.severity) &&
    (event !== 'escalated' || !prev || prev.severity !== alert.severity)
  ) {
    list.flash(alert.id);
  } else {
    list.invalidate(alert.id);
  }
  ensureZoneOption(alert.zone);
});

feed.on('frame', () => {
  // Keep "updated N s ago" exact without waiting for the 1 s tick.
  if (els.updated.textContent !== 'updated 0 s ago') renderConnection();
});

feed.on('error', ({ code, message }) => {
  toasts.error(message || `Server error${code ? ` (${code})` : ''}`);
});

let lastState = null;
feed.on('status', (st) => {
  renderConnection(st);
  if (st.state !== lastState) {
    // Back after an outage: the configuration may have changed meanwhile.
    if (st.state === 'live' && lastState === 'reconnecting') catalog.load();
    announce(st.state);
    lastState = st.state;
  }
});

// --- actions -------------------------------------------------------------------

/**
 * Send an action and apply the alert it answers with (the same change also
 * comes over the socket, to this board and every other). Returns true when
 * done, or {error} when refused; the error is shown as a toast unless quiet.
 * While in flight, the row's button of that action is disabled.
 */
async function runAction(id, action, body, { quiet = false } = {}) {
  const rowButton = action === 'ack' || action === 'resolve';
  if (rowButton && list.isBusy(id, action)) return false;
  if (rowButton) list.setBusy(id, action, true);
  try {
    applyAlert(await alertAction(id, action, body));
    return true;
  } catch (err) {
    if (!quiet) toasts.error(err.message || 'Request failed');
    return { error: err };
  } finally {
    if (rowButton) list.setBusy(id, action, false);
  }
}

/** Apply an alert from an action's answer, unless the socket already
 *  brought this version or a later one. */
function applyAlert(alert) {
  if (!alert || typeof alert.id !== 'string') return;
  const held = store.get(alert.id)?.alert;
  if (held && Number.isFinite(held.version) && Number.isFinite(alert.version) && alert.version <= held.version) return;
  const { pruned } = store.upsert(alert);
  for (const id of pruned) list.invalidate(id);
  list.invalidate(alert.id);
  detail.update(alert.id);
}

function ackSelected() {
  const id = list.selectedId;
  if (!id) return;
  const entry = store.get(id);
  if (!entry) return;
  const a = entry.alert;
  if (a.state !== 'open') {
    toasts.notice(`Already ${a.state}: ${a.title || id}`);
    return;
  }
  if (hasAcknowledged(a, acting.actor())) {
    toasts.notice(`${acting.label()} has already acknowledged: ${a.title || id}`);
    return;
  }
  runAction(id, 'ack', acting.body());
}

// --- header ----------------------------------------------------------------------

function renderSummary(visible) {
  const { open, acknowledged, exercise } = store.counts();
  setText(els.openCount, String(open));
  setText(els.ackCount, String(acknowledged));
  const title = seeded.size ? `(${open}) truceline` : 'truceline';
  if (document.title !== title) document.title = title;
  els.exerciseBanner.hidden = !exercise;
  // Counts are over all zones; say how many rows the filter leaves.
  els.shownCount.hidden = !filters.zone;
  if (filters.zone) setText(els.shownCount, `· ${visible} in ${zoneName(filters.zone)}`);

  if (visible > 0) {
    els.empty.hidden = true;
  } else {
    els.empty.hidden = false;
    let text;
    if (!seeded.size) text = 'Waiting for data…';
    else {
      const where = filters.zone ? ` in ${zoneName(filters.zone)}` : '';
      text = filters.state === 'all' ? `No alerts${where}.` : `No open or acknowledged alerts${where}.`;
    }
    setText(els.empty, text);
  }
}

function renderConnection(st = feed.status()) {
  const now = Date.now();
  let text;
  switch (st.state) {
    case 'live':
      text = st.catchingUp ? 'live · catching up' : 'live';
      break;
    case 'reconnecting':
      text = st.retryAt
        ? `reconnecting in ${Math.max(1, Math.ceil((st.retryAt - now) / 1000))} s`
        : 'reconnecting…';
      break;
    case 'offline':
      text = 'offline';
      break;
    default:
      text = 'connecting…';
  }
  els.conn.dataset.state = st.state;
  setText(els.connLabel, text);

  setText(els.updated, st.lastFrameAt ? `updated ${agoShort(st.lastFrameAt, now)}` : 'no data yet');
  if (st.lastFrameAt) els.updated.title = `Last message ${clockTime(st.lastFrameAt)}`;

  const down = st.state !== 'live' && st.downSince;
  els.offlineBar.hidden = !down;
  document.body.classList.toggle('is-down', Boolean(down));
  if (down) {
    setText(els.offlineText, `Connection lost — offline since ${clockTime(st.downSince)}. Showing last known state.`);
  }
}

// Screen-reader text of the connection indicator (a polite live region). The
// visible label (with its per-second countdown) is aria-hidden, so only state
// changes are announced. Only the "live" text may contain the word "live".
const ANNOUNCE = {
  connecting: 'Connecting',
  live: 'Connected, live',
  reconnecting: 'Connection lost, reconnecting',
  offline: 'Offline',
};

function announce(state) {
  setText(els.connSr, ANNOUNCE[state] || '');
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// --- filters -----------------------------------------------------------------------

function readFiltersFromURL() {
  const q = new URLSearchParams(location.search);
  return {
    zone: q.get('zone') || '',
    state: q.get('state') === 'all' ? 'all' : 'active',
    // the alert whose details are open
    alert: q.get('alert') || '',
  };
}

function writeFiltersToURL() {
  const q = new URLSearchParams(location.search);
  if (filters.zone) q.set('zone', filters.zone);
  else q.delete('zone');
  if (filters.state === 'all') q.set('state', 'all');
  else q.delete('state');
  if (filters.alert) q.set('alert', filters.alert);
  else q.delete('alert');
  const qs = q.toString();
  history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
}

function makeFilter() {
  const { zone, state } = filters;
  return (a) => (!zone || a.zone === zone) && (state === 'all' || a.state !== 'resolved');
}

function ensureZoneOption(id) {
  if (!id) return;
  for (const opt of els.zoneFilter.options) if (opt.value === id) return;
  const opt = new Option(zoneName(id), id);
  // keep "All zones" first, the rest by name
  let before = null;
  for (const o of els.zoneFilter.options) {
    if (o.value && o.text.localeCompare(opt.text) > 0) {
      before = o;
      break;
    }
  }
  els.zoneFilter.add(opt, before);
}

function applyZones(zones) {
  for (const z of zones) {
    if (z && typeof z.id === 'string') zoneNames.set(z.id, typeof z.name === 'string' && z.name ? z.name : z.id);
  }
  const keep = filters.zone;
  const ids = new Set([...zoneNames.keys(), ...store.zones()]);
  if (keep) ids.add(keep);
  const sorted = [...ids].sort((a, b) => zoneName(a).localeCompare(zoneName(b)));
  els.zoneFilter.replaceChildren(new Option('All zones', ''), ...sorted.map((id) => new Option(zoneName(id), id)));
  els.zoneFilter.value = keep;
  list.invalidateAll();
}

async function loadZones(attempt = 0) {
  try {
    applyZones(await fetchZones());
  } catch (err) {
    const delay = Math.min(30000, 2000 * 2 ** attempt);
    console.warn(`truceline: zones not loaded (${err.message}); retrying in ${delay / 1000} s`);
    setTimeout(() => loadZones(attempt + 1), delay);
  }
}

els.zoneFilter.addEventListener('change', () => {
  filters.zone = els.zoneFilter.value;
  writeFiltersToURL();
  list.setFilter(makeFilter());
});

els.stateFilter.addEventListener('change', () => {
  filters.state = els.stateFilter.value === 'all' ? 'all' : 'active';
  writeFiltersToURL();
  list.setFilter(makeFilter());
});

// --- keyboard ------------------------------------------------------------------------

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
}

/** Keep the open panel on the selected alert while moving with j / k. */
function follow() {
  if (detail.isOpen && list.selectedId && list.selectedId !== detail.id) detail.open(list.selectedId, { focus: false });
}

document.addEventListener('keydown', (ev) => {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || isTyping(ev.target)) return;
  switch (ev.key) {
    case 'j':
      list.move(1);
      follow();
      break;
    case 'k':
      list.move(-1);
      follow();
      break;
    case 'a':
      ackSelected();
      break;
    case 'Enter':
      // Enter on a button or link does what the button or link does.
      if (ev.target instanceof HTMLElement && ev.target.closest('button, a, summary')) return;
      if (!list.selectedId) return;
      detail.open(list.selectedId);
      break;
    case 'Escape':
      if (detail.isOpen) detail.close();
      else list.select(null);
      return;
    default:
      return;
  }
  ev.preventDefault();
});

// --- layout ------------------------------------------------------------------------------

// The sticky top area (header + banners) changes height with wrapping and
// banners; expose it so keyboard selection never scrolls a row under it.
const top = document.querySelector('.top');
if (top && 'ResizeObserver' in window) {
  new ResizeObserver(() => {
    const sticky = getComputedStyle(top).position === 'sticky';
    document.documentElement.style.setProperty('--top-h', `${sticky ? top.offsetHeight : 0}px`);
  }).observe(top);
}

// --- start -------------------------------------------------------------------------------

if (filters.zone) ensureZoneOption(filters.zone);
els.zoneFilter.value = filters.zone;
els.stateFilter.value = filters.state;

renderConnection();
renderSummary(0);
loadZones();
catalog.load();
feed.start();
if (filters.alert) detail.open(filters.alert, { focus: false });
// Once its row exists, the alert opened from the URL is the selected one.
feed.on('snapshot', () => {
  if (detail.isOpen && !list.selectedId && store.get(detail.id)) {
    list.flush();
    list.select(detail.id, { focus: false });
  }
});

// Connection countdown, staleness text and escalation countdowns: once a
// second.
setInterval(() => {
  const now = Date.now();
  renderConnection();
  list.tick(now);
  detail.tick(now);
}, 1000);
// Relative "last seen" times: every 15 s.
setInterval(() => list.refreshTimes(), 15000);

// Handy when debugging from the console; not an API.
window.truceline = { feed, store, list, detail, catalog, acting };
