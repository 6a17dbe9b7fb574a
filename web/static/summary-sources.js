// The daily summary's monitored sources: in each zone's card, how many times
// each source was silent in the reporting day and for how long in all
// (GET /api/v1/summary's "sources").

import { el } from './dom.js';

/** "45 s", "9 min", "2 h 5 min" */
export function silentTime(sec) {
  const s = Math.max(0, Math.floor(Number(sec) || 0));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

/** "heard throughout", "silent once · 4 min", "silent 3 times · 1 h 2 min" */
export function silenceText(d) {
  const n = d.silent_periods;
  if (!n) return 'never silent';
  return `silent ${n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`} · ${silentTime(d.silent_seconds)}`;
}

/** A zone's sources, or null when it has none. */
function sourceSection(list) {
  if (!list.length) return null;
  const box = el('section', 'sum-sources');
  box.setAttribute('data-testid', 'summary-sources');
  box.append(el('h3', 'sum-sources-title', 'Sources'));
  const ul = el('ul', 'sum-source-list');
  for (const d of list) {
    const li = el('li', d.silent_periods ? 'sum-source is-silent' : 'sum-source');
    li.setAttribute('data-testid', 'summary-source');
    li.dataset.monitor = d.monitor;
    li.dataset.periods = String(d.silent_periods);
    li.dataset.seconds = String(d.silent_seconds);
    const name = el('span', 'sum-source-name', d.name || d.monitor);
    name.title = d.monitor;
    li.append(name, el('span', 'sum-source-silence', silenceText(d)));
    ul.append(li);
  }
  box.append(ul);
  return box;
}

/** Add to each zone card (data-zone) its sources' section. */
export function addSourceSections(container, sources) {
  const list = Array.isArray(sources) ? sources : [];
  for (const card of container.querySelectorAll('[data-testid=summary-zone]')) {
    const section = sourceSection(list.filter((d) => d.zone === card.dataset.zone));
    if (section) card.append(section);
  }
}
