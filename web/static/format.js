// Formatting helpers shared by the board modules. Pure functions, no DOM.

export const SEVERITIES = ['extreme', 'severe', 'moderate', 'minor'];

const SEVERITY_RANK = { extreme: 4, severe: 3, moderate: 2, minor: 1 };

/** Higher is more severe; unknown severities sort below minor. */
export function severityRank(sev) {
  return SEVERITY_RANK[sev] || 0;
}

const LABELS = {
  // states
  open: 'Open',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  // verification
  unverified: 'Unverified',
  confirmed: 'Confirmed',
  partly_confirmed: 'Partly confirmed',
  cannot_confirm: 'Cannot confirm',
  disputed: 'Disputed',
  not_applicable: 'Not applicable',
  // attribution judgements
  substantiated: 'Substantiated',
  not_substantiated: 'Not substantiated',
  undetermined: 'Undetermined',
};

/** Human label for a machine word: "small_arms" -> "Small arms". */
export function label(word) {
  if (word == null || word === '') return '—';
  const s = String(word);
  if (LABELS[s]) return LABELS[s];
  const spaced = s.replace(/[_-]+/g, ' ');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** Parse an RFC 3339 timestamp, NaN-safe (returns 0 when absent/invalid). */
export function parseTime(s) {
  if (!s) return 0;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 0;
}

/** "just now", "4 min ago", "2 h 5 m ago", "3 d ago". */
export function relativeTime(ms, now = Date.now()) {
  if (!ms) return '—';
  const sec = Math.floor((now - ms) / 1000);
  if (sec < 60) return 'just now';
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 24) {
    const m = min % 60;
    return m ? `${h} h ${m} m ago` : `${h} h ago`;
  }
  const d = Math.floor(h / 24);
  return `${d} d ago`;
}

/** Short staleness text for the header: "3 s ago", "2 min ago". */
export function agoShort(ms, now = Date.now()) {
  const sec = Math.max(0, Math.floor((now - ms) / 1000));
  if (sec < 60) return `${sec} s ago`;
  const min = Math.floor(sec / 60);
  if (min < 60) return `${min} min ago`;
  return `${Math.floor(min / 60)} h ago`;
}

const clockFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const fullFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
});

/** HH:MM:SS in local time. */
export function clockTime(ms) {
  return clockFmt.format(new Date(ms));
}

/** Full local date-time for tooltips. */
export function fullTime(ms) {
  return ms ? fullFmt.format(new Date(ms)) : '';
}

/** "4:12", "59:03", "1:02:09": the time left until a deadline, never negative. */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "14:05" (or "Tue 14:05" when not today) in local time. */
export function shortTime(ms, now = Date.now()) {
  if (!ms) return '—';
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  if (new Date(now).toDateString() === d.toDateString()) return hm;
  return `${d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })} ${hm}`;
}

/**
 * Where an alert stands in its escalation policy, as the board shows it.
 * Returns null when the alert has no escalation. Otherwise
 *   level   "Level 2"
 *   next    "next step in 4:12" | "next step due" | "stopped: acknowledged"
 *   nextAt  the due time in ms (0 when stopped)
 *   snoozedUntil  ms, when a snooze is still running (else 0)
 *   stopped the reason, or ""
 *   soon    true in the last minute before the next step
 *   unanswered  the escalation ran out and the alert is still open (isUnanswered)
 */
export function escalationView(alert, now = Date.now()) {
  const e = alert && alert.escalation;
  if (!e || typeof e !== 'object') return null;
  const level = Number.isFinite(e.level) ? e.level : 0;
  const snoozed = parseTime(alert.snoozed_until);
  const view = {
    level: `Level ${level}`,
    next: '',
    nextAt: 0,
    snoozedUntil: snoozed > now ? snoozed : 0,
    stopped: '',
    soon: false,
    unanswered: isUnanswered(alert),
  };
  const nextAt = parseTime(e.next_at);
  if (e.stopped || !nextAt || alert.state === 'resolved') {
    view.stopped = e.stopped || (alert.state === 'resolved' ? 'resolved' : 'stopped');
    view.next = `stopped: ${view.stopped}`;
    view.snoozedUntil = 0;
    return view;
  }
  view.nextAt = nextAt;
  const left = nextAt - now;
  view.next = left > 0 ? `next step in ${countdown(left)}` : 'next step due';
  view.soon = left <= 60000;
  return view;
}

/**
 * Whether the alert's escalation ran out and the alert is still open: every
 * step fired, the last one after the alert opened, and nobody acknowledged
 * it (or, when it needs several parties, not all of them did). The loudest
 * state an alert can be in; acknowledging or resolving it ends it. A policy
 * whose steps all fire at opening (board only) never escalated: its alerts
 * are exhausted at once, not unanswered. As alerting.Alert.Unanswered.
 */
export function isUnanswered(alert) {
  const e = alert && alert.escalation;
  if (!e || alert.state !== 'open' || e.stopped !== 'exhausted') return false;
  if (e.repeat > 0) return true; // a later pass: it escalated
  const tl = Array.isArray(alert.timeline) ? alert.timeline : [];
  for (let i = tl.length - 1; i >= 0; i--) {
    // The last step; the steps due at opening fire at pass_start.
    if (tl[i] && tl[i].action === 'escalated') return parseTime(tl[i].at) > parseTime(e.pass_start);
  }
  return false;
}

/**
 * What an active alert waits for from a party, as words: its
 * acknowledgement (the party is in require_ack_from and has not
 * acknowledged), its verification (the same, not yet judged), its agreement
 * to resolve (another party proposed it), information it was asked for (a
 * request for information still open or overdue). Empty when nothing, or
 * no party.
 */
