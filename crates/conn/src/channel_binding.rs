//! SCRAM channel binding with libpq's `channel_binding` semantics, shared by both connection
//! stacks (tokio-postgres through [`super::tls`], our own client through [`super::wire`]).
//!
//! Why it matters: SCRAM-SHA-256 proves to each side that the other knows the password, but a
//! man in the middle holding *some* certificate the client accepts (sslmode=require without a
//! root certificate checks none) can relay the whole exchange. With SCRAM-SHA-256-PLUS the
//! client signs a hash of the certificate it actually saw (`tls-server-end-point`, RFC 5929);
//! a relay presents its own certificate, so the hashes differ and the server refuses.
//!
//! | channel_binding   | what happens                                                       |
//! |-------------------|--------------------------------------------------------------------|
//! | disable           | never bind (plain SCRAM-SHA-256, GS2 flag "n")                     |
//! | prefer (default)  | bind when TLS is in use and the server offers -PLUS; otherwise     |
//! |                   | plain SCRAM ("y" when we could bind but the server did not offer   |
//! |                   | it, so a server that did offer it detects a downgrade; "n" without |
//! |                   | TLS)                                                               |
//! | require           | fail unless the exchange was bound: no TLS, trust, password, md5,  |
//! |                   | cert, or SCRAM without -PLUS are all refused before any password   |
//! |                   | is sent (for AuthenticationOk: as soon as it arrives)              |
//!
//! The hash is the one of the server certificate's signature algorithm, except that MD5 and
//! SHA-1 become SHA-256 (RFC 5929 section 4.1); RSASSA-PSS names its hash in the algorithm
//! parameters (SHA-1 when absent), which is what libpq and the server get from OpenSSL's
//! `X509_get_signature_info` (OpenSSL 1.1.1 and later).
//! Algorithms without a separate hash (Ed25519, Ed448) cannot be bound: libpq fails on them;
//! we fail under `require` with an error naming the algorithm and do not bind under `prefer`.

use sha2::Digest;

use super::config::ConnInfo;
use db_migrate_core::error::{Error, ErrorKind};

/// The `channel_binding` setting of a conninfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingMode {
    Disable,
    Prefer,
    Require,
}

impl BindingMode {
    /// The setting of `info` (libpq's default, `prefer`, when absent or empty). Values were
    /// checked when the conninfo was parsed
    /// ([`check_value`](crate::config::feature_values::check_value)).
    pub fn from_conninfo(info: &ConnInfo) -> BindingMode {
        match info.other.get("channel_binding").map(String::as_str) {
            Some("disable") => BindingMode::Disable,
            Some("require") => BindingMode::Require,
            _ => BindingMode::Prefer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BindingMode::Disable => "disable",
            BindingMode::Prefer => "prefer",
            BindingMode::Require => "require",
        }
    }
}

/// What the transport of one connection allows to bind to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsBinding {
    /// The connection is not encrypted: nothing to bind to.
    NotTls,
    /// TLS is in use but its certificate gives no `tls-server-end-point` hash (the reason).
    Unavailable(String),
    /// TLS is in use; the `tls-server-end-point` data of the server's leaf certificate.
    EndPoint(Vec<u8>),
}

impl TlsBinding {
    /// The binding of a TLS connection whose server presented `leaf` (DER) first, or
    /// [`TlsBinding::Unavailable`] when it presented none.
    pub fn of_certificate(leaf: Option<&[u8]>) -> TlsBinding {
        match leaf {
            None => TlsBinding::Unavailable("the server presented no certificate".into()),
            Some(der) => match tls_server_end_point(der) {
                Ok(hash) => TlsBinding::EndPoint(hash),
                Err(reason) => TlsBinding::Unavailable(reason),
            },
        }
    }

    pub fn encrypted(&self) -> bool {
        !matches!(self, TlsBinding::NotTls)
    }
}

/// The hash functions `tls-server-end-point` can end up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndPointHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl EndPointHash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            EndPointHash::Sha224 => sha2::Sha224::digest(data).to_vec(),
            EndPointHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            EndPointHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            EndPointHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// `tls-server-end-point` (RFC 5929 section 4.1): the hash of the certificate's DER encoding
/// with the hash of its signature algorithm (MD5 and SHA-1 replaced by SHA-256). `Err` says why
/// the certificate cannot be bound.
pub fn tls_server_end_point(cert_der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    Ok(signature_hash(cert_der)?.digest(cert_der))
}

