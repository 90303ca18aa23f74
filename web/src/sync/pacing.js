// How often the page measures the server's clock. Often while its model is
// new: a page must be in step within seconds of opening (a late joiner is
// heard within one), and each early burst narrows what the first got wrong
// on a jittery link. Rarely once it has settled: crystals drift by tens of
// ppm, a few microseconds a burst apart. Pure, so that the filter's
// simulated networks (web/tests/unit/network.mjs) run the same schedule.

/**
 * The first burst's next exchange waits for the last one's answer at most
 * this long (ms): one after another on a fast link, overlapping on a slow
 * one, so that the first model comes after about one round trip rather
 * than one per exchange — a late joiner's wait to be heard. Later bursts
 * go one at a time: TCP keeps order, so an exchange sent behind another
 * waits for it, and a burst is worth its fastest ways up and down.
 */
export const OVERLAP_MS = 25;

/**
 * How long a burst's next exchange may wait for the last one's answer (ms).
 * @param {boolean} modelled whether a burst has been fitted already
 */
export function overlapAfter(modelled) {
  return modelled ? Infinity : OVERLAP_MS;
}

/**
 * Exchanges in a burst. Until the page has a model the burst is short, so
 * that one exists within a round trip or two.
 * @param {boolean} modelled whether a burst has been fitted already
 */
export function burstSize(modelled) {
  return modelled ? 8 : 4;
}

/**
 * The least time (ms) from one burst's start to the next's, `sinceOpen` ms
 * after the page began measuring: every 0.5 s for the first 5 s (on a slow
 * link a burst takes longer, and the next follows at once), every 2 s to
 * 20 s, then every 10 s.
 * @param {number} sinceOpen
 */
export function burstEvery(sinceOpen) {
  if (sinceOpen < 5_000) return 500;
  if (sinceOpen < 20_000) return 2_000;
  return 10_000;
}
