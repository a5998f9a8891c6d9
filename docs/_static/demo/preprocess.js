// mnistlite.preprocess.load_digit in JavaScript: a picture of a handwritten digit (RGBA
// pixels, as canvas getImageData gives them) becomes the normalized 28x28 input of the
// model, step by step as the Python function does it (and with Pillow's resampling).
"use strict";

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;
const DIGIT_BOX = 20;
const CENTER_OF_MASS = [14.0, 14.0];
const MIN_CONTRAST = 0.2;
const NOISE_FLOOR = 0.25;
const LARGEST = 1024;

class DigitImageError extends Error {}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// RGBA bytes -> grey in [0, 1]: transparent parts become white paper (alpha_composite),
// then Pillow's convert("L"): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
function toGrey(rgba, width, height) {
  const grey = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const a = rgba[4 * i + 3];
    let [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    if (a < 255) {
      const paper = 255 * (255 - a);
      r = Math.round((r * a + paper) / 255);
      g = Math.round((g * a + paper) / 255);
      b = Math.round((b * a + paper) / 255);
    }
    grey[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
  }
  return { data: grey, width, height };
}

function sinc(x) {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const FILTERS = {
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
};

// Pillow's precompute_coeffs: for each output pixel, the first input pixel and weights.
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const weights = new Float64Array(Math.max(xmax, 0));
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      weights[x] = filter.f((x + xmin - center + 0.5) / filterscale);
      total += weights[x];
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weights[x] /= total;
    out.push({ xmin, weights });
  }
  return out;
}

// Pillow's resize of a float ("F") image: horizontal pass, then vertical, float32 storage.
function resize(image, width, height, filterName) {
  const filter = FILTERS[filterName];
  let { data, width: w, height: h } = image;
  if (w === width && h === height) return { data: Float64Array.from(data), width, height };
  data = Float32Array.from(data);
  if (w !== width) {
    const cs = coefficients(w, width, filter);
    const next = new Float32Array(width * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < width; x++) {
        const { xmin, weights } = cs[x];
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += data[y * w + xmin + k] * weights[k];
        next[y * width + x] = s;
      }
    [data, w] = [next, width];
  }
  if (h !== height) {
    const cs = coefficients(h, height, filter);
    const next = new Float32Array(w * height);
    for (let y = 0; y < height; y++) {
      const { xmin, weights } = cs[y];
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += data[(xmin + k) * w + x] * weights[k];
        next[y * w + x] = s;
      }
    }
    [data, h] = [next, height];
  }
  return { data: Float64Array.from(data), width: w, height: h };
}

