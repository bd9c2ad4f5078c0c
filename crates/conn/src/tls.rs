//! TLS for PostgreSQL connections with rustls, following libpq's `sslmode` semantics.
//!
//! tokio-postgres only knows `disable`, `prefer` and `require`, and has no notion of certificate
//! checks; it delegates the handshake to a [`TlsConnect`]. This module builds that connector from
//! a [`ConnInfo`] so that the libpq meaning of every mode holds:
//!
//! | sslmode     | encryption                     | certificate check                                  |
//! |-------------|--------------------------------|----------------------------------------------------|
//! | disable     | never                          | -                                                  |
//! | allow       | only if plaintext is refused   | none (like require)                                |
//! | prefer      | if the server offers it        | none (like require)                                |
//! | require     | always                         | none, unless `sslrootcert` is given: then verify-ca |
//! | verify-ca   | always                         | chain to `sslrootcert`                             |
//! | verify-full | always                         | chain to `sslrootcert` and the host name           |
//!
//! `sslrootcert=system` uses the platform's trust store. Without `sslrootcert`, verify modes look
//! for `~/.postgresql/root.crt` like libpq does and fail clearly when it is missing.
//! `sslcert` / `sslkey` (default `~/.postgresql/postgresql.crt` / `.key` when both exist) give a
//! client certificate for `cert` authentication.
//!
//! Every handshake also yields the `tls-server-end-point` channel-binding data of the server's
//! certificate ([`super::channel_binding`]), so that SCRAM-SHA-256-PLUS can bind the password
//! exchange to the certificate actually seen.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect};

use super::channel_binding::TlsBinding;
use super::config::{ConnInfo, SslMode, SslRootCert};
use db_migrate_core::error::{Error, ErrorKind, Result};

/// How the server certificate is checked once TLS is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Encryption only (require without a root certificate, prefer, allow).
    None,
    /// The chain must lead to a trusted root; the name is not checked.
    Ca,
    /// Chain and host name.
    Full,
}

fn home_pg_file(name: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql").join(name))
}

fn tls_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Tls, msg)
}

fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_roots(root: &SslRootCert) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match root {
        SslRootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Individual unparsable system certificates are skipped, as every TLS client does.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(tls_error(
                    "sslrootcert=system: no usable certificates found in the system trust store",
                ));
            }
        }
        SslRootCert::File(path) => {
            let pem = read_pem(path, "root certificate file")?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| {
                    tls_error(format!(
                        "could not parse root certificate file \"{}\": {e}",
                        path.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(tls_error(format!(
                    "root certificate file \"{}\" contains no certificates",
                    path.display()
                )));
            }
            for cert in certs {
                store.add(cert).map_err(|e| {
                    tls_error(format!(
                        "invalid certificate in root certificate file \"{}\": {e}",
                        path.display()
                    ))
                })?;
            }
        }
    }
    Ok(store)
}

/// A PEM file named in the connection string, read with the bound every input file has.
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    db_migrate_core::input::read_bounded(path, db_migrate_core::input::MAX_INPUT_BYTES)
        .map_err(|e| tls_error(format!("could not read {what} \"{}\": {e}", path.display())))
}

fn load_client_cert(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let pem = read_pem(cert, "client certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            tls_error(format!(
                "could not read client certificate \"{}\": {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(tls_error(format!(
            "client certificate file \"{}\" contains no certificate",
            cert.display()
        )));
    }
    let key_pem = read_pem(key, "client private key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        tls_error(format!(
            "could not read client private key \"{}\": {e}",
            key.display()
        ))
    })?;
    Ok((chain, key))
}

