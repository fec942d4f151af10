//! TLS for TCP listeners: the server's certificate and key, and the CA
//! whose client certificates are accepted, as PEM files.

use crate::ServeError;
use airlock::rules::opfile;
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
        // Operator files, read as the policy's are: regular files, bounded.
        let read = |path: &PathBuf, cap, what| {
            opfile::read_operator_file(path, cap, what)
                .map_err(|e| bad(path, format!("cannot be read: {e}")))
        };
        let chain = read(&self.cert, opfile::CA_MAX, "certificate chain")?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&self.cert, format!("no PEM certificate chain: {e}")))?;
        if certs.is_empty() {
            return Err(bad(&self.cert, "holds no certificate".into()));
        }
        let key = read(&self.key, opfile::KEY_MAX, "private key")?;
        let key = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| bad(&self.key, format!("no PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServeError::Tls(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                let pem = read(ca, opfile::CA_MAX, "CA certificate")?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
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
/// `cert:CN=` and its subject's common name, if it has one, then
/// `sha256:` and the first 16 bytes of its digest, in hex (which tells
/// apart two certificates with one name).
pub(crate) fn identity(connection: &rustls::ServerConnection) -> Option<String> {
    let leaf = connection.peer_certificates()?.first()?;
    let digest = Sha256::digest(leaf.as_ref());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(match common_name(leaf.as_ref()) {
        Some(name) => format!("cert:CN={} sha256:{hex}", name.escape_debug()),
        None => format!("cert:sha256:{hex}"),
    })
}

/// The subject's common name of a DER certificate, if it has one: read
/// from the TBSCertificate's subject by walking the DER, no more.
fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = der::expect(der, 0x30)?; // Certificate
    let (_, mut tbs) = der::expect(cert, 0x30)?; // TBSCertificate
    if tbs.first() == Some(&0xa0) {
        tbs = der::skip(tbs)?; // [0] version
    }
    // serialNumber, signature, issuer, validity; then subject.
    for _ in 0..4 {
        tbs = der::skip(tbs)?;
    }
    let (_, mut names) = der::expect(tbs, 0x30)?;
    let mut found = None;
    while !names.is_empty() {
        let (rest, set) = der::expect(names, 0x31)?; // RelativeDistinguishedName
        names = rest;
        let (_, pair) = der::expect(set, 0x30)?; // AttributeTypeAndValue
        let (value, oid) = der::expect(pair, 0x06)?;
        if oid == [0x55, 0x04, 0x03] {
            // id-at-commonName: UTF8String, PrintableString, IA5String.
            let tag = *value.first()?;
            let (_, text) = der::expect(value, tag)?;
            if [0x0c, 0x13, 0x16].contains(&tag) {
                found = std::str::from_utf8(text).ok().map(str::to_owned);
            }
        }
    }
    found
}

/// Just enough DER to find a certificate's subject.
mod der {
    /// `(rest, contents)` of the element at the start of `input`, if its
    /// tag is `tag`.
    pub fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        if *input.first()? != tag {
            return None;
        }
        element(input)
    }

    /// What follows the element at the start of `input`.
    pub fn skip(input: &[u8]) -> Option<&[u8]> {
        element(input).map(|(rest, _)| rest)
    }

    fn element(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let first = *input.get(1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let bytes = usize::from(first & 0x7f);
            if bytes == 0 || bytes > 4 {
                return None;
            }
            let mut len = 0usize;
            for b in input.get(2..2 + bytes)? {
                len = (len << 8) | usize::from(*b);
            }
            (len, 2 + bytes)
        };
        let end = header.checked_add(len)?;
        Some((input.get(end..)?, input.get(header..end)?))
    }
}

#[cfg(test)]
mod tests {
    use super::common_name;

    #[test]
    fn the_subject_common_name_is_read_from_der() {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut params = rcgen::CertificateParams::new(vec!["engine.example".to_owned()])
            .unwrap_or_else(|e| panic!("{e}"));
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ci-runner.acme");
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(common_name(cert.der()).as_deref(), Some("ci-runner.acme"));

        let mut bare =
            rcgen::CertificateParams::new(vec!["x".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
        bare.distinguished_name = rcgen::DistinguishedName::new();
        let cert = bare.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(common_name(cert.der()), None);
        for junk in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x05, 0x30],
        ] {
            assert_eq!(common_name(junk), None);
        }
    }
}
