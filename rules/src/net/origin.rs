//! The grammar of network grants, `scheme://host[:port]`, and whether a
//! request's destination matches one.
//!
//! | written | means |
//! |---|---|
//! | `https://api.example.com` | that host, https, port 443 |
//! | `http://api.example.com:8080` | that host, http, port 8080 only |
//! | `https://*.example.com` | every subdomain of example.com, at any depth — not `example.com` itself |
//! | `http://127.0.0.1:8080`, `https://[2001:db8::1]` | that address, written as an IP literal |
//! | `https://10.0.0.0/8`, `https://[fd00::]/8:8443` | every address of that block |
//!
//! The scheme is `http` or `https`; the port defaults to the scheme's (80,
//! 443) and is always compared. Host names are compared after normalising
//! case, a trailing dot and IDNA: `Bücher.Example.` is `xn--bcher-kva.example`.
//! Anything else — a path, a user, `*` alone, a partial wildcard, a bad
//! port, an IPv4 address written any way but four decimal numbers — is an
//! error that says what to write instead.
//!
//! This module is pure: no DNS, no sockets.

use super::addr::{IpBlock, refuse_unspecified};
use super::destination::{Destination, Host};
use super::sensitive::{MinPrefix, Sensitive, sensitivities};
use super::syntax::{Scheme, normalize_name, parse_ip_literal, parse_port, split_port};
use std::fmt;
use std::net::IpAddr;

/// The host part of a grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Exactly this name.
    Name(String),
    /// `*.suffix`: every name that ends in `.suffix`.
    Subdomains(String),
    /// Every address of this block (a single address is a block too).
    Block(IpBlock),
}

/// One validated network grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// Which hosts.
    pub host: HostPattern,
    /// The port, the scheme's default when none was written.
    pub port: u16,
}

const HINT: &str = "write scheme://host[:port], like \"https://hooks.slack.com\"";