/// A verifier for `verify-ca`: the chain must be valid, the name may be anything.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A verifier for `require`/`prefer`/`allow` without a root certificate: libpq encrypts but does
/// not authenticate the server in these modes. Handshake signatures are still checked so the
/// session keys belong to whoever holds the presented certificate.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls configuration and the name to verify for one connection target.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl TlsSettings {
    /// Builds the TLS settings for `info`, or `None` when TLS will never be used
    /// (`sslmode=disable`, or a Unix-domain socket, where libpq does not use TLS either).
    pub fn for_conninfo(info: &ConnInfo) -> Result<Option<TlsSettings>> {
        let mode = info.sslmode();
        if mode == SslMode::Disable || info.is_unix_socket() {
            return Ok(None);
        }
        let root = match &info.sslrootcert {
            Some(r) => Some(r.clone()),
            None => home_pg_file("root.crt")
                .filter(|p| p.exists())
                .map(SslRootCert::File),
        };
        let verify = match mode {
            SslMode::VerifyFull => Verify::Full,
            SslMode::VerifyCa => Verify::Ca,
            // libpq: "require" with a root certificate behaves like verify-ca.
            SslMode::Require if info.sslrootcert.is_some() => Verify::Ca,
            _ => Verify::None,
        };
        let provider = crypto();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?;
        let builder = match verify {
            Verify::None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider.clone()))),
            Verify::Ca | Verify::Full => {
                let root = root.ok_or_else(|| {
                    tls_error(format!(
                        "sslmode={} needs a root certificate to check the server against: set sslrootcert to a PEM file, or sslrootcert=system to use the system's trusted roots",
                        mode.as_str()
                    ))
                })?;
                let roots = Arc::new(load_roots(&root)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?;
                if verify == Verify::Full {
                    builder.with_webpki_verifier(webpki)
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(CaOnly(webpki)))
                }
            }
        };
        let (cert, key) = match (&info.sslcert, &info.sslkey) {
            (Some(c), Some(k)) => (Some(c.clone()), Some(k.clone())),
            (Some(c), None) => (Some(c.clone()), home_pg_file("postgresql.key")),
            (None, Some(_)) => {
                return Err(tls_error(
                    "sslkey was given without sslcert: both are needed for a client certificate",
                ));
            }
            (None, None) => match (
                home_pg_file("postgresql.crt").filter(|p| p.exists()),
                home_pg_file("postgresql.key").filter(|p| p.exists()),
            ) {
                (Some(c), Some(k)) => (Some(c), Some(k)),
                _ => (None, None),
            },
        };
        let mut config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let (chain, key) = load_client_cert(&cert, &key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_error(format!("invalid client certificate or key: {e}")))?
            }
            (Some(cert), None) => {
                return Err(tls_error(format!(
                    "client certificate \"{}\" given but no sslkey",
                    cert.display()
                )));
            }
            _ => builder.with_no_client_auth(),
        };
        // PostgreSQL 17 direct TLS negotiation uses ALPN "postgresql"; with the classic SSLRequest
        // flow the server accepts it too.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        let name = info.host();
        let server_name = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(name.clone()).map_err(|_| {
                tls_error(format!(
                    "host \"{name}\" is not a valid name for TLS verification"
                ))
            })?,
        };
        Ok(Some(TlsSettings {
            config: Arc::new(config),
            server_name,
        }))
    }

    /// A connector for one socket, for tokio-postgres' `connect_raw`, and where it records
    /// what the connection showed ([`Observed`]), so that a channel-binding refusal can say why.
    pub fn connector(&self) -> (RustlsConnect, Arc<Observed>) {
        let observed = Arc::new(Observed::default());
        (
            RustlsConnect {
                settings: Some(self.clone()),
                observed: observed.clone(),
            },
            observed,
        )
    }

    /// Performs the TLS handshake on `stream` (used by the walsender client, which negotiates
    /// SSLRequest itself).
    pub async fn handshake<S>(&self, stream: S) -> io::Result<tokio_rustls::client::TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), stream)
            .await
    }
}

/// What a finished handshake allows to bind to: the `tls-server-end-point` data of the leaf
/// certificate the server presented.
pub fn binding_of<S>(tls: &tokio_rustls::client::TlsStream<S>) -> TlsBinding {
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first());
    TlsBinding::of_certificate(leaf.map(|c| c.as_ref()))
}

/// What one tokio-postgres connection attempt showed of the TLS channel and of the server's
/// first authentication request. tokio-postgres refuses every unbound exchange under
/// `channel_binding=require` with the same words ("server did not use channel binding"); these
/// let our error say which case it was, in libpq's words.
#[derive(Debug, Default)]
pub struct Observed {
    /// Set when the TLS handshake completed (empty: the connection is not encrypted).
    pub binding: OnceLock<TlsBinding>,
    /// The code of the server's first Authentication message over TLS (0 ok, 3 cleartext
    /// password, 5 md5, 10 SASL, ...).
    pub first_auth_request: OnceLock<i32>,
}

