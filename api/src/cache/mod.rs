//! Redis, used as a cache and a pub/sub bus that may vanish at any time.
//!
//! Every operation has a short deadline and failures only log: the caller
//! falls back to PostgreSQL. After a failure Redis is left alone for a
//! moment (a small circuit breaker) so that a dead server does not add its
//! timeout to every request, then a fresh connection is tried: Redis coming
//! back is noticed within about a second.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const OP_TIMEOUT: Duration = Duration::from_millis(250);
const BACKOFF: Duration = Duration::from_secs(1);

pub struct Cache {
    client: Option<redis::Client>,
    /// Set instead of `client` for a Redis Cluster (`REDIS_CLUSTER_URLS`),
    /// with the nodes it was given.
    cluster: Option<(ClusterClient, Vec<String>)>,
    prefix: String,
    manager: tokio::sync::Mutex<Option<Connection>>,
    resting_until: Mutex<Option<Instant>>,
    pub stats: CacheStats,
}

/// What the cache did, for the figures: reads that found a value or not,
/// and operations that failed (each opens the breaker for [`BACKOFF`]).
#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
}

/// A connection to one Redis or to a cluster: the cache's commands are the
/// same, a cluster routes each by its key.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl Cache {
    pub fn new(url: &str, prefix: &str) -> Self {
        let client = redis::Client::open(url)
            .map_err(|error| tracing::warn!(%error, "REDIS_URL is invalid; running without a cache"))
            .ok();
        Self::with(client, None, prefix)
    }

    fn with(client: Option<redis::Client>, cluster: Option<(ClusterClient, Vec<String>)>, prefix: &str) -> Self {
        Self {
            client,
            cluster,
            prefix: prefix.to_owned(),
            manager: tokio::sync::Mutex::new(None),
            resting_until: Mutex::new(None),
            stats: CacheStats::default(),
        }
    }

    /// A cache on the Redis Cluster whose nodes (any of them) are `nodes`.
    pub fn on_cluster(nodes: &[String], prefix: &str) -> Self {
        let cluster = ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(OP_TIMEOUT * 2)
            .build()
            .map_err(|error| tracing::warn!(%error, "REDIS_CLUSTER_URLS is invalid; running without a cache"))
            .ok()
            .map(|client| (client, nodes.to_vec()));
        Self::with(None, cluster, prefix)
    }

    /// The Redis client, for connections of their own (pub/sub); `None`
    /// on a cluster.
    pub fn client(&self) -> Option<redis::Client> {
        self.client.clone()
    }

    /// Whether a Redis (one server or a cluster) is configured at all.
    pub fn configured(&self) -> bool {
        self.client.is_some() || self.cluster.is_some()
    }

    /// The nodes of the cluster, when Redis is one.
    pub fn cluster_nodes(&self) -> Option<&[String]> {
        self.cluster.as_ref().map(|(_, nodes)| nodes.as_slice())
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Whether Redis is being left alone after a failure (the breaker is open).
    pub fn breaker_open(&self) -> bool {
        let until = *self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn rest(&self, error: &dyn std::fmt::Display) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "redis unavailable; serving from PostgreSQL");
        *self.resting_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + BACKOFF);
    }

    async fn connection(&self) -> Option<Connection> {
        if self.resting() {
            return None;
        }
        let mut slot = self.manager.lock().await;
        if let Some(manager) = slot.as_ref() {
            return Some(manager.clone());
        }
        let connect = async {
            match (&self.cluster, &self.client) {
                (Some((cluster, _)), _) => cluster.get_async_connection().await.map(Connection::Cluster),
                (None, Some(client)) => ConnectionManager::new(client.clone()).await.map(Connection::Single),
                (None, None) => Err(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "no Redis",
                ))),
            }
        };
        if self.cluster.is_none() && self.client.is_none() {
            return None;
        }
        match tokio::time::timeout(OP_TIMEOUT * 2, connect).await {
            Ok(Ok(manager)) => {
                *slot = Some(manager.clone());
                Some(manager)
            }
            Ok(Err(error)) => {
                self.rest(&error);
                None
            }
            Err(_) => {
                self.rest(&"connect timed out");
                None
            }
        }
    }

    async fn run<T>(&self, op: impl AsyncFnOnce(Connection) -> redis::RedisResult<T>) -> Option<T> {
        let connection = self.connection().await?;
        let failure = match tokio::time::timeout(OP_TIMEOUT, op(connection)).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "operation timed out".to_owned(),
        };
        self.rest(&failure);
        // The manager's own reconnection gives up after a few retries and
        // then fails every call for good (seen after a 5 s outage): after a
        // failure the next call, once rested, starts a fresh connection.
        *self.manager.lock().await = None;
        None
    }

    pub async fn get(&self, key: &str) -> Option<String> {
        let key = self.key(key);
        let found = self
            .run(async move |mut c| c.get::<_, Option<String>>(key).await)
            .await
            .flatten();
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) {
        let (key, value) = (self.key(key), value.to_owned());
        let _ = self
            .run(async move |mut c| c.set_ex::<_, _, ()>(key, value, ttl.as_secs().max(1)).await)
            .await;
    }

    pub async fn delete(&self, key: &str) {
        let key = self.key(key);
        let _ = self.run(async move |mut c| c.del::<_, ()>(key).await).await;
    }

    /// Adds to the numbers of hash `key` in one step: `("s", field, n)` adds
    /// `n`, `("m", field, n)` keeps the larger; the hash then expires after
    /// `ttl`. False when Redis is unavailable (nothing was added).
    pub async fn add_to_hash(&self, key: &str, changes: &[(&str, String, f64)], ttl: Duration) -> bool {
        const ADD: &str = "local ttl = tonumber(ARGV[1]) \
            for i = 2, #ARGV, 3 do \
              local kind, field, value = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]) \
              if kind == 's' then redis.call('HINCRBYFLOAT', KEYS[1], field, value) \
              elseif value > tonumber(redis.call('HGET', KEYS[1], field) or '0') then \
                redis.call('HSET', KEYS[1], field, value) end \
            end \
            redis.call('EXPIRE', KEYS[1], ttl) return 1";
        let mut command = redis::cmd("EVAL");
        command.arg(ADD).arg(1).arg(self.key(key)).arg(ttl.as_secs().max(1));
        for (kind, field, value) in changes {
            command.arg(*kind).arg(field).arg(*value);
        }
        self.run(async move |mut c| command.query_async::<i64>(&mut c).await)
            .await
            .is_some()
    }

    /// Runs a Lua `script` over `keys` (named as for [`Cache::key`]) with
    /// `args`: its whole-number answer, or None when Redis is unavailable.
    /// A cluster needs the keys on one slot (a shared `{hash tag}`).
    pub async fn eval(&self, script: &str, keys: &[String], args: &[String]) -> Option<i64> {
        let mut command = redis::cmd("EVAL");
        command.arg(script).arg(keys.len());
        for key in keys {
            command.arg(self.key(key));
        }
        command.arg(args);
        self.run(async move |mut c| command.query_async::<i64>(&mut c).await)
            .await
    }

    /// The hashes at `keys` (empty for those that do not exist), in one round trip.
    pub async fn hashes(&self, keys: &[String]) -> Option<Vec<std::collections::HashMap<String, f64>>> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HGETALL").arg(self.key(key));
        }
        self.run(async move |mut c| {
            pipe.query_async::<Vec<std::collections::HashMap<String, f64>>>(&mut c)
                .await
        })
        .await
    }

    pub async fn publish(&self, channel: &str, message: &str) -> bool {
        let (channel, message) = (self.key(channel), message.to_owned());
        self.run(async move |mut c| c.publish::<_, _, ()>(channel, message).await)
            .await
            .is_some()
    }

    /// `SPUBLISH` on a cluster's shard channel: only the node owning the
    /// channel's slot and its subscribers carry it.
    pub async fn spublish(&self, channel: &str, message: &str) -> bool {
        let (channel, message) = (self.key(channel), message.to_owned());
        self.run(async move |mut c| {
            redis::cmd("SPUBLISH")
                .arg(channel)
                .arg(message)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .is_some()
    }

    /// Round trip time of a PING, for health checks.
    pub async fn ping(&self) -> Option<Duration> {
        let started = Instant::now();
        self.run(async move |mut c| redis::cmd("PING").query_async::<String>(&mut c).await)
            .await?;
        Some(started.elapsed())
    }
}
