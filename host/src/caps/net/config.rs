//! How a host reaches the network, set up once from the policy's
//! `[network]`: the roots TLS trusts, the name overrides, and the blocked
//! addresses the operator allows.

use super::addr::IpBlock;
use super::client::Tls;
use super::resolve::Resolver;
use crate::policy::NetworkPolicy;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::PathBuf;

/// How a host reaches the network, from the policy's `[network]`: trusted
/// roots, name overrides, and the blocked addresses the operator allows.
#[derive(Debug)]
pub struct NetConfig {
    pub(super) resolver: Resolver,
    pub(super) tls: Tls,
    pub(super) allow_private: Vec<IpBlock>,
}

/// A `[network]` setting of the policy that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("policy [network] ca_certs: {}: {reason}", path.display())]
pub struct NetSetupError {
    /// The certificate file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl NetConfig {
    /// Load the CA certificates and set up the resolver.
    pub fn new(policy: &NetworkPolicy) -> Result<NetConfig, NetSetupError> {
        let mut certs = Vec::new();
        for path in &policy.ca_certs {
            let fail = |reason: String| NetSetupError {
                path: path.clone(),
                reason,
            };
            let pem = crate::opfile::read_operator_file(path, crate::opfile::CA_MAX, "CA file")
                .map_err(|e| fail(format!("cannot read it: {e}")))?;
            let found = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(format!("not PEM: {e}")))?;
            if found.is_empty() {
                return Err(fail("holds no PEM certificate".into()));
            }
            for cert in &found {
                rustls::RootCertStore::empty()
                    .add(cert.clone())
                    .map_err(|e| fail(format!("not a usable CA certificate: {e}")))?;
            }
            certs.extend(found);
        }
        Ok(NetConfig {
            resolver: Resolver::new(policy.hosts.clone()),
            tls: Tls::new(certs).map_err(|e| NetSetupError {
                path: PathBuf::new(),
                reason: e.to_string(),
            })?,
            allow_private: policy.allow_private.clone(),
        })
    }
}
