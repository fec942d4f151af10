//! Addresses an action may not reach by name: loopback, private, link-local
//! (cloud metadata at 169.254.169.254 lives there), shared CGNAT space,
//! multicast, unspecified, and the other special-purpose blocks — in IPv4,
//! in IPv6, and in the IPv6 forms that carry an IPv4 address.
//!
//! Unspecified addresses (`0.0.0.0/8`, `::`, and the IPv6 forms carrying
//! `0.0.0.0/8`) are more than blocked: no block that holds one can be
//! written at all ([`refuse_unspecified`]).
//!
//! This module is pure: it classifies addresses and matches them against
//! blocks. [`super`] refuses a request when any address its host name
//! resolves to is in a blocked class, unless that address is granted
//! explicitly (an IP or CIDR origin in the manifest) or named by the
//! operator (`allow_private` in the policy's `[network]`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address is not reachable by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// `0.0.0.0/8`, `::` — on many systems a connect to it reaches the host itself.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16` (RFC 1918).
    Private,
    /// `100.64/10`, shared address space of carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// `169.254/16` (cloud metadata services), `fe80::/10`.
    LinkLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`.
    Documentation,
    /// `198.18/15`, network benchmarking (RFC 2544).
    Benchmarking,
    /// `fc00::/7`, unique local IPv6 (the IPv6 private range).
    UniqueLocal,
    /// `fec0::/10`, the deprecated IPv6 site-local range.
    SiteLocal,
    /// Everything else set aside: `192.0.0/24`, `240/4`, `192.88.99/24`,
    /// IPv4-compatible IPv6, Teredo, discard-only and local NAT64 blocks.
    Reserved,
}

impl Class {
    /// The class in words, as refusals print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Unspecified => "unspecified",
            Class::Loopback => "loopback",
            Class::Private => "private",
            Class::SharedCgnat => "shared CGNAT space",
            Class::LinkLocal => "link-local",
            Class::Multicast => "multicast",
            Class::Broadcast => "broadcast",
            Class::Documentation => "documentation",
            Class::Benchmarking => "benchmarking",
            Class::UniqueLocal => "unique local",
            Class::SiteLocal => "site-local",
            Class::Reserved => "reserved",
        }
    }

    /// The class as refusals say it: "a loopback address".
    pub fn phrase(self) -> &'static str {
        match self {
            Class::Unspecified => "an unspecified address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::SharedCgnat => "an address in shared CGNAT space",
            Class::LinkLocal => "a link-local address, where cloud metadata services live",
            Class::Multicast => "a multicast address",
            Class::Broadcast => "the broadcast address",
            Class::Documentation => "a documentation address",
            Class::Benchmarking => "a benchmarking address",
            Class::UniqueLocal => "a unique local address",
            Class::SiteLocal => "a site-local address",
            Class::Reserved => "a reserved address",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blocked class of `ip`, or `None` for a globally reachable address.
///
/// IPv6 addresses that carry an IPv4 address — IPv4-mapped (`::ffff:a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) — are classified by the
/// IPv4 address they carry, so `::ffff:127.0.0.1` is loopback.
pub fn classify(ip: IpAddr) -> Option<Class> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => Class::Unspecified,
        (127, _, _) => Class::Loopback,
        (10, _, _) | (192, 168, _) => Class::Private,
        (172, 16..=31, _) => Class::Private,
        (100, 64..=127, _) => Class::SharedCgnat,
        (169, 254, _) => Class::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Class::Documentation,
        (198, 18..=19, _) => Class::Benchmarking,
        (192, 0, 0) | (192, 88, 99) => Class::Reserved,
        (224..=239, _, _) => Class::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => Class::Broadcast,
        (240..=255, _, _) => Class::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some(Class::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Class::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    Some(match s {
        // IPv4-compatible (deprecated): never a real destination.
        [0, 0, 0, 0, 0, 0, _, _] => Class::Reserved,
        // NAT64 well-known prefix: reaches the IPv4 address it carries.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(embedded(hi, lo)),
        // Local-use NAT64 (RFC 8215) and discard-only (RFC 6666).
        [0x64, 0xff9b, 1, ..] | [0x100, 0, 0, 0, ..] => Class::Reserved,
        // 6to4: reaches the IPv4 address it carries.
        [0x2002, hi, lo, ..] => return classify_v4(embedded(hi, lo)),
        // Teredo tunnels to an address it hides.
        [0x2001, 0, ..] => Class::Reserved,
        [0x2001, 0xdb8, ..] => Class::Documentation,
        [x, ..] if x & 0xfe00 == 0xfc00 => Class::UniqueLocal,
        [x, ..] if x & 0xffc0 == 0xfe80 => Class::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => Class::SiteLocal,
        [x, ..] if x & 0xff00 == 0xff00 => Class::Multicast,
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries and reaches: IPv4-mapped
/// (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

/// The unspecified addresses in every form that reaches them: `0.0.0.0/8`
/// and `::`, and the IPv6 forms carrying `0.0.0.0/8`.
fn unspecified_blocks() -> Vec<IpBlock> {
    let mut all = with_images(raw_block("0.0.0.0/8"));
    all.push(raw_block("::"));
    all
}

/// Refuse a block that holds an unspecified address: many systems take a
/// connection to `0.0.0.0` or `::` for one to the host itself, so a grant
/// of it would reach services listening on loopback.
pub fn refuse_unspecified(block: IpBlock) -> Result<IpBlock, String> {
    let Some(hit) = unspecified_blocks()
        .into_iter()
        .find(|u| u.overlaps(&block))
    else {
        return Ok(block);
    };
    Err(if block.is_single() {
        format!(
            "{block} is an unspecified address ({hit}): a connection to it reaches this host itself, \
             so it can never be granted; name the address of the service"
        )
    } else {
        format!(
            "{block} holds unspecified addresses ({hit}), which reach this host itself and can never \
             be granted; name a narrower block that leaves them out"
        )
    })
}

/// A block written in this module, known to be valid.
pub(super) fn raw_block(text: &str) -> IpBlock {
    let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
    let network: IpAddr = addr.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let prefix = prefix.parse().unwrap_or(max_prefix(network));
    IpBlock { network, prefix }
}

/// An IPv4 block and the IPv6 blocks that reach it: IPv4-mapped, NAT64
/// and 6to4. An IPv6 block is returned alone.
pub(super) fn with_images(block: IpBlock) -> Vec<IpBlock> {
    let IpAddr::V4(v4) = block.network else {
        return vec![block];
    };
    let bits = u128::from(u32::from(v4));
    let image = |prefix: u128, at: u32, len: u8| IpBlock {
        network: IpAddr::V6(Ipv6Addr::from(prefix | (bits << at))),
        prefix: len + block.prefix,
    };
    vec![
        block,
        image(0xffff << 32, 0, 96),
        image(0x0064_ff9b << 96, 0, 96),
        image(0x2002 << 112, 80, 16),
    ]
}

/// A block of addresses, `10.0.0.0/8` or `2001:db8::/32`; a single address
/// is a block of full length.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// The block holding exactly `ip`.
    pub fn single(ip: IpAddr) -> IpBlock {
        let ip = ip.to_canonical();
        IpBlock {
            network: ip,
            prefix: max_prefix(ip),
        }
    }

    /// `network/prefix`, refusing host bits, the whole address space and
    /// any block that holds an unspecified address ([`refuse_unspecified`]).
    pub fn new(network: IpAddr, prefix: u8) -> Result<IpBlock, String> {
        let max = max_prefix(network);
        if prefix > max {
            return Err(format!(
                "/{prefix} is too long for {network}: use a prefix from 1 to {max}"
            ));
        }
        if prefix == 0 {
            return Err(format!(
                "{network}/0 is every address: name the narrower blocks you need"
            ));
        }
        let block = IpBlock { network, prefix };
        if mask(network, prefix) != network {
            return Err(format!(
                "{network}/{prefix} has bits set after the prefix: write the block's first address, \"{}/{prefix}\"",
                mask(network, prefix)
            ));
        }
        refuse_unspecified(block)
    }

    /// Whether `ip` is in the block. IPv4-mapped IPv6 addresses are
    /// compared as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }

    /// Whether the two blocks share an address, comparing IPv6 forms as
    /// written (an IPv4-mapped block does not overlap its IPv4 block).
    pub fn overlaps(&self, other: &IpBlock) -> bool {
        let shorter = self.prefix.min(other.prefix);
        self.network.is_ipv4() == other.network.is_ipv4()
            && mask(self.network, shorter) == mask(other.network, shorter)
    }

    /// Whether the block is a single address.
    pub fn is_single(&self) -> bool {
        self.prefix == max_prefix(self.network)
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The first address of the block.
    pub fn network(&self) -> IpAddr {
        self.network
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = bits.checked_shr(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(
                kept.checked_shl(32 - u32::from(prefix)).unwrap_or(0),
            ))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = bits.checked_shr(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(
                kept.checked_shl(128 - u32::from(prefix)).unwrap_or(0),
            ))
        }
    }
}

impl FromStr for IpBlock {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or a single address; never one that holds
    /// an unspecified address.
    fn from_str(s: &str) -> Result<IpBlock, String> {
        let bad = || {
            format!(
                "`{}` is not an address block: write an address like \"10.1.2.3\" or a block like \"10.0.0.0/8\"",
                s.escape_debug()
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        match prefix {
            None => refuse_unspecified(IpBlock::single(network)),
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                IpBlock::new(network, p.parse().map_err(|_| bad())?)
            }
            Some(_) => Err(bad()),
        }
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_addresses() {
        use Class::*;
        let cases: &[(&str, Option<Class>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.1", None),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.0.1", Some(LinkLocal)),
            ("192.0.2.10", Some(Documentation)),
            ("198.51.100.1", Some(Documentation)),
            ("203.0.113.7", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("192.0.0.8", Some(Reserved)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Reserved)),
            ("::8.8.8.8", Some(Reserved)),
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some(Reserved)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:0808:0808::1", None),
            ("2001::1", Some(Reserved)),
            ("2001:db8::1", Some(Documentation)),
            ("100::1", Some(Reserved)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("ff02::1", Some(Multicast)),
            ("2606:4700::1111", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (ip, class) in cases {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(addr), *class, "{ip}");
        }
    }

    #[test]
    fn blocks_parse_and_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.0.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("::ffff:127.0.0.1", "127.0.0.1", true),
            ("192.168.4.0/22", "192.168.7.255", true),
            ("192.168.4.0/22", "192.168.8.0", false),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("fd00::/8", "10.0.0.1", false),
            ("::1", "::1", true),
            ("169.254.169.254/32", "169.254.169.254", true),
        ];
        for (block, ip, inside) in cases {
            let b: IpBlock = block.parse().unwrap();
            assert_eq!(b.contains(ip.parse().unwrap()), *inside, "{block} ∋ {ip}");
        }
    }

    #[test]
    fn bad_blocks_say_what_to_write() {
        let cases: &[(&str, &str)] = &[
            ("10.0.0.1/8", "\"10.0.0.0/8\""),
            ("10.0.0.0/33", "1 to 32"),
            ("fd00::/129", "1 to 128"),
            ("0.0.0.0/0", "every address"),
            ("10.0.0.0/", "not an address block"),
            ("10.0.0.0/x", "not an address block"),
            ("localhost", "not an address block"),
            ("10.0.0", "not an address block"),
        ];
        for (text, message) in cases {
            let e = text.parse::<IpBlock>().unwrap_err();
            assert!(e.contains(message), "{text} => {e}");
        }
        assert_eq!(
            "10.0.0.0/8".parse::<IpBlock>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            "::ffff:127.0.0.1".parse::<IpBlock>().unwrap().to_string(),
            "127.0.0.1"
        );
    }
}
