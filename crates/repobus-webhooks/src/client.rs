//! The relay's HTTP client: hyper with rustls on ring, the system's root
//! certificates, no redirects (a redirect could lead past the address
//! check), and — for endpoints that do not allow private targets — the
//! [`SafeResolver`] between DNS and the connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::target::SafeResolver;

/// An answer: status, headers and the first `limit` bytes of the body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub(crate) enum HttpClient {
    Safe(Client<HttpsConnector<HttpConnector<SafeResolver>>, Full<Bytes>>),
    Open(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

fn tls() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "reading the system's root certificates");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system root certificate found: https targets will fail to verify");
    }
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // ring supports the default versions; this does not happen.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    }
}

impl HttpClient {
    pub(crate) fn new(safe: bool) -> HttpClient {
        let builder = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .clone();
        if safe {
            let mut http = HttpConnector::new_with_resolver(SafeResolver);
            http.enforce_http(false);
            http.set_connect_timeout(Some(Duration::from_secs(10)));
            http.set_nodelay(true);
            HttpClient::Safe(builder.build(https(http)))
        } else {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(Some(Duration::from_secs(10)));
            http.set_nodelay(true);
            HttpClient::Open(builder.build(https(http)))
        }
    }

    /// POSTs `body` with `headers` to `uri` and reads at most `limit`
    /// bytes of the answer.
    pub(crate) async fn post(
        &self,
        uri: &http::Uri,
        headers: http::HeaderMap,
        body: Vec<u8>,
        limit: usize,
    ) -> Result<Answer, String> {
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers;
        let response = match self {
            HttpClient::Safe(c) => c.request(request).await,
            HttpClient::Open(c) => c.request(request).await,
        }
        .map_err(|e| describe(&e))?;
        let (parts, mut incoming) = response.into_parts();
        let mut body = Vec::new();
        while body.len() < limit {
            match incoming.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        body.extend_from_slice(&data);
                    }
                }
                _ => break,
            }
        }
        body.truncate(limit);
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

fn https<H>(http: H) -> HttpsConnector<H> {
    HttpsConnectorBuilder::new()
        .with_tls_config(tls())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// The error with its causes (the client's own message is terse).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
