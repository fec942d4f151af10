//! The lexical grammar shared by grants and request URLs: schemes, ports,
//! IP literals and host names, each with exactly one accepted spelling.

use std::net::IpAddr;

/// `http` or `https`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`, any case.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// `host[:port]` → (host, port text). IPv6 literals are bracketed.
pub(crate) fn split_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| "an IPv6 address must end with `]`".to_owned())?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("`{rest}` after the IPv6 address is not a port")),
            },
        };
    }
    match authority.matches(':').count() {
        0 => Ok((authority, None)),
        1 => {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            Ok((host, Some(port)))
        }
        _ => Err(format!(
            "`{}` looks like an IPv6 address: put it in brackets, like \"http://[::1]:8080\"",
            authority.escape_debug()
        )),
    }
}

/// A port as a URL writes it canonically: decimal digits without a sign or
/// leading zeros, 1 to 65535. `:0443` or `:+443` is refused rather than
/// read as 443, so a grant, a request and its record agree on one spelling.
pub(crate) fn parse_port(port: &str, scheme: Scheme) -> Result<u16, String> {
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    if digits && port.len() > 1 && port.starts_with('0') {
        let trimmed = port.trim_start_matches('0');
        return Err(format!(
            "`{port}` is not a port: write it without leading zeros{}",
            match trimmed.parse::<u16>() {
                Ok(p) if p > 0 => format!(", like {p}"),
                _ => ", from 1 to 65535".to_owned(),
            }
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && digits => Ok(p),
        _ => Err(format!(
            "`{}` is not a port: write one from 1 to 65535, or leave it out for {}'s {}",
            port.escape_debug(),
            scheme.as_str(),
            scheme.default_port()
        )),
    }
}

/// `Some` when `host` is written as an IP literal (bracketed IPv6 or
/// dotted IPv4), with an error for one that is malformed.
pub(crate) fn parse_ip_literal(host: &str) -> Option<Result<IpAddr, String>> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        if inner.contains('%') {
            return Some(Err(format!(
                "`{}` has a zone id: airlock does not send requests to link-local zones",
                host.escape_debug()
            )));
        }
        return Some(
            inner
                .parse::<std::net::Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| format!("`{}` is not an IPv6 address", host.escape_debug())),
        );
    }
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    if !looks_numeric(last) {
        return None;
    }
    Some(match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => Ok(IpAddr::V4(ip)),
        Err(_) => Err(format!(
            "`{}` looks like an IPv4 address: write it as four decimal numbers, like \"10.0.0.1\"",
            host.escape_debug()
        )),
    })
}

/// A label that URL parsers read as a number: decimal, or `0x…`.
pub(crate) fn looks_numeric(label: &str) -> bool {
    !label.is_empty()
        && (label.bytes().all(|b| b.is_ascii_digit())
            || label
                .strip_prefix("0x")
                .or_else(|| label.strip_prefix("0X"))
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// A DNS name in its one comparable form: IDNA (punycode), lower case, no
/// trailing dot, letters, digits and `-` in labels of 1 to 63 characters.
pub fn normalize_name(name: &str) -> Result<String, String> {
    let shown = name.escape_debug();
    if name.contains('%') {
        return Err(format!(
            "`{shown}` is percent-encoded: write the host name plainly"
        ));
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("the host is empty".into());
    }
    let ascii = idna::domain_to_ascii_cow(trimmed.as_bytes(), idna::AsciiDenyList::STD3)
        .map_err(|_| {
            format!("`{shown}` is not a host name: use letters, digits, `-` and `.` (international names may be written in Unicode)")
        })?
        .into_owned();
    if ascii.len() > 253 {
        return Err(format!("`{shown}` is longer than a DNS name may be (253)"));
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{shown}` is not a host name: each label needs 1 to 63 letters, digits or inner `-`"
            ));
        }
    }
    if looks_numeric(ascii.rsplit('.').next().unwrap_or("")) {
        return Err(format!(
            "`{shown}` looks like an IPv4 address: write it as four decimal numbers, like \"10.0.0.1\""
        ));
    }
    Ok(ascii)
}
