//! Granted addresses that deserve a second look at approval, and that the
//! operator's policy may forbid (`forbid` under `[network]`): cloud
//! metadata services, loopback, link-local, and blocks wider than the
//! policy's `min_prefix_v4`/`min_prefix_v6`. An IPv6 form that carries an
//! IPv4 address (mapped, NAT64, 6to4) counts as the address it carries.
//!
//! This module is pure: it matches addresses and blocks.

use super::addr::{Class, IpBlock, classify, embedded_v4, raw_block, with_images};
use std::fmt;
use std::net::IpAddr;

/// Cloud metadata services: instance credentials live behind these.
const METADATA: &[&str] = &[
    // AWS, Azure, Google Cloud, OpenStack, DigitalOcean, Oracle (IMDS).
    "169.254.169.254",
    // AWS ECS task metadata and credentials.
    "169.254.170.2",
    // AWS IMDS over IPv6.
    "fd00:ec2::254",
    // Alibaba Cloud.
    "100.100.100.200",
    // Oracle Cloud's second endpoint.
    "192.0.0.192",
];

/// Whether `ip` is a cloud metadata service's address, written directly
/// or carried in an IPv6 address that reaches it.
pub fn is_metadata(ip: IpAddr) -> bool {
    let ip = carried(ip);
    METADATA
        .iter()
        .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
}

/// `ip`, or the IPv4 address it carries.
fn carried(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// What in a granted address or block deserves a second look at approval,
/// and what the operator's policy may forbid (`forbid` under `[network]`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sensitive {
    /// A cloud metadata service ([`is_metadata`]).
    Metadata,
    /// `127.0.0.0/8`, `::1`: services of the host itself.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A block with a shorter prefix than the policy's `min_prefix_v4` or
    /// `min_prefix_v6`.
    Wide,
}

impl Sensitive {
    /// Every kind, as the policy's `forbid` names them.
    pub const ALL: [Sensitive; 4] = [
        Sensitive::Metadata,
        Sensitive::Loopback,
        Sensitive::LinkLocal,
        Sensitive::Wide,
    ];

    /// The name the policy's `forbid` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitive::Metadata => "metadata",
            Sensitive::Loopback => "loopback",
            Sensitive::LinkLocal => "link-local",
            Sensitive::Wide => "wide",
        }
    }

    /// The kind a `forbid` entry names.
    pub fn parse(name: &str) -> Option<Sensitive> {
        Sensitive::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the address `ip` is of this kind (never [`Sensitive::Wide`]).
    pub fn holds(self, ip: IpAddr) -> bool {
        match self {
            Sensitive::Metadata => is_metadata(ip),
            Sensitive::Loopback => classify(ip) == Some(Class::Loopback),
            Sensitive::LinkLocal => classify(ip) == Some(Class::LinkLocal),
            Sensitive::Wide => false,
        }
    }

    /// The blocks of this kind (none for [`Sensitive::Wide`]).
    fn blocks(self) -> Vec<IpBlock> {
        let texts: &[&str] = match self {
            Sensitive::Metadata => METADATA,
            Sensitive::Loopback => &["127.0.0.0/8", "::1"],
            Sensitive::LinkLocal => &["169.254.0.0/16", "fe80::/10"],
            Sensitive::Wide => &[],
        };
        texts
            .iter()
            .flat_map(|t| with_images(raw_block(t)))
            .collect()
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest prefix a granted block may have before it counts as
/// [`Sensitive::Wide`]: the policy's `min_prefix_v4` and `min_prefix_v6`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MinPrefix {
    /// For IPv4 blocks.
    pub v4: u8,
    /// For IPv6 blocks.
    pub v6: u8,
}

impl Default for MinPrefix {
    /// `/24` for IPv4 (256 addresses), `/64` for IPv6 (one subnet).
    fn default() -> MinPrefix {
        MinPrefix { v4: 24, v6: 64 }
    }
}

/// Why a granted block is sensitive: each kind once, with what it reaches.
pub fn sensitivities(block: &IpBlock, min: MinPrefix) -> Vec<(Sensitive, String)> {
    let mut found = Vec::new();
    for kind in [
        Sensitive::Metadata,
        Sensitive::Loopback,
        Sensitive::LinkLocal,
    ] {
        if let Some(hit) = kind.blocks().into_iter().find(|b| b.overlaps(block)) {
            let what = match kind {
                Sensitive::Metadata => "a cloud metadata service",
                Sensitive::Loopback => "loopback, the host's own services",
                Sensitive::LinkLocal => "link-local addresses",
                Sensitive::Wide => "",
            };
            found.push((kind, format!("reaches {what} ({hit})")));
        }
    }
    let (least, key) = if block.network().is_ipv4() {
        (min.v4, "min_prefix_v4")
    } else {
        (min.v6, "min_prefix_v6")
    };
    if block.prefix() < least {
        found.push((
            Sensitive::Wide,
            format!(
                "is a /{} block, wider than /{least} ({key})",
                block.prefix()
            ),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_addresses_in_every_form() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "fd00:ec2::254",
            "100.100.100.200",
            "192.0.0.192",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
        ] {
            assert!(is_metadata(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["169.254.169.253", "fd00:ec2::253", "8.8.8.8", "::1"] {
            assert!(!is_metadata(ip.parse().unwrap()), "{ip}");
        }
        for kind in Sensitive::ALL {
            assert_eq!(Sensitive::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Sensitive::parse("private"), None);
    }
}