// DER encodings (content octets) of the object identifiers we map.
const OID_MD5_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04];
const OID_SHA1_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_SHA384_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const OID_SHA512_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const OID_SHA224_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e];
const OID_ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const OID_ECDSA_SHA224: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
const OID_DSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
const OID_DSA_SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x01];
const OID_DSA_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];
// Hash algorithms, as RSASSA-PSS parameters name them.
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const OID_SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
/// `[0] EXPLICIT` (the hashAlgorithm field of RSASSA-PSS-params).
const TAG_CONTEXT_0: u8 = 0xa0;

/// The hash `tls-server-end-point` uses for the certificate `cert_der`, read from its
/// `signatureAlgorithm` (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
/// signatureValue }).
pub fn signature_hash(cert_der: &[u8]) -> std::result::Result<EndPointHash, String> {
    let malformed = || "the server certificate is not valid DER".to_string();
    let (tag, cert, _) = der_element(cert_der).ok_or_else(malformed)?;
    if tag != TAG_SEQUENCE {
        return Err(malformed());
    }
    let (tag, _tbs, rest) = der_element(cert).ok_or_else(malformed)?;
    if tag != TAG_SEQUENCE {
        return Err(malformed());
    }
    let (tag, algorithm, _) = der_element(rest).ok_or_else(malformed)?;
    if tag != TAG_SEQUENCE {
        return Err(malformed());
    }
    let (tag, oid, params) = der_element(algorithm).ok_or_else(malformed)?;
    if tag != TAG_OID {
        return Err(malformed());
    }
    use EndPointHash::*;
    Ok(match oid {
        // RFC 5929: "if the certificate's signatureAlgorithm uses ... MD5 or SHA-1, then use
        // SHA-256".
        OID_MD5_RSA | OID_SHA1_RSA | OID_ECDSA_SHA1 | OID_DSA_SHA1 => Sha256,
        OID_SHA224_RSA | OID_ECDSA_SHA224 | OID_DSA_SHA224 => Sha224,
        OID_SHA256_RSA | OID_ECDSA_SHA256 | OID_DSA_SHA256 => Sha256,
        OID_SHA384_RSA | OID_ECDSA_SHA384 => Sha384,
        OID_SHA512_RSA | OID_ECDSA_SHA512 => Sha512,
        OID_RSA_PSS => pss_hash(params)?,
        OID_ED25519 => return Err(no_hash("Ed25519")),
        OID_ED448 => return Err(no_hash("Ed448")),
        other => {
            return Err(format!(
                "the server certificate's signature algorithm (OID {}) is not one channel \
                 binding knows a hash for",
                dotted(other)
            ));
        }
    })
}

fn no_hash(algorithm: &str) -> String {
    format!(
        "the server certificate is signed with {algorithm}, which has no separate hash \
         function for tls-server-end-point channel binding (libpq cannot bind to it either)"
    )
}

/// The hash of RSASSA-PSS-params (RFC 4055): `SEQUENCE { [0] hashAlgorithm DEFAULT sha1, ... }`.
fn pss_hash(params: &[u8]) -> std::result::Result<EndPointHash, String> {
    let malformed =
        || "the server certificate's RSASSA-PSS parameters are not valid DER".to_string();
    let (tag, seq, _) = der_element(params).ok_or_else(malformed)?;
    if tag != TAG_SEQUENCE {
        return Err(malformed());
    }
    // An empty sequence (or one starting with another field) takes the default, SHA-1.
    let hash_oid = match der_element(seq) {
        Some((TAG_CONTEXT_0, explicit, _)) => {
            let (tag, alg, _) = der_element(explicit).ok_or_else(malformed)?;
            if tag != TAG_SEQUENCE {
                return Err(malformed());
            }
            let (tag, oid, _) = der_element(alg).ok_or_else(malformed)?;
            if tag != TAG_OID {
                return Err(malformed());
            }
            oid
        }
        _ => OID_SHA1,
    };
    match hash_oid {
        OID_SHA1 | OID_SHA256 => Ok(EndPointHash::Sha256),
        OID_SHA224 => Ok(EndPointHash::Sha224),
        OID_SHA384 => Ok(EndPointHash::Sha384),
        OID_SHA512 => Ok(EndPointHash::Sha512),
        other => Err(format!(
            "the server certificate's RSASSA-PSS hash (OID {}) is not one channel binding knows",
            dotted(other)
        )),
    }
}

