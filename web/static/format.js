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
  disputed: 'Disputed',
  not_applicable: 'n/a',
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
