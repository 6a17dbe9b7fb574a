// A rough outline of Syria, as context for the zone map: [longitude,
// latitude] in degrees (WGS 84), clockwise from the Turkish border on the
// coast. Drawn for this board from general knowledge of the country's shape
// and public-domain facts about its borders; simplified to ~60 points, good
// to a few kilometres at best. It is a backdrop, not a statement about any
// border. Dedicated to the public domain (CC0).

export const SYRIA_NAME = 'Syria';

export const SYRIA_OUTLINE = [
  // north-west: the border with Turkey around Hatay
  [35.92, 35.92], [36.02, 35.96], [36.16, 35.99], [36.28, 36.08], [36.38, 36.17],
  [36.50, 36.22], [36.66, 36.23], [36.66, 36.40], [36.58, 36.56], [36.62, 36.70],
  [36.70, 36.83],
  // north: the border with Turkey along the railway, Afrin to the Tigris
  [36.92, 36.76], [37.10, 36.66], [37.45, 36.64], [37.80, 36.74], [38.05, 36.84],
  [38.45, 36.86], [38.95, 36.70], [39.40, 36.70], [39.80, 36.75], [40.10, 36.86],
  [40.60, 37.00], [41.20, 37.07], [41.60, 37.10], [42.05, 37.20], [42.28, 37.30],
  [42.36, 37.11],
  // east: the border with Iraq, down to the Euphrates at Al-Bukamal
  [42.08, 36.82], [41.84, 36.60], [41.40, 36.30], [41.28, 36.00], [41.24, 35.55],
  [41.18, 35.10], [41.05, 34.75], [40.98, 34.42],
  // south-east: the straight border to the Iraq-Jordan tripoint
  [40.20, 34.00], [39.50, 33.70], [38.79, 33.37],
  // south: the border with Jordan, to the Yarmouk
  [38.10, 33.00], [37.50, 32.68], [36.84, 32.31], [36.62, 32.34], [36.40, 32.38],
  [36.20, 32.46], [36.05, 32.52], [35.90, 32.66], [35.78, 32.73], [35.63, 32.68],
  // south-west: the Golan and Mount Hermon
  [35.65, 32.85], [35.62, 33.05], [35.66, 33.25], [35.82, 33.37],
  // west: the border with Lebanon along the Anti-Lebanon, then the Nahr al-Kabir
  [35.95, 33.55], [36.05, 33.70], [36.10, 33.83], [36.27, 33.95], [36.40, 34.15],
  [36.46, 34.40], [36.60, 34.63], [36.45, 34.64], [36.28, 34.63], [36.00, 34.64],
  [35.97, 34.64],
  // the coast: Tartus, Baniyas, Jableh, Latakia
  [35.88, 34.90], [35.93, 35.18], [35.92, 35.37], [35.78, 35.52], [35.74, 35.60],
  [35.80, 35.80], [35.92, 35.92],
];

// A few towns for orientation, drawn faintly when they do not collide with
// a zone label.
export const SYRIA_TOWNS = [
  { name: 'Damascus', lon: 36.29, lat: 33.51 },
  { name: 'Homs', lon: 36.72, lat: 34.73 },
  { name: 'Raqqa', lon: 39.01, lat: 35.95 },
  { name: 'Deir ez-Zor', lon: 40.14, lat: 35.33 },
  { name: 'Palmyra', lon: 38.27, lat: 34.56 },
  { name: 'Hasakah', lon: 40.75, lat: 36.50 },
];