/// One DER element at the start of `input`: (tag, contents, what follows). Single-byte tags
/// and definite lengths only (all a certificate's outer structure uses); `None` when
/// malformed or truncated.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// An OID's content octets in dotted form, for error messages.
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
        if arcs.len() > 32 {
            break;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Why `channel_binding=require` could not be met, in libpq's words with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The connection is not encrypted.
    NotTls,
    /// The server asked for a password (cleartext or md5), which cannot bind.
    PasswordMethod(&'static str),
    /// The server accepted the client without any SASL exchange (trust, cert, peer...).
    AuthenticatedWithoutBinding,
    /// The server offers SCRAM-SHA-256 but not -PLUS.
    NoPlusOffered,
    /// TLS is in use but its certificate cannot be bound (the reason).
    Unbindable(String),
    /// The exchange ended unbound and the client stack does not say which of the above it was
    /// (tokio-postgres reports only "server did not use channel binding").
    NotBound,
}

/// The error for a connection `channel_binding=require` refuses. Kind [`ErrorKind::Tls`]: the
/// protection asked of the TLS channel is missing, and (unlike an authentication failure) it
/// must not make `sslmode=prefer` retry without TLS.
pub fn required_error(why: &Refusal) -> Error {
    let text = match why {
        Refusal::NotTls => "channel binding required, but SSL not in use (channel binding \
                            needs TLS: use sslmode=require or stronger with a server that has \
                            ssl=on)"
            .to_string(),
        Refusal::PasswordMethod(method) => format!(
            "channel binding required but not supported by server's authentication request \
             (the server asked for a {method} password, which cannot be bound to the TLS \
             channel; no password was sent: pg_hba.conf must use scram-sha-256 for this user)"
        ),
        Refusal::AuthenticatedWithoutBinding => {
            "channel binding required, but server authenticated client without channel \
             binding (its pg_hba.conf method for this user is not scram-sha-256, e.g. trust \
             or cert)"
                .to_string()
        }
        Refusal::NoPlusOffered => "channel binding is required, but server did not offer an \
                                   authentication method that supports channel binding \
                                   (SCRAM-SHA-256-PLUS; the server offers it over TLS from \
                                   PostgreSQL 11 on, when built with OpenSSL)"
            .to_string(),
        Refusal::NotBound => "channel binding required, but the server did not authenticate \
                              with SCRAM-SHA-256-PLUS (pg_hba.conf must use scram-sha-256 for \
                              this user, not trust, password, md5 or cert; no password was sent)"
            .to_string(),
        Refusal::Unbindable(reason) => {
            format!("channel binding required, but it cannot be done on this connection: {reason}")
        }
    };
    Error::new(ErrorKind::Tls, format!("channel_binding=require: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::feature_values::check_value;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            let len = (content.len() as u32).to_be_bytes();
            let skip = len.iter().take_while(|b| **b == 0).count();
            v.push(0x80 | (4 - skip) as u8);
            v.extend_from_slice(&len[skip..]);
        }
        v.extend_from_slice(content);
        v
    }

    /// A certificate skeleton with the given signatureAlgorithm OID and parameters: only the
    /// outer structure matters to the hash choice.
    fn cert_with(oid: &[u8], params: &[u8]) -> Vec<u8> {
        let tbs = tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x01].repeat(60));
        let mut alg = tlv(TAG_OID, oid);
        alg.extend_from_slice(params);
        let mut body = tbs;
        body.extend(tlv(TAG_SEQUENCE, &alg));
        body.extend(tlv(0x03, &[0, 1, 2, 3]));
        tlv(TAG_SEQUENCE, &body)
    }

    const NULL: &[u8] = &[0x05, 0x00];

    fn pss_params(hash: Option<&[u8]>) -> Vec<u8> {
        let inner = match hash {
            Some(oid) => {
                let mut alg = tlv(TAG_OID, oid);
                alg.extend_from_slice(NULL);
                tlv(TAG_CONTEXT_0, &tlv(TAG_SEQUENCE, &alg))
            }
            None => Vec::new(),
        };
        tlv(TAG_SEQUENCE, &inner)
    }

    #[test]
    fn rsa_and_ecdsa_certificates_bind_with_the_hash_of_their_signature() {
        use EndPointHash::*;
        for (oid, params, want) in [
            (OID_SHA256_RSA, NULL, Sha256),
            (OID_SHA384_RSA, NULL, Sha384),
            (OID_SHA512_RSA, NULL, Sha512),
            (OID_SHA224_RSA, NULL, Sha224),
            (OID_ECDSA_SHA256, &[][..], Sha256),
            (OID_ECDSA_SHA384, &[][..], Sha384),
            (OID_ECDSA_SHA512, &[][..], Sha512),
            (OID_DSA_SHA256, &[][..], Sha256),
        ] {
            let cert = cert_with(oid, params);
            assert_eq!(signature_hash(&cert), Ok(want), "{}", dotted(oid));
        }
    }

    #[test]
    fn md5_and_sha1_signatures_bind_with_sha256() {
        for oid in [OID_MD5_RSA, OID_SHA1_RSA, OID_ECDSA_SHA1, OID_DSA_SHA1] {
            let cert = cert_with(oid, NULL);
            assert_eq!(signature_hash(&cert), Ok(EndPointHash::Sha256));
            assert_eq!(
                tls_server_end_point(&cert).unwrap(),
                sha2::Sha256::digest(&cert).to_vec()
            );
        }
    }

    #[test]
    fn rsa_pss_takes_its_hash_from_the_parameters_and_sha1_by_default() {
        use EndPointHash::*;
        for (hash, want) in [
            (Some(OID_SHA256), Sha256),
            (Some(OID_SHA384), Sha384),
            (Some(OID_SHA512), Sha512),
            (Some(OID_SHA1), Sha256),
            (None, Sha256),
        ] {
            let cert = cert_with(OID_RSA_PSS, &pss_params(hash));
            assert_eq!(signature_hash(&cert), Ok(want), "{hash:?}");
        }
        let e = signature_hash(&cert_with(OID_RSA_PSS, &[])).unwrap_err();
        assert!(e.contains("RSASSA-PSS"), "{e}");
    }

    #[test]
    fn eddsa_and_unknown_algorithms_cannot_bind_and_say_why() {
        let e = signature_hash(&cert_with(OID_ED25519, &[])).unwrap_err();
        assert!(e.contains("Ed25519"), "{e}");
        let e = signature_hash(&cert_with(OID_ED448, &[])).unwrap_err();
        assert!(e.contains("Ed448"), "{e}");
        // 1.2.3.4
        let e = signature_hash(&cert_with(&[0x2a, 0x03, 0x04], &[])).unwrap_err();
        assert!(e.contains("OID 1.2.3.4"), "{e}");
        assert!(matches!(
            TlsBinding::of_certificate(Some(&cert_with(OID_ED25519, &[]))),
            TlsBinding::Unavailable(_)
        ));
    }

    #[test]
    fn real_certificates_from_rcgen_are_read() {
        for (alg, want) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, EndPointHash::Sha256),
            (&rcgen::PKCS_ECDSA_P384_SHA384, EndPointHash::Sha384),
        ] {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            assert_eq!(signature_hash(cert.der()), Ok(want));
            let TlsBinding::EndPoint(hash) = TlsBinding::of_certificate(Some(cert.der())) else {
                panic!("binds")
            };
            assert_eq!(
                hash.len(),
                if want == EndPointHash::Sha256 { 32 } else { 48 }
            );
        }
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert!(signature_hash(cert.der()).unwrap_err().contains("Ed25519"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x03, 0x30, 0x05, 0x00],
            &[0x1f, 0x00],
            &[0x30, 0x02, 0x30, 0x00],
        ] {
            assert!(signature_hash(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn values_are_checked_and_require_is_accepted() {
        for ok in ["", "disable", "prefer", "require"] {
            assert!(check_value("channel_binding", ok).is_ok(), "{ok}");
        }
        let e = check_value("channel_binding", "always")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"always\"") && e.contains("disable, prefer or require"),
            "{e}"
        );
        assert!(check_value("sslmode", "always").is_ok());
        let info = ConnInfo::parse("host=h channel_binding=require").unwrap();
        assert_eq!(BindingMode::from_conninfo(&info), BindingMode::Require);
        let info = ConnInfo::parse("host=h").unwrap();
        assert_eq!(BindingMode::from_conninfo(&info), BindingMode::Prefer);
    }

    #[test]
    fn refusals_name_channel_binding_require() {
        for why in [
            Refusal::NotTls,
            Refusal::PasswordMethod("md5"),
            Refusal::AuthenticatedWithoutBinding,
            Refusal::NoPlusOffered,
            Refusal::Unbindable("x".into()),
            Refusal::NotBound,
        ] {
            let e = required_error(&why);
            assert_eq!(e.kind(), ErrorKind::Tls);
            assert!(e.to_string().contains("channel_binding=require"), "{e}");
        }
    }
}
