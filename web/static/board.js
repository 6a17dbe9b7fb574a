// truceline board: entry point. Signs the user in, then wires the live feed,
// the alert store, the list renderer and the header together; on signing out
// (or when the session ends) it takes the board down and forgets what it held.

import { LiveFeed } from './live.js';
import { AlertStore } from './store.js';
import { AlertList } from './list.js';
import { DetailPanel } from './detail.js';
import { Catalog } from './catalog.js';
import { Me, roleLabel } from './session.js';
import { Toasts } from './toast.js';
import { ZoneMap, ReportLocations } from './map.js';
import { RegimesPanel } from './regimes.js';
import { ZoneCounters } from './counters.js';
import { SourcesPanel } from './sources.js';
import { Sound } from './sound.js';
import { HelpOverlay } from './help.js';
import { RuleFaultBar } from './faults.js';
import { ReportForm } from './reportform.js';
import {
  fetchZones, alertAction, fetchSession, signIn, signOut, setCSRF, onUnauthenticated, isCSRFError,
  fetchRuleFaults, dismissRuleFault, forgetReports, fetchSources,
} from './api.js';
import { agoShort, awaitingParty, clockTime, hasAcknowledged, isUnanswered, label, severityRank, SEVERITIES } from './format.js';
import { setAttr, setHidden, setText } from './dom.js';

const HIGHLIGHT_EVENTS = new Set(['opened', 'reopened', 'escalated']);
const HIGHLIGHT_SEVERITIES = new Set(['severe', 'extreme']);
const STATES = new Set(['active', 'open', 'acknowledged', 'resolved', 'all']);
const VERIFICATIONS = ['unverified', 'confirmed', 'partly_confirmed', 'cannot_confirm', 'disputed', 'not_applicable'];
/** markers for at most this many of the most recently active visible alerts */
const MAX_MARKERS = 80;
const SIDE_KEY = 'truceline.sideOpen';
/** how often the board asks whether its session still holds */
const SESSION_CHECK_MS = 60000;
/** at most one session check this often while the feed is down */
const SESSION_RECHECK_MS = 5000;
/** how long a report sent from the board may take to show in an alert */
const REPORT_ALERT_MS = 30000;

const $ = (id) => document.getElementById(id);
const els = {
  conn: $('conn'),
  connLabel: $('conn-label'),
  updated: $('updated'),
  openCount: $('open-count'),
  awaitingCount: $('awaiting-count'),
  awaitingNum: $('awaiting-num'),
  awaitingLabel: $('awaiting-label'),
  awaitingFilter: $('awaiting-filter'),
  awaitingFilterWrap: $('awaiting-filter-wrap'),
  awaitingFilterLabel: $('awaiting-filter-label'),
  ackCount: $('ack-count'),
  unansweredCount: $('unanswered-count'),
  unansweredWrap: $('unanswered-wrap'),
  shownCount: $('shown-count'),
  zoneFilter: $('zone-filter'),
  stateFilter: $('state-filter'),
  severityFilter: $('severity-filter'),
  verificationFilter: $('verification-filter'),
  clearFilters: $('clear-filters'),
  filtersToggle: $('filters-toggle'),
  filtersActive: $('filters-active'),
  topbar: document.querySelector('.topbar'),
  side: $('side'),
  sideToggle: $('side-toggle'),
  sideSummary: $('side-summary'),
  map: $('map'),
  zoneTable: $('zone-table'),
  soundToggle: $('sound-toggle'),
  helpButton: $('help-button'),
  help: $('help'),
  offlineBar: $('offline-bar'),
  offlineText: $('offline-text'),
  exerciseBanner: $('exercise-banner'),
  ruleFaults: $('rule-faults'),
  serverHealth: $('server-health'),
  list: $('alerts'),
  empty: $('empty'),
  connSr: $('conn-sr'),
  toasts: $('toasts'),
  detail: $('detail'),
  boardApp: $('board-app'),
  signin: $('signin'),
  signinForm: $('signin-form'),
  signinUser: $('signin-user'),
  signinPassword: $('signin-password'),
  signinSubmit: $('signin-submit'),
  signinError: $('signin-error'),
  signinNote: $('signin-note'),
  noBoard: $('no-board'),
  noBoardWho: $('no-board-who'),
  noBoardSignOut: $('no-board-sign-out'),
  whoami: $('whoami'),
  whoName: $('whoami-name'),
  whoRole: $('whoami-role'),
  whoPartyWrap: $('whoami-party-wrap'),
  whoParty: $('whoami-party'),
  signOut: $('sign-out'),
  newReport: $('new-report'),
  reportDialog: $('report-dialog'),
  pickBar: $('pick-bar'),
  pickCancel: $('pick-cancel'),
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
/** the signed-in user (a Me), or null */
let me = null;

const list = new AlertList(els.list, {
  store,
  zoneName,
  partyName: (id) => catalog.partyName(id),
  actor: () => (me ? me.actor() : { by: '', party: '' }),
  canAct: () => Boolean(me && me.canAct()),
  onAction: (id, action) => runAction(id, action, me ? me.body() : {}),
  onOpen: (id) => detail.open(id),
  onRendered: ({ visible }) => renderSummary(visible),
});
list.setFilter(makeFilter());

const ruleFaults = new RuleFaultBar(els.ruleFaults, {
  fetch: () => fetchRuleFaults(),
  dismiss: (rule) => dismissRuleFault(rule),
  zoneName: (zone) => zoneName(zone),
});
const detail = new DetailPanel(els.detail, {
  store,
  catalog,
  zoneName,
  me: () => me,
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
  onLocate: (loc) => {
    // On a narrow screen the map may be folded away: unfold it, then show.
    if (els.side.classList.contains('is-collapsed')) setSideOpen(true, false);
    map.focus(loc);
    els.map.scrollIntoView({ block: 'nearest' });
  },
});

catalog.onChange(() => {
  renderWhoAmI(); // the party's name
  list.refillAll();
  detail.refresh();
  scheduleSituation(); // the regimes' lines in the zone table
});

const feed = new LiveFeed({ zones: ['*'] });
const sound = new Sound(els.soundToggle);
const help = new HelpOverlay(els.help);

const locations = new ReportLocations({
  ready: () => feed.status().state === 'live',
  onChange: () => scheduleSituation(),
});
const map = new ZoneMap(els.map, {
  zoneName,
  onZone: (id) => pickZone(id, null),
  onAlert: (id) => {
    if (!store.get(id)) return;
    list.flush();
    list.select(id, { focus: false });
    detail.open(id);
  },
});
const regimes = new RegimesPanel($('regimes'), {
  regimes: () => [...catalog.regimes.values()],
  zones: () => allZones(),
  zoneName,
});
const sources = new SourcesPanel($('sources'), {
  fetch: (signal) => fetchSources(signal),
  zones: () => allZones(),
  zoneName,
  onChange: () => counters.sourcesChanged(),
});
const counters = new ZoneCounters(els.zoneTable, {
  zoneName,
  onPick: (zone, state) => pickZone(zone, state),
  regimeLine: (zone, now) => regimes.zoneLine(zone, now),
  sourceLine: (zone) => sources.zoneLine(zone),
});
const reportForm = new ReportForm(els.reportDialog, {
  me: () => me,
  zones: () => [...zoneNames].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name)),
  parties: () => [...catalog.parties.values()].sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id))),
  zoneFilter: () => filters.zone,
  pickOnMap: () => pickOnMap(),
  setPin: (loc) => map.setPin(loc),
  onAccepted: (answer) => reportAccepted(answer),
  onSessionChanged: () => checkSession(),
});

