// ZoneMap: a Leaflet map of the zones, drawn from their GeoJSON geometry
// over the outlines of the countries around them (Natural Earth, shipped in
// /static/vendor/outlines.json: no tile server, so it works offline). It
// zooms and pans; each zone is shaded by the most severe active alert in
// it; the newest located report of each recent visible alert is a marker,
// with its precision as a circle, and markers close together are clustered
// until zoomed apart. Clicking a zone picks it as the zone filter; clicking
// a marker opens its alert, clicking a cluster zooms into it. While the
// "New report" form asks for a place (pickLocation), a click anywhere on
// the map gives that place instead, and a pin marks the form's location.
//
// ReportLocations: where reports were observed, fetched once per report id
// (GET /api/v1/reports/{id}) and kept, a few requests at a time.
//
// Leaflet and Leaflet.markercluster are classic scripts (window.L), loaded
// by index.html before the board's modules; web/vendor/build.mjs makes them.

import { reportOnce } from './api.js';
import { label, relativeTime, severityRank } from './format.js';
import { setAttr } from './dom.js';

const OUTLINES_URL = '/static/vendor/outlines.json';
/** markers closer than this many pixels are clustered */
const CLUSTER_PX = 22;
/** towns are named from this zoom on */
const TOWN_ZOOM = 7;
/** from this zoom on, zones are shaded lightly, for the reports in them */
const CLOSE_ZOOM = 10;
const TOWNS = [
  { name: 'Damascus', lon: 36.29, lat: 33.51 },
  { name: 'Homs', lon: 36.72, lat: 34.73 },
  { name: 'Hama', lon: 36.75, lat: 35.13 },
  { name: 'Raqqa', lon: 39.01, lat: 35.95 },
  { name: 'Deir ez-Zor', lon: 40.14, lat: 35.33 },
  { name: 'Palmyra', lon: 38.27, lat: 34.56 },
  { name: 'Hasakah', lon: 40.75, lat: 36.5 },
  { name: 'Beirut', lon: 35.5, lat: 33.89 },
];

/** "Eastern Ghouta (Damascus suburbs)" -> "Eastern Ghouta": map labels are short. */
function shortName(name) {
  return String(name).replace(/\s*\([^)]*\)\s*/g, ' ').trim() || String(name);
}

