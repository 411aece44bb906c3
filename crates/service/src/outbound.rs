//! Requests the server makes to URLs users give it (Web Push endpoints,
//! applications' interactions endpoints): a server-side request forgery risk, so
//! every one passes one rule here. A URL must be https, and every address
//! its host resolves to must be public: not loopback, private (RFC 1918,
//! fc00::/7), link-local, unspecified, shared (CGNAT, 100.64/10),
//! multicast, broadcast or reserved. The operator may list hosts in
//! `outbound_allow`; those may resolve anywhere and be plain http.
//!
//! The rule holds twice: when a URL is accepted ([`Outbound::check_url`])
//! and when a request connects ([`Outbound::client`] resolves through the
//! same rule), so a name that resolves to a public address when checked
//! and to a private one later (DNS rebinding) is refused at connect time.
//! The client follows no redirects and uses no proxy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::{FormErrors, ServiceError};

/// How long an outbound request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest URL accepted.
pub const URL_MAX: usize = 2048;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a well formed URL")]
    Malformed,
    #[error("the URL must use https")]
    NotHttps,
    #[error("the URL must not carry credentials")]
    Credentials,
    #[error("the host does not resolve")]
    Unresolved,
    #[error("the host resolves to a {0} address, which the server does not call")]
    Forbidden(&'static str),
}

impl Refusal {
    /// The 50035 error of a refused URL in the body's field `path`.
    pub fn at(self, path: &str) -> ServiceError {
        ServiceError::InvalidForm(FormErrors::single(
            path,
            "URL_TYPE_INVALID_URL",
            self.to_string(),
        ))
    }
}

/// A URL that passed the rule, with the addresses its host had then.
#[derive(Debug, Clone)]
pub struct ResolvedTarget {
    pub url: Url,
    pub addrs: Vec<SocketAddr>,
    /// Whether its host is in `outbound_allow`.
    pub allowed: bool,
}

/// What kind of address `ip` is if the server must not call it; `None`
/// for a public address.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        () if ip.is_unspecified() || a == 0 => "unspecified",
        () if ip.is_loopback() => "loopback",
        () if ip.is_private() => "private",
        () if ip.is_link_local() => "link-local",
        () if a == 100 && (64..128).contains(&b) => "shared (CGNAT)",
        () if ip.is_broadcast() => "broadcast",
        () if ip.is_multicast() => "multicast",
        // 240.0.0.0/4, reserved for future use.
        () if a >= 240 => "reserved",
        () => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address inside (mapped, or NAT64's 64:ff9b::/96) is judged as one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return forbidden_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    let first = segments[0];
    Some(match () {
        () if ip.is_unspecified() => "unspecified",
        () if ip.is_loopback() => "loopback",
        () if first & 0xfe00 == 0xfc00 => "private",
        () if first & 0xffc0 == 0xfe80 => "link-local",
        // fec0::/10, the deprecated site-local range.
        () if first & 0xffc0 == 0xfec0 => "private",
        () if ip.is_multicast() => "multicast",
        () => return None,
    })
}

/// The rule, with the hosts it lets through.
#[derive(Debug, Clone, Default)]
struct Rule {
    allow: Arc<[String]>,
}

impl Rule {
    fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allow.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// The addresses `host` resolves to, all of them callable.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|_| Refusal::Unresolved)?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Refusal::Unresolved);
        }
        if !self.allows_host(host) {
            // Every address must pass: a client may connect to any of them.
            if let Some(kind) = addrs.iter().find_map(|a| forbidden_kind(a.ip())) {
                return Err(Refusal::Forbidden(kind));
            }
        }
        Ok(addrs)
    }
}

/// Resolves names for the outbound client through the rule, so each
/// connection is checked when it is made.
struct GuardedResolver(Rule);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rule = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = rule.resolve(&host, 0).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The outbound guard and the HTTP client that honours it.
#[derive(Clone)]
pub struct Outbound {
    rule: Rule,
    client: reqwest::Client,
}