// _shrink: box-downscale a big photo so its larger side is at most 1024 pixels.
function shrink(grey) {
  const { width: w, height: h } = grey;
  if (Math.max(w, h) <= LARGEST) return grey;
  const factor = LARGEST / Math.max(w, h);
  const size = [Math.max(2, roundHalfEven(w * factor)), Math.max(2, roundHalfEven(h * factor))];
  return resize(grey, size[0], size[1], "box");
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// _ink: paper from the border's median, ink in [0, 1], faint noise dropped.
function toInk(grey) {
  const { data, width: w, height: h } = grey;
  if (Math.min(w, h) < 2) throw new DigitImageError(`a picture of ${w}x${h} pixels`);
  const edge = Math.max(1, roundHalfEven(0.05 * Math.min(w, h)));
  const border = [];
  for (let y = 0; y < edge; y++) for (let x = 0; x < w; x++) border.push(data[y * w + x]);
  for (let y = h - edge; y < h; y++) for (let x = 0; x < w; x++) border.push(data[y * w + x]);
  for (let y = 0; y < h; y++) for (let x = 0; x < edge; x++) border.push(data[y * w + x]);
  for (let y = 0; y < h; y++) for (let x = w - edge; x < w; x++) border.push(data[y * w + x]);
  const paper = median(border);
  const ink = data.map((v) => (paper > 0.5 ? paper - v : v - paper));
  let strongest = -Infinity;
  for (let y = 0; y + 1 < h; y++)
    for (let x = 0; x + 1 < w; x++) {
      const i = y * w + x;
      strongest = Math.max(strongest, (ink[i] + ink[i + w] + ink[i + 1] + ink[i + w + 1]) / 4);
    }
  if (strongest < MIN_CONTRAST)
    throw new DigitImageError("no digit found (blank picture: no ink darker/lighter than the paper)");
  for (let i = 0; i < ink.length; i++) {
    const v = Math.min(1, Math.max(0, ink[i] / strongest));
    ink[i] = v < NOISE_FLOOR ? 0 : v;
  }
  return { data: ink, width: w, height: h };
}

// _bounding_box: rows and columns of the ink, ignoring specks with < 2 ink neighbours.
function boundingBox(ink) {
  const { data, width: w, height: h } = ink;
  const mask = (x, y) => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] >= 0.5;
  let box = null;
  for (const needed of [2, 0]) {
    let [top, bottom, left, right] = [h, -1, w, -1];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        if (!mask(x, y)) continue;
        let n = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) if ((dx || dy) && mask(x + dx, y + dy)) n++;
        if (n < needed) continue;
        [top, bottom] = [Math.min(top, y), Math.max(bottom, y)];
        [left, right] = [Math.min(left, x), Math.max(right, x)];
      }
    if (bottom >= 0) {
      box = [top, bottom + 1, left, right + 1];
      break;
    }
  }
  if (box === null) throw new DigitImageError("no digit found (no ink)");
  return box;
}

// _fit_box: scale the crop so its larger side is 20 pixels (Lanczos), peak 1.
function fitBox(crop) {
  const { width: w, height: h } = crop;
  const scale = DIGIT_BOX / Math.max(w, h);
  const size = [Math.max(1, roundHalfEven(w * scale)), Math.max(1, roundHalfEven(h * scale))];
  const resized = resize(crop, size[0], size[1], "lanczos");
  let peak = 0;
  for (let i = 0; i < resized.data.length; i++) {
    resized.data[i] = Math.max(0, resized.data[i]);
    peak = Math.max(peak, resized.data[i]);
  }
  if (peak > 0) for (let i = 0; i < resized.data.length; i++) resized.data[i] /= peak;
  return resized;
}

// _place: into a 28x28 field, centre of mass at CENTER_OF_MASS.
function place(digit) {
  const { data, width: w, height: h } = digit;
  let [mass, rowMoment, colMoment] = [0, 0, 0];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x];
      mass += v;
      rowMoment += v * y;
      colMoment += v * x;
    }
  const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
  const top = clip(roundHalfEven(CENTER_OF_MASS[0] - rowMoment / mass), 28 - h);
  const left = clip(roundHalfEven(CENTER_OF_MASS[1] - colMoment / mass), 28 - w);
  const field = new Float64Array(28 * 28);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) field[(top + y) * 28 + left + x] = data[y * w + x];
  return field;
}

// The whole of load_digit: RGBA pixels -> {input: Float32Array(784) normalized, field: 0-1}.
function loadDigit(rgba, width, height) {
  const ink = toInk(shrink(toGrey(rgba, width, height)));
  const [top, bottom, left, right] = boundingBox(ink);
  const crop = { data: new Float64Array((bottom - top) * (right - left)), width: right - left, height: bottom - top };
  for (let y = top; y < bottom; y++)
    for (let x = left; x < right; x++) crop.data[(y - top) * crop.width + x - left] = ink.data[y * ink.width + x];
  const field = place(fitBox(crop));
  const input = Float32Array.from(field, (v) => (Math.fround(v) - MNIST_MEAN) / MNIST_STD);
  return { input, field };
}

globalThis.mnistlitePreprocess = { loadDigit, DigitImageError };
