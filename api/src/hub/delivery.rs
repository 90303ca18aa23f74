//! Sync quality as listeners feel it: how long a room event takes from the
//! commit of its change to its frame written to each client's socket, by
//! event type (every [`EventName`], so the figures' cardinality is fixed).
//! A frame carries the [`Stamp`] of the event it tells; the
//! connection's task records the time once the frame is flushed.

use super::message::{EventName, RoomEvent};
use crate::telemetry::histogram::{self, Histogram};
use std::collections::BTreeMap;

/// Which event a frame tells, and when its change was committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    kind: u8,
    committed_at_us: i64,
}

impl Stamp {
    /// The stamp of `event`; None for events that restate a room (catch-up)
    /// rather than tell a change.
    pub fn of(event: &RoomEvent) -> Option<Self> {
        (event.committed_at_us > 0).then(|| Self {
            kind: event.name.index() as u8,
            committed_at_us: event.committed_at_us,
        })
    }
}

/// Microseconds since the Unix epoch: the clock every replica shares.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Delivery times by event type.
pub struct DeliveryLatency {
    by_kind: Vec<Histogram>,
}

impl Default for DeliveryLatency {
    fn default() -> Self {
        Self {
            by_kind: EventName::ALL
                .iter()
                .map(|_| Histogram::new(&histogram::SECONDS))
                .collect(),
        }
    }
}

impl DeliveryLatency {
    /// Records the frames of `stamps` as written at `now_us`.
    pub fn written(&self, stamps: &[Stamp], now_us: i64) {
        for stamp in stamps {
            let seconds = (now_us - stamp.committed_at_us) as f64 / 1e6;
            self.by_kind[stamp.kind as usize].observe(seconds);
        }
    }

    /// The histogram of every type together, for the JSON figures.
    pub fn summary(&self) -> BTreeMap<&'static str, histogram::Summary> {
        EventName::ALL
            .iter()
            .zip(&self.by_kind)
            .filter(|(_, h)| h.count() > 0)
            .map(|(kind, h)| (kind.as_str(), h.summary()))
            .collect()
    }

    pub fn prometheus(&self, out: &mut String) {
        const NAME: &str = "spotik_api_event_delivery_seconds";
        histogram::header(
            out,
            NAME,
            "histogram",
            "From a room change's commit to its frame written to a client's socket, by event type.",
        );
        for (kind, h) in EventName::ALL.iter().zip(&self.by_kind) {
            h.write(out, NAME, &format!("event=\"{kind}\""));
        }
    }
}
