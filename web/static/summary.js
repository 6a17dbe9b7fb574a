// truceline daily summary: each zone's reporting day beside the day before,
// from GET /api/v1/summary. The day and the cut-off hour live in the address
// bar (?day=2026-11-23&cutoff=19), so a summary can be shared; without a day
// the page shows the reporting day in progress.

import { fetchSession } from './api.js';
import { label, SEVERITIES } from './format.js';
import { roleLabel } from './session.js';
import { el, setText } from './dom.js';
import { addSourceSections } from './summary-sources.js';

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
/** how often the day in progress is read again while the page is in view */
const REFRESH_MS = 60000;

const $ = (id) => document.getElementById(id);
const els = {
  controls: $('sum-controls'),
  prev: $('sum-prev'),
  next: $('sum-next'),
  day: $('sum-day'),
  cutoff: $('sum-cutoff'),
  csv: $('sum-csv'),
  bulletin: $('sum-bulletin'),
  period: $('sum-period'),
  status: $('sum-status'),
  signin: $('sum-signin'),
  error: $('sum-error'),
  zones: $('summary-zones'),
  whoami: $('sum-whoami'),
  whoName: $('sum-whoami-name'),
  whoRole: $('sum-whoami-role'),
  foot: $('sum-foot'),
};

const numberFmt = new Intl.NumberFormat(undefined);
const num = (n) => numberFmt.format(Number.isFinite(n) ? n : 0);

/** What the address bar asks for: {day, cutoff, zone, tz}, "" when absent. */
let query = readQuery();
/** The reporting day last shown ({day, from, to, cutoff_hour, timezone}). */
let shown = null;
/** The body last rendered, to skip re-rendering the same figures. */
let lastBody = '';
let controller = null;

// --- the address bar -----------------------------------------------------------

function readQuery() {
  const q = new URLSearchParams(location.search);
  return { day: q.get('day') || '', cutoff: q.get('cutoff') || '', zone: q.get('zone') || '', tz: q.get('tz') || '' };
}

/** The query string of q (with format when given), commas kept readable. */
function queryString(q, format = '') {
  const p = new URLSearchParams();
  for (const key of ['day', 'cutoff', 'zone', 'tz']) if (q[key] !== '') p.set(key, q[key]);
  if (format) p.set('format', format);
  return p.toString().replace(/%2C/gi, ',');
}

/** Show day with cutoff: a new entry in the history, then load it. */
function go(day, cutoff) {
  if (!DAY_RE.test(day)) return;
  query = { ...query, day, cutoff: String(cutoff) };
  const qs = queryString(query);
  history.pushState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
  load();
}

window.addEventListener('popstate', () => {
  query = readQuery();
  load();
});

// --- dates ---------------------------------------------------------------------

/** "2026-11-23" plus n days. */
function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** "Monday 23 November 2026" for "2026-11-23". */
function longDay(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat(undefined, {
    weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC',
  }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** "23 Nov" for "2026-11-23". */
function shortDay(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

/** A time in the summary's time zone: "22 Nov 2026, 19:00". */
function zoneTime(iso, timeZone) {
  const opts = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  try {
    return new Intl.DateTimeFormat(undefined, { ...opts, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: 'UTC' }).format(new Date(iso));
  }
}

/** The reporting day in progress in timeZone with the cut-off hour, as the
 *  server counts it; "" when the browser does not know the time zone. */
function dayInProgress(timeZone, cutoff) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23',
    }).formatToParts(new Date());
  } catch {
    return '';
  }
  const part = (type) => (parts.find((p) => p.type === type) || {}).value || '';
  const day = `${part('year')}-${part('month')}-${part('day')}`;
  if (!DAY_RE.test(day)) return '';
  return cutoff > 0 && Number(part('hour')) >= cutoff ? addDays(day, 1) : day;
}

// --- controls ------------------------------------------------------------------

for (let h = 0; h < 24; h++) {
  const hh = String(h).padStart(2, '0');
  const opt = el('option', '', h === 0 ? '00:00 (midnight)' : `${hh}:00`);
  opt.value = String(h);
  els.cutoff.append(opt);
}