/** Whether a GeoJSON geometry is a polygon Leaflet can draw. */
function drawable(geometry) {
  return !!geometry && (geometry.type === 'Polygon' || geometry.type === 'MultiPolygon') &&
    Array.isArray(geometry.coordinates) && geometry.coordinates.length > 0;
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
   * @param {HTMLElement} root
   * @param {object} opts
   *   zoneName  (id) => display name
   *   onZone    (id) => void     a zone was clicked
   *   onAlert   (id) => void     a marker was clicked
   */
  constructor(root, { zoneName, onZone, onAlert }) {
    const L = window.L;
    this.root = root;
    this.zoneName = zoneName;
    this.onZone = onZone || (() => {});
    this.onAlert = onAlert || (() => {});
    /** zone id -> {layer, path, label} */
    this.zones = new Map();
    /** alert id -> {marker, circle, key} */
    this.markers = new Map();
    /** whether the person moved the map: then a resize keeps their view */
    this.moved = false;
    /** the pickLocation in progress: {done(result)}, or null */
    this._pick = null;
    /** the pin of the report being entered, or null */
    this._pin = null;

    const map = L.map(root, { zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 4, maxZoom: 15, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution('Outlines: Natural Earth');
    map.setView([35, 38.5], 6);
    map.createPane('context').style.zIndex = '350';
    map.createPane('precision').style.zIndex = '380';
    // Zone names above the zones, below the markers they would hide.
    map.createPane('labels').style.zIndex = '450';
    this.map = map;

    this.countries = L.geoJSON(null, {
      pane: 'context',
      interactive: false,
      style: (f) => ({ className: f.properties && f.properties.focus ? 'map-country is-focus' : 'map-country' }),
    }).addTo(map);
    fetch(OUTLINES_URL, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${r.status}`))))
      .then((fc) => this.countries.addData(fc))
      .catch((err) => console.warn(`truceline: map outlines not loaded (${err.message})`));

    this.towns = L.layerGroup(TOWNS.map((t) =>
      L.circleMarker([t.lat, t.lon], { pane: 'context', radius: 1.6, interactive: false, className: 'map-town' })
        .bindTooltip(t.name, { permanent: true, direction: 'right', offset: [3, 0], className: 'map-town-label' })));
    this.zoneLayer = L.featureGroup().addTo(map);
    this.precision = L.layerGroup().addTo(map);
    this.clusters = L.markerClusterGroup({
      maxClusterRadius: CLUSTER_PX,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      iconCreateFunction: (cluster) => {
        const children = cluster.getAllChildMarkers();
        let top = 'minor';
        for (const m of children) if (severityRank(m.options.severity) > severityRank(top)) top = m.options.severity;
        return L.divIcon({ className: `map-cluster sev-${top}`, iconSize: [24, 24],
          html: `<span data-testid="map-cluster-count">${children.length}</span>` });
      },
    }).addTo(map);
    this.clusters.on('clusterclick', () => { this.moved = true; });

    map.on('zoomend', () => this._zoomed());
    map.on('dragstart', () => { this.moved = true; });
    map.on('zoomstart', (ev) => { if (ev && ev.originalEvent) this.moved = true; });
    root.addEventListener('wheel', () => { this.moved = true; }, { passive: true });
    this._zoomed();
    // The side column folds away on narrow screens: refit when it shows.
    new ResizeObserver(() => {
      map.invalidateSize();
      if (!this.moved) this.fit();
    }).observe(root);

    root.addEventListener('keydown', (ev) => {
      if (this._pick || (ev.key !== 'Enter' && ev.key !== ' ')) return;
      const t = ev.target;
      if (!(t instanceof Element) || !t.matches('[data-testid="map-zone"]')) return;
      this.onZone(t.dataset.zone);
      ev.preventDefault();
    });
  }

  /**
   * Wait for a click on the map and resolve to the place clicked: {lat, lon,
   * zone, metresPerPixel}, zone being the zone drawn there (or ""), and
   * metresPerPixel the map's scale there, for how precise a click can be.
   * Resolves to null when cancelled (cancelPick). Meanwhile the cursor is a
   * crosshair, and zones and markers do not act on clicks.
   */
  pickLocation() {
    this.cancelPick();
    return new Promise((resolve) => {
      const onClick = (ev) => {
        const t = ev.originalEvent && ev.originalEvent.target;
        const zone = t instanceof Element ? t.closest('[data-testid="map-zone"]')?.dataset.zone || '' : '';
        const { lat, lng } = ev.latlng.wrap();
        const metresPerPixel = 40075016.686 * Math.cos((lat * Math.PI) / 180) / 2 ** (this.map.getZoom() + 8);
        done({ lat, lon: lng, zone, metresPerPixel });
      };
      const done = (result) => {
        if (this._pick !== pick) return;
        this._pick = null;
        this.map.off('click', onClick);
        this.root.classList.remove('is-picking');
        resolve(result);
      };
      const pick = { done };
      this._pick = pick;
      this.root.classList.add('is-picking');
      this.map.on('click', onClick);
    });
  }

  /** Stop waiting for a click: pickLocation resolves to null. */
  cancelPick() {
    if (this._pick) this._pick.done(null);
  }

  get isPicking() {
    return this._pick !== null;
  }

  /** Mark where the report being entered was observed ({lat, lon}), or
   *  take the mark away (null). */
  setPin(loc) {
    const L = window.L;
    if (!loc || !Number.isFinite(loc.lat) || !Number.isFinite(loc.lon)) {
      if (this._pin) this._pin.remove();
      this._pin = null;
      return;
    }
    if (!this._pin) {
      this._pin = L.marker([loc.lat, loc.lon], {
        icon: L.divIcon({ className: 'map-pin', iconSize: [22, 22] }),
        interactive: false, keyboard: false, zIndexOffset: 10000,
      });
      this._pin.on('add', () => { this._pin.getElement().dataset.testid = 'map-pin'; });
      this._pin.addTo(this.map);
    } else {
      this._pin.setLatLng([loc.lat, loc.lon]);
    }
  }

  /** Fit the map to the zones (all of the region when none has a shape). */
  fit() {
    const size = this.map.getSize();
    if (!size.x || !size.y) return;
    const bounds = this.zoneLayer.getBounds();
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [14, 14], animate: false });
    else this.map.setView([35, 38.5], 6, { animate: false });
  }

  _zoomed() {
    this.root.classList.toggle('is-close', this.map.getZoom() >= CLOSE_ZOOM);
    const show = this.map.getZoom() >= TOWN_ZOOM;
    if (show && !this.map.hasLayer(this.towns)) this.towns.addTo(this.map);
    if (!show && this.map.hasLayer(this.towns)) this.towns.remove();
  }

  /** Draw the zones ([{id, name, geometry}]); markers are kept. */
  setZones(zones) {
    const L = window.L;
    this.zoneLayer.clearLayers();
    this.zones.clear();
    // Largest first, so that small zones stay clickable on top.
    const shapes = zones
      .filter((z) => z && drawable(z.geometry))
      .map((z) => ({ z, layer: L.geoJSON(z.geometry, { style: { className: 'map-zone' } }).getLayers()[0] }))
      .filter((s) => s.layer)
      .map((s) => {
        const b = s.layer.getBounds();
        return { ...s, area: (b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest()) };
      })
      .sort((a, b) => b.area - a.area);
    for (const { z, layer } of shapes) {
      layer.on('click', () => {
        if (!this._pick) this.onZone(z.id);
      });
      layer.bindTooltip(shortName(this.zoneName(z.id)), { permanent: true, direction: 'center', className: 'map-label', interactive: false, pane: 'labels' });
      this.zoneLayer.addLayer(layer);
      const path = layer.getElement();
      for (const [k, v] of Object.entries({ 'data-testid': 'map-zone', 'data-zone': z.id, 'data-severity': 'none',
        'aria-pressed': 'false', role: 'button', tabindex: '0' })) path.setAttribute(k, v);
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      path.append(title);
      this.zones.set(z.id, { layer, path, title, label: layer.getTooltip() });
    }
    this.root.classList.toggle('is-empty', shapes.length === 0);
    this.root.dataset.empty = shapes.length ? '' : 'No zone has a geometry to draw';
    this.moved = false;
    this.fit();
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
      const tip = z.label && z.label.getElement();
      if (tip) tip.classList.toggle('is-selected', isSel);
      setAttr(z.path, 'aria-pressed', isSel ? 'true' : 'false');
      const what = c.open || c.acknowledged
        ? `${c.open} open, ${c.acknowledged} acknowledged; highest ${label(c.severity)}`
        : 'no active alerts';
      setAttr(z.path, 'aria-label', `${name}: ${what}. ${isSel ? 'Showing only this zone; select to show all zones' : 'Select to show only this zone'}`);
      if (z.title.textContent !== `${name} — ${what}`) z.title.textContent = `${name} — ${what}`;
    }
    // the selected outline is drawn on top
    if (selected && this.zones.has(selected)) this.zones.get(selected).layer.bringToFront();
    this._markers(markers);
  }

  _markers(list) {
    const L = window.L;
    const keep = new Set();
    for (const { alert, location, reportId } of list) {
      keep.add(alert.id);
      const severity = String(alert.severity || 'unknown');
      const state = String(alert.state || 'unknown');
      const key = `${reportId}|${severity}|${state}|${alert.title}|${alert.last_seen}|${location.lat},${location.lon},${location.precision_m}`;
      let m = this.markers.get(alert.id);
      if (m && m.key === key) continue;
      if (m) this._drop(m);
      const at = relativeTime(Date.parse(alert.last_seen));
      const prec = location.precision_m ? ` ±${Math.round(location.precision_m)} m` : '';
      const title = `${alert.title || alert.id} — ${label(severity)}, ${label(state).toLowerCase()}\n` +
        `Latest report ${reportId}, ${at}: ${location.lat.toFixed(3)}, ${location.lon.toFixed(3)}${prec}`;
      const size = severity === 'extreme' ? 14 : severity === 'severe' ? 12 : 10;
      const marker = L.marker([location.lat, location.lon], {
        icon: L.divIcon({ className: `map-marker sev-${severity} state-${state}`, iconSize: [size, size] }),
        title, alt: title, keyboard: true, severity,
        // z-order: the most important on top
        zIndexOffset: (state === 'open' ? 2000 : state === 'acknowledged' ? 1000 : 0) + severityRank(severity) * 100,
      });
      marker.on('add', () => {
        const node = marker.getElement();
        node.dataset.testid = 'map-marker';
        node.dataset.alertId = alert.id;
        node.dataset.reportId = reportId;
        node.dataset.severity = severity;
      });
      marker.on('click', () => {
        if (!this._pick) this.onAlert(alert.id);
      });
      let circle = null;
      if (location.precision_m > 0) {
        circle = L.circle([location.lat, location.lon], { radius: location.precision_m, pane: 'precision',
          interactive: false, className: `map-precision sev-${severity}` });
        circle.on('add', () => circle.getElement().setAttribute('data-testid', 'map-precision'));
        this.precision.addLayer(circle);
      }
      m = { marker, circle, key };
      this.markers.set(alert.id, m);
      this.clusters.addLayer(marker);
    }
    for (const [id, m] of this.markers) {
      if (!keep.has(id)) {
        this._drop(m);
        this.markers.delete(id);
      }
    }
  }

  /** Show a place (a report's location): centred, close enough to see the
   *  town around it, ringed by its precision. */
  focus({ lat, lon, precision_m: precision }) {
    const L = window.L;
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    this.moved = true;
    if (this.focused) this.focused.remove();
    this.focused = L.circleMarker([lat, lon], { pane: 'labels', radius: 9, interactive: false, className: 'map-focus' }).addTo(this.map);
    this.focused.getElement().setAttribute('data-testid', 'map-focus');
    const zoom = precision > 0 ? Math.min(15, Math.max(11, this.map.getBoundsZoom(L.latLng(lat, lon).toBounds(precision * 4)))) : 12;
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), zoom), { animate: false });
  }

  _drop(m) {
    this.clusters.removeLayer(m.marker);
    if (m.circle) this.precision.removeLayer(m.circle);
  }
}
