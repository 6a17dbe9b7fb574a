// The detail panel's Notifications: who was told of the alert, at which
// step, how, and whether it reached them (retries, failures, a schedule
// with nobody on call), with a summary of how the deliveries went.

import { clockTime, fullTime, kindLabel, noteStateLabel, parseTime } from './format.js';
import { el, setText } from './dom.js';
import { section, timeEl } from './panel.js';

export class NotificationsSection {
  constructor() {
    const { s, h } = section('Notifications', 'detail-notes');
    this.pill = el('span', 'head-pill');
    this.pill.dataset.testid = 'notifications-summary';
    h.append(' ', this.pill);
    this.list = el('ol', 'notes');
    this.list.dataset.testid = 'notifications';
    s.append(this.list);
    this.el = s;
  }

  render(a) {
    const ns = Array.isArray(a.notifications) ? a.notifications.filter((n) => n && typeof n === 'object') : [];
    const items = ns.slice().reverse().map(noteRow);
    if (!items.length) items.push(el('li', 'muted', 'No notifications requested.'));
    this.list.replaceChildren(...items);

    // The summary: how the deliveries (not the board) went.
    const pill = this.pill;
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