els.prev.addEventListener('click', () => {
  if (shown) go(addDays(shown.day, -1), shown.cutoff_hour);
});
els.next.addEventListener('click', () => {
  if (shown) go(addDays(shown.day, 1), shown.cutoff_hour);
});
// Typing a date changes it digit by digit: go once the typing stops.
let dayTimer = 0;
els.day.addEventListener('change', () => {
  clearTimeout(dayTimer);
  dayTimer = setTimeout(() => {
    const day = els.day.value;
    if (DAY_RE.test(day) && (!shown || day !== shown.day)) go(day, shown ? shown.cutoff_hour : query.cutoff);
  }, 400);
});
els.cutoff.addEventListener('change', () => {
  const day = shown ? shown.day : els.day.value;
  go(day, els.cutoff.value);
});
els.controls.addEventListener('submit', (ev) => ev.preventDefault());

/** Set the controls to the day the server answered for. */
function showDay(d) {
  shown = d;
  els.day.value = d.day;
  els.cutoff.value = String(d.cutoff_hour);
  const latest = dayInProgress(d.timezone, d.cutoff_hour);
  if (latest) els.day.max = latest;
  else els.day.removeAttribute('max');
  els.next.disabled = Boolean(latest) && d.day >= latest;
  els.next.title = els.next.disabled ? 'This is the reporting day in progress' : '';
  els.prev.disabled = false;
  els.csv.href = `/api/v1/summary?${queryString({ ...query, day: d.day, cutoff: String(d.cutoff_hour) }, 'csv')}`;
  els.csv.setAttribute('download', `truceline-summary-${d.day}.csv`);
  // The bulletin of the same day (its parameter is date=, not day=).
  els.bulletin.href = `/api/v1/bulletins/daily?${queryString({ ...query, day: '', cutoff: String(d.cutoff_hour) }, 'html')}` +
    `&date=${d.day}`;
  const inProgress = latest && d.day === latest ? ' (in progress)' : '';
  setText(els.period, `Reporting day ${longDay(d.day)}${inProgress}: from ${zoneTime(d.from, d.timezone)} ` +
    `to ${zoneTime(d.to, d.timezone)} ${d.timezone}, compared with the day before.`);
  document.title = `Daily summary ${d.day} · truceline`;
}

// --- loading -------------------------------------------------------------------

/** Read the summary the address bar asks for; quiet keeps what is shown
 *  while reading (the periodic refresh). */
async function load({ quiet = false } = {}) {
  if (controller) controller.abort();
  const ctrl = new AbortController();
  controller = ctrl;
  if (!quiet) {
    els.zones.setAttribute('aria-busy', 'true');
    els.zones.classList.add('is-loading');
    setText(els.status, 'Loading…');
  }
  let res;
  try {
    res = await fetch(`/api/v1/summary?${queryString(query)}`, {
      headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store', signal: ctrl.signal,
    });
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    if (!quiet) fail('Network error: the server could not be reached.');
    return;
  } finally {
    if (controller === ctrl) controller = null;
  }
  if (ctrl.signal.aborted) return;
  if (res.status === 401) {
    signedOut();
    return;
  }
  if (!res.ok) {
    if (!quiet) fail(await errorMessage(res));
    return;
  }
  let body;
  try {
    body = await res.json();
  } catch {
    fail('The server answered something that is not a summary.');
    return;
  }
  if (ctrl.signal.aborted || !body || !body.day || !Array.isArray(body.zones)) {
    if (!ctrl.signal.aborted) fail('The server answered something that is not a summary.');
    return;
  }
  els.signin.hidden = true;
  els.controls.hidden = false;
  els.foot.hidden = false;
  els.error.hidden = true;
  showDay(body.day);
  const text = JSON.stringify(body);
  if (text !== lastBody || els.zones.classList.contains('is-loading')) {
    lastBody = text;
    render(body);
  }
  els.zones.setAttribute('aria-busy', 'false');
  els.zones.classList.remove('is-loading');
}

