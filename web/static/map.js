// ZoneMap: an SVG map of the zones, drawn from their GeoJSON geometry with
// an equirectangular projection (longitude scaled by the cosine of the mean
// latitude), over a rough outline of the country as context. Each zone is
// shaded by the most severe active alert in it; the newest located report of
// each recent visible alert is a marker. Clicking a zone picks it as the
// zone filter; clicking a marker opens its alert.
//
// ReportLocations: where reports were observed, fetched once per report id
// (GET /api/v1/reports/{id}) and kept, a few requests at a time.

import { reportOnce } from './api.js';
import { label, relativeTime } from './format.js';
import { SYRIA_OUTLINE, SYRIA_NAME, SYRIA_TOWNS } from './syria.js';
import { setText, setAttr } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** width of the drawing in SVG units (about CSS pixels in the side column) */
const VIEW_W = 340;
const VIEW_H_MIN = 220;
const VIEW_H_MAX = 380;
const PAD = 10;
const LABEL_PX = 11;
const TOWN_PX = 9.5;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

/** Outer and inner rings of a Polygon or MultiPolygon, as [[lon, lat]...]. */
export function ringsOf(geometry) {
  if (!geometry || typeof geometry !== 'object') return [];
  const valid = (ring) =>
    Array.isArray(ring) && ring.length >= 3 &&
    ring.every((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (geometry.type === 'Polygon' && Array.isArray(geometry.coordinates)) {
    return geometry.coordinates.filter(valid);
  }
  if (geometry.type === 'MultiPolygon' && Array.isArray(geometry.coordinates)) {
    return geometry.coordinates.flatMap((poly) => (Array.isArray(poly) ? poly.filter(valid) : []));
  }
  return [];
}

function bboxOf(points, box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity }) {
  for (const [x, y] of points) {
    if (x < box.minX) box.minX = x;
    if (x > box.maxX) box.maxX = x;
    if (y < box.minY) box.minY = y;
    if (y > box.maxY) box.maxY = y;
  }
  return box;
}

function overlaps(a, b) {
  return a.minX < b.maxX && b.minX < a.maxX && a.minY < b.maxY && b.minY < a.maxY;
}

/** Area-weighted centroid of a ring of projected points. */
function centroid(ring) {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [x0, y0] = ring[j];
    const [x1, y1] = ring[i];
    const f = x0 * y1 - x1 * y0;
    a += f;
    cx += (x0 + x1) * f;
    cy += (y0 + y1) * f;
  }
  if (Math.abs(a) < 1e-9) {
    const b = bboxOf(ring);
    return [(b.minX + b.maxX) / 2, (b.minY + b.maxY) / 2];
  }
  return [cx / (3 * a), cy / (3 * a)];
}

/** "Eastern Ghouta (Damascus suburbs)" -> "Eastern Ghouta": map labels are short. */
function shortName(name) {
  return String(name).replace(/\s*\([^)]*\)\s*/g, ' ').trim() || String(name);
}

function textWidth(text, px) {
  return text.length * px * 0.56 + 2;
}

