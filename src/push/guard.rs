//! The webhook client's guard against server-side request forgery: an
//! alert may only reach public addresses unless its config says
//! `allow_private = true`.
//!
//! Checked where the address is known: names are resolved by
//! [`PublicOnly`], which drops every address that is not public and fails
//! when none is left, so the connection can only go to an address that
//! was checked (no second lookup an attacker's DNS could answer
//! differently); IP literals in the URL never reach a resolver, so
//! [`refusal`] checks them before the request. The client follows no
//! redirects and uses no proxy, so neither can lead it elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Whether `ip` is an address on the public internet: not loopback,
/// private (RFC 1918, unique local), link-local, shared (CGNAT),
/// unspecified, broadcast, multicast or reserved for documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT)
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7, unique local
        || (first & 0xfe00) == 0xfc00
        // fe80::/10, link-local
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32, documentation
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Why `url` may not be requested when private destinations are not
/// allowed: its host is an IP literal that is not public. Names are
/// checked when they resolve ([`PublicOnly`]).
pub fn refusal(url: &Url) -> Option<String> {
    let ip = match url.host()? {
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
        Host::Domain(_) => return None,
    };
    (!is_public(ip)).then(|| {
        format!("refused: {ip} is not a public address (set allow_private = true to allow it)")
    })
}

/// Whether `url` points into the operator's own network: a loopback,
/// private or link-local address, or `localhost`. Other names are known
/// only when they resolve ([`PublicOnly`]).
pub fn on_private_network(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => !is_public(ip.into()),
        Some(Host::Ipv6(ip)) => !is_public(ip.into()),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// A resolver that answers only with public addresses.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "refused: {host} resolves only to non-public addresses ({}); set allow_private = true to allow it",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_networks_are_recognised() {
        let private = |s: &str| on_private_network(&Url::parse(s).unwrap());
        assert!(private("http://127.0.0.1:8080/feed"));
        assert!(private("http://[::1]/feed"));
        assert!(private("http://10.0.0.7/feed"));
        assert!(private("http://localhost:3000/feed"));
        assert!(!private("https://example.com/feed"));
        assert!(!private("https://93.184.216.34/feed"));
    }

    #[test]
    fn private_loopback_and_link_local_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!public(ip), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(public(ip), "{ip}");
        }
    }

    #[test]
    fn ip_literals_are_refused_before_any_request() {
        let r = |u: &str| refusal(&Url::parse(u).unwrap());
        assert!(r("http://127.0.0.1:8080/hook").is_some());
        assert!(r("http://[::1]/hook").is_some());
        assert!(r("http://169.254.169.254/latest/meta-data").is_some());
        assert!(r("https://1.1.1.1/hook").is_none());
        // Names are checked when they resolve.
        assert!(r("http://localhost/hook").is_none());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        use reqwest::dns::Resolve;
        let err = match PublicOnly.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
