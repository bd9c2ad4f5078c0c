//! Test PKI for the TLS cluster: a CA, a server certificate for `localhost` / `127.0.0.1`, a
//! client certificate for the certificate-authenticated role, and an unrelated second CA. The
//! key algorithm (ECDSA P-256 with SHA-256 by default) decides the hash of the certificates'
//! signatures, which channel binding's `tls-server-end-point` follows.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SignatureAlgorithm,
};

use super::TlsFiles;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(common_name: &str, alg: &'static SignatureAlgorithm) -> Result<Ca, rcgen::Error> {
    let key = KeyPair::generate_for(alg)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "db-migrate tests");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok(Ca { cert, key })
}

fn leaf(
    issuer: &Ca,
    common_name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    alg: &'static SignatureAlgorithm,
) -> Result<(rcgen::Certificate, KeyPair), rcgen::Error> {
    let key = KeyPair::generate_for(alg)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.subject_alt_names = sans;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key)?;
    Ok((cert, key))
}

fn write(path: &Path, contents: &str, mode: u32) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}

/// Writes the PKI into `dir` (created), every key of algorithm `alg`. `server_owner` (uid,
/// gid) gets the server key, which PostgreSQL insists be owned by the server user with mode
/// 0600.
pub(super) fn generate(
    dir: &Path,
    client_cn: &str,
    server_owner: Option<(u32, u32)>,
    alg: &'static SignatureAlgorithm,
) -> Result<TlsFiles, String> {
    let gen_err = |e: rcgen::Error| format!("certificate generation failed: {e}");
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;

    let ca_ = ca("db-migrate test CA", alg).map_err(gen_err)?;
    let other = ca("db-migrate unrelated test CA", alg).map_err(gen_err)?;
    let (server_cert, server_key) = leaf(
        &ca_,
        "localhost",
        vec![
            SanType::DnsName("localhost".try_into().map_err(gen_err)?),
            SanType::IpAddress([127, 0, 0, 1].into()),
        ],
        ExtendedKeyUsagePurpose::ServerAuth,
        alg,
    )
    .map_err(gen_err)?;
    let (client_cert, client_key) = leaf(
        &ca_,
        client_cn,
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
        alg,
    )
    .map_err(gen_err)?;

    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
        other_ca_cert: dir.join("other-ca.crt"),
        client_cn: client_cn.to_owned(),
    };
    write(&files.ca_cert, &ca_.cert.pem(), 0o644)?;
    write(&files.other_ca_cert, &other.cert.pem(), 0o644)?;
    write(&files.server_cert, &server_cert.pem(), 0o644)?;
    write(&files.server_key, &server_key.serialize_pem(), 0o600)?;
    write(&files.client_cert, &client_cert.pem(), 0o644)?;
    write(&files.client_key, &client_key.serialize_pem(), 0o600)?;
    if let Some((uid, gid)) = server_owner {
        std::os::unix::fs::chown(&files.server_key, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", files.server_key.display()))?;
    }
    Ok(files)
}
