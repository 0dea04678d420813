// Pixels -> the graph's input, and logits -> probabilities: the JS twin of neurozoo/runtime.py.
//
// Images are converted to the model's channels (grayscale or RGB), resized to its input size
// with Pillow's bilinear filter (antialiased when shrinking) and scaled to [0, 1]; mean/std are
// inside the graph. Both steps copy Pillow's fixed-point arithmetic (Convert.c, Resample.c), so
// the page feeds the model exactly the pixels neurozoo.runtime feeds it.

export class InputError extends Error {}

const PRECISION_BITS = 22; // Resample.c: 32 - 8 bits of pixel - 2 bits of headroom

// RGBA bytes (a canvas' ImageData) -> one Uint8Array plane per model channel (1: grayscale, 3: RGB).
export function toChannels(rgba, width, height, channels) {
  const count = width * height;
  if (channels === 1) {
    const gray = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      // Pillow's ITU-R 601-2 luma: (19595 R + 38470 G + 7471 B + 0x8000) >> 16
      gray[i] = (rgba[4 * i] * 19595 + rgba[4 * i + 1] * 38470 + rgba[4 * i + 2] * 7471 + 0x8000) >>> 16;
    }
    return [gray];
  }
  if (channels === 3) {
    const planes = [new Uint8Array(count), new Uint8Array(count), new Uint8Array(count)];
    for (let i = 0; i < count; i++) for (let c = 0; c < 3; c++) planes[c][i] = rgba[4 * i + c];
    return planes;
  }
  throw new InputError(`this model takes ${channels}-channel input; the page can only feed grayscale or RGB images`);
}

// One plane resized like Pillow's Image.resize(size, BILINEAR): two passes, each rounded to uint8.
// Pillow 13 runs the vertical pass first when the height shrinks more than twice as much as the
// width (older releases always ran the horizontal pass first); the order moves some pixels by one
// grey level. tests/test_demo.py compares these pixels with the installed Pillow's.
export function resizePlane(plane, width, height, outWidth, outHeight) {
  const verticalFirst = height - outHeight > 0 && height - outHeight > (width - outWidth) * 2;
  let current = plane;
  let currentWidth = width;
  for (const horizontal of verticalFirst ? [false, true] : [true, false]) {
    if (horizontal && outWidth !== width) {
      current = resamplePass(current, currentWidth, current.length / currentWidth, outWidth, true);
      currentWidth = outWidth;
    }
    if (!horizontal && outHeight !== height) current = resamplePass(current, currentWidth, height, outHeight, false);
  }
  return current;
}

// RGBA pixels -> float32 NCHW (batch of one) in [0, 1] at the model's input size.
export function toInput(rgba, width, height, inputSize, allowResize) {
  const [channels, outHeight, outWidth] = inputSize;
  if ((width !== outWidth || height !== outHeight) && !allowResize) {
    throw new InputError(
      `image size ${height}x${width} (HxW) differs from the model's input size ${outHeight}x${outWidth} ` +
        "and resizing is off: resize the image first or turn resizing on",
    );
  }
  const planeSize = outHeight * outWidth;
  const input = new Float32Array(channels * planeSize);
  toChannels(rgba, width, height, channels).forEach((plane, c) => {
    const resized = resizePlane(plane, width, height, outWidth, outHeight);
    for (let i = 0; i < planeSize; i++) input[c * planeSize + i] = resized[i] / 255;
  });
  return input;
}

// Class probabilities (float64): softmax for multiclass models, a sigmoid per label for multilabel ones.
export function probabilities(logits, task) {
  const values = Float64Array.from(logits);
  if (task === "multilabel") return values.map((x) => 1 / (1 + Math.exp(-x)));
  const top = Math.max(...values);
  const exps = values.map((x) => Math.exp(x - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / total);
}

// Indices of the k largest probabilities, largest first; ties keep class order (numpy's stable argsort).
export function topK(probs, k) {
  return Array.from(probs.keys())
    .sort((a, b) => probs[b] - probs[a] || a - b)
    .slice(0, k);
}

// Resample.c's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1, widened when shrinking (antialiasing)
  const inverse = 1 / filterScale;
  const taps = [];
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const stop = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = [];
    for (let x = start; x < stop; x++) weights.push(Math.max(0, 1 - Math.abs((x - center + 0.5) * inverse)));
    const total = weights.reduce((a, b) => a + b, 0);
    const fixed = weights.map((w) => Math.trunc(0.5 + (total ? w / total : w) * 2 ** PRECISION_BITS));
    taps.push({ start, fixed });
  }
  return taps;
}

function resamplePass(plane, width, height, outSize, horizontal) {
  const taps = coefficients(horizontal ? width : height, outSize);
  const outWidth = horizontal ? outSize : width;
  const outHeight = horizontal ? height : outSize;
  const out = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { start, fixed } = taps[horizontal ? x : y];
      let sum = 2 ** (PRECISION_BITS - 1); // rounds to nearest
      for (let i = 0; i < fixed.length; i++) {
        sum += fixed[i] * (horizontal ? plane[y * width + start + i] : plane[(start + i) * width + x]);
      }
      out[y * outWidth + x] = Math.min(255, Math.max(0, Math.floor(sum / 2 ** PRECISION_BITS)));
    }
  }
  return out;
}