/** The message of an API error body ({"error":{"message","fields"}}). */
async function errorMessage(res) {
  let e = null;
  try {
    e = (await res.json()).error;
  } catch {
    /* not JSON */
  }
  if (e && Array.isArray(e.fields) && e.fields.length) {
    return e.fields.map((f) => `${f.field} ${f.problem}`).join('; ');
  }
  if (e && typeof e.message === 'string' && e.message) return e.message;
  return `The summary could not be read (${res.status}).`;
}

function fail(message) {
  lastBody = '';
  els.zones.replaceChildren();
  els.zones.setAttribute('aria-busy', 'false');
  els.zones.classList.remove('is-loading');
  setText(els.status, '');
  els.error.replaceChildren(el('span', '', message));
  const retry = el('button', 'btn sum-retry', 'Try again');
  retry.type = 'button';
  retry.addEventListener('click', () => load());
  els.error.append(retry);
  els.error.hidden = false;
}

function signedOut() {
  lastBody = '';
  shown = null;
  els.zones.replaceChildren();
  els.zones.setAttribute('aria-busy', 'false');
  els.zones.classList.remove('is-loading');
  els.controls.hidden = true;
  els.foot.hidden = true;
  els.error.hidden = true;
  els.whoami.hidden = true;
  setText(els.status, '');
  els.signin.hidden = false;
}

// --- rendering -----------------------------------------------------------------

function render(body) {
  const zones = body.zones;
  // Zones with reports on either day first, in the configured order.
  const active = (s) => s.total.today.reports + s.total.previous.reports +
    s.not_applicable.today.reports + s.not_applicable.previous.reports > 0;
  const ordered = [...zones.filter(active), ...zones.filter((s) => !active(s))];
  els.zones.replaceChildren(...ordered.map(zoneCard));
  addSourceSections(els.zones, body.sources);
  const withReports = zones.filter((s) => s.total.today.reports + s.not_applicable.today.reports > 0).length;
  if (!zones.length) {
    setText(els.status, 'You see no zones.');
  } else {
    setText(els.status, `${shortDay(body.day.day)}: ${withReports} of ${zones.length} ` +
      `${zones.length === 1 ? 'zone' : 'zones'} with reports.`);
  }
}

let cardSeq = 0;

/** A zone's card. */
function zoneCard(s) {
  const id = `sum-zone-${++cardSeq}`;
  const card = el('article', 'sum-card');
  card.setAttribute('data-testid', 'summary-zone');
  card.dataset.zone = s.zone;
  card.setAttribute('aria-labelledby', id);

  const head = el('header', 'sum-card-head');
  const name = el('h2', 'sum-zone-name', s.zone_name || s.zone);
  name.id = id;
  head.append(name);
  if (s.exercise === true) {
    const ex = el('span', 'ex-tag sum-exercise', 'EXERCISE');
    ex.setAttribute('data-testid', 'summary-exercise');
    ex.title = 'Every report counted this day was an exercise';
    head.append(ex);
  }
  card.append(head);

  if (s.truncated === true) {
    const warn = el('p', 'sum-truncated',
      'Truncated: the zone held more reports than were counted, so these figures are too low. ' +
      'Download the CSV or narrow the query for the rest.');
    warn.setAttribute('data-testid', 'summary-truncated');
    warn.setAttribute('role', 'note');
    card.append(warn);
  }

  const t = s.total;
  const na = s.not_applicable;
  const today = t.today.reports + na.today.reports > 0;
  const before = t.previous.reports + na.previous.reports > 0;
  if (!today) {
    card.classList.add('is-empty');
    const empty = el('p', 'sum-empty', before
      ? 'No reports this day.'
      : 'No reports this day or the day before.');
    empty.setAttribute('data-testid', 'summary-empty');
    card.append(empty);
    if (!before) return card;
  }

  card.append(totals(t));
  if (s.by_category && s.by_category.length) card.append(categoryTable(s));
  if (s.by_severity && s.by_severity.length) card.append(severities(s, `${id}-sev`));
  if (s.by_party && s.by_party.length) {
    card.append(compliance(s.by_party, `${id}-party`, 'By alleged perpetrator', 'summary-parties',
      (row) => (row.key ? row.name || row.key : 'Nobody named'),
      'Reports name who they allege did it; an allegation is not a finding.'));
  }
  if (s.by_regime && s.by_regime.length) {
    card.append(compliance(s.by_regime, `${id}-regime`, 'By regime', 'summary-regimes',
      (row) => (row.key === 'outside' ? 'Outside any regime' : row.name || row.key),
      'The regime in force in the zone when each report was observed.'));
  }
  if (s.compliance_by_party && s.compliance_by_party.length) card.append(complianceTable(s));
  card.append(notApplicable(na));
  return card;
}

