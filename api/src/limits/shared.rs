//! Sliding windows of reservations kept in Redis, so that every API replica
//! counts against one limit (the login limits: a client spreading guesses
//! over N replicas behind a load balancer got N times the limit).
//!
//! A window is a sorted set of reservation ids scored by the instant each
//! was made. A reservation takes a place in each of its windows or in none,
//! in one script; it can be given back by its id, and a window forgotten
//! whole. Entries older than the window fall out at the next reservation,
//! and a window's key expires a window after its newest entry, so Redis
//! holds at most the limit's worth of ids per key, and only for keys in
//! use. Windows of one kind share a hash tag (`{login}`), so that on a Redis
//! Cluster they sit on one slot and one script may touch several.
//!
//! Redis away (down, slow, the cache's breaker open): [`Verdict::Away`], and
//! the caller counts alone, in process, as before.

use crate::cache::Cache;
use std::time::Duration;

/// What Redis said of a reservation.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A place was taken in every window.
    Reserved,
    /// A window is full; its oldest entry leaves after `wait`.
    Full { wait: Duration },
    /// Redis could not be asked: nothing was counted there.
    Away,
}

/// ARGV: now (ms), span (ms), the reservation's id, then each key's limit.
/// Answers 0 when reserved, else the ms until the fullest window has room.
const RESERVE: &str = r#"
local now, span, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + span - now, 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, id)
  redis.call('PEXPIRE', key, span)
end
return 0
"#;

/// Reserves a place for `id` in each of `windows` (key, limit) spanning
/// `span`, atomically across them.
pub async fn reserve(cache: &Cache, windows: &[(String, u32)], span: Duration, id: &str) -> Verdict {
    let now = chrono::Utc::now().timestamp_millis();
    let keys: Vec<String> = windows.iter().map(|(key, _)| key.clone()).collect();
    let mut args = vec![now.to_string(), span.as_millis().to_string(), id.to_owned()];
    args.extend(windows.iter().map(|(_, limit)| limit.to_string()));
    match cache.eval(RESERVE, &keys, &args).await {
        None => Verdict::Away,
        Some(0) => Verdict::Reserved,
        Some(ms) => Verdict::Full {
            wait: Duration::from_millis(ms.max(1) as u64),
        },
    }
}

/// Gives `id`'s place in `window` back.
pub async fn take_back(cache: &Cache, window: &str, id: &str) {
    let _ = cache
        .eval(
            "return redis.call('ZREM', KEYS[1], ARGV[1])",
            &[window.to_owned()],
            &[id.to_owned()],
        )
        .await;
}

/// Forgets every reservation in `window`.
pub async fn forget(cache: &Cache, window: &str) {
    let _ = cache
        .eval("return redis.call('DEL', KEYS[1])", &[window.to_owned()], &[])
        .await;
}