impl Outbound {
    /// The guard letting `allow` (hosts, as `outbound_allow` lists them) through.
    pub fn new(allow: &[String]) -> Result<Outbound, ServiceError> {
        let rule = Rule {
            allow: allow.iter().map(|h| h.to_ascii_lowercase()).collect(),
        };
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(rule.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("Concord/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError::Internal(format!("outbound client: {e}")))?;
        Ok(Outbound { rule, client })
    }

    /// Whether `text` is a URL the server may call now: https (or a listed
    /// host), no credentials, and a host resolving only to public
    /// addresses (or listed).
    pub async fn check_url(&self, text: &str) -> Result<ResolvedTarget, Refusal> {
        if text.len() > URL_MAX {
            return Err(Refusal::Malformed);
        }
        let url = Url::parse(text).map_err(|_| Refusal::Malformed)?;
        let host = url.host_str().ok_or(Refusal::Malformed)?.to_owned();
        let allowed = self.rule.allows_host(&host);
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            "http" => return Err(Refusal::NotHttps),
            _ => return Err(Refusal::Malformed),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let port = url.port_or_known_default().ok_or(Refusal::Malformed)?;
        let addrs = self.rule.resolve(&host, port).await?;
        Ok(ResolvedTarget {
            url,
            addrs,
            allowed,
        })
    }

    /// The client for requests to checked URLs: it resolves through the
    /// same rule when it connects, follows no redirect and uses no proxy.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        forbidden_kind(ip.parse().unwrap())
    }

    #[test]
    fn every_address_class_is_judged() {
        let cases = [
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("100.127.255.255", Some("shared (CGNAT)")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fc00::1", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("private")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            // Public ones, including the neighbours of the ranges above.
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.167.1.1", None),
            ("223.255.255.255", None),
            ("2001:4860:4860::8888", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    fn guard(allow: &[&str]) -> Outbound {
        let allow: Vec<String> = allow.iter().map(|h| h.to_string()).collect();
        Outbound::new(&allow).unwrap()
    }

    #[tokio::test]
    async fn urls_are_refused_by_scheme_and_destination() {
        let open = guard(&[]);
        let refused = |url: &'static str| {
            let open = open.clone();
            async move { open.check_url(url).await.unwrap_err() }
        };
        assert_eq!(refused("http://1.1.1.1/").await, Refusal::NotHttps);
        assert_eq!(refused("ftp://1.1.1.1/").await, Refusal::Malformed);
        assert_eq!(refused("not a url").await, Refusal::Malformed);
        assert_eq!(refused("https://u:p@1.1.1.1/").await, Refusal::Credentials);
        assert_eq!(
            refused("https://127.0.0.1/push").await,
            Refusal::Forbidden("loopback")
        );
        assert_eq!(
            refused("https://[::1]:8443/").await,
            Refusal::Forbidden("loopback")
        );
        assert_eq!(
            refused("https://10.0.0.8/").await,
            Refusal::Forbidden("private")
        );
        assert_eq!(
            refused("https://169.254.169.254/latest").await,
            Refusal::Forbidden("link-local")
        );
        // A name is judged by what it resolves to.
        assert_eq!(
            refused("https://localhost/").await,
            Refusal::Forbidden("loopback")
        );
        let ok = open.check_url("https://1.1.1.1/x").await.unwrap();
        assert!(!ok.allowed);
        assert_eq!(ok.addrs, ["1.1.1.1:443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn listed_hosts_pass_also_over_http() {
        let listed = guard(&["127.0.0.1", "::1", "LocalHost"]);
        let ok = listed.check_url("http://127.0.0.1:9/p").await.unwrap();
        assert!(ok.allowed);
        assert!(listed.check_url("https://[::1]/").await.is_ok());
        assert!(listed.check_url("http://localhost:1/").await.is_ok());
        assert_eq!(
            listed.check_url("http://10.0.0.1/").await.unwrap_err(),
            Refusal::NotHttps
        );
        assert_eq!(
            listed.check_url("https://127.0.0.2/").await.unwrap_err(),
            Refusal::Forbidden("loopback")
        );
    }

    /// The client resolves through the rule: a name that resolves to a
    /// private address is refused when the request connects.
    #[tokio::test]
    async fn the_client_refuses_at_connect_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = guard(&[]);
        let url = format!("http://localhost:{port}/");
        let err = open.client().get(&url).send().await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        let listed = guard(&["localhost"]);
        let answered = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await.unwrap();
            let reply = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
            socket.write_all(reply).await.unwrap();
        });
        let response = listed.client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 204);
        answered.await.unwrap();
    }
}
