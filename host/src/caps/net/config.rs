//! How a host reaches the network, set up once from the policy's
//! `[network]`: the roots TLS trusts, the name overrides, and the blocked
//! addresses the operator allows, and the kinds of address it forbids.

use super::client::Tls;
use super::resolve::Resolver;
use airlock_rules::net::addr::IpBlock;
use airlock_rules::net::sensitive::Sensitive;
use airlock_rules::policy::NetworkPolicy;
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
    pub(super) forbid: Vec<Sensitive>,
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
            let pem = airlock_rules::opfile::read_operator_file(
                path,
                airlock_rules::opfile::CA_MAX,
                "CA file",
            )
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
            forbid: policy.forbid.iter().copied().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use airlock_rules::net::sensitive::{MinPrefix, Sensitive};
    use airlock_rules::policy::Policy;
    use std::path::Path;

    fn parse(text: &str) -> Result<Policy, String> {
        Policy::parse("airlock.toml", text, Path::new("/etc/airlock")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_policy_forbids_kinds_of_address_and_sets_what_is_wide() {
        let p = parse(
            "[network]\nforbid = [\"metadata\", \"link-local\", \"metadata\"]\nmin_prefix_v4 = 16\n",
        )
        .unwrap();
        assert_eq!(
            p.network.forbid.iter().copied().collect::<Vec<_>>(),
            [Sensitive::Metadata, Sensitive::LinkLocal]
        );
        assert_eq!(p.network.min_prefix, MinPrefix { v4: 16, v6: 64 });
        let p = parse("").unwrap();
        assert!(p.network.forbid.is_empty());
        assert_eq!(p.network.min_prefix, MinPrefix::default());
    }

    #[test]
    fn the_policy_never_names_an_unspecified_address_or_a_padded_port() {
        let cases: &[(&str, &str)] = &[
            ("allow_private = [\"0.0.0.0\"]", "network.allow_private[0]"),
            ("allow_private = [\"0.0.0.0/8\"]", "holds unspecified"),
            ("allow_private = [\"0.0.0.0/1\"]", "holds unspecified"),
            ("allow_private = [\"::\"]", "unspecified address"),
            ("allow_private = [\"::/96\"]", "holds unspecified"),
            (
                "allow_private = [\"::ffff:0.0.0.0\"]",
                "unspecified address",
            ),
            ("allow_private = [\"::ffff:0:0/96\"]", "holds unspecified"),
            ("allow_private = [\"64:ff9b::/96\"]", "holds unspecified"),
            ("[network.hosts]\n\"a.test\" = [\"0.0.0.0\"]", "unspecified"),
            (
                "[network.hosts]\n\"a.test\" = [\"[::]:8080\"]",
                "unspecified",
            ),
            (
                "[network.hosts]\n\"a.test\" = [\"::ffff:0.0.0.0\"]",
                "unspecified",
            ),
            (
                "[network.hosts]\n\"a.test\" = [\"127.0.0.1:0443\"]",
                "leading zeros",
            ),
            (
                "forbid = [\"private\"]",
                "use metadata, loopback, link-local, wide",
            ),
            ("min_prefix_v4 = 33", "from 1 to 32"),
            ("min_prefix_v4 = 0", "from 1 to 32"),
            ("min_prefix_v6 = 129", "from 1 to 128"),
        ];
        for (lines, message) in cases {
            let text = format!("[network]\n{lines}\n");
            let e = parse(&text).expect_err(&text);
            assert!(e.contains(message), "{text} => {e}");
        }
    }
}