// --- feed events ---------------------------------------------------------------

feed.on('snapshot', ({ zone, alerts, reason }) => {
  const wasUnanswered = new Set();
  for (const e of store.values()) if (e.zone === zone && isUnanswered(e.alert)) wasUnanswered.add(e.id);
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
    if (reseed && a.state === 'open' && HIGHLIGHT_SEVERITIES.has(a.severity)) {
      list.flash(id);
      sound.alert(a.severity);
    } else {
      list.invalidate(id);
    }
  }
  // So are escalations that ran out meanwhile.
  for (const id of reseed ? [...added, ...changed] : []) {
    if (isUnanswered(store.get(id).alert) && !wasUnanswered.has(id)) {
      list.flash(id);
      sound.unanswered();
    }
  }
  ensureZoneOption(zone);
  list.refresh();
  if (reason) toasts.notice(`Could not resume ${zoneName(zone)}; reloaded current state`);
  for (const a of alerts) claimReports(a);
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
  const worse = alert.worsened && alert.state !== 'resolved' && alert.worsened.at !== prev?.worsened?.at;
  if (worse) {
    // Worse since someone acknowledged it: seen and heard, whatever its
    // severity, so that nobody handles it on what it was.
    list.flash(alert.id);
    sound.alert('extreme');
  } else if ((event === 'opened' || event === 'reopened') && alert.state === 'open' && HIGHLIGHT_SEVERITIES.has(alert.severity)) {
    // Whatever the filters show: a new severe alert anywhere is heard.
    sound.alert(alert.severity);
  }
  if (isUnanswered(alert) && !(prev && isUnanswered(prev))) {
    // The last escalation step ran and nobody acknowledged: whatever the
    // severity, the loudest there is.
    list.flash(alert.id);
    sound.unanswered();
  }
  ensureZoneOption(alert.zone);
  claimReports(alert);
});

feed.on('frame', () => {
  // Keep "updated N s ago" exact without waiting for the 1 s tick.
  if (els.updated.textContent !== 'updated 0 s ago') renderConnection();
});

feed.on('unauthenticated', () => {
  // The server closed the connection: the session or the user is gone.
  if (me) leave('Your session ended. Sign in again.', 'error');
});

feed.on('health', renderHealth);
// The sources' states: again on each heartbeat of the feed, and at once
// when a silent source's alert changes.
feed.on('health', () => sources.refresh());
feed.on('alert', ({ alert }) => {
  if (alert && alert.category === 'source_silent') sources.refresh(true);
});

feed.on('error', ({ code, message }) => {
  toasts.error(message || `Server error${code ? ` (${code})` : ''}`);
});