function pathData(rings) {
  return rings
    .map((ring) => 'M' + ring.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L') + 'Z')
    .join('');
}

// --- report locations -----------------------------------------------------------

export class ReportLocations {
  /**
   * @param {object} opts
   *   onChange  () => void   after a location arrives
   *   ready     () => bool   whether to send requests now (the feed is live)
   *   parallel  requests at a time
   */
  constructor({ onChange, ready, parallel = 3, fetch = reportOnce } = {}) {
    this.onChange = onChange || (() => {});
    this.ready = ready || (() => true);
    this.parallel = parallel;
    this.fetch = fetch;
    /** report id -> location {lat, lon, precision_m} or null (none, or not found) */
    this.known = new Map();
    /** ids asked for and not yet requested, newest wish last */
    this.queue = new Set();
    /** ids being requested */
    this.inflight = new Set();
    /** how many requests were sent in all (for tests and the console) */
    this.requests = 0;
    /** bumped by reset: answers to requests sent before are dropped */
    this._gen = 0;
  }

  /** Forget every location (the user signed out). */
  reset() {
    this._gen++;
    this.known.clear();
    this.queue.clear();
    this.inflight.clear();
  }

  /** The location of a report: undefined while unknown, null when it has none. */
  get(id) {
    return this.known.get(id);
  }

  /**
   * Ask for the locations of ids (the newest report of each visible alert).
   * Queued ids that are no longer asked for are dropped before they are
   * requested; every id is requested at most once.
   */
  want(ids) {
    for (const id of this.queue) if (!ids.has(id)) this.queue.delete(id);
    for (const id of ids) {
      if (!id || this.known.has(id) || this.inflight.has(id) || this.queue.has(id)) continue;
      this.queue.add(id);
    }
    this.pump();
  }

  /**
   * Forget locations of reports that no held alert names as its newest any
   * more. A report stops being an alert's newest only when a newer one
   * arrives, so a forgotten id is never asked for again.
   */
  prune(keep, slack = 400) {
    if (this.known.size <= keep.size + slack) return;
    for (const id of this.known.keys()) if (!keep.has(id)) this.known.delete(id);
  }

  pump() {
    if (!this.ready()) return;
    while (this.inflight.size < this.parallel && this.queue.size) {
      // newest wishes first: the alerts that just changed
      const id = [...this.queue].pop();
      this.queue.delete(id);
      this._load(id);
    }
  }

  async _load(id) {
    const gen = this._gen;
    this.inflight.add(id);
    this.requests++;
    let loc = null;
    try {
      const r = await this.fetch(id);
      if (gen !== this._gen) return;
      const l = r && r.location;
      if (l && Number.isFinite(l.lat) && Number.isFinite(l.lon)) {
        loc = { lat: l.lat, lon: l.lon, precision_m: Number.isFinite(l.precision_m) ? l.precision_m : 0 };
      }
    } catch (err) {
      if (gen !== this._gen) return;
      // Not found, or refused: the report has no marker. Never asked again.
      if (err && err.status !== 404) console.warn(`truceline: report ${id} not loaded (${err.message})`);
    }
    this.inflight.delete(id);
    this.known.set(id, loc);
    if (loc) this.onChange(id);
    this.pump();
  }
}

// --- the map ---------------------------------------------------------------------

export class ZoneMap {
  /**
   * @param {SVGSVGElement} root
   * @param {object} opts
   *   zoneName  (id) => display name
   *   onZone    (id) => void     a zone was clicked
   *   onAlert   (id) => void     a marker was clicked
   */
  constructor(root, { zoneName, onZone, onAlert }) {
    this.root = root;
    this.zoneName = zoneName;
    this.onZone = onZone || (() => {});
    this.onAlert = onAlert || (() => {});
    /** zone id -> {path, title, label} */
    this.zones = new Map();
    /** alert id -> {node, title, key} */
    this.markers = new Map();
    this.project = null;
    this.view = null;

    this.gCtx = svg('g', { class: 'map-ctx', 'aria-hidden': 'true' });
    this.gZones = svg('g', { class: 'map-zones' });
    this.gLabels = svg('g', { class: 'map-labels', 'aria-hidden': 'true' });
    this.gMarkers = svg('g', { class: 'map-markers' });
    root.replaceChildren(this.gCtx, this.gZones, this.gLabels, this.gMarkers);

    root.addEventListener('click', (ev) => {
      const marker = ev.target.closest('[data-testid="map-marker"]');
      if (marker) {
        this.onAlert(marker.dataset.alertId);
        return;
      }
      const zone = ev.target.closest('[data-zone]');
      if (zone) this.onZone(zone.dataset.zone);
    });
    root.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      const t = ev.target;
      if (!(t instanceof Element)) return;
      if (t.matches('[data-testid="map-marker"]')) this.onAlert(t.dataset.alertId);
      else if (t.matches('[data-testid="map-zone"]')) this.onZone(t.dataset.zone);
      else return;
      ev.preventDefault();
    });
  }

  /** Draw the zones ([{id, name, geometry}]); markers are kept. */
  setZones(zones) {
    const shapes = [];
    for (const z of zones) {
      const rings = ringsOf(z && z.geometry);
      if (rings.length) shapes.push({ id: z.id, rings });
    }
    this._layout(shapes);
    this.gCtx.replaceChildren();
    this.gZones.replaceChildren();
    this.gLabels.replaceChildren();
    this.zones.clear();
    for (const m of this.markers.values()) m.node.remove();
    this.markers.clear();
    if (!shapes.length) {
      this.root.setAttribute('viewBox', `0 0 ${VIEW_W} ${VIEW_H_MIN}`);
      this.gLabels.append(svg('text', { class: 'map-none', x: VIEW_W / 2, y: VIEW_H_MIN / 2, 'text-anchor': 'middle' },
        'No zone has a geometry to draw'));
      return;
    }
    const { w, h } = this.view;
    this.root.setAttribute('viewBox', `0 0 ${w.toFixed(1)} ${h.toFixed(1)}`);

    // Context: the country outline and a few towns.
    if (this.context) {
      const outline = this.context.map(([lon, lat]) => this.project(lon, lat));
      this.gCtx.append(svg('path', { class: 'map-country', d: pathData([outline]) }));
    }

    // Zones, largest first so small ones stay clickable on top.
    const placed = [];
    const drawn = shapes
      .map((s) => {
        const rings = s.rings.map((ring) => ring.map(([lon, lat]) => this.project(lon, lat)));
        const box = bboxOf(rings[0]);
        return { ...s, rings, box, area: (box.maxX - box.minX) * (box.maxY - box.minY) };
      })
      .sort((a, b) => b.area - a.area);
    for (const s of drawn) {
      const path = svg('path', {
        class: 'map-zone',
        d: pathData(s.rings),
        'fill-rule': 'evenodd',
        role: 'button',
        tabindex: '0',
        'data-testid': 'map-zone',
        'data-zone': s.id,
        'data-severity': 'none',
        'aria-pressed': 'false',
      });
      const title = svg('title');
      path.append(title);
      this.gZones.append(path);
      this.zones.set(s.id, { path, title, label: null, rings: s.rings, box: s.box });
    }

    // Labels: beside their zone where they collide with nothing.
    const boxes = drawn.map((s) => ({ id: s.id, ...s.box }));
    const byPosition = [...drawn].sort((a, b) => a.box.minY - b.box.minY);
    for (const s of byPosition) {
      const text = shortName(this.zoneName(s.id));
      const spot = this._placeLabel(text, s, boxes, placed);
      const node = svg('text', {
        class: 'map-label',
        x: spot.x.toFixed(1),
        y: spot.y.toFixed(1),
        'text-anchor': spot.anchor,
        'data-zone': s.id,
      }, text);
      this.gLabels.append(node);
      placed.push(spot.box);
      this.zones.get(s.id).label = node;
    }

    if (this.context) {
      for (const t of SYRIA_TOWNS) {
        const [x, y] = this.project(t.lon, t.lat);
        const w2 = textWidth(t.name, TOWN_PX);
        const box = { minX: x - 3, maxX: x + 5 + w2, minY: y - TOWN_PX + 1, maxY: y + 4 };
        if (box.maxX > w - 2 || box.minX < 2 || box.minY < 2 || box.maxY > h - 2) continue;
        if (placed.some((p) => overlaps(p, box)) || boxes.some((b) => overlaps(b, box))) continue;
        placed.push(box);
        this.gCtx.append(svg('circle', { class: 'map-town', cx: x.toFixed(1), cy: y.toFixed(1), r: 1.6 }));
        this.gCtx.append(svg('text', { class: 'map-town-label', x: (x + 4).toFixed(1), y: (y + 3.2).toFixed(1) }, t.name));
      }
      // The country's name, in the empty east.
      const [nx, ny] = this.project(39.6, 34.35);
      const nbox = { minX: nx - 30, maxX: nx + 30, minY: ny - 10, maxY: ny + 3 };
      if (!placed.some((p) => overlaps(p, nbox)) && nx < w - 30) {
        this.gCtx.append(svg('text', { class: 'map-country-label', x: nx.toFixed(1), y: ny.toFixed(1), 'text-anchor': 'middle' }, SYRIA_NAME.toUpperCase()));
      }
    }
  }

  /** Fit the zones (and the country around them, when they lie in it). */
  _layout(shapes) {
    const zb = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
    for (const s of shapes) for (const ring of s.rings) bboxOf(ring, zb);
    const sy = bboxOf(SYRIA_OUTLINE);
    let box = zb;
    this.context = null;
    if (shapes.length && overlaps({ minX: zb.minX - 1, maxX: zb.maxX + 1, minY: zb.minY - 1, maxY: zb.maxY + 1 }, sy)) {
      this.context = SYRIA_OUTLINE;
      box = bboxOf([[zb.minX, zb.minY], [zb.maxX, zb.maxY]], { ...sy });
    }
    if (!shapes.length) box = sy;
    // a margin of sea and desert, for labels
    const mLon = Math.max(0.15, (box.maxX - box.minX) * 0.03);
    const mLat = Math.max(0.12, (box.maxY - box.minY) * 0.03);
    box = { minX: box.minX - mLon, maxX: box.maxX + mLon, minY: box.minY - mLat, maxY: box.maxY + mLat };
    const k = Math.cos((((box.minY + box.maxY) / 2) * Math.PI) / 180);
    const spanX = Math.max(1e-6, (box.maxX - box.minX) * k);
    const spanY = Math.max(1e-6, box.maxY - box.minY);
    const w = VIEW_W;
    const h = Math.min(VIEW_H_MAX, Math.max(VIEW_H_MIN, ((w - 2 * PAD) * spanY) / spanX + 2 * PAD));
    const s = Math.min((w - 2 * PAD) / spanX, (h - 2 * PAD) / spanY);
    const ox = (w - spanX * s) / 2;
    const oy = (h - spanY * s) / 2;
    this.view = { w, h, box };
    this.project = (lon, lat) => [ox + (lon - box.minX) * k * s, oy + (box.maxY - lat) * s];
  }

  _placeLabel(text, s, boxes, placed) {
    const { w, h } = this.view;
    const tw = textWidth(text, LABEL_PX);
    const b = s.box;
    const [cx, cy] = centroid(s.rings[0]);
    const midY = Math.min(Math.max(cy, b.minY + 6), b.maxY - 2);
    const candidates = [
      { x: b.maxX + 4, y: midY + 4, anchor: 'start' },
      { x: b.minX - 4, y: midY + 4, anchor: 'end' },
      { x: cx, y: b.maxY + LABEL_PX + 1, anchor: 'middle' },
      { x: cx, y: b.minY - 4, anchor: 'middle' },
      { x: b.maxX + 4, y: b.minY + 6, anchor: 'start' },
      { x: b.maxX + 4, y: b.maxY + 2, anchor: 'start' },
      { x: cx, y: cy + 4, anchor: 'middle' },
    ];
    let best = null;
    for (const c of candidates) {
      const minX = c.anchor === 'start' ? c.x : c.anchor === 'end' ? c.x - tw : c.x - tw / 2;
      const box = { minX, maxX: minX + tw, minY: c.y - LABEL_PX + 1, maxY: c.y + 3 };
      const inside = box.minX >= 2 && box.maxX <= w - 2 && box.minY >= 2 && box.maxY <= h - 2;
      if (!inside) continue;
      const hits =
        placed.filter((p) => overlaps(p, box)).length * 3 +
        boxes.filter((o) => o.id !== s.id && overlaps(o, box)).length;
      if (!best || hits < best.hits) best = { ...c, box, hits };
      if (hits === 0) break;
    }
    if (best) return best;
    const box = { minX: cx - tw / 2, maxX: cx + tw / 2, minY: cy - LABEL_PX + 4, maxY: cy + 6 };
    return { x: cx, y: cy + 4, anchor: 'middle', box };
  }

  /**
   * Shade the zones and place the markers.
   *   perZone   Map zone id -> {open, acknowledged, severity, openSeverity}
   *   selected  the zone of the zone filter, or ""
   *   markers   [{alert, location, reportId}] least important first
   */
  update({ perZone, selected, markers }) {
    for (const [id, z] of this.zones) {
      const c = perZone.get(id) || { open: 0, acknowledged: 0, severity: '' };
      const name = this.zoneName(id);
      setAttr(z.path, 'data-severity', c.severity || 'none');
      setAttr(z.path, 'data-open', String(c.open));
      setAttr(z.path, 'data-acknowledged', String(c.acknowledged));
      // only acknowledged alerts: shaded, but quieter
      z.path.classList.toggle('is-acked-only', c.open === 0 && c.acknowledged > 0);
      const isSel = selected === id;
      z.path.classList.toggle('is-selected', isSel);
      if (z.label) z.label.classList.toggle('is-selected', isSel);
      setAttr(z.path, 'aria-pressed', isSel ? 'true' : 'false');
      const what = c.open || c.acknowledged
        ? `${c.open} open, ${c.acknowledged} acknowledged; highest ${label(c.severity)}`
        : 'no active alerts';
      setAttr(z.path, 'aria-label', `${name}: ${what}. ${isSel ? 'Showing only this zone; select to show all zones' : 'Select to show only this zone'}`);
      setText(z.title, `${name} — ${what}`);
    }
    if (this.zones.size && this.gZones.lastElementChild && selected && this.zones.has(selected)) {
      // the selected outline is drawn on top
      const p = this.zones.get(selected).path;
      if (this.gZones.lastElementChild !== p) this.gZones.append(p);
    }
    this._markers(markers);
  }

  _markers(list) {
    if (!this.project) return;
    const keep = new Set();
    let prev = null;
    const { w, h } = this.view;
    for (const { alert, location, reportId } of list) {
      const [x, y] = this.project(location.lon, location.lat);
      if (x < 0 || y < 0 || x > w || y > h) continue;
      keep.add(alert.id);
      let m = this.markers.get(alert.id);
      if (!m) {
        const node = svg('circle', { 'data-testid': 'map-marker', 'data-alert-id': alert.id, r: 4 });
        const title = svg('title');
        node.append(title);
        m = { node, title, key: '' };
        this.markers.set(alert.id, m);
      }
      const severity = String(alert.severity || 'unknown');
      const state = String(alert.state || 'unknown');
      const key = `${reportId}|${severity}|${state}|${alert.title}|${alert.last_seen}`;
      if (m.key !== key) {
        m.key = key;
        setAttr(m.node, 'cx', x.toFixed(1));
        setAttr(m.node, 'cy', y.toFixed(1));
        setAttr(m.node, 'class', `map-marker sev-${severity} state-${state}`);
        setAttr(m.node, 'r', severity === 'extreme' ? 3.6 : severity === 'severe' ? 3.2 : 2.8);
        m.node.dataset.reportId = reportId;
        m.node.dataset.severity = severity;
        const prec = location.precision_m ? ` ±${Math.round(location.precision_m)} m` : '';
        const at = relativeTime(Date.parse(alert.last_seen));
        setText(m.title, `${alert.title || alert.id} — ${label(severity)}, ${label(state).toLowerCase()}\n` +
          `Latest report ${reportId}, ${at}: ${location.lat.toFixed(3)}, ${location.lon.toFixed(3)}${prec}`);
      }
      // z-order: as listed (most important last, on top)
      const next = prev ? prev.nextSibling : this.gMarkers.firstChild;
      if (next !== m.node) this.gMarkers.insertBefore(m.node, next);
      prev = m.node;
    }
    for (const [id, m] of this.markers) {
      if (!keep.has(id)) {
        m.node.remove();
        this.markers.delete(id);
      }
    }
  }
}
