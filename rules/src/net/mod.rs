//! The network grammar, pure and typed: what an operator or a manifest may
//! write ([`Origin`], [`HostPattern`], [`IpBlock`], [`HostAddr`]) and what a
//! request names ([`Destination`]). Each is parsed once, from text, into a
//! type that the rest of airlock passes around as it is; none is ever turned
//! back into text to be parsed again.
//!
//! No DNS and no sockets: resolution and connection live in the `airlock`
//! crate, which matches [`Destination`]s against these types.

pub mod addr;
pub mod destination;
mod hosts;
pub mod origin;
pub mod sensitive;
mod syntax;

pub use addr::IpBlock;
pub use destination::{Destination, Host};
pub use hosts::HostAddr;
pub use origin::{HostPattern, Origin};
pub use sensitive::{MinPrefix, Sensitive};
pub use syntax::{Scheme, normalize_name};