let lastState = null;
feed.on('status', (st) => {
  renderConnection(st);
  if (st.state !== lastState) {
    // Back after an outage: the configuration may have changed meanwhile.
    if (st.state === 'live' && lastState === 'reconnecting') {
      catalog.load();
      loadZones();
    }
    // Report locations are fetched only while the server is reachable.
    if (st.state === 'live') locations.pump();
    // A refused WebSocket looks like a network failure: the session may
    // have ended.
    if (st.state === 'reconnecting') recheckSession();
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
    if (err.status === 401) return { error: err }; // back to the sign-in form
    if (isCSRFError(err)) {
      // Another tab signed in meanwhile: this board follows the session.
      checkSession();
      if (!quiet) toasts.error('The session changed (signed in again in another tab?); try again.');
      return { error: err };
    }
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
  if (!me || !me.canAct()) {
    if (me) toasts.notice(me.whyNot());
    return;
  }
  if (a.state !== 'open') {
    toasts.notice(`Already ${a.state}: ${a.title || id}`);
    return;
  }
  if (hasAcknowledged(a, me.actor())) {
    toasts.notice(`${me.party ? me.label() : 'You'} already acknowledged: ${a.title || id}`);
    return;
  }
  runAction(id, 'ack', me.body());
}

// --- reports entered on the board ---------------------------------------------------

/** ids of reports sent from this board whose alert has not shown yet -> timer */
const awaited = new Map();

/** A report was accepted: say so, and show its alert when it comes (it
 *  may have come already: the socket can beat the HTTP answer). */
function reportAccepted(answer) {
  const id = typeof answer.id === 'string' ? answer.id : '';
  toasts.notice(answer.duplicate ? `Report already received (id ${id}): it counts once` : `Report accepted (id ${id})`);
  if (!id) return;
  for (const e of store.values()) {
    if (Array.isArray(e.alert.report_ids) && e.alert.report_ids.includes(id)) {
      showReportAlert(e.id);
      return;
    }
  }
  clearTimeout(awaited.get(id));
  const gen = generation;
  awaited.set(id, setTimeout(() => {
    awaited.delete(id);
    if (gen !== generation) return;
    toasts.notice(`Report ${id} is stored, but no alert shows it after ${REPORT_ALERT_MS / 1000} s: ` +
      'it matched no rule, or the engine is behind.');
  }, REPORT_ALERT_MS));
}

/** Show the alert when it holds a report this board is waiting for. */
function claimReports(alert) {
  if (!awaited.size || !Array.isArray(alert.report_ids)) return;
  let found = false;
  for (const id of alert.report_ids) {
    if (!awaited.has(id)) continue;
    clearTimeout(awaited.get(id));
    awaited.delete(id);
    found = true;
  }
  if (found) showReportAlert(alert.id);
}

/** Select the alert of a report just sent, flash it and open its details. */
function showReportAlert(id) {
  list.flush();
  if (list.rows.has(id)) {
    list.flash(id);
    list.flush();
    list.select(id, { focus: false });
    list.rows.get(id).el.scrollIntoView({ block: 'nearest' });
  } else {
    toasts.notice('The filters hide the alert of your report: its details are open.');
  }
  // The focus follows unless the person moved on meanwhile.
  const active = document.activeElement;
  const idle = !reportForm.isOpen && (!active || active === document.body || active === els.newReport);
  detail.open(id, { focus: idle });
}

/** Let the person click the map for the report's location: the map shows
 *  (unfolded on narrow screens, the detail panel out of its way), the rest
 *  of the board rests until a click, Esc or Cancel. */
async function pickOnMap() {
  const folded = els.side.classList.contains('is-collapsed');
  if (folded) setSideOpen(true, false);
  if (detail.isOpen) detail.close();
  const resting = [document.querySelector('.top'), document.querySelector('.list-wrap'), document.querySelector('.keys'),
    els.zoneTable, document.querySelector('.side-head')].filter(Boolean);
  for (const node of resting) node.inert = true;
  document.body.classList.add('is-picking');
  els.pickBar.hidden = false;
  els.map.scrollIntoView({ block: 'nearest' });
  els.pickCancel.focus({ preventScroll: true });
  try {
    return await map.pickLocation();
  } finally {
    for (const node of resting) node.inert = false;
    document.body.classList.remove('is-picking');
    els.pickBar.hidden = true;
    if (folded && screen === 'board') setSideOpen(false, false);
  }
}

els.pickCancel.addEventListener('click', () => map.cancelPick());
els.newReport.addEventListener('click', () => reportForm.open(els.newReport));

// --- header ----------------------------------------------------------------------

let extremeOpen = false;
let unansweredTotal = 0;
let openTotal = 0;

/** Whether the board cannot vouch for what it shows: the server fell
 *  silent, or the connection is down. */
function isDown(st) {
  return Boolean(st.staleSince || (st.state !== 'live' && st.downSince));
}

/** The tab title: the open count, a marker while an extreme alert waits for
 *  acknowledgement or an alert's escalation ran out unacknowledged, and
 *  STALE while the board cannot vouch for what it shows. */
function renderTitle() {
  const stale = isDown(feed.status());
  let title = seeded.size ? `${extremeOpen || unansweredTotal ? '⚠ ' : ''}(${openTotal}) truceline` : 'truceline';
  if (stale) title = `STALE · ${title}`;
  if (document.title !== title) document.title = title;
}

function renderSummary(visible) {
  const agg = aggregate();
  setText(els.openCount, String(agg.totals.open));
  setText(els.ackCount, String(agg.totals.acknowledged));
  setText(els.unansweredCount, String(agg.unanswered));
  els.unansweredWrap.hidden = !agg.unanswered;
  renderAwaiting(agg.awaiting);
  extremeOpen = agg.extremeOpen;
  unansweredTotal = agg.unanswered;
  openTotal = agg.totals.open;
  renderTitle();
  els.exerciseBanner.hidden = !agg.exercise;
  // Counts are over everything held; say how many rows the filters leave.
  const narrowed = filtersNarrow();
  els.shownCount.hidden = !narrowed;
  if (narrowed) setText(els.shownCount, `· ${visible} shown${filters.zone ? ` in ${zoneName(filters.zone)}` : ''}`);
  renderFilterState();

  if (visible > 0) {
    els.empty.hidden = true;
  } else {
    els.empty.hidden = false;
    setText(els.empty, seeded.size ? emptyText() : 'Waiting for data…');
  }
  renderSituation(agg);
}

/** The count of alerts awaiting the user's party, and the filter on them:
 *  only for someone acting for a party. */
function renderAwaiting(n) {
  const party = me && me.party ? me.partyName() : '';
  els.awaitingCount.hidden = !party;
  els.awaitingFilterWrap.hidden = !party;
  if (!party) return;
  setText(els.awaitingNum, String(n));
  setText(els.awaitingLabel, `awaiting ${party}`);
  setText(els.awaitingFilterLabel, `Awaiting ${party}`);
  els.awaitingCount.classList.toggle('is-some', n > 0);
  els.awaitingCount.setAttribute('aria-pressed', filters.awaiting ? 'true' : 'false');
  els.awaitingFilter.checked = filters.awaiting;
}

const STATE_WORDS = {
  active: 'open or acknowledged alerts',
  open: 'open alerts waiting for acknowledgement',
  acknowledged: 'acknowledged alerts',
  resolved: 'resolved alerts',
  all: 'alerts',
};

function emptyText() {
  const parts = [];
  if (filters.severity) parts.push(severityText(filters.severity).toLowerCase());
  if (filters.verification) parts.push(verificationText(filters.verification).toLowerCase());
  if (filters.awaiting && me && me.party) parts.push(`awaiting ${me.partyName()}`);
  const which = parts.length ? ` (${parts.join(', ')})` : '';
  const where = filters.zone ? ` in ${zoneName(filters.zone)}` : '';
  return `No ${STATE_WORDS[filters.state]}${which}${where}.`;
}

/**
 * One pass over every alert held: counts per zone and in all, the most
 * severe active alert per zone, whether an extreme alert is unacknowledged,
 * how many alerts are unanswered (escalation ran out, nobody acknowledged).
 */
function aggregate() {
  const perZone = new Map();
  const totals = { open: 0, acknowledged: 0, severity: '' };
  let exercise = false;
  let extremeOpen = false;
  let unanswered = 0;
  let awaiting = 0;
  const party = me ? me.party : '';
  for (const { alert: a, rank } of store.values()) {
    if (a.exercise === true) exercise = true;
    if (awaitingParty(a, party).length) awaiting++;
    if (a.state !== 'open' && a.state !== 'acknowledged') continue;
    let z = perZone.get(a.zone);
    if (!z) {
      z = { open: 0, acknowledged: 0, severity: '', rank: 0 };
      perZone.set(a.zone, z);
    }
    z[a.state]++;
    totals[a.state]++;
    if (rank > z.rank) {
      z.rank = rank;
      z.severity = a.severity;
    }
    if (a.state === 'open' && a.severity === 'extreme') extremeOpen = true;
    if (isUnanswered(a)) unanswered++;
  }
  let top = 0;
  for (const z of perZone.values()) {
    if (z.rank > top) {
      top = z.rank;
      totals.severity = z.severity;
    }
  }
  return { perZone, totals, exercise, extremeOpen, unanswered, awaiting };
}

// --- map and zone counters ----------------------------------------------------------

let situationFrame = 0;
function scheduleSituation() {
  if (situationFrame) return;
  situationFrame = requestAnimationFrame(() => {
    situationFrame = 0;
    renderSituation(aggregate());
  });
}

function renderSituation(agg) {
  const zones = allZones();
  counters.update({ zones, perZone: agg.perZone, totals: agg.totals, selected: { zone: filters.zone, state: filters.state } });

  // Markers: the newest report of each of the most recently active alerts
  // the list shows.
  const filter = makeFilter();
  const visible = [];
  const newest = new Set();
  for (const e of store.values()) {
    const ids = e.alert.report_ids;
    const last = Array.isArray(ids) && ids.length ? ids[ids.length - 1] : '';
    if (last) newest.add(last);
    if (last && filter(e.alert)) visible.push({ e, last });
  }
  visible.sort((a, b) => b.e.lastSeen - a.e.lastSeen);
  const recent = visible.slice(0, MAX_MARKERS);
  locations.want(new Set(recent.map((v) => v.last)));
  locations.prune(newest);
  const markers = [];
  for (const { e, last } of recent) {
    const location = locations.get(last);
    if (location) markers.push({ alert: e.alert, location, reportId: last, e });
  }
  // most important drawn last (on top): open above acknowledged above resolved
  const stateOrder = { resolved: 0, acknowledged: 1, open: 2 };
  markers.sort((a, b) =>
    (stateOrder[a.alert.state] ?? 0) - (stateOrder[b.alert.state] ?? 0) || a.e.rank - b.e.rank || a.e.lastSeen - b.e.lastSeen);
  map.update({ perZone: agg.perZone, selected: filters.zone, markers });

  let active = 0;
  for (const z of agg.perZone.values()) if (z.open + z.acknowledged > 0) active++;
  const total = Math.max(zones.length, active);
  const sev = agg.totals.severity;
  setText(els.sideSummary, active
    ? `${active} of ${total} with active alerts · highest ${label(sev).toLowerCase()}`
    : `${total} zone${total === 1 ? '' : 's'}, none with active alerts`);
}

/** Every zone known (configured or named by an alert), by name. */
function allZones() {
  const ids = new Set([...zoneNames.keys(), ...store.zones()]);
  if (filters.zone) ids.add(filters.zone);
  return [...ids].sort((a, b) => zoneName(a).localeCompare(zoneName(b)));
}

/** whether the board was down at the last render, to sound once per outage */
let wasDown = false;

function renderConnection(st = feed.status()) {
  const now = Date.now();
  let text;
  switch (st.staleSince ? 'stale' : st.state) {
    case 'stale':
      text = `stale · no word for ${Math.max(1, Math.round((now - st.staleSince) / 1000))} s`;
      break;
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
  setAttr(els.conn, 'data-state', st.staleSince ? 'stale' : st.state);
  setText(els.connLabel, text);

  setText(els.updated, st.lastFrameAt ? `updated ${agoShort(st.lastFrameAt, now)}` : 'no data yet');
  if (st.lastFrameAt) setAttr(els.updated, 'title', `Last message ${clockTime(st.lastFrameAt)}`);

  const down = isDown(st);
  if (down && !wasDown && seeded.size) sound.stale(); // heard, not only seen
  wasDown = down;
  setHidden(els.offlineBar, !down);
  document.body.classList.toggle('is-down', down);
  if (st.staleSince) {
    setText(els.offlineText, `No word from the server since ${clockTime(st.staleSince)}: this board may be out of date. Reconnecting; showing the last known state.`);
  } else if (down) {
    setText(els.offlineText, `Connection lost — offline since ${clockTime(st.downSince)}. Showing last known state.`);
  }
  renderTitle();
}

/** What each heartbeat says of the server: shown while it is not all well. */
function renderHealth({ problems, healing, backlog, oldest }) {
  const parts = [...problems];
  if (healing.length) parts.push(`restoring ${healing.map(zoneName).join(', ')} from the streams`);
  if (backlog > 0 && oldest >= 5) {
    parts.push(`${backlog.toLocaleString()} report${backlog === 1 ? '' : 's'} waiting for the engine, the oldest for ${Math.round(oldest)} s`);
  }
  els.serverHealth.hidden = parts.length === 0;
  setText(els.serverHealth, parts.length ? `Server trouble: ${parts.join(' · ')}. Alerts may be late.` : '');
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

// --- filters -----------------------------------------------------------------------

/** A severity filter: one severity is a minimum ("severe": severe and
 *  extreme); several, comma separated, are a set. Unknown words are dropped. */
function parseSeverity(v) {
  const parts = String(v || '').split(',').map((x) => x.trim()).filter((x) => SEVERITIES.includes(x));
  return [...new Set(parts)].sort((a, b) => severityRank(b) - severityRank(a)).join(',');
}

/** A verification filter: one status, or several comma separated. */
function parseVerification(v) {
  const parts = String(v || '').split(',').map((x) => x.trim()).filter((x) => VERIFICATIONS.includes(x));
  return [...new Set(parts)].sort((a, b) => VERIFICATIONS.indexOf(a) - VERIFICATIONS.indexOf(b)).join(',');
}

function severityText(v) {
  const parts = v.split(',');
  if (parts.length > 1) return parts.map(label).join(', ');
  if (v === 'extreme') return 'Extreme only';
  if (v === 'minor') return 'Any known severity';
  return `${label(v)} or higher`;
}

function verificationText(v) {
  return v.split(',').map(label).join(', ');
}

function readFiltersFromURL() {
  const q = new URLSearchParams(location.search);
  const state = q.get('state') || 'active';
  return {
    zone: q.get('zone') || '',
    state: STATES.has(state) ? state : 'active',
    severity: parseSeverity(q.get('severity')),
    verification: parseVerification(q.get('verification')),
    // only the alerts that wait for the user's party
    awaiting: q.get('awaiting') === '1',
    // the alert whose details are open
    alert: q.get('alert') || '',
  };
}

function writeFiltersToURL() {
  const q = new URLSearchParams(location.search);
  const put = (key, value) => (value ? q.set(key, value) : q.delete(key));
  put('zone', filters.zone);
  put('state', filters.state === 'active' ? '' : filters.state);
  put('severity', filters.severity);
  put('verification', filters.verification);
  put('awaiting', filters.awaiting ? '1' : '');
  put('alert', filters.alert);
  // keep commas readable in shared links
  const qs = q.toString().replace(/%2C/gi, ',');
  history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
}

function makeFilter() {
  const { zone, state } = filters;
  const sevs = filters.severity ? filters.severity.split(',') : [];
  const minRank = sevs.length === 1 ? severityRank(sevs[0]) : 0;
  const sevSet = sevs.length > 1 ? new Set(sevs) : null;
  const verSet = filters.verification ? new Set(filters.verification.split(',')) : null;
  const party = filters.awaiting && me ? me.party : '';
  return (a) =>
    (!party || awaitingParty(a, party).length > 0) &&
    (!zone || a.zone === zone) &&
    (state === 'all' || (state === 'active' ? a.state !== 'resolved' : a.state === state)) &&
    (!sevs.length || (sevSet ? sevSet.has(a.severity) : severityRank(a.severity) >= minRank)) &&
    (!verSet || verSet.has(a.verification || 'unverified'));
}

/** Whether the filters hide anything the default view shows. */
function filtersNarrow() {
  return Boolean(filters.zone || filters.severity || filters.verification || filters.awaiting ||
    (filters.state !== 'active' && filters.state !== 'all'));
}

function activeFilterCount() {
  return [filters.zone, filters.severity, filters.verification, filters.awaiting, filters.state !== 'active'].filter(Boolean).length;
}

function renderFilterState() {
  const n = activeFilterCount();
  els.clearFilters.hidden = n === 0;
  setText(els.filtersActive, n ? String(n) : '');
  els.filtersToggle.setAttribute('aria-label', n ? `Filters, ${n} active` : 'Filters');
  for (const [sel, on] of [
    [els.zoneFilter, filters.zone],
    [els.stateFilter, filters.state !== 'active'],
    [els.severityFilter, filters.severity],
    [els.verificationFilter, filters.verification],
  ]) {
    sel.closest('.filter')?.classList.toggle('is-set', Boolean(on));
  }
}

/** Show the filters' values in the selects (adding an option for a set
 *  that came with the URL). */
function syncFilterControls() {
  if (filters.zone) ensureZoneOption(filters.zone);
  els.zoneFilter.value = filters.zone;
  els.stateFilter.value = filters.state;
  els.awaitingFilter.checked = filters.awaiting;
  for (const [sel, value, text] of [
    [els.severityFilter, filters.severity, severityText],
    [els.verificationFilter, filters.verification, verificationText],
  ]) {
    if (value && ![...sel.options].some((o) => o.value === value)) sel.add(new Option(text(value), value));
    sel.value = value;
  }
}

function applyFilters() {
  writeFiltersToURL();
  list.setFilter(makeFilter());
}

/**
 * A zone (and maybe a state) picked on the map or in the zone table. Picking
 * what is already shown goes back to every zone.
 */
function pickZone(zone, state) {
  if (state) {
    if (filters.zone === zone && filters.state === state) {
      filters.zone = '';
      filters.state = 'active';
    } else {
      filters.zone = zone;
      filters.state = state;
    }
  } else {
    filters.zone = filters.zone === zone ? '' : zone;
  }
  syncFilterControls();
  applyFilters();
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
  map.setZones(zones);
  list.invalidateAll();
  ruleFaults.rerender(); // by zone name now, if it showed ids
}

let zonesTimer = 0;
async function loadZones(attempt = 0) {
  const gen = generation;
  clearTimeout(zonesTimer);
  try {
    const zones = await fetchZones();
    if (gen === generation) applyZones(zones);
  } catch (err) {
    if (gen !== generation || err.status === 401) return; // signed out meanwhile
    const delay = Math.min(30000, 2000 * 2 ** attempt);
    console.warn(`truceline: zones not loaded (${err.message}); retrying in ${delay / 1000} s`);
    zonesTimer = setTimeout(() => loadZones(attempt + 1), delay);
  }
}

els.zoneFilter.addEventListener('change', () => {
  filters.zone = els.zoneFilter.value;
  applyFilters();
});

els.stateFilter.addEventListener('change', () => {
  filters.state = STATES.has(els.stateFilter.value) ? els.stateFilter.value : 'active';
  applyFilters();
});

els.severityFilter.addEventListener('change', () => {
  filters.severity = parseSeverity(els.severityFilter.value);
  applyFilters();
});

els.verificationFilter.addEventListener('change', () => {
  filters.verification = parseVerification(els.verificationFilter.value);
  applyFilters();
});

function setAwaiting(on) {
  filters.awaiting = on;
  applyFilters();
}
els.awaitingFilter.addEventListener('change', () => setAwaiting(els.awaitingFilter.checked));
els.awaitingCount.addEventListener('click', () => setAwaiting(!filters.awaiting));

els.clearFilters.addEventListener('click', () => {
  filters.zone = '';
  filters.state = 'active';
  filters.severity = '';
  filters.verification = '';
  filters.awaiting = false;
  syncFilterControls();
  applyFilters();
});

// Narrow screens: the filters fold away behind a button.
els.filtersToggle.addEventListener('click', () => setFiltersOpen(!els.topbar.classList.contains('filters-open')));

function setFiltersOpen(open) {
  els.topbar.classList.toggle('filters-open', open);
  els.filtersToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
}

// Narrow screens: the map and zone table fold away above the list.
function readSideOpen() {
  try {
    const v = localStorage.getItem(SIDE_KEY);
    if (v === '1' || v === '0') return v === '1';
  } catch {
    /* storage disabled */
  }
  return false;
}

function setSideOpen(open, remember = true) {
  els.side.classList.toggle('is-collapsed', !open);
  els.sideToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  els.sideToggle.querySelector('.side-toggle-label').textContent = open ? 'Hide' : 'Show map';
  if (!remember) return;
  try {
    localStorage.setItem(SIDE_KEY, open ? '1' : '0');
  } catch {
    /* storage disabled */
  }
}

els.sideToggle.addEventListener('click', () => setSideOpen(els.side.classList.contains('is-collapsed')));
els.helpButton.addEventListener('click', () => help.open());

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
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  // The shortcuts are the board's: not on the sign-in form.
  if (screen !== 'board') return;
  // Waiting for a click on the map: Esc gives up.
  if (map.isPicking) {
    if (ev.key === 'Escape') {
      map.cancelPick();
      ev.preventDefault();
    }
    return;
  }
  // The report form is a modal dialog with keys of its own (Esc closes it).
  if (reportForm.isOpen) return;
  // The help dialog is modal: only its own keys work while it is open.
  if (help.isOpen) {
    if (ev.key === 'Escape' || ev.key === '?') {
      help.close();
      ev.preventDefault();
    }
    return;
  }
  if (isTyping(ev.target)) return;
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
      if (ev.target instanceof Element && ev.target.closest('button, a, summary, [role="button"]')) return;
      if (!list.selectedId) return;
      detail.open(list.selectedId);
      break;
    case 'Escape':
      if (detail.isOpen) detail.close();
      else list.select(null);
      return;
    case '?':
      help.open();
      break;
    case 'n':
      if (!me || !me.canReport()) return;
      reportForm.open(els.newReport);
      break;
    case '/':
      // On narrow screens the filters may be folded away.
      if (!els.zoneFilter.offsetParent) setFiltersOpen(true);
      els.zoneFilter.focus();
      break;
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

// --- session --------------------------------------------------------------------------

/** what the page shows: "checking", "signin", "no-board" (a reporter) or "board" */
let screen = 'checking';
/** bumped on every sign-in and sign-out: answers to work begun before are dropped */
let generation = 0;
/** the CSRF token of the session this board runs on */
let csrf = '';
let sessionTimer = 0;
let expiryTimer = 0;
let bootTimer = 0;
let lastCheck = 0;
let checking = null;
let signingIn = false;
/** the last user signed in here, to fill in the form after a session ends */
let lastUser = '';
// Tabs share the session cookie: what one does, the others follow.
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('truceline.session') : null;

function showScreen(which) {
  screen = which;
  els.boardApp.hidden = which !== 'board';
  els.signin.hidden = which !== 'signin';
  els.noBoard.hidden = which !== 'no-board';
  document.body.dataset.screen = which;
}

function useSession(view) {
  csrf = typeof view.csrf === 'string' ? view.csrf : '';
  setCSRF(csrf);
  armExpiry(view.expires_at);
}

/** Start as the user of a session (just signed in, or found signed in). */
function enter(view) {
  if (me && me.same(view) && screen !== 'signin') {
    useSession(view); // the same user, maybe a new session
    return;
  }
  if (me) takeDown(); // another user: nothing of the last one may remain
  generation++;
  useSession(view);
  me = new Me(view, catalog);
  lastUser = me.user;
  setSignInMessage('', '');
  if (!me.hasBoard()) {
    setText(els.noBoardWho, `Signed in as ${me.name} · ${roleLabel(me.role)}.`);
    showScreen('no-board');
    els.noBoardSignOut.focus();
    return;
  }
  renderWhoAmI();
  showScreen('board');
  startBoard();
}

function startBoard() {
  syncFilterControls();
  renderConnection();
  list.refillAll();
  renderSummary(0);
  loadZones();
  catalog.load();
  feed.start();
  sources.refresh(true);
  if (me.role === 'admin') ruleFaults.start();
  if (filters.alert) detail.open(filters.alert, { focus: false });
  clearInterval(sessionTimer);
  sessionTimer = setInterval(checkSession, SESSION_CHECK_MS);
}

/** Stop the feed and forget every alert, zone and name the board held. */
function takeDown() {
  clearInterval(sessionTimer);
  clearTimeout(expiryTimer);
  clearTimeout(zonesTimer);
  feed.reset();
  renderHealth({ problems: [], healing: [], backlog: 0, oldest: 0 });
  ruleFaults.stop();
  detail.reset();
  catalog.reset();
  locations.reset();
  sources.reset();
  forgetReports();
  help.close();
  map.cancelPick();
  reportForm.reset();
  for (const timer of awaited.values()) clearTimeout(timer);
  awaited.clear();
  store.clear();
  seeded.clear();
  zoneNames.clear();
  lastState = null;
  list.select(null);
  list.invalidateAll();
  list.flush();
  els.zoneFilter.replaceChildren(new Option('All zones', ''));
  map.setZones([]);
  toasts.clear();
  renderConnection();
  document.title = 'truceline';
}

/** Back to the sign-in form, with a message (kind "error" or "note"). */
function leave(message = '', kind = 'note') {
  generation++;
  if (me) takeDown();
  me = null;
  csrf = '';
  setCSRF('');
  renderWhoAmI();
  showSignIn(message, kind);
}

function showSignIn(message = '', kind = 'note') {
  signingIn = false;
  els.signinSubmit.disabled = false;
  els.signinSubmit.removeAttribute('aria-busy');
  els.signinPassword.value = '';
  if (!els.signinUser.value && lastUser) els.signinUser.value = lastUser;
  setSignInMessage(message, kind);
  showScreen('signin');
  (els.signinUser.value ? els.signinPassword : els.signinUser).focus();
}

function setSignInMessage(message, kind) {
  setText(els.signinError, kind === 'error' ? message : '');
  setText(els.signinNote, kind === 'note' ? message : '');
  for (const input of [els.signinUser, els.signinPassword]) input.removeAttribute('aria-invalid');
}

function renderWhoAmI() {
  setText(els.whoName, me ? me.name : '');
  els.whoName.title = me && me.fullName ? `user ${me.user}` : '';
  setText(els.whoRole, me ? roleLabel(me.role) : '');
  const party = me ? me.partyName() : '';
  setText(els.whoParty, party);
  els.whoParty.title = me && me.party && party !== me.party ? `party ${me.party}` : '';
  els.whoPartyWrap.hidden = !party;
  els.whoami.classList.toggle('is-party', Boolean(party));
  els.whoami.classList.toggle('is-read-only', Boolean(me && !me.canAct()));
  els.newReport.hidden = !(me && me.canReport());
  document.body.classList.toggle('can-report', !els.newReport.hidden);
}

/** Ask the server whether the session holds: follow another user signed
 *  in meanwhile (in another tab), or go back to the form when it ended. */
function checkSession() {
  if (!me || checking) return checking;
  const gen = generation;
  lastCheck = Date.now();
  checking = (async () => {
    try {
      const view = await fetchSession();
      if (gen !== generation || !me) return;
      if (!view) leave('Your session ended. Sign in again.', 'error');
      else enter(view);
    } catch {
      // The server is unreachable: the connection indicator says so.
    } finally {
      checking = null;
    }
  })();
  return checking;
}

function recheckSession() {
  if (Date.now() - lastCheck >= SESSION_RECHECK_MS) checkSession();
}

/** Check the session again just after it is due to end. */
function armExpiry(expiresAt) {
  clearTimeout(expiryTimer);
  const at = Date.parse(expiresAt || '');
  if (!Number.isFinite(at)) return;
  const delay = Math.min(2 ** 31 - 1, Math.max(0, at - Date.now()) + 1000);
  expiryTimer = setTimeout(checkSession, delay);
}

// Any call answered 401: the session ended (signed out elsewhere, expired,
// or the user was disabled). A 401 to a request of an earlier session (sent
// with another CSRF token) says nothing about this one.
onUnauthenticated((_err, sentWith) => {
  if (me && sentWith === csrf) leave('Your session ended. Sign in again.', 'error');
});

els.signinForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (signingIn) return;
  const user = els.signinUser.value.trim();
  const password = els.signinPassword.value;
  setSignInMessage('', '');
  if (!user || !password) {
    const input = user ? els.signinPassword : els.signinUser;
    setSignInMessage(user ? 'Enter your password.' : 'Enter your user name.', 'error');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  signingIn = true;
  els.signinSubmit.disabled = true;
  els.signinSubmit.setAttribute('aria-busy', 'true');
  clearTimeout(bootTimer);
  try {
    const view = await signIn(user, password);
    els.signinPassword.value = '';
    channel?.postMessage({ type: 'signed-in', user: view.user });
    enter(view);
  } catch (err) {
    let message = err.message || 'Sign-in failed';
    if (err.status === 401) message = 'Wrong user name or password.';
    else if (err.status === 429) {
      message = `Too many sign-in attempts: wait ${err.retryAfter || 10} seconds, then try again.`;
    }
    setSignInMessage(message, 'error');
    if (err.status === 401) {
      els.signinPassword.value = '';
      els.signinPassword.setAttribute('aria-invalid', 'true');
      els.signinPassword.focus();
    }
  } finally {
    signingIn = false;
    els.signinSubmit.disabled = false;
    els.signinSubmit.removeAttribute('aria-busy');
  }
});

async function signOutHere(button) {
  button.disabled = true;
  try {
    await signOut();
  } catch (err) {
    // Still signed in on the server: say so rather than pretend.
    toasts.error(`Not signed out: ${err.message}`);
    return;
  } finally {
    button.disabled = false;
  }
  channel?.postMessage({ type: 'signed-out' });
  // The next user starts without the alert this one had open.
  if (filters.alert) {
    filters.alert = '';
    writeFiltersToURL();
  }
  leave('You signed out.');
}

els.signOut.addEventListener('click', () => signOutHere(els.signOut));
els.noBoardSignOut.addEventListener('click', () => signOutHere(els.noBoardSignOut));

channel?.addEventListener('message', (ev) => {
  const type = ev.data && ev.data.type;
  if (type === 'signed-out' && me) {
    leave('You signed out in another tab.');
  } else if (type === 'signed-in') {
    // The cookie is the other tab's session now: follow it.
    if (me) checkSession();
    else boot();
  }
});

/** Find out whether the browser is signed in; show the board or the form. */
async function boot(attempt = 0) {
  clearTimeout(bootTimer);
  const gen = generation;
  let view;
  try {
    view = await fetchSession();
  } catch (err) {
    if (gen !== generation || me) return;
    const delay = Math.min(30000, 2000 * 2 ** attempt);
    if (screen !== 'signin') showSignIn();
    setSignInMessage(`${err.message}. Trying again in ${delay / 1000} s.`, 'error');
    bootTimer = setTimeout(() => boot(attempt + 1), delay);
    return;
  }
  if (gen !== generation || me) return;
  if (view) enter(view);
  else if (screen !== 'signin') showSignIn();
  else setSignInMessage('', '');
}

// --- start -------------------------------------------------------------------------------

syncFilterControls();
// The URL may have carried spellings the board tidies ("severity=Severe,x").
writeFiltersToURL();
setSideOpen(readSideOpen(), false);
try {
  // The "Acting as" choice of earlier boards: the user is the actor now.
  localStorage.removeItem('truceline.actingAs');
} catch {
  /* storage disabled */
}
renderConnection();
renderSummary(0);
boot();
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
  if (screen !== 'board') return;
  const now = Date.now();
  renderConnection();
  list.tick(now);
  detail.tick(now);
  regimes.render(now);
  counters.tick(now);
  sources.render(now);
}, 1000);
// Relative "last seen" times: every 15 s.
setInterval(() => {
  if (screen === 'board') list.refreshTimes();
}, 15000);

// Handy when debugging from the console; not an API (and never the CSRF token).
window.truceline = { feed, store, list, detail, catalog, map, locations, sound, reportForm, me: () => me };