/** "▲ +33" (red: more violations), "▼ −4" (green), "±0"; with the figure
 *  of the day before for screen readers and as a tooltip. */
function change(delta, before) {
  const span = el('span', 'sum-change');
  span.setAttribute('data-testid', 'change');
  span.dataset.change = String(delta);
  const shownText = delta > 0 ? `▲ +${num(delta)}` : delta < 0 ? `▼ −${num(-delta)}` : '±0';
  span.classList.add(delta > 0 ? 'is-up' : delta < 0 ? 'is-down' : 'is-same');
  const sign = el('span', 'sum-change-sign', shownText);
  sign.setAttribute('aria-hidden', 'true');
  const said = delta > 0 ? `up ${num(delta)} from ${num(before)} the day before`
    : delta < 0 ? `down ${num(-delta)} from ${num(before)} the day before`
      : `as many as the day before (${num(before)})`;
  span.title = `The day before: ${num(before)}`;
  span.append(sign, el('span', 'sr-only', `, ${said}`));
  return span;
}

const TOTALS = [
  ['reports', 'Reports', 'Reports received'],
  ['events', 'Events', "The reports' counts summed: one report may describe forty explosions"],
  ['killed', 'Killed', 'People killed, as reported'],
  ['injured', 'Injured', 'People injured, as reported'],
];

function totals(row) {
  const dl = el('dl', 'sum-totals');
  dl.setAttribute('data-testid', 'summary-totals');
  for (const [key, name, title] of TOTALS) {
    const now = row.today[key] || 0;
    const before = row.previous[key] || 0;
    const item = el('div', `sum-total sum-total-${key}`);
    item.dataset.key = key;
    item.dataset.today = String(now);
    item.dataset.previous = String(before);
    const dt = el('dt', 'sum-total-name', name);
    dt.title = title;
    const dd = el('dd', 'sum-total-figures');
    dd.append(el('span', 'sum-total-value', num(now)), change(now - before, before));
    item.append(dt, dd);
    dl.append(item);
  }
  return dl;
}

/** "1 report · 40 events" of a tally. */
function reportsAndEvents(t) {
  return `${num(t.reports)} ${t.reports === 1 ? 'report' : 'reports'} · ${num(t.events)} ${t.events === 1 ? 'event' : 'events'}`;
}

function numCell(text) {
  return el('td', 'num', text);
}

function categoryTable(s) {
  const table = el('table', 'sum-table');
  table.setAttribute('data-testid', 'summary-categories');
  const caption = el('caption', 'sum-sub', 'By category');
  caption.append(el('span', 'sr-only', ` in ${s.zone_name || s.zone}: reports and events this day, events the day before`));
  const head = el('thead');
  const hr = el('tr');
  for (const [text, cls, title] of [
    ['Category', '', ''],
    ['Reports', 'num', ''],
    ['Events', 'num', "The reports' counts summed"],
    ['Day before', 'num', 'Events the day before'],
    ['Change', 'num', 'Events this day less the day before'],
  ]) {
    const th = el('th', cls, text);
    th.scope = 'col';
    if (title) th.title = title;
    hr.append(th);
  }
  head.append(hr);
  const tbody = el('tbody');
  for (const row of s.by_category) tbody.append(categoryRow(row, label(row.key)));
  const foot = el('tfoot');
  foot.append(categoryRow(s.total, 'Total'));
  table.append(caption, head, tbody, foot);
  return table;
}