impl Origin {
    /// Parse and validate a grant as an author writes it.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let shown = text.escape_debug().to_string();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{shown}` is not an origin: {HINT}"))?;
        let scheme = Scheme::parse(scheme).ok_or_else(|| {
            format!(
                "`{shown}`: the scheme must be http or https (list each origin you need, like \"https://{rest}\")"
            )
        })?;
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{shown}` has a space or control character"));
        }
        if rest.is_empty() {
            return Err(format!("`{shown}` has no host: {HINT}"));
        }
        if let Some(at) = rest.find('@') {
            let host = &rest[at + 1..];
            return Err(format!(
                "`{shown}` has a user (`{}@`) before the host: an origin names only scheme, host and port; write \"{}://{host}\"",
                &rest[..at],
                scheme.as_str()
            ));
        }
        let (host, port, prefix) = match split_block(rest) {
            Some((host, prefix, port)) => (host, port, Some(prefix)),
            None => {
                if let Some(i) = rest.find(['/', '?', '#', '\\']) {
                    return Err(format!(
                        "`{shown}` has `{}` after the host: an origin has no path, query or fragment; write \"{}://{}\"",
                        &rest[i..],
                        scheme.as_str(),
                        &rest[..i]
                    ));
                }
                let (host, port) = split_port(rest).map_err(|e| format!("`{shown}`: {e}"))?;
                (host, port, None)
            }
        };
        let port = match port {
            None => scheme.default_port(),
            Some(p) => parse_port(p, scheme).map_err(|e| format!("`{shown}`: {e}"))?,
        };
        let host = match prefix {
            Some(prefix) => {
                let ip = parse_ip_literal(host)
                    .unwrap_or_else(|| Err("not an IP address".into()))
                    .map_err(|e| format!("`{shown}`: {e}"))?;
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|_| format!("`{shown}`: /{prefix} is not a prefix length"))?;
                HostPattern::Block(IpBlock::new(ip, prefix).map_err(|e| format!("`{shown}`: {e}"))?)
            }
            None => parse_host_pattern(host, scheme).map_err(|e| format!("`{shown}`: {e}"))?,
        };
        Ok(Origin { scheme, host, port })
    }

    /// Whether a request to `dest` is covered by this grant.
    pub fn matches(&self, dest: &Destination) -> bool {
        self.scheme == dest.scheme
            && self.port == dest.port
            && match (&self.host, &dest.host) {
                (HostPattern::Name(want), Host::Name(name)) => want == name,
                (HostPattern::Subdomains(suffix), Host::Name(name)) => name
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
                (HostPattern::Block(block), Host::Ip(ip)) => block.contains(*ip),
                _ => false,
            }
    }

    /// What in this grant deserves a second look, and what a policy may
    /// forbid: the metadata, loopback or link-local addresses its block
    /// reaches, and whether the block is wider than `min`. A grant by name
    /// has none here; where a name resolves is checked at each request.
    pub fn sensitivities(&self, min: MinPrefix) -> Vec<(Sensitive, String)> {
        match &self.host {
            HostPattern::Block(block) => sensitivities(block, min),
            HostPattern::Name(_) | HostPattern::Subdomains(_) => Vec::new(),
        }
    }

    /// Whether this grant names the address `ip` explicitly (as an IP
    /// literal or a block) for `scheme` and `port`: such an address may be
    /// reached even when it is in a blocked class.
    pub fn covers_address(&self, scheme: Scheme, ip: IpAddr, port: u16) -> bool {
        self.scheme == scheme
            && self.port == port
            && matches!(&self.host, HostPattern::Block(block) if block.contains(ip))
    }
}

/// An origin serializes as it is written in its normal form.
impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Origin {
    /// The normal form: lower case, punycode, the port only when it is not
    /// the scheme's default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Name(name) => f.write_str(name)?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Block(block) => match block.network() {
                IpAddr::V6(v6) if block.is_single() => write!(f, "[{v6}]")?,
                IpAddr::V6(v6) => write!(f, "[{v6}]/{}", block.prefix())?,
                IpAddr::V4(_) => write!(f, "{block}")?,
            },
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// A block with an optional port: `10.0.0.0/8`, `10.0.0.0/8:8443`,
/// `[fd00::]/8:8443` → (address, prefix, port). `None` when `rest` is not
/// an IP literal followed by a prefix length.
fn split_block(rest: &str) -> Option<(&str, &str, Option<&str>)> {
    let (head, tail) = rest.split_once('/')?;
    let (prefix, port) = match tail.split_once(':') {
        Some((prefix, port)) => (prefix, Some(port)),
        None => (tail, None),
    };
    let is_prefix =
        !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit());
    (is_prefix && parse_ip_literal(head).is_some()).then_some((head, prefix, port))
}

fn parse_host_pattern(host: &str, scheme: Scheme) -> Result<HostPattern, String> {
    if host == "*" {
        return Err(format!(
            "`*` allows every host: name the hosts, or a subdomain pattern like \"{}://*.example.com\"",
            scheme.as_str()
        ));
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        let suffix = normalize_name(suffix)?;
        if !suffix.contains('.') {
            return Err(format!(
                "`*.{suffix}` covers a whole top-level domain: name a domain under it, like \"{}://*.example.{suffix}\"",
                scheme.as_str()
            ));
        }
        return Ok(HostPattern::Subdomains(suffix));
    }
    if host.contains('*') {
        return Err(format!(
            "`{}`: `*` may only stand for whole subdomains, as the first label, like \"{}://*.example.com\"",
            host.escape_debug(),
            scheme.as_str()
        ));
    }
    match parse_ip_literal(host) {
        Some(ip) => Ok(HostPattern::Block(refuse_unspecified(IpBlock::single(
            ip?,
        ))?)),
        None => Ok(HostPattern::Name(normalize_name(host)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (grant, scheme, authority of the request, allowed?)
    const MATCHES: &[(&str, &str, &str, bool)] = &[
        // Exact names, default and explicit ports.
        ("https://api.example.com", "https", "api.example.com", true),
        (
            "https://api.example.com",
            "https",
            "api.example.com:443",
            true,
        ),
        (
            "https://api.example.com",
            "https",
            "api.example.com:8443",
            false,
        ),
        ("https://api.example.com", "http", "api.example.com", false),
        ("http://api.example.com", "https", "api.example.com", false),
        (
            "http://api.example.com:8080",
            "http",
            "api.example.com:8080",
            true,
        ),
        (
            "http://api.example.com:8080",
            "http",
            "api.example.com",
            false,
        ),
        (
            "https://api.example.com:443",
            "https",
            "api.example.com",
            true,
        ),
        ("https://api.example.com", "https", "example.com", false),
        (
            "https://api.example.com",
            "https",
            "www.api.example.com",
            false,
        ),
        // Look-alikes and suffix tricks.
        (
            "https://allowed.com",
            "https",
            "allowed.com.evil.test",
            false,
        ),
        ("https://allowed.com", "https", "evilallowed.com", false),
        ("https://allowed.com", "https", "allowed.co", false),
        // Normalisation: case, trailing dot, IDNA.
        ("https://api.example.com", "https", "API.Example.COM", true),
        ("https://api.example.com", "HTTPS", "api.example.com", true),
        ("https://api.example.com", "https", "api.example.com.", true),
        ("https://API.EXAMPLE.COM.", "https", "api.example.com", true),
        (
            "https://bücher.example",
            "https",
            "xn--bcher-kva.example",
            true,
        ),
        (
            "https://xn--bcher-kva.example",
            "https",
            "XN--BCHER-KVA.example",
            true,
        ),
        ("https://bücher.example", "https", "bucher.example", false),
        // Subdomain patterns.
        ("https://*.example.com", "https", "a.example.com", true),
        ("https://*.example.com", "https", "a.b.example.com", true),
        ("https://*.example.com", "https", "example.com", false),
        (
            "https://*.example.com",
            "https",
            "example.com.evil.test",
            false,
        ),
        ("https://*.example.com", "https", "badexample.com", false),
        (
            "https://*.example.com",
            "https",
            "a.example.com:8443",
            false,
        ),
        ("https://*.example.com", "http", "a.example.com", false),
        ("https://*.Example.COM", "https", "A.EXAMPLE.com.", true),
        // IP literals and blocks.
        ("http://127.0.0.1:8080", "http", "127.0.0.1:8080", true),
        ("http://127.0.0.1:8080", "http", "127.0.0.1:8081", false),
        ("http://127.0.0.1:8080", "http", "127.0.0.2:8080", false),
        ("http://127.0.0.1:8080", "http", "localhost:8080", false),
        ("https://10.0.0.0/8", "https", "10.20.30.40", true),
        ("https://10.0.0.0/8", "https", "11.0.0.1", false),
        ("https://10.0.0.0/8", "https", "10.0.0.1:8443", false),
        ("https://10.0.0.0/8:8443", "https", "10.0.0.1:8443", true),
        ("http://[::1]:8080", "http", "[::1]:8080", true),
        ("http://[::1]:8080", "http", "[0:0:0:0:0:0:0:1]:8080", true),
        ("https://[fd00::]/8", "https", "[fd12::34]", true),
        ("https://[fd00::]/8", "https", "[fe80::1]", false),
        (
            "http://[::ffff:127.0.0.1]:8080",
            "http",
            "127.0.0.1:8080",
            true,
        ),
        // A name grant never matches an address, nor the reverse.
        ("https://example.com", "https", "93.184.216.34", false),
        ("https://93.184.216.34", "https", "example.com", false),
    ];

    #[test]
    fn grants_match_destinations() {
        for (grant, scheme, authority, allowed) in MATCHES {
            let origin = Origin::parse(grant).unwrap_or_else(|e| panic!("{grant}: {e}"));
            let dest = Destination::parse(scheme, authority)
                .unwrap_or_else(|e| panic!("{scheme}://{authority}: {e}"));
            assert_eq!(
                origin.matches(&dest),
                *allowed,
                "{grant} vs {scheme}://{authority} ({dest})"
            );
        }
        assert!(MATCHES.len() >= 40);
    }

    #[test]
    fn grants_normalise() {
        let cases: &[(&str, &str)] = &[
            ("https://Hooks.Slack.COM", "https://hooks.slack.com"),
            ("HTTPS://hooks.slack.com.", "https://hooks.slack.com"),
            ("https://hooks.slack.com:443", "https://hooks.slack.com"),
            ("http://hooks.slack.com:443", "http://hooks.slack.com:443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://Bücher.example", "https://xn--bcher-kva.example"),
            ("https://*.Example.com", "https://*.example.com"),
            ("https://10.0.0.0/8", "https://10.0.0.0/8"),
            ("https://10.0.0.0/8:8443", "https://10.0.0.0/8:8443"),
            ("http://[0:0::1]:80", "http://[::1]"),
            ("https://[fd00::]/8", "https://[fd00::]/8"),
            ("https://10.1.2.3/32", "https://10.1.2.3"),
        ];
        for (written, normal) in cases {
            let origin = Origin::parse(written).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(origin.to_string(), *normal, "{written}");
            assert_eq!(
                Origin::parse(normal).unwrap(),
                origin,
                "{normal} round-trips"
            );
        }
    }

    #[test]
    fn bad_grants_say_what_to_write_instead() {
        let cases: &[(&str, &str)] = &[
            ("hooks.slack.com", "write scheme://host[:port]"),
            ("ftp://example.com", "must be http or https"),
            ("*://example.com", "must be http or https"),
            ("https://", "no host"),
            (
                "https://example.com/path",
                "no path, query or fragment; write \"https://example.com\"",
            ),
            ("https://example.com?x=1", "no path"),
            ("https://example.com/", "no path"),
            ("https://user@evil.test", "write \"https://evil.test\""),
            ("https://allowed.com@evil.test", "has a user"),
            ("https://*", "allows every host"),
            ("https://*:443", "allows every host"),
            ("https://*.com", "whole top-level domain"),
            ("https://a.*.example.com", "first label"),
            ("https://*example.com", "first label"),
            ("https://foo*.example.com", "first label"),
            ("https://example.com:0", "from 1 to 65535"),
            ("https://example.com:65536", "from 1 to 65535"),
            ("https://example.com:https", "not a port"),
            ("https://example.com:", "not a port"),
            ("https://example.com:+443", "not a port"),
            ("https://exa mple.com", "space"),
            ("https://exa_mple.com", "not a host name"),
            ("https://example..com", "not a host name"),
            ("https://-example.com", "not a host name"),
            ("https://%65xample.com", "percent-encoded"),
            ("https://127.1", "four decimal numbers"),
            ("https://2130706433", "four decimal numbers"),
            ("https://0x7f.0.0.1", "four decimal numbers"),
            ("https://example.123", "four decimal numbers"),
            ("http://::1", "put it in brackets"),
            ("http://[::1", "must end with `]`"),
            ("http://[fe80::1%25eth0]", "zone id"),
            ("https://10.0.0.1/8", "\"10.0.0.0/8\""),
            ("https://10.0.0.0/33", "from 1 to 32"),
            ("https://0.0.0.0/0", "every address"),
            // Unspecified addresses reach the host itself: never granted,
            // in any spelling or block that holds one.
            ("http://0.0.0.0", "unspecified address"),
            ("http://0.0.0.0:8080", "unspecified address"),
            ("http://0.1.2.3:8080", "unspecified address"),
            ("http://0.0.0.0/8", "holds unspecified addresses"),
            ("http://0.0.0.0/4:8080", "holds unspecified addresses"),
            ("http://0.0.0.0/32", "unspecified address"),
            ("http://[::]", "unspecified address"),
            ("http://[::]:8080", "unspecified address"),
            ("http://[0:0:0:0:0:0:0:0]:8080", "unspecified address"),
            ("http://[::0.0.0.0]", "unspecified address"),
            ("http://[::]/64", "holds unspecified addresses"),
            ("http://[::]/1", "holds unspecified addresses"),
            ("http://[::ffff:0.0.0.0]:8080", "unspecified address"),
            ("http://[::ffff:0:0]/96", "holds unspecified addresses"),
            ("http://[::ffff:0.0.0.0]/104", "holds unspecified addresses"),
            ("http://[64:ff9b::]:8080", "unspecified address"),
            ("http://[64:ff9b::]/96", "holds unspecified addresses"),
            ("http://[2002::]:8080", "unspecified address"),
            ("http://[2000::]/3", "holds unspecified addresses"),
            // Ports: one canonical spelling, decimal without leading zeros.
            (
                "https://example.com:0443",
                "without leading zeros, like 443",
            ),
            (
                "https://example.com:00080",
                "without leading zeros, like 80",
            ),
            ("https://example.com:00", "without leading zeros, from 1"),
            ("https://example.com:-443", "not a port"),
            ("https://example.com: 443", "space"),
            ("https://example.com:4_43", "not a port"),
            ("https://example.com:0x1bb", "not a port"),
            ("https://example.com:443:443", "put it in brackets"),
            ("http://[::1]:0080", "without leading zeros"),
            ("http://[::1]:", "not a port"),
            ("https://10.0.0.0/8:08443", "without leading zeros"),
            ("https://10.0.0.0/8:", "not a port"),
            ("https://example.com/8", "no path"),
            ("https://a\\b.com", "no path"),
        ];
        for (text, message) in cases {
            let e = Origin::parse(text).expect_err(text);
            assert!(e.contains(message), "{text} => {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn addresses_next_to_unspecified_ones_are_still_granted() {
        for text in [
            "http://1.0.0.0/8",
            "http://[::1]:8080",
            "http://[::ffff:1.0.0.0]",
            "http://[64:ff9b::100:0]/104",
            "http://[2002:100::]/24",
            "http://[::2]",
        ] {
            Origin::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn sensitive_grants_say_what_they_reach() {
        use Sensitive::*;
        let min = MinPrefix::default();
        let cases: &[(&str, &[Sensitive])] = &[
            ("https://example.com", &[]),
            ("https://*.example.com", &[]),
            ("https://93.184.216.34", &[]),
            ("http://169.254.169.254", &[Metadata, LinkLocal]),
            ("http://169.254.170.2", &[Metadata, LinkLocal]),
            ("http://169.254.0.0/16", &[Metadata, LinkLocal, Wide]),
            ("http://169.254.1.0/24", &[LinkLocal]),
            ("http://[fd00:ec2::254]", &[Metadata]),
            ("http://[fd00:ec2::]/64", &[Metadata]),
            ("http://100.100.100.200", &[Metadata]),
            ("http://100.64.0.0/10", &[Metadata, Wide]),
            ("http://192.0.0.192", &[Metadata]),
            ("http://[::ffff:169.254.169.254]", &[Metadata, LinkLocal]),
            ("http://[64:ff9b::a9fe:a9fe]", &[Metadata, LinkLocal]),
            ("http://[2002:a9fe:a9fe::]/48", &[Metadata, LinkLocal, Wide]),
            ("http://127.0.0.1:8080", &[Loopback]),
            ("http://127.0.0.0/8", &[Loopback, Wide]),
            ("http://[::1]:8080", &[Loopback]),
            ("http://[::ffff:127.0.0.1]:8080", &[Loopback]),
            ("http://[64:ff9b::7f00:1]", &[Loopback]),
            ("http://[2002:7f00:1::]/64", &[Loopback]),
            ("http://[fe80::1]", &[LinkLocal]),
            ("http://[fe80::]/10", &[LinkLocal, Wide]),
            ("http://10.0.0.0/8", &[Wide]),
            ("http://10.0.0.0/23", &[Wide]),
            ("http://10.0.0.0/24", &[]),
            ("http://[fd12::]/48", &[Wide]),
            ("http://[fd12::]/64", &[]),
            ("http://[64:ff9b::7f00:0]/104", &[Loopback]),
        ];
        for (text, want) in cases {
            let origin = Origin::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got: Vec<Sensitive> = origin
                .sensitivities(min)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(&got, want, "{text}");
        }
        let narrow = MinPrefix { v4: 8, v6: 32 };
        let block = Origin::parse("http://10.0.0.0/8").unwrap();
        assert!(block.sensitivities(narrow).is_empty());
        let (_, why) = &block.sensitivities(min)[0];
        assert!(
            why.contains("/8 block, wider than /24 (min_prefix_v4)"),
            "{why}"
        );
    }

    #[test]
    fn only_ip_grants_cover_addresses() {
        let ip = "127.0.0.1".parse().unwrap();
        let name = Origin::parse("http://localhost:8080").unwrap();
        let literal = Origin::parse("http://127.0.0.1:8080").unwrap();
        let block = Origin::parse("http://127.0.0.0/8:8080").unwrap();
        assert!(!name.covers_address(Scheme::Http, ip, 8080));
        assert!(literal.covers_address(Scheme::Http, ip, 8080));
        assert!(block.covers_address(Scheme::Http, ip, 8080));
        assert!(!literal.covers_address(Scheme::Http, ip, 8081));
        assert!(!literal.covers_address(Scheme::Https, ip, 8080));
    }
}
