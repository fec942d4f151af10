//! The headers of a request that are the host's business, not the
//! action's: how the message is framed and how the connection is used.
//!
//! airlock writes `Host`, `Content-Length` and the connection headers of
//! every request itself, from the destination it checked and the body it
//! read. An action that sets a hop-by-hop header (below) is refused rather
//! than quietly corrected: such a header is meant for a proxy or for the
//! connection, and passing it on (`TE: trailers`, `Upgrade: h2c`) lets an
//! action change how the upstream reads the request. `Host` and
//! `Content-Length` are accepted only when they say what airlock would
//! send anyway. Responses are handed to the action without hop-by-hop
//! headers.
//!
//! This module is pure: it reads header maps and decides.

use airlock_rules::net::Destination;
use http::HeaderMap;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST};

/// Headers that belong to one connection or one proxy hop (RFC 9110
/// §7.6.1, and the `Proxy-*` and HTTP/2 headers the same way): an action
/// never sets them, and never sees them in a response.
pub const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Check the action's request headers for a request to `dest`: no
/// hop-by-hop header, a `Host` only when it names `dest`, at most one
/// canonical `Content-Length`, which is returned so the body read can be
/// held to it ([`check_length`]).
pub fn check(headers: &HeaderMap, dest: &Destination) -> Result<Option<u64>, String> {
    for name in headers.keys() {
        if HOP_BY_HOP.contains(&name.as_str()) {
            let named = connection_names(headers);
            let named = if name == CONNECTION && !named.is_empty() {
                format!(" (naming {})", named.join(", "))
            } else {
                String::new()
            };
            return Err(format!(
                "the request sets `{name}`{named}, a hop-by-hop header: airlock frames every request \
                 and manages its connection itself; remove the header"
            ));
        }
    }
    for value in headers.get_all(HOST) {
        let text = String::from_utf8_lossy(value.as_bytes());
        let same = value
            .to_str()
            .ok()
            .and_then(|v| Destination::parse(dest.scheme.as_str(), v).ok())
            .is_some_and(|named| named == *dest);
        if !same || headers.get_all(HOST).iter().count() > 1 {
            return Err(format!(
                "the request's `host` header (`{}`) does not name the URL's host {}: airlock sends `host` \
                 from the URL; remove the header, or put the host in the URL",
                text.escape_debug(),
                dest.authority()
            ));
        }
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let Some(value) = lengths.next() else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let canonical = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical || lengths.next().is_some() {
        return Err(format!(
            "the request's `content-length` (`{}`) is not one decimal number: airlock sets it from the \
             body; remove the header",
            text.escape_debug()
        ));
    }
    Ok(text.parse().ok())
}

/// Hold the body the action wrote to the `Content-Length` it declared.
pub fn check_length(declared: Option<u64>, written: usize) -> Result<(), String> {
    match declared {
        Some(n) if n != written as u64 => Err(format!(
            "the request declares `content-length: {n}` but its body is {written} bytes: \
             airlock sets the length from the body; remove the header or send the whole body"
        )),
        _ => Ok(()),
    }
}

/// Take the hop-by-hop headers out of a response, the headers its
/// `Connection` names, and `Host`, which a response has no use for.
pub fn strip(headers: &mut HeaderMap) {
    for name in connection_names(headers) {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(HOST);
}

/// The header names a `Connection` header lists, lower case.
fn connection_names(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    type Pairs = &'static [(&'static str, &'static str)];

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn hop_by_hop_and_framing_headers_are_refused() {
        let dest = Destination::parse("https", "api.example.com").unwrap();
        let cases: &[(Pairs, &str)] = &[
            (&[("te", "trailers")], "sets `te`, a hop-by-hop header"),
            (&[("TE", "gzip")], "sets `te`"),
            (
                &[("connection", "close")],
                "sets `connection` (naming close)",
            ),
            (
                &[("connection", "x-secret, Keep-Alive")],
                "(naming x-secret, keep-alive)",
            ),
            (&[("keep-alive", "timeout=5")], "sets `keep-alive`"),
            (&[("proxy-connection", "keep-alive")], "`proxy-connection`"),
            (&[("transfer-encoding", "chunked")], "`transfer-encoding`"),
            (&[("Transfer-Encoding", "identity")], "`transfer-encoding`"),
            (&[("trailer", "x-sig")], "`trailer`"),
            (&[("upgrade", "h2c")], "`upgrade`"),
            (
                &[("proxy-authorization", "Basic eA==")],
                "`proxy-authorization`",
            ),
            (&[("proxy-authenticate", "Basic")], "`proxy-authenticate`"),
            (
                &[("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA")],
                "`http2-settings`",
            ),
            (
                &[("host", "evil.test")],
                "does not name the URL's host api.example.com",
            ),
            (&[("host", "api.example.com:8443")], "does not name"),
            (&[("host", "api.example.com@evil.test")], "does not name"),
            (&[("host", "")], "does not name"),
            (
                &[("host", "api.example.com"), ("host", "api.example.com")],
                "does not name",
            ),
            (&[("content-length", "abc")], "not one decimal number"),
            (&[("content-length", "+5")], "not one decimal number"),
            (&[("content-length", "05")], "not one decimal number"),
            (&[("content-length", "5, 5")], "not one decimal number"),
            (&[("content-length", "")], "not one decimal number"),
            (
                &[("content-length", "5"), ("content-length", "5")],
                "not one decimal number",
            ),
        ];
        for (pairs, message) in cases {
            let e = check(&map(pairs), &dest).expect_err(&format!("{pairs:?}"));
            assert!(e.contains(message), "{pairs:?} => {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn ordinary_headers_and_ones_that_agree_pass() {
        let dest = Destination::parse("https", "api.example.com").unwrap();
        let ok: &[(Pairs, Option<u64>)] = &[
            (&[], None),
            (&[("x-te", "trailers"), ("accept-encoding", "gzip")], None),
            (&[("authorization", "Bearer x")], None),
            (&[("host", "api.example.com")], None),
            (&[("host", "API.Example.com.:443")], None),
            (&[("content-length", "0")], Some(0)),
            (&[("content-length", "12")], Some(12)),
        ];
        for (pairs, declared) in ok {
            assert_eq!(check(&map(pairs), &dest), Ok(*declared), "{pairs:?}");
        }
        assert!(check_length(None, 5).is_ok());
        assert!(check_length(Some(5), 5).is_ok());
        let e = check_length(Some(10), 3).unwrap_err();
        assert!(
            e.contains("declares `content-length: 10` but its body is 3 bytes"),
            "{e}"
        );
    }

    #[test]
    fn responses_lose_their_hop_by_hop_headers() {
        let mut m = map(&[
            ("connection", "keep-alive, x-hop"),
            ("keep-alive", "timeout=5"),
            ("x-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authenticate", "Basic"),
            ("host", "api.example.com"),
            ("content-type", "text/plain"),
        ]);
        strip(&mut m);
        let left: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["content-type"]);
    }
}