function categoryRow(row, name) {
  const tr = el('tr');
  tr.dataset.key = row.key;
  const th = el('th', 'sum-cat', name);
  th.scope = 'row';
  if (row.today.reports === 0) tr.classList.add('is-none');
  const ch = el('td', 'num');
  ch.append(change(row.change, row.previous.events));
  tr.append(th, numCell(num(row.today.reports)), numCell(num(row.today.events)), numCell(num(row.previous.events)), ch);
  return tr;
}

function severities(s, id) {
  const box = el('section', 'sum-sevs');
  box.setAttribute('data-testid', 'summary-severities');
  const title = el('h3', 'sum-sub', 'By severity');
  title.id = id;
  box.setAttribute('aria-labelledby', title.id);
  box.append(title);

  const rows = [...s.by_severity].sort((a, b) => SEVERITIES.indexOf(a.key) - SEVERITIES.indexOf(b.key));
  // A bar of this day's events by severity, for the eye.
  const total = rows.reduce((n, r) => n + r.today.events, 0);
  if (total > 0) {
    const bar = el('div', 'sum-sevbar');
    bar.setAttribute('aria-hidden', 'true');
    for (const r of rows) {
      if (!r.today.events) continue;
      const part = el('span', `sum-sevbar-part sev-${r.key}`);
      part.style.flexGrow = String(r.today.events);
      bar.append(part);
    }
    box.append(bar);
  }
  const list = el('ul', 'sum-sev-list');
  for (const r of rows) {
    const li = el('li', 'sum-sev');
    li.dataset.key = r.key;
    li.dataset.reports = String(r.today.reports);
    li.dataset.events = String(r.today.events);
    const badge = el('span', `zc-sev sev-${SEVERITIES.includes(r.key) ? r.key : 'none'}`, label(r.key));
    const figures = el('span', 'sum-sev-figures', reportsAndEvents(r.today));
    li.append(badge, figures, change(r.change, r.previous.events));
    list.append(li);
  }
  box.append(list);
  return box;
}

/** A seventh of the week before: a usual day's events. */
const dailyAverage = (row) => (row.last_7_days ? row.last_7_days.events : 0) / 7;

const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** A small chart of rows (parties or regimes): this day's events as a bar,
 *  the week before's daily average as a tick on the same scale, and the
 *  change from the day before. */
function compliance(rows, id, heading, testid, name, note) {
  const box = el('section', 'sum-compliance');
  box.setAttribute('data-testid', testid);
  const title = el('h3', 'sum-sub', heading);
  title.id = id;
  title.title = note;
  box.setAttribute('aria-labelledby', id);
  box.append(title);
  const scale = Math.max(1, ...rows.map((r) => Math.max(r.today.events, dailyAverage(r))));
  const list = el('ul', 'sum-comp-list');
  for (const r of rows) {
    const li = el('li', 'sum-comp');
    li.dataset.key = r.key;
    li.dataset.events = String(r.today.events);
    li.dataset.week = String(r.last_7_days.events);
    const label = el('span', 'sum-comp-name', name(r));
    label.title = label.textContent;
    const bar = el('span', 'sum-comp-bar');
    bar.setAttribute('aria-hidden', 'true');
    const fill = el('span', 'sum-comp-fill');
    fill.style.width = `${(100 * r.today.events) / scale}%`;
    const avg = dailyAverage(r);
    const tick = el('span', 'sum-comp-avg');
    tick.style.left = `${(100 * avg) / scale}%`;
    bar.title = `${num(r.today.events)} events this day; ${oneDecimal.format(avg)} a day over the 7 days before`;
    bar.append(fill, tick);
    const figures = el('span', 'sum-comp-figures', reportsAndEvents(r.today));
    const week = el('span', 'sum-comp-week', `7-day avg ${oneDecimal.format(avg)}`);
    week.title = `${num(r.last_7_days.events)} events over the 7 reporting days before`;
    li.append(label, bar, figures, change(r.change, r.previous.events), week);
    list.append(li);
  }
  box.append(list);
  return box;
}

