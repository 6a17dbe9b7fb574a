// build.mjs makes web/static/vendor/ from the packages package-lock.json
// pins: Leaflet and Leaflet.markercluster as published, with their
// licences, and outlines.json, the countries around the zones from Natural
// Earth (public domain, as world-atlas publishes it in TopoJSON), as
// GeoJSON with coordinates rounded to 0.001° (about 100 m).
//
//   npm ci --prefix web/vendor && node web/vendor/build.mjs
//
// The output is committed, so that `go run` needs no Node; CI runs this
// again and fails if anything differs.

import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feature } from 'topojson-client';

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, 'node_modules');
const out = join(here, '..', 'static', 'vendor');
mkdirSync(out, { recursive: true });

const copies = {
  'leaflet/dist/leaflet.js': 'leaflet.js',
  'leaflet/dist/leaflet.css': 'leaflet.css',
  'leaflet/LICENSE': 'leaflet.LICENSE.txt',
  'leaflet.markercluster/dist/leaflet.markercluster.js': 'leaflet.markercluster.js',
  'leaflet.markercluster/dist/MarkerCluster.css': 'MarkerCluster.css',
  'leaflet.markercluster/MIT-LICENCE.txt': 'leaflet.markercluster.LICENSE.txt',
};
for (const [from, to] of Object.entries(copies)) {
  copyFileSync(join(modules, from), join(out, to));
  chmodSync(join(out, to), 0o644);
}

// The region the demo's and most missions' zones lie in, with the
// neighbours that give it its shape on the map.
const BOX = { west: 32.0, south: 29.0, east: 44.5, north: 38.8 };
// By ISO 3166-1 numeric code. The zones' countries are drawn in detail
// (1:10m) and marked "focus"; their neighbours coarser (1:50m).
const COUNTRIES = new Map([[760, 'Syria'], [422, 'Lebanon'], [792, 'Türkiye'], [368, 'Iraq'], [400, 'Jordan'],
  [376, 'Israel'], [275, 'Palestine'], [196, 'Cyprus'], [818, 'Egypt'], [682, 'Saudi Arabia']]);
const DETAILED = [760, 422];

const round = (v) => Math.round(v * 1000) / 1000;
const inBox = (ring) => ring.some(([x, y]) => x >= BOX.west && x <= BOX.east && y >= BOX.south && y <= BOX.north);

function outlines(file, ids) {
  const topo = JSON.parse(readFileSync(join(modules, 'world-atlas', file), 'utf8'));
  const fc = feature(topo, topo.objects.countries);
  const features = [];
  for (const f of fc.features) {
    if (!ids.includes(Number(f.id))) continue;
    const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    const kept = [];
    for (const poly of polys) {
      if (!inBox(poly[0])) continue;
      kept.push(poly.map((ring) => {
        const r = [];
        for (const [x, y] of ring) {
          const p = [round(x), round(y)];
          const last = r[r.length - 1];
          if (!last || last[0] !== p[0] || last[1] !== p[1]) r.push(p);
        }
        return r;
      }).filter((ring) => ring.length >= 4));
    }
    if (!kept.length) continue;
    const id = Number(f.id);
    features.push({ type: 'Feature', id: String(f.id), properties: { name: COUNTRIES.get(id), focus: DETAILED.includes(id) },
      geometry: { type: 'MultiPolygon', coordinates: kept } });
  }
  return features;
}

const ids = [...COUNTRIES.keys()];
const collection = {
  type: 'FeatureCollection',
  attribution: 'Made with Natural Earth (public domain), through world-atlas 2.0.2',
  features: [...outlines('countries-10m.json', DETAILED), ...outlines('countries-50m.json', ids.filter((id) => !DETAILED.includes(id)))]
    .sort((a, b) => ids.indexOf(Number(a.id)) - ids.indexOf(Number(b.id))),
};
writeFileSync(join(out, 'outlines.json'), JSON.stringify(collection) + '\n');
console.log(`web/static/vendor: ${Object.keys(copies).length} files copied, outlines.json with ${collection.features.length} countries`);
