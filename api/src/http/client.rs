//! A plain HTTP/1.1 GET to the edges, which the API reaches inside the
//! network: their figures for the dashboard, and the warm-up of a track
//! about to be asked for. Bounded in time by the caller, in size here.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;

/// `GET url` with `headers`: the status and at most `most` bytes of body
/// (more is an error). Only `http://` URLs.
pub async fn get(url: &str, headers: &[(&str, &str)], most: usize) -> Result<(u16, Bytes), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are fetched".into());
    }
    let host = uri.host().ok_or("no host in the URL")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str())).header(
        hyper::header::HOST,
        uri.authority().map_or(host.as_str(), |a| a.as_str()),
    );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), most)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
