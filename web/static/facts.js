// The detail panel's Details: where and under what rule, regime and policy
// the alert stands, how many reports it has, when it was seen, its
// casualties, whom the reports allege did it, and when it opened.

import { fullTime, parseTime, shortTime } from './format.js';
import { el } from './dom.js';
import { section, timeEl } from './panel.js';

export class FactsSection {
  /**
   * @param {object} opts
   *   catalog   Catalog (names of regimes, policies and parties)
   *   zoneName  (zoneId) => name
   */
  constructor({ catalog, zoneName }) {
    this.catalog = catalog;
    this.zoneName = zoneName;
    const { s } = section('Details', 'detail-facts');
    this.facts = el('dl', 'facts');
    s.append(this.facts);
    this.el = s;
  }

  render(a) {
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
    this.facts.replaceChildren(...rows);
  }
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
