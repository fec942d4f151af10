//! Where a component came from and whether it is the one that was approved:
//! its SHA-256 digest, and the pin an operator wrote for it.

mod digest;

pub use digest::Digest;