/// The [`TlsConnect`] implementation handed to tokio-postgres. Without settings it is used
/// with `sslmode=disable`, where tokio-postgres never calls it.
pub struct RustlsConnect {
    settings: Option<TlsSettings>,
    observed: Arc<Observed>,
}

impl RustlsConnect {
    /// A connector for sessions that never use TLS.
    pub fn none() -> Self {
        RustlsConnect {
            settings: None,
            observed: Arc::default(),
        }
    }
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let settings = self.settings.ok_or_else(|| {
                io::Error::other("TLS was requested on a connection configured without TLS")
            })?;
            let tls = settings.handshake(stream).await?;
            let binding = binding_of(&tls);
            let end_point = match &binding {
                TlsBinding::EndPoint(hash) => Some(hash.clone()),
                _ => None,
            };
            let _ = self.observed.binding.set(binding);
            Ok(RustlsStream {
                tls: Box::new(tls),
                end_point,
                sniff: Some(Sniffer {
                    head: [0; 9],
                    len: 0,
                    observed: self.observed,
                }),
            })
        })
    }
}

/// A TLS stream as tokio-postgres wants it.
pub struct RustlsStream<S> {
    tls: Box<tokio_rustls::client::TlsStream<S>>,
    /// The `tls-server-end-point` data when the certificate can be bound.
    end_point: Option<Vec<u8>>,
    /// Watches the first bytes the server sends, until its first message is known.
    sniff: Option<Sniffer>,
}

/// Reads the header of the server's first message (tag, length, Authentication code) as it
/// passes, into [`Observed::first_auth_request`]; then it is dropped and reads cost nothing.
struct Sniffer {
    head: [u8; 9],
    len: usize,
    observed: Arc<Observed>,
}

impl Sniffer {
    /// Takes newly read bytes; `true` once the first message is known (or is not an
    /// Authentication message) and the sniffer can go.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let take = bytes.len().min(self.head.len() - self.len);
        self.head[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
        if self.len >= 1 && self.head[0] != b'R' {
            return true;
        }
        if self.len == self.head.len() {
            let [_, _, _, _, _, a, b, c, d] = self.head;
            let _ = self
                .observed
                .first_auth_request
                .set(i32::from_be_bytes([a, b, c, d]));
            return true;
        }
        false
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut *self.tls).poll_read(cx, buf);
        if let (Some(sniff), Poll::Ready(Ok(()))) = (self.sniff.as_mut(), &polled) {
            if sniff.feed(&buf.filled()[before..]) {
                self.sniff = None;
            }
        }
        polled
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.tls).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.tls).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.tls).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    /// `tls-server-end-point` when the certificate's signature algorithm gives a hash.
    /// tokio-postgres then picks SCRAM-SHA-256-PLUS when the server offers it, sends "y" when
    /// it does not, and honours `channel_binding` (set on its `Config` from the conninfo).
    fn channel_binding(&self) -> ChannelBinding {
        match &self.end_point {
            Some(hash) => ChannelBinding::tls_server_end_point(hash.clone()),
            None => ChannelBinding::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(chunks: &[&[u8]]) -> Option<i32> {
        let observed = Arc::new(Observed::default());
        let mut s = Sniffer {
            head: [0; 9],
            len: 0,
            observed: observed.clone(),
        };
        for chunk in chunks {
            if s.feed(chunk) {
                break;
            }
        }
        observed.first_auth_request.get().copied()
    }

    #[test]
    fn the_first_authentication_request_is_read_even_when_split() {
        let md5 = [b'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4];
        assert_eq!(sniff(&[&md5]), Some(5));
        assert_eq!(sniff(&[&md5[..3], &md5[3..7], &md5[7..]]), Some(5));
        assert_eq!(sniff(&[&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]]), Some(0));
        // An ErrorResponse first, or too few bytes: nothing is claimed.
        assert_eq!(sniff(&[b"E\0\0\0\x08SFA"]), None);
        assert_eq!(sniff(&[&md5[..6]]), None);
    }
}
