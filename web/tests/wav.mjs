// A WAV file as a writer would make it (its samples zero, for the caller
// to write through `view` from `dataStart` on): the unit tests' layouts,
// the Chromium run's tones and the sync benchmark's noise.

/** A WAV header (and data) as a writer would make it. */
export function wav({ tag = 1, channels = 2, rate = 44_100, bits = 16, frames = 10, extraChunk = false, extensible = false } = {}) {
  const blockAlign = (channels * bits) / 8;
  const dataBytes = frames * blockAlign;
  const fmtSize = extensible ? 40 : 16;
  const extra = extraChunk ? 8 + 6 : 0;
  const out = new Uint8Array(12 + 8 + fmtSize + extra + 8 + dataBytes);
  const view = new DataView(out.buffer);
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, fmtSize, true);
  view.setUint16(20, extensible ? 0xfffe : tag, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  if (extensible) view.setUint16(20 + 24, tag, true);
  let at = 20 + fmtSize;
  if (extraChunk) {
    text(at, 'LIST');
    view.setUint32(at + 4, 6, true);
    at += 14;
  }
  text(at, 'data');
  view.setUint32(at + 4, dataBytes, true);
  return { bytes: out, dataStart: at + 8, view };
}
