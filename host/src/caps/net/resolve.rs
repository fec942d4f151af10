//! Name resolution, once per request. The addresses returned here are the
//! ones [`super`] checks and the only ones [`super::client`] connects to, so
//! a name that resolves differently a moment later (DNS rebinding) changes
//! nothing.
//!
//! The operator's `[network.hosts]` overrides come first, like a hosts
//! file: `"api.test" = ["127.0.0.1"]` resolves `api.test` to that address
//! and nothing else, and `"hooks.example.com" = ["127.0.0.1:8443"]` also
//! redirects the port, like curl's `--connect-to`. An override does not
//! make an address reachable: a blocked address stays blocked unless it is
//! granted.

use airlock_rules::net::{Host, HostAddr};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the addresses of a request came from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The URL names an IP address.
    Literal,
    /// The policy's `[network.hosts]`.
    Policy,
    /// The system resolver.
    Dns,
}

impl Source {
    /// As records name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Literal => "literal",
            Source::Policy => "policy",
            Source::Dns => "dns",
        }
    }
}

/// Resolves request hosts: overrides first, then the system resolver.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    hosts: Arc<BTreeMap<String, Vec<HostAddr>>>,
}

impl Resolver {
    /// A resolver with the operator's overrides, keyed by normalised name.
    pub fn new(hosts: BTreeMap<String, Vec<HostAddr>>) -> Resolver {
        Resolver {
            hosts: Arc::new(hosts),
        }
    }

    /// Every address `host` names for `port`, without duplicates, in the
    /// resolver's order.
    pub async fn resolve(
        &self,
        host: &Host,
        port: u16,
    ) -> Result<(Vec<SocketAddr>, Source), String> {
        let (addrs, source) = match host {
            Host::Ip(ip) => (vec![SocketAddr::new(*ip, port)], Source::Literal),
            Host::Name(name) => match self.hosts.get(name) {
                Some(pinned) => (
                    pinned.iter().map(|a| a.with_port(port)).collect(),
                    Source::Policy,
                ),
                None => {
                    let found = tokio::net::lookup_host((name.as_str(), port))
                        .await
                        .map_err(|e| format!("cannot resolve {name}: {e}"))?;
                    (found.collect(), Source::Dns)
                }
            },
        };
        let mut unique: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
        for a in addrs {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        if unique.is_empty() {
            return Err(format!("{host} has no address"));
        }
        Ok((unique, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overrides_come_first_and_may_move_the_port() {
        let r = Resolver::new(BTreeMap::from([
            (
                "api.test".to_owned(),
                vec![
                    "127.0.0.1".parse().unwrap(),
                    "::1".parse().unwrap(),
                    "127.0.0.1".parse().unwrap(),
                ],
            ),
            (
                "hooks.test".to_owned(),
                vec!["127.0.0.1:8443".parse().unwrap()],
            ),
        ]));
        let name = |n: &str| Host::Name(n.into());
        let (addrs, source) = r.resolve(&name("api.test"), 443).await.unwrap();
        assert_eq!(source, Source::Policy);
        assert_eq!(
            addrs,
            [
                "127.0.0.1:443".parse().unwrap(),
                "[::1]:443".parse().unwrap()
            ]
        );
        let (addrs, _) = r.resolve(&name("hooks.test"), 443).await.unwrap();
        assert_eq!(addrs, ["127.0.0.1:8443".parse().unwrap()]);
        let (addrs, source) = r
            .resolve(&Host::Ip("10.1.2.3".parse().unwrap()), 80)
            .await
            .unwrap();
        assert_eq!(
            (addrs[0], source),
            ("10.1.2.3:80".parse().unwrap(), Source::Literal)
        );
        // `localhost` is resolved by the system, which needs no network.
        let (addrs, source) = r.resolve(&name("localhost"), 80).await.unwrap();
        assert_eq!(source, Source::Dns);
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[test]
    fn host_addresses_parse() {
        assert_eq!(
            "10.0.0.5".parse(),
            Ok(HostAddr::Ip("10.0.0.5".parse().unwrap()))
        );
        assert_eq!(
            "[::1]:8443".parse(),
            Ok(HostAddr::Socket("[::1]:8443".parse().unwrap()))
        );
        let bad: &[(&str, &str)] = &[
            ("api.test", "not an address"),
            ("0.0.0.0", "unspecified"),
            ("0.0.0.0:8080", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("[::]:8080", "unspecified"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("[::ffff:0.0.0.0]:80", "unspecified"),
            ("64:ff9b::", "unspecified"),
            ("127.0.0.1:0443", "leading zeros"),
            ("[::1]:00080", "leading zeros"),
            ("127.0.0.1:0", "from 1 to 65535"),
            ("127.0.0.1:+80", "not an address"),
            ("127.0.0.1:", "not an address"),
        ];
        for (text, message) in bad {
            let e = text.parse::<HostAddr>().unwrap_err();
            assert!(e.contains(message), "{text} => {e}");
        }
    }
}
