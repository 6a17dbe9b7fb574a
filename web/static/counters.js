// ZoneCounters: per zone, how many alerts are open and acknowledged and the
// most severe of them, with the totals over all zones. Clicking a zone shows
// only that zone; clicking a count shows only that zone's alerts in that
// state.

import { label } from './format.js';
import { el, setText, setAttr, setHidden } from './dom.js';

export class ZoneCounters {
  /**
   * @param {HTMLTableElement} table  with a thead, an empty tbody and tfoot
   * @param {object} opts
   *   zoneName  (id) => display name
   *   onPick    (zone, state) => void   zone "" is every zone; state null
   *             keeps the state filter
   *   regimeLine (zone, now) => string    the regime in force there, "" for none
   *   sourceLine (zone) => {text, allSilent} | null   its monitored sources
   */
  constructor(table, { zoneName, onPick, regimeLine, sourceLine }) {
    this.table = table;
    this.body = table.tBodies[0];
    this.foot = table.tFoot;
    this.zoneName = zoneName;
    this.onPick = onPick;
    this.regimeLine = regimeLine || (() => '');
    this.sourceLine = sourceLine || (() => null);
    /** zone id -> row refs */
    this.rows = new Map();
    this.total = this._row('', true);
    this.foot.replaceChildren(this.total.tr);

    table.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr[data-zone]');
      if (!tr || !table.contains(tr)) return;
      const btn = ev.target.closest('button[data-state]');
      this.onPick(tr.dataset.zone, btn ? btn.dataset.state : null);
    });
  }

  _row(zone, total = false) {
    const tr = el('tr', total ? 'zc-row zc-total' : 'zc-row');
    tr.dataset.zone = zone;
    if (!total) tr.dataset.testid = 'zone-counter';
    const th = el('th');
    th.scope = 'row';
    const name = el('button', 'zc-zone');
    name.type = 'button';
    const regime = el('span', 'zc-regime');
    regime.dataset.testid = 'zone-regime';
    regime.hidden = true;
    const sources = el('span', 'zc-sources');
    sources.dataset.testid = 'zone-sources';
    sources.hidden = true;
    th.append(name, regime, sources);
    const open = el('button', 'zc-num zc-open');
    open.type = 'button';
    open.dataset.state = 'open';
    const ack = el('button', 'zc-num zc-ack');
    ack.type = 'button';
    ack.dataset.state = 'acknowledged';
    const sev = el('span', 'zc-sev');
    const tdOpen = el('td', 'num');
    const tdAck = el('td', 'num');
    const tdSev = el('td', 'zc-sev-cell');
    tdOpen.append(open);
    tdAck.append(ack);
    tdSev.append(sev);
    tr.append(th, tdOpen, tdAck, tdSev);
    return { tr, name, regime, sources, open, ack, sev };
  }

  /**
   * @param {object} s
   *   zones     zone ids in display order
   *   perZone   Map id -> {open, acknowledged, severity}
   *   totals    {open, acknowledged, severity}
   *   selected  {zone, state} of the filters
   */
  update({ zones, perZone, totals, selected }) {
    const want = new Set(zones);
    for (const [id, r] of this.rows) {
      if (!want.has(id)) {
        r.tr.remove();
        this.rows.delete(id);
      }
    }
    let prev = null;
    for (const id of zones) {
      let r = this.rows.get(id);
      if (!r) {
        r = this._row(id);
        this.rows.set(id, r);
      }
      const next = prev ? prev.nextSibling : this.body.firstChild;
      if (next !== r.tr) this.body.insertBefore(r.tr, next);
      prev = r.tr;
      this._fill(r, id, this.zoneName(id), perZone.get(id) || { open: 0, acknowledged: 0, severity: '' }, selected);
    }
    this._fill(this.total, '', 'All zones', totals, selected);
  }

  _fill(r, zone, name, c, selected) {
    const tr = r.tr;
    const sev = c.severity || 'none';
    tr.dataset.open = String(c.open);
    tr.dataset.acknowledged = String(c.acknowledged);
    tr.dataset.severity = sev;
    const zoneSel = selected.zone === zone;
    tr.classList.toggle('is-selected', zoneSel);
    tr.classList.toggle('is-quiet', !c.open && !c.acknowledged);
    setText(r.name, name);
    r.name.title = zone ? name : '';
    setAttr(r.name, 'aria-pressed', zoneSel ? 'true' : 'false');
    setAttr(r.name, 'aria-label', zone
      ? `${name}: ${zoneSel ? 'showing only this zone; select to show all zones' : 'show only this zone'}`
      : `All zones${zoneSel ? ' (shown)' : ': show every zone'}`);
    for (const [btn, n, state] of [[r.open, c.open, 'open'], [r.ack, c.acknowledged, 'acknowledged']]) {
      setText(btn, String(n));
      btn.classList.toggle('is-zero', n === 0);
      const on = zoneSel && selected.state === state;
      btn.classList.toggle('is-on', on);
      setAttr(btn, 'aria-pressed', on ? 'true' : 'false');
      setAttr(btn, 'aria-label', `${n} ${state} in ${name}: ${on ? 'shown; select to show all' : 'show only these'}`);
    }
    r.sev.className = `zc-sev sev-${sev}`;
    setText(r.sev, c.severity ? label(c.severity) : '—');
    if (zone) this._fillRegime(r, zone);
    if (zone) this._fillSources(r, zone);
  }

  /** Its sources: a line, and a marker when every one is silent. */
  _fillSources(r, zone) {
    const line = this.sourceLine(zone);
    setHidden(r.sources, !line);
    const unwatched = Boolean(line && line.allSilent);
    r.tr.classList.toggle('is-unwatched', unwatched);
    if (unwatched) r.tr.dataset.unwatched = 'true';
    else delete r.tr.dataset.unwatched;
    r.sources.classList.toggle('is-unwatched', unwatched);
    setText(r.sources, line ? line.text : '');
    setAttr(r.sources, 'title', unwatched ? 'Every source of this zone is silent: its quiet means nothing' : '');
  }

  /** Redraw the sources' lines (their list changed). */
  sourcesChanged() {
    for (const [zone, r] of this.rows) this._fillSources(r, zone);
  }

  _fillRegime(r, zone, now = Date.now()) {
    const line = this.regimeLine(zone, now);
    setHidden(r.regime, !line);
    setText(r.regime, line);
  }

  /** Update the regimes' countdowns (once a second). */
  tick(now = Date.now()) {
    for (const [zone, r] of this.rows) this._fillRegime(r, zone, now);
  }
}
