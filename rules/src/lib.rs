//! The rules of airlock: what an action asks for, what an operator allows,
//! what an action therefore gets, and whether a component is the one a
//! person approved. Everything here is a pure decision over parsed
//! documents and component bytes; nothing runs a component, so this crate
//! has no WebAssembly runtime in it.
//!
//! | question | module |
//! |---|---|
//! | is this manifest well-formed? | [`manifest`] |
//! | what does the operator allow? | [`policy`] |
//! | which configuration values does a run get? | [`config`] |
//! | what does this action get (`manifest ∩ policy`)? | [`grant`] |
//! | which origins, hosts and addresses are meant? | [`net`] |
//! | is this the approved component, asking for no more than was approved? | [`provenance::admit`] |
//! | who published it? | [`provenance::trust`] |
//! | what does a person see before approving, and what changed? | [`provenance::review`], [`provenance::approval`] |
//! | may it be compiled (its functions, code, data, sizes)? | [`bounds`] |
//! | what does a component import and declare? | [`inspect`] |
//!
//! Every document is parsed once into types that stay typed: an origin a
//! manifest declares is an [`net::Origin`] from the manifest to the grant
//! to the request check, never text parsed again. Errors name the
//! document, the field and the line ([`doc::DocError`]).

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bounds;
pub mod config;
pub mod doc;
pub mod grant;
pub mod inspect;
pub mod manifest;
pub mod net;
pub mod opfile;
pub mod policy;
pub mod provenance;
pub mod sbom;
pub mod units;

mod error;

pub use error::{Error, Refusal};
pub use grant::Grant;
pub use manifest::Manifest;
pub use policy::Policy;
pub use provenance::Digest;
