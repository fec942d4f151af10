//! `[network.hosts]` overrides: where an operator sends a name instead of
//! asking DNS, like a hosts file or curl's `--connect-to`.

use super::addr::{IpBlock, refuse_unspecified};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Where an overridden name goes: an address, with or without a port.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HostAddr {
    /// This address, on the request's port.
    Ip(IpAddr),
    /// This address and port, whatever port the request names.
    Socket(SocketAddr),
}

impl HostAddr {
    /// The socket address a request on `port` goes to.
    pub fn with_port(self, port: u16) -> SocketAddr {
        match self {
            HostAddr::Ip(ip) => SocketAddr::new(ip, port),
            HostAddr::Socket(addr) => addr,
        }
    }
}

impl FromStr for HostAddr {
    type Err = String;

    /// `10.0.0.5`, `::1`, `127.0.0.1:8443` or `[::1]:8443`; never an
    /// unspecified address (`0.0.0.0`, `::`, …), which reaches the host
    /// itself, nor a port written with leading zeros.
    fn from_str(s: &str) -> Result<HostAddr, String> {
        let addr = match s.parse::<IpAddr>() {
            Ok(ip) => HostAddr::Ip(ip),
            Err(_) => s.parse::<SocketAddr>().map(HostAddr::Socket).map_err(|_| {
                format!(
                    "`{}` is not an address: write \"10.0.0.5\", or with a port \"127.0.0.1:8443\" or \"[::1]:8443\"",
                    s.escape_debug()
                )
            })?,
        };
        if let HostAddr::Socket(socket) = addr {
            let port = s.rsplit(':').next().unwrap_or("");
            if socket.port() == 0 || port.starts_with('0') {
                return Err(format!(
                    "`{}`: `{port}` is not a port: write one from 1 to 65535 without leading zeros",
                    s.escape_debug()
                ));
            }
        }
        let ip = match addr {
            HostAddr::Ip(ip) => ip,
            HostAddr::Socket(socket) => socket.ip(),
        };
        refuse_unspecified(IpBlock::single(ip))?;
        Ok(addr)
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostAddr::Ip(ip) => write!(f, "{ip}"),
            HostAddr::Socket(addr) => write!(f, "{addr}"),
        }
    }
}
