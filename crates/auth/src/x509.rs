//! Client certificate verification against a CA bundle, and the subject's names.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::AuthError;

/// A CA bundle that client certificate chains are verified against (client-auth usage).
#[derive(Clone)]
pub struct CertAuthority {
    verifier: Arc<dyn ClientCertVerifier>,
    pem: Arc<[u8]>,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority")
            .field("pem_bytes", &self.pem.len())
            .finish()
    }
}

impl PartialEq for CertAuthority {
    fn eq(&self, other: &Self) -> bool {
        self.pem == other.pem
    }
}

impl CertAuthority {
    /// Parses a PEM bundle of CA certificates; `source` names it in errors.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<Self, AuthError> {
        let bad = |m: String| AuthError::Certificate(format!("{source}: {m}"));
        let certs = rustls_pemfile::certs(&mut &*pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificates".into()));
        }
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots.add(c).map_err(|e| bad(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(CertAuthority {
            verifier,
            pem: pem.into(),
        })
    }

    /// Reads a PEM bundle from a file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, AuthError> {
        let pem = std::fs::read(path).map_err(|source| AuthError::File {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&pem, &path.display().to_string())
    }

    /// Verifies `chain` (leaf first, then intermediates) for client authentication.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> Result<(), String> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| "no client certificate".to_owned())?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map(|_| ())
            .map_err(|e| format!("x509: {e}"))
    }
}

/// The subject names kube-apiserver uses from a client certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The common name (the last CN attribute, as Go's `pkix.Name` keeps it).
    pub common_name: String,
    /// The organizations (every O attribute, in order).
    pub organizations: Vec<String>,
}

impl Subject {
    /// Reads the subject of a DER certificate.
    pub fn of(cert: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| format!("x509: cannot parse certificate: {e}"))?;
        let subject = parsed.subject();
        let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            a.as_str().map(str::to_owned).unwrap_or_default()
        };
        Ok(Subject {
            common_name: subject
                .iter_common_name()
                .last()
                .map(text)
                .unwrap_or_default(),
            organizations: subject.iter_organization().map(text).collect(),
        })
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Certificates for unit tests.
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::CertificateDer;

    /// A test CA.
    pub struct Ca {
        pub issuer: CertifiedIssuer<'static, KeyPair>,
    }

    impl Ca {
        pub fn new(cn: &str) -> Ca {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
            Ca { issuer }
        }

        pub fn pem(&self) -> String {
            self.issuer.pem()
        }

        /// A client certificate chain (leaf only) with `cn` and organizations.
        pub fn client(&self, cn: &str, orgs: &[&str]) -> Vec<CertificateDer<'static>> {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            for (i, o) in orgs.iter().enumerate() {
                // rcgen keeps one value per attribute type: later organizations go in under
                // the same OID (2.5.4.10) as a "custom" type.
                let t = if i == 0 {
                    DnType::OrganizationName
                } else {
                    DnType::CustomDnType(vec![2, 5, 4, 10])
                };
                p.distinguished_name.push(t, *o);
            }
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &self.issuer).unwrap();
            vec![cert.der().clone()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Ca;
    use super::*;

    #[test]
    fn chains_verify_only_against_their_ca() {
        let ca = Ca::new("client-ca");
        let other = Ca::new("other-ca");
        let auth = CertAuthority::from_pem(ca.pem().as_bytes(), "test").unwrap();
        let good = ca.client("alice", &["dev", "ops"]);
        auth.verify(&good).unwrap();
        assert!(auth.verify(&other.client("mallory", &[])).is_err());
        assert!(auth.verify(&[]).is_err());
        let s = Subject::of(&good[0]).unwrap();
        assert_eq!(s.common_name, "alice");
        assert_eq!(s.organizations, ["dev", "ops"]);
    }

    #[test]
    fn bad_bundles_are_rejected() {
        assert!(CertAuthority::from_pem(b"", "empty").is_err());
        assert!(
            CertAuthority::from_pem(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "junk"
            )
            .is_err()
        );
    }
}
