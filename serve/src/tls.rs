//! TLS for TCP listeners: the server's certificate and key, and the CA
//! whose client certificates are accepted, as PEM files.

use crate::ServeError;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// The PEM files of a TLS listener.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA that signs client certificates; with it, every TCP caller
    /// must present one.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The acceptor for these files: TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1
    /// by ALPN.
    pub(crate) fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
        let bad =
            |path: &PathBuf, why: String| ServeError::Tls(format!("{}: {why}", path.display()));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .and_then(Iterator::collect)
            .map_err(|e| bad(&self.cert, format!("no PEM certificate chain: {e}")))?;
        if certs.is_empty() {
            return Err(bad(&self.cert, "holds no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| bad(&self.key, format!("no PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Tls(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| bad(ca, format!("cannot be read: {e}")))?
                {
                    let cert = cert.map_err(|e| bad(ca, format!("not PEM: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| bad(ca, format!("not a CA certificate: {e}")))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| bad(ca, e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| bad(&self.key, format!("does not match the certificate: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// The identity of a client certificate, as the audit log records it:
/// `cert:sha256:` and the first 16 bytes of its digest, in hex.
pub(crate) fn identity(connection: &rustls::ServerConnection) -> Option<String> {
    let leaf = connection.peer_certificates()?.first()?;
    let digest = Sha256::digest(leaf.as_ref());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("cert:sha256:{hex}"))
}
