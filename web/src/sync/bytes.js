// Runs of bytes joined into one: the readers build files to decode from
// pieces of others, and grow what they have read as more arrives.

/** `parts` one after another, in one new array. @param {Uint8Array[]} parts */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