export function awaitingParty(alert, party) {
  if (!party || !alert || alert.state === 'resolved') return [];
  const out = [];
  const required = Array.isArray(alert.require_ack_from) ? alert.require_ack_from : [];
  if (required.includes(party)) {
    const by = (list) => (Array.isArray(list) ? list : []).some((x) => x && x.party === party);
    if (!by(alert.acks)) out.push('acknowledgement');
    if (!by(alert.verifications)) out.push('verification');
    const agreed = Array.isArray(alert.resolve_agreed) ? alert.resolve_agreed : [];
    if (agreed.length && !by(agreed)) out.push('agreement to resolve');
  }
  // A request for information to the party, not answered yet.
  const asked = Array.isArray(alert.info_requests) ? alert.info_requests : [];
  if (asked.some((r) => r && r.party === party && (r.state === 'open' || r.state === 'overdue'))) out.push('information');
  return out;
}

/** What the board says of an unanswered alert: who has not acknowledged. */
export function unansweredText(alert, partyName) {
  const waiting = requiredAcks(alert).filter((x) => !x.ack).map((x) => partyName(x.party));
  const who = waiting.length && waiting.length < requiredAcks(alert).length
    ? `Not acknowledged by ${waiting.join(' and ')}`
    : 'Nobody acknowledged';
  return `${who} — escalation exhausted`;
}

/**
 * The acknowledgements a joint acknowledgement needs: one entry per party of
 * require_ack_from, {party, ack} with ack the party's acknowledgement or null.
 */
export function requiredAcks(alert) {
  const acks = Array.isArray(alert && alert.acks) ? alert.acks : [];
  const need = Array.isArray(alert && alert.require_ack_from) ? alert.require_ack_from : [];
  return need.map((party) => ({ party, ack: acks.find((a) => a && a.party === party) || null }));
}

/**
 * What resolving means for actor {party, by} on this alert. On an alert that
 * needs several parties' acknowledgement, someone acting for a party only
 * agrees to resolve it for that party, and it resolves when every required
 * party has agreed; someone acting for no party resolves it alone.
 * -> {joint, agreed (the actor's party has), agreedBy, waiting (parties),
 *     label (for the button), snooze (whether the actor may snooze)}
 */
export function resolveView(alert, actor) {
  const need = Array.isArray(alert && alert.require_ack_from) ? alert.require_ack_from : [];
  const agreedList = Array.isArray(alert && alert.resolve_agreed) ? alert.resolve_agreed : [];
  const agreedBy = agreedList.map((a) => a && a.party).filter(Boolean);
  const joint = Boolean(actor && actor.party) && need.length > 0;
  const agreed = joint && agreedBy.includes(actor.party);
  const waiting = need.filter((p) => !agreedBy.includes(p));
  let label = 'Resolve';
  if (joint) label = agreedBy.length ? 'Agree to resolve' : 'Propose to resolve';
  const snooze = !(actor && actor.party) || need.every((p) => p === actor.party);
  return { joint, agreed, agreedBy, waiting, label, snooze };
}

/** Whether actor {party, by} has acknowledged the alert already (the server
 *  refuses a second acknowledgement by the same party, or by the same name
 *  when no party is given). */
export function hasAcknowledged(alert, actor) {
  const acks = Array.isArray(alert && alert.acks) ? alert.acks : [];
  return acks.some((a) => a && (actor.party ? a.party === actor.party : !a.party && a.by === actor.by));
}

/** Delivery words for a notification's kind and state. */
const KIND_LABELS = { webhook: 'Webhook', email: 'Email', nats: 'NATS', board: 'Board' };
const NOTE_STATE_LABELS = {
  shown: 'Shown',
  pending: 'Pending',
  sent: 'Sent',
  failed: 'Failed',
  gave_up: 'Gave up',
  cancelled: 'Cancelled',
};

export function kindLabel(kind) {
  return KIND_LABELS[kind] || label(kind);
}

export function noteStateLabel(state) {
  return NOTE_STATE_LABELS[state] || label(state);
}

/** Who a notification reaches: "up/hook", "board", or its target when
 *  nobody could be reached. */
export function noteWho(n) {
  if (!n) return '';
  if (n.kind === 'board') return 'board';
  if (n.contact) return n.method ? `${n.contact}/${n.method}` : n.contact;
  return n.target || '?';
}

/**
 * What went wrong with an alert's notifications, for the loud badges:
 *   gaveUp    notifications whose delivery was given up
 *   fallback  notifications sent to the policy's fallback contact because
 *             nobody was on call in the step's schedule
 */
export function deliveryProblems(alert) {
  const ns = Array.isArray(alert && alert.notifications) ? alert.notifications : [];
  return {
    gaveUp: ns.filter((n) => n && n.state === 'gave_up'),
    fallback: ns.filter((n) => n && n.fallback === true),
  };
}

/** "Nobody on call in night-desk — sent to fallback up", once per schedule
 *  and contact. */
export function fallbackLines(fallback) {
  const lines = [];
  for (const n of fallback) {
    const line = `Nobody on call in ${n.target || '?'} — sent to fallback ${n.contact || '?'}`;
    if (!lines.includes(line)) lines.push(line);
  }
  return lines;
}

/** Who handed a report to truceline, as truceline recorded it. */
export function submitterLabel(s) {
  if (!s || typeof s !== 'object') return 'sender not recorded';
  switch (s.via) {
    case 'nats':
      return s.user ? `NATS user ${s.user}` : 'an anonymous NATS publisher';
    case 'demo':
      return 'the demo generator';
    case 'cap':
      return `${s.user || '?'} (CAP)${s.token ? ` with token ${s.token}` : ''}`;
    default:
      return `${s.user || '?'}${s.token ? ` with token ${s.token}` : ''}`;
  }
}