const COMPLIANCE = [
  ['alleged', 'Alleged', 'Incidents first seen this day whose reports allege the party did it'],
  ['substantiated', 'Substantiated', 'Of those, the ones every judging party found substantiated'],
  ['requests_sent', 'Requests', 'Requests for information asked of the party'],
  ['requests_answered', 'Answered', 'Requests for information the party answered'],
  ['requests_overdue', 'Overdue', 'Requests for information gone overdue unanswered'],
];

/** Each party's record: incidents alleged and substantiated, requests for
 *  information sent, answered and overdue; this day, with the seven days
 *  before beneath. */
function complianceTable(s) {
  const table = el('table', 'sum-table sum-compliance-table');
  table.setAttribute('data-testid', 'summary-compliance');
  const caption = el('caption', 'sum-sub', 'Compliance by party');
  caption.append(el('span', 'sr-only', ` in ${s.zone_name || s.zone}: this day, and the seven days before`));
  const hr = el('tr');
  const first = el('th', '', 'Party');
  first.scope = 'col';
  hr.append(first);
  for (const [, text, title] of COMPLIANCE) {
    const th = el('th', 'num', text);
    th.scope = 'col';
    th.title = title;
    hr.append(th);
  }
  const tbody = el('tbody');
  for (const p of s.compliance_by_party) {
    const tr = el('tr');
    tr.dataset.party = p.party;
    const th = el('th', 'sum-cat', p.name || p.party);
    th.scope = 'row';
    tr.append(th);
    for (const [key, text] of COMPLIANCE) {
      const td = numCell(num(p.today[key]));
      td.dataset.key = key;
      td.dataset.label = text; // its heading, shown beside it on phones
      const week = el('span', 'sum-week', `7 d: ${num(p.last_7_days[key])}`);
      week.title = `The 7 reporting days before: ${num(p.last_7_days[key])}; the day before: ${num(p.previous[key])}`;
      td.append(week);
      tr.append(td);
    }
    tbody.append(tr);
  }
  const head = el('thead');
  head.append(hr);
  table.append(caption, head, tbody);
  return table;
}

function notApplicable(na) {
  const p = el('p', 'sum-na');
  p.setAttribute('data-testid', 'summary-not-applicable');
  p.dataset.reports = String(na.today.reports);
  p.dataset.events = String(na.today.events);
  p.title = 'Reports of strikes on parties excluded from the ceasefire are recorded but not counted as violations';
  p.append(el('span', 'sum-na-label', 'Not applicable (excluded parties)'));
  if (na.today.reports + na.previous.reports === 0) {
    p.classList.add('is-none');
    p.append(el('span', 'sum-na-figures', 'none'));
    return p;
  }
  p.append(
    el('span', 'sum-na-figures', reportsAndEvents(na.today)),
    change(na.change, na.previous.events),
  );
  return p;
}

// --- who is signed in ------------------------------------------------------------

async function showWhoAmI() {
  try {
    const s = await fetchSession();
    if (!s) return; // the summary's 401 says so
    setText(els.whoName, String(s.full_name || s.user || ''));
    setText(els.whoRole, roleLabel(s.role));
    els.whoami.hidden = false;
  } catch {
    /* the header goes without the name */
  }
}

// --- start ---------------------------------------------------------------------

showWhoAmI();
load();
// The day in progress fills up: read it again now and then while in view.
setInterval(() => {
  if (document.visibilityState !== 'visible' || !shown || controller) return;
  if (shown.day === dayInProgress(shown.timezone, shown.cutoff_hour)) load({ quiet: true });
}, REFRESH_MS);
window.truceline = { load: () => load(), shown: () => shown };
