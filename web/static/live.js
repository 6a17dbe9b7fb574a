// LiveFeed: the WebSocket connection to truceline (/ws, subprotocol
// "truceline.v1"), with per-zone sequence tracking, resume on reconnect,
// gap detection and exponential backoff. It knows nothing about the DOM:
// the board listens to its events.
//
// Events (listen with feed.on(name, fn)):
//   status   {state, retryAt, downSince, lastFrameAt, staleSince}
//            state: "connecting" | "live" | "reconnecting" | "offline"
//            staleSince: when the server fell silent, if it did (more than
//            two heartbeats without a frame): the connection is dropped
//            and made again, and the board is stale until it is back
//   health   {problems, healing, backlog, oldest_unprocessed_s} from each
//            heartbeat: what the server says of its own state
//   snapshot {zone, seq, alerts, reason?}   replace everything held for zone
//   resumed  {zone, from, seq}
//   alert    {zone, seq, event, alert, report_id}
//   error    {code, message}                 error frame from the server
//   frame    (any message)                   every parsed frame, after handling
//   gap      {zone, expected, got}           emitted before reconnecting

export const PROTOCOL = 'truceline.v1';

function defaultURL() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}

export class LiveFeed {
  constructor(opts = {}) {
    this.url = opts.url || defaultURL();
    this.zones = opts.zones || ['*'];
    this.baseDelay = opts.baseDelay ?? 500;
    this.maxDelay = opts.maxDelay ?? 10000;
    this.connectTimeout = opts.connectTimeout ?? 10000;
    // A connection must stay up this long before the backoff is reset, so a
    // server that accepts and immediately drops us still backs off.
    this.stableAfter = opts.stableAfter ?? 5000;

    /** zone -> last sequence number applied for that zone */
    this.lastSeq = new Map();
    /** zone -> target seq while catching up after "resumed" */
    this.catchUp = new Map();
    /** zone -> time of the last gap, to stop resume loops */
    this.recentGap = new Map();

    this.ws = null;
    this.state = 'idle';
    this.attempt = 0;
    this.retryAt = null;
    this.downSince = null;
    this.lastFrameAt = 0;
    this.stopped = true;
    /** the server's heartbeat interval (ms), once a heartbeat said it */
    this.heartbeatEvery = 0;
    /** when the server fell silent; 0 while it speaks */
    this.staleSince = 0;

    this._listeners = new Map();
    this._retryTimer = 0;
    this._connectTimer = 0;
    this._stableTimer = 0;
    this._watchTimer = 0;

    this._onOnline = () => {
      if (this.stopped) return;
      if (!this.ws) {
        this.attempt = 0;
        this._connect();
      }
    };
    this._onOffline = () => {
      if (this.stopped) return;
      if (!this.ws) {
        this._clearRetry();
        this._setState('offline');
      }
    };
    this._onVisible = () => {
      // Timers are throttled in background tabs; catch up at once on return.
      if (document.visibilityState === 'visible' && !this.stopped && !this.ws && this._retryTimer) {
        this._connect();
      }
    };
  }

  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this._listeners.get(type).delete(fn);
  }

  _emit(type, detail) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(detail);
      } catch (err) {
        console.warn(`truceline: ${type} listener failed`, err);
      }
    }
  }

  status() {
    return {
      state: this.state,
      retryAt: this.retryAt,
      downSince: this.downSince,
      lastFrameAt: this.lastFrameAt,
      catchingUp: this.catchUp.size > 0,
      staleSince: this.staleSince,
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
    document.addEventListener('visibilitychange', this._onVisible);
    this._watchTimer = setInterval(() => this._watch(), 1000);
    this._connect();
  }

  /**
   * More than two heartbeats without a frame: the server (or the way to it)
   * is stuck, whatever the socket believes. Say so, and connect again.
   */
  _watch() {
    if (!this.ws || this.state !== 'live' || !this.heartbeatEvery || !this.lastFrameAt) return;
    const silent = Date.now() - this.lastFrameAt;
    if (silent <= 2 * this.heartbeatEvery + 1000) return;
    console.warn(`truceline: no word from the server for ${Math.round(silent / 1000)} s; reconnecting`);
    this.staleSince = this.lastFrameAt;
    this.downSince = this.lastFrameAt;
    const ws = this.ws;
    this.ws = null;
    try {
      ws.close(4000, 'server silent');
    } catch {
      /* ignore */
    }
    this._down();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('offline', this._onOffline);
    document.removeEventListener('visibilitychange', this._onVisible);
    clearInterval(this._watchTimer);
    this._watchTimer = 0;
    this._clearRetry();
    this._clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'client stopped');
    this._setState('offline');
  }

  /**
   * Stop, and forget every zone's position and the connection's history:
   * the next start begins afresh (another user may see other zones).
   */
  reset() {
    this.stop();
    this.lastSeq.clear();
    this.catchUp.clear();
    this.recentGap.clear();
    this.attempt = 0;
    this.downSince = null;
    this.lastFrameAt = 0;
    this.heartbeatEvery = 0;
    this.staleSince = 0;
    this.state = 'idle';
  }

  /** Add zones to the subscription (sent at once when connected). */
  subscribe(zones) {
    const add = zones.filter((z) => !this.zones.includes(z));
    if (!add.length) return;
    this.zones = [...this.zones, ...add];
    this._send({ type: 'subscribe', zones: add, ...this._resumeFor(add) });
  }

  /** Remove zones from the subscription and forget their sequence. */
  unsubscribe(zones) {
    this.zones = this.zones.filter((z) => !zones.includes(z));
    for (const z of zones) {
      this.lastSeq.delete(z);
      this.catchUp.delete(z);
    }
    this._send({ type: 'unsubscribe', zones });
  }

  /**
   * Drop the connection and reconnect with resume soon (used on sequence
   * gaps: the server is healthy, so the failure backoff does not apply).
   */
  reconnect(reason = 'client reconnect') {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      ws.close(4000, reason.slice(0, 100));
    } catch {
      /* ignore */
    }
    this._down(this.baseDelay);
  }

  // --- internals -----------------------------------------------------------

  _resumeFor(zones) {
    const resume = {};
    const all = zones.includes('*');
    for (const [zone, seq] of this.lastSeq) {
      if (all || zones.includes(zone)) resume[zone] = seq;
    }
    return Object.keys(resume).length ? { resume } : {};
  }

  _send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  _setState(state) {
    this.state = state;
    this._emit('status', this.status());
  }

  _clearRetry() {
    clearTimeout(this._retryTimer);
    this._retryTimer = 0;
    this.retryAt = null;
  }

  _clearTimers() {
    clearTimeout(this._connectTimer);
    clearTimeout(this._stableTimer);
    this._connectTimer = 0;
    this._stableTimer = 0;
  }

  _connect() {
    this._clearRetry();
    if (this.stopped || this.ws) return;
    if (navigator.onLine === false) {
      this._setState('offline');
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this.url, PROTOCOL);
    } catch (err) {
      console.warn('truceline: cannot open WebSocket', err);
      this._down();
      return;
    }
    this.ws = ws;
    this._setState(this.downSince ? 'reconnecting' : 'connecting');

    this._connectTimer = setTimeout(() => {
      if (this.ws === ws && ws.readyState === WebSocket.CONNECTING) {
        this.ws = null;
        ws.close();
        this._down();
      }
    }, this.connectTimeout);

    ws.onopen = () => {
      if (this.ws !== ws) return;
      clearTimeout(this._connectTimer);
      if (ws.protocol && ws.protocol !== PROTOCOL) {
        console.warn(`truceline: server chose subprotocol "${ws.protocol}"`);
      }
      this.downSince = null;
      this.catchUp.clear();
      this._stableTimer = setTimeout(() => {
        this.attempt = 0;
      }, this.stableAfter);
      this._send({ type: 'subscribe', zones: this.zones, ...this._resumeFor(this.zones) });
      this._setState('live');
    };

    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this._handle(ev.data);
    };

    ws.onerror = () => {
      // Always followed by a close event; nothing to do here.
    };

    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4401) {
        // The credentials no longer hold: reconnecting with them is
        // pointless; whoever listens signs in again.
        this._emit('unauthenticated', { reason: ev.reason });
        this.stop();
        return;
      }
      this._down();
    };
  }

  /** The connection is gone: schedule the next attempt. */
  _down(baseOverride) {
    this._clearTimers();
    this.catchUp.clear();
    if (!this.downSince) this.downSince = Date.now();
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this._setState('offline');
      return;
    }
    let base = baseOverride;
    if (base === undefined) {
      // 0.5 s, 1 s, 2 s, 4 s, 8 s, 10 s, 10 s, ...
      base = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
      this.attempt = Math.min(this.attempt + 1, 16);
    }
    // +-25 % jitter, never above the cap.
    const delay = Math.round(Math.min(this.maxDelay, base * (0.75 + Math.random() * 0.5)));
    this.retryAt = Date.now() + delay;
    this._retryTimer = setTimeout(() => this._connect(), delay);
    this._setState('reconnecting');
  }

  _handle(data) {
    this.lastFrameAt = Date.now();
    if (this.staleSince) {
      // The server speaks again.
      this.staleSince = 0;
      this._emit('status', this.status());
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('truceline: ignoring non-JSON frame');
      return;
    }
    if (!msg || typeof msg !== 'object') return;

    switch (msg.type) {
      case 'snapshot': {
        if (typeof msg.zone !== 'string') return;
        if (Number.isFinite(msg.seq)) this.lastSeq.set(msg.zone, msg.seq);
        this.catchUp.delete(msg.zone);
        this._emit('snapshot', {
          zone: msg.zone,
          seq: msg.seq,
          alerts: Array.isArray(msg.alerts) ? msg.alerts : [],
          reason: msg.reason,
        });
        break;
      }
      case 'resumed': {
        if (typeof msg.zone !== 'string') return;
        const last = this.lastSeq.get(msg.zone);
        if (Number.isFinite(msg.from) && last !== undefined && msg.from > last) {
          // The server would replay from after what we hold: we would miss
          // last+1..from. Forget this zone's position so the next subscribe
          // gets a fresh snapshot for it instead.
          this._gap(msg.zone, last + 1, msg.from + 1, true);
          return;
        }
        if (Number.isFinite(msg.seq) && (last === undefined || msg.seq > last)) {
          this.catchUp.set(msg.zone, msg.seq);
        }
        this._emit('resumed', { zone: msg.zone, from: msg.from, seq: msg.seq });
        break;
      }
      case 'alert': {
        if (typeof msg.zone !== 'string' || !msg.alert || typeof msg.alert.id !== 'string') return;
        if (Number.isFinite(msg.seq)) {
          const last = this.lastSeq.get(msg.zone);
          if (last !== undefined) {
            if (msg.seq <= last) return; // already applied (duplicate or replay)
            if (msg.seq !== last + 1) {
              this._gap(msg.zone, last + 1, msg.seq, false);
              return;
            }
          }
          this.lastSeq.set(msg.zone, msg.seq);
          const target = this.catchUp.get(msg.zone);
          if (target !== undefined && msg.seq >= target) this.catchUp.delete(msg.zone);
        }
        this._emit('alert', msg);
        break;
      }
      case 'error':
        this._emit('error', { code: msg.code, message: msg.message });
        break;
      case 'heartbeat': {
        if (Number.isFinite(msg.every_ms) && msg.every_ms > 0) this.heartbeatEvery = msg.every_ms;
        // Every frame up to each position was sent before this one: a
        // position past ours means frames were lost on the way.
        const seqs = msg.seqs && typeof msg.seqs === 'object' ? msg.seqs : {};
        for (const [zone, seq] of Object.entries(seqs)) {
          const last = this.lastSeq.get(zone);
          if (Number.isFinite(seq) && last !== undefined && seq > last) {
            this._gap(zone, last + 1, seq + 1, false);
            return;
          }
        }
        const s = msg.status && typeof msg.status === 'object' ? msg.status : {};
        this._emit('health', {
          problems: Array.isArray(s.problems) ? s.problems : [],
          healing: Array.isArray(s.healing) ? s.healing : [],
          backlog: Number.isFinite(s.backlog) ? s.backlog : 0,
          oldest: Number.isFinite(s.oldest_unprocessed_s) ? s.oldest_unprocessed_s : 0,
        });
        break;
      }
      default:
        // Unknown frame types are ignored for forward compatibility.
        break;
    }
    this._emit('frame', msg);
  }

  _gap(zone, expected, got, forceSnapshot) {
    console.warn(`truceline: sequence gap in ${zone}: expected ${expected}, got ${got}; reconnecting`);
    const now = Date.now();
    const prev = this.recentGap.get(zone);
    this.recentGap.set(zone, now);
    // A second gap for the same zone within a minute means resuming does not
    // help: ask for a snapshot of that zone instead of looping.
    if (forceSnapshot || (prev && now - prev < 60000)) this.lastSeq.delete(zone);
    this._emit('gap', { zone, expected, got });
    this.reconnect('sequence gap');
  }
}
