// The detail panel's Acknowledgement: each party whose acknowledgement the
// alert needs, acknowledged (when, and by whom) or waited for, with how
// many of them have; and any other acknowledgement.

import { clockTime, parseTime, requiredAcks } from './format.js';
import { ackWho } from './list.js';
import { el, setText } from './dom.js';
import { section, timeEl } from './panel.js';

export class AcksSection {
  /**
   * @param {object} opts
   *   catalog  Catalog (party names)
   */
  constructor({ catalog }) {
    this.catalog = catalog;
    const { s, h } = section('Acknowledgement', 'detail-acks');
    this.pill = el('span', 'head-pill');
    h.append(' ', this.pill);
    this.list = el('div', 'ack-list');
    s.append(this.list);
    this.el = s;
  }

  render(a) {
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
    const pill = this.pill;
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
    this.list.replaceChildren(...items);
  }
}
