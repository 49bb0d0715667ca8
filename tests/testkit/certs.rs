//! Test certificates, made in-process (rcgen): a private CA and a leaf for `127.0.0.1` and
//! `localhost` signed by it, for the TLS capture intake and `DD_TLS_CERT_FILE`.

use std::path::{Path, PathBuf};

/// The PEM files written under `dir`.
pub struct TestCerts {
    pub ca: PathBuf,
    pub leaf: PathBuf,
    pub key: PathBuf,
}

/// Writes `ca.pem`, `leaf.pem` and `leaf.key` into `dir`.
pub fn make(dir: &Path) -> Result<TestCerts, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        SanType,
    };
    let err = |e: rcgen::Error| format!("cannot make test certificates: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tandem test CA");
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca = ca_params.self_signed(&ca_key).map_err(err)?;

    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf_key = KeyPair::generate().map_err(err)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(err)?;

    let certs = TestCerts {
        ca: dir.join("ca.pem"),
        leaf: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    };
    for (path, pem) in [
        (&certs.ca, ca.pem()),
        (&certs.leaf, leaf.pem()),
        (&certs.key, leaf_key.serialize_pem()),
    ] {
        std::fs::write(path, pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(certs)
}
