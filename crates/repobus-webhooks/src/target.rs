//! URL safety: which targets the relay may POST to.
//!
//! Only `http` and `https` URLs are accepted. Unless private targets are
//! allowed (per endpoint, or for the whole relay with
//! `--allow-private-targets`), an address that is loopback, link-local
//! (169.254.0.0/16, where cloud metadata services live; fe80::/10),
//! private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7),
//! unspecified, multicast, broadcast or documentation-only is refused —
//! IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
//! The check runs when an endpoint is created (for IP literals) and again
//! at delivery time on every address DNS returns ([`SafeResolver`]), so a
//! name that later resolves to 127.0.0.1 is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use url::{Host, Url};

/// Why a target URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// Why `ip` may not be a target, or `None` when it is a public address.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::target::forbidden_reason;
///
/// assert_eq!(forbidden_reason("127.0.0.1".parse().unwrap()), Some("loopback"));
/// assert_eq!(forbidden_reason("169.254.169.254".parse().unwrap()), Some("link-local (metadata services)"));
/// assert_eq!(forbidden_reason("::ffff:10.0.0.1".parse().unwrap()), Some("private"));
/// assert_eq!(forbidden_reason("93.184.215.14".parse().unwrap()), None);
/// ```
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_reason(v4),
            None => v6_reason(v6),
        },
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local (metadata services)")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() || a >= 240 {
        Some("multicast, broadcast or reserved")
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113)
    {
        Some("documentation-only")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking-only")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast, broadcast or reserved")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local (metadata services)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("documentation-only")
    } else if let Some(v4) = ip.to_ipv4() {
        // ::a.b.c.d (IPv4-compatible, deprecated) and NAT64 are judged as IPv4.
        v4_reason(v4)
    } else {
        None
    }
}

/// Parses and checks a target URL: `http` or `https`, a host, no user
/// or password, and — unless `allow_private` — no IP literal in a
/// forbidden range. Names are checked again after DNS at delivery time.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::target::check_url;
///
/// assert!(check_url("https://hooks.example.com/pulp", false).is_ok());
/// let refused = check_url("http://169.254.169.254/latest/meta-data", false).unwrap_err();
/// assert!(refused.to_string().contains("link-local"));
/// assert!(check_url("http://127.0.0.1:9000/", true).is_ok());
/// assert!(check_url("ftp://example.com/", false).is_err());
/// ```
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(text).map_err(|e| {
        TargetError(format!(
            "{:?} is not an absolute URL: {e}",
            crate::shorten(text)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError(format!(
            "scheme {:?} is not allowed: only http and https are",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError(
            "a URL must not carry a user or password (use a header instead)".into(),
        ));
    }
    let ip = match url.host() {
        None => return Err(TargetError("the URL has no host".into())),
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(Host::Domain(_)) => None,
    };
    if let (Some(ip), false) = (ip, allow_private) {
        if let Some(reason) = forbidden_reason(ip) {
            return Err(refused(ip, reason));
        }
    }
    Ok(url)
}

fn refused(ip: IpAddr, reason: &str) -> TargetError {
    TargetError(format!(
        "target address {ip} is {reason}: refused (allow it per endpoint with allow_private_target, or on the relay with --allow-private-targets)"
    ))
}

/// A DNS resolver for the HTTP client that drops every forbidden address
/// and fails when none is left, so that the check holds for the address
/// actually connected to (a name cannot be re-pointed at 127.0.0.1 or a
/// metadata service after the endpoint was created).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use repobus_webhooks::target::SafeResolver;
///
/// let refused = SafeResolver.lookup("localhost").await.unwrap_err();
/// assert!(refused.to_string().contains("loopback"));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeResolver;

impl SafeResolver {
    /// The allowed addresses of `host`, or why there are none.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, TargetError> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| TargetError(format!("cannot resolve {host}: {e}")))?
            .collect();
        let mut refusals = Vec::new();
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match forbidden_reason(a.ip()) {
                Some(reason) => {
                    refusals.push(refused(a.ip(), reason).0);
                    false
                }
                None => true,
            })
            .collect();
        if allowed.is_empty() {
            return Err(TargetError(if refusals.is_empty() {
                format!("{host} resolves to no address")
            } else {
                format!("{host}: {}", refusals.join("; "))
            }));
        }
        Ok(allowed)
    }
}

impl tower_service::Service<Name> for SafeResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = TargetError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, TargetError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TargetError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        Box::pin(async move { SafeResolver.lookup(&host).await.map(Vec::into_iter) })
    }
}
