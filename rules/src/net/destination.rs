//! Where a request goes, as airlock understands its URL: the scheme, the
//! host (a normalised name or an IP literal) and the port. What airlock
//! will not guess about — a user before the host, a percent-encoded host,
//! an IPv4 address in an unusual form — is refused here, before the
//! destination is matched against any grant.

use super::syntax::{Scheme, normalize_name, parse_ip_literal, parse_port, split_port};
use std::fmt;
use std::net::IpAddr;

/// A host as a request names it: a normalised name or an IP literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An ASCII, lower-case DNS name without a trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Where a request goes, as airlock understood its URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port, the scheme's default when the URL names none.
    pub port: u16,
}

impl Destination {
    /// The destination of a request with this scheme and URL authority
    /// (`host[:port]`). Refuses what airlock will not guess about: a user
    /// in the authority, a percent-encoded host, an IPv4 address written
    /// in any form but four decimal numbers.
    pub fn parse(scheme: &str, authority: &str) -> Result<Destination, String> {
        let shown = authority.escape_debug().to_string();
        let scheme = Scheme::parse(scheme).ok_or_else(|| {
            format!(
                "the scheme `{}` is not http or https",
                scheme.escape_debug()
            )
        })?;
        if let Some(at) = authority.rfind('@') {
            return Err(format!(
                "the URL names a user before the host (`{shown}`); airlock sends requests only to a plain host, here `{}`",
                &authority[at + 1..].escape_debug()
            ));
        }
        let (host, port) = split_port(authority)?;
        let port = match port {
            None => scheme.default_port(),
            Some("") => {
                return Err(format!(
                    "`{shown}` ends in `:` without a port: write the port, or leave out the `:` for {}'s {}",
                    scheme.as_str(),
                    scheme.default_port()
                ));
            }
            Some(p) => parse_port(p, scheme)?,
        };
        let host = match parse_ip_literal(host) {
            Some(ip) => Host::Ip(ip?),
            None => Host::Name(normalize_name(host)?),
        };
        Ok(Destination { scheme, host, port })
    }

    /// `host` or `host:port` as the `Host` header carries it.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The grant that would allow this destination, as a manifest writes it.
    pub fn as_grant(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }
}

impl fmt::Display for Destination {
    /// `scheme://host:port`, the port always shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_authorities_airlock_will_not_guess_about() {
        let cases: &[(&str, &str)] = &[
            ("allowed.com@evil.test", "names a user"),
            ("allowed.com:443@evil.test", "names a user"),
            ("%61llowed.com", "percent-encoded"),
            ("allowed%2ecom", "percent-encoded"),
            ("127.1", "four decimal numbers"),
            ("2130706433:8080", "four decimal numbers"),
            ("0x7f000001", "four decimal numbers"),
            ("", "empty"),
            ("example.com:0", "not a port"),
            ("example.com:", "without a port"),
            ("[::1]:", "without a port"),
            ("example.com:0443", "without leading zeros, like 443"),
            ("example.com:00080", "without leading zeros, like 80"),
            ("[::1]:08080", "without leading zeros, like 8080"),
            ("127.0.0.1:000", "without leading zeros"),
            ("example.com:+443", "not a port"),
            ("example.com:443 ", "not a port"),
            ("example.com:65536", "not a port"),
            ("example.com:99999999999999999999", "not a port"),
        ];
        for (authority, message) in cases {
            let e = Destination::parse("https", authority).expect_err(authority);
            assert!(e.contains(message), "{authority} => {e}");
        }
        let d = Destination::parse("http", "API.Example.com.:8080").unwrap();
        assert_eq!(d.to_string(), "http://api.example.com:8080");
        assert_eq!(d.authority(), "api.example.com:8080");
        assert_eq!(d.as_grant(), "http://api.example.com:8080");
        // An explicit default port is canonical enough.
        let d = Destination::parse("https", "example.com:443").unwrap();
        assert_eq!(d.port, 443);
        assert_eq!(d.authority(), "example.com");
        let d = Destination::parse("https", "[::1]").unwrap();
        assert_eq!(d.authority(), "[::1]");
        assert_eq!(d.as_grant(), "https://[::1]");
    }
}
