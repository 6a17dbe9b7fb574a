// Me: the signed-in user, as GET /api/v1/session describes them, and what
// their role lets them do on the board. The server decides every request;
// the board only avoids offering what it would refuse.
//
// Every action the board sends is made by this user, for their own party
// (if any): the server takes both from the session, so the request bodies
// name neither.

const ROLE_LABELS = {
  admin: 'Admin',
  duty_officer: 'Duty officer',
  liaison: 'Liaison',
  viewer: 'Viewer',
  reporter: 'Reporter',
};

/** "Duty officer" for duty_officer; unknown roles readable too. */
export function roleLabel(role) {
  if (ROLE_LABELS[role]) return ROLE_LABELS[role];
  const s = String(role || '').replace(/[_-]+/g, ' ').trim();
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : 'Unknown role';
}

/**
 * Whether a zone id matches a user's zone pattern: a zone id, or a glob as
 * Go's path.Match reads it ("*", "homs-*", "[a-d]*"). A malformed pattern
 * matches nothing, as on the server.
 */
export function zoneMatch(pattern, zone) {
  const p = String(pattern);
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) return false;
      let body = p.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < p.length) {
      re += p[++i].replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  try {
    return new RegExp(`^${re}$`).test(String(zone));
  } catch {
    return false;
  }
}

export class Me {
  /**
   * @param {object} view  the session: {user, full_name, role, party, zones}
   * @param {Catalog} catalog  for the party's name
   */
  constructor(view, catalog) {
    this.user = String(view.user || '');
    this.fullName = String(view.full_name || '');
    this.role = String(view.role || '');
    this.party = String(view.party || '');
    this.zones = Array.isArray(view.zones) ? view.zones.filter((z) => typeof z === 'string') : [];
    this.catalog = catalog;
  }

  /** Whether a session view is this user, with the same role, party and
   *  zones (an admin may have changed them meanwhile). */
  same(view) {
    const zones = Array.isArray(view.zones) ? view.zones : [];
    return String(view.user || '') === this.user && String(view.full_name || '') === this.fullName &&
      String(view.role || '') === this.role && String(view.party || '') === this.party &&
      zones.join('\n') === this.zones.join('\n');
  }

  /** How the user appears on the timeline and in acknowledgements. */
  get name() {
    return this.fullName || this.user;
  }

  /** Whether the user acknowledges, resolves, comments on and snoozes the
   *  alerts they see (a liaison sees only their own zones' alerts). */
  canAct() {
    return this.role === 'admin' || this.role === 'duty_officer' || this.role === 'liaison';
  }

  /** Verification is a party's judgement: only for those acting for one. */
  canVerify() {
    return this.canAct() && Boolean(this.party);
  }

  /** Whether the user may submit reports for the zone: admins and duty
   *  officers for every zone, liaisons for their own (as the server's
   *  Principal.Submits). */
  submits(zone) {
    if (this.role === 'admin' || this.role === 'duty_officer') return true;
    if (this.role === 'liaison') return this.zones.some((p) => zoneMatch(p, zone));
    return false;
  }

  /** Whether the board offers the user the "New report" form. */
  canReport() {
    return this.role === 'admin' || this.role === 'duty_officer' || (this.role === 'liaison' && this.zones.length > 0);
  }

  /** Reporters submit reports through the API; the board has nothing for them. */
  hasBoard() {
    return this.role !== 'reporter';
  }

  partyName() {
    return this.party ? this.catalog.partyName(this.party) : '';
  }

  /** Who acts: {by, party} as the server records it. */
  actor() {
    return { by: this.name, party: this.party };
  }

  /** "Co-chair A" for a party's user, else their name: for hints. */
  label() {
    return this.party ? this.partyName() : this.name;
  }

  /** The request body fields naming the actor: none, the server knows. */
  body() {
    return {};
  }

  /** Why the user may not act, for hints; "" when they may. */
  whyNot() {
    if (this.canAct()) return '';
    return `You are signed in as a ${roleLabel(this.role).toLowerCase()}: you see the alerts but do not act on them.`;
  }
}
