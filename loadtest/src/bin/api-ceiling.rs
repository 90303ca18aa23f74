//! The ceiling of a queue read: the least an HTTP server can do to answer
//! `GET /api/rooms/{id}/tracks` as spotik-api does from its cache — verify
//! the bearer token with the API's own JWT check, then one Redis `GET` of
//! the cached queue, returned as it is. No database, no membership, no
//! per-user view. What it reaches on a core is the practical limit of a
//! queue read on this machine.
//!
//! `api-ceiling ADDR REDIS_URL KEY JWT_SECRET`

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use redis::aio::ConnectionManager;
use std::convert::Infallible;
use std::sync::Arc;

struct Ceiling {
    redis: ConnectionManager,
    key: String,
    secret: String,
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

async fn answer(ceiling: Arc<Ceiling>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let valid = token.is_some_and(|t| spotik_api::auth::jwt::verify(&ceiling.secret, t, now, false).is_ok());
    if !valid {
        return status(StatusCode::UNAUTHORIZED);
    }
    let mut redis = ceiling.redis.clone();
    let cached: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&ceiling.key)
        .query_async(&mut redis)
        .await
        .unwrap_or(None);
    let Some(body) = cached else {
        return status(StatusCode::NOT_FOUND);
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, redis_url, key, secret] =
        <[String; 4]>::try_from(args).expect("usage: api-ceiling ADDR REDIS_URL KEY JWT_SECRET");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = redis::Client::open(redis_url).expect("REDIS_URL");
        let redis = ConnectionManager::new(client).await.expect("Redis");
        let ceiling = Arc::new(Ceiling { redis, key, secret });
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let ceiling = Arc::clone(&ceiling);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let ceiling = Arc::clone(&ceiling);
                    async move { Ok::<_, Infallible>(answer(ceiling, request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
