// WAV read in pieces: a RIFF header tells where the samples are and how
// they are laid out, so any stretch of them can be fetched by a byte range
// and turned into floats exactly, with no decoder and no seam between
// pieces. Pure: node's test runner feeds it headers good and bad.

/**
 * @typedef {{ channels: number, sampleRate: number, bits: number, float: boolean,
 *   blockAlign: number, dataStart: number, dataBytes: number, frames: number }} WavLayout
 */

const PCM = 1;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;

/**
 * Reads the layout from the file's first bytes (the header and the `data`
 * chunk's start must be among them); null when this is not a WAV this
 * reader plays (compressed WAV is left to the browser's decoder).
 * @param {Uint8Array} head
 * @param {number} fileSize the whole file's size in bytes
 * @returns {WavLayout | null}
 */
export function wavLayout(head, fileSize) {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const text = (/** @type {number} */ at) => String.fromCharCode(...head.subarray(at, at + 4));
  if (head.length < 12 || text(0) !== 'RIFF' || text(8) !== 'WAVE') return null;
  /** @type {Omit<WavLayout, 'dataStart' | 'dataBytes' | 'frames'> | null} */
  let format = null;
  let at = 12;
  while (at + 8 <= head.length) {
    const id = text(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ' && body + 16 <= head.length) {
      let tag = view.getUint16(body, true);
      if (tag === EXTENSIBLE && size >= 26 && body + 26 <= head.length) tag = view.getUint16(body + 24, true);
      const channels = view.getUint16(body + 2, true);
      const bits = view.getUint16(body + 14, true);
      const blockAlign = view.getUint16(body + 12, true);
      const float = tag === FLOAT;
      const usable =
        (tag === PCM && [8, 16, 24, 32].includes(bits)) || (float && bits === 32);
      if (!usable || channels < 1 || channels > 8 || blockAlign !== (channels * bits) / 8) return null;
      format = { channels, sampleRate: view.getUint32(body + 4, true), bits, float, blockAlign };
      if (format.sampleRate < 3000 || format.sampleRate > 384_000) return null;
    } else if (id === 'data') {
      if (!format) return null;
      // Streamed writers leave the size at 0 or 0xFFFFFFFF: up to the end.
      const declared = size === 0 || size === 0xffffffff ? Infinity : size;
      const dataBytes = Math.min(declared, fileSize - body);
      const frames = Math.floor(dataBytes / format.blockAlign);
      if (frames <= 0) return null;
      return { ...format, dataStart: body, dataBytes: frames * format.blockAlign, frames };
    }
    at = body + size + (size % 2);
  }
  return null;
}

/**
 * Whole frames of samples as one float array per channel, in [-1, 1].
 * @param {Uint8Array} bytes a whole number of frames
 * @param {WavLayout} layout
 * @returns {Float32Array<ArrayBuffer>[]}
 */
export function wavSamples(bytes, layout) {
  const { channels, bits, float, blockAlign } = layout;
  const frames = Math.floor(bytes.length / blockAlign);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const width = bits / 8;
  for (let frame = 0; frame < frames; frame += 1) {
    for (let channel = 0; channel < channels; channel += 1) {
      const at = frame * blockAlign + channel * width;
      let value;
      if (float) value = view.getFloat32(at, true);
      else if (bits === 8) value = (view.getUint8(at) - 128) / 128;
      else if (bits === 16) value = view.getInt16(at, true) / 32768;
      else if (bits === 24) value = ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
      else value = view.getInt32(at, true) / 2147483648;
      out[channel][frame] = value;
    }
  }
  return out;
}
