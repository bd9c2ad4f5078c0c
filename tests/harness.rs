//! Smoke tests of the throw-away cluster harness in tests/support.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::{NoTls, Socket};

use support::{CERT_USER, source, target, tls_cluster, unique_name};

#[tokio::test]
async fn source_and_target_are_distinct_clusters() {
    let (s, t) = (source(), target());
    assert_ne!(s.port, t.port);
    assert_ne!(s.data_dir, t.data_dir);
    assert_ne!(s.socket_dir, t.socket_dir);
    let expected = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(15)
    };
    assert_eq!(s.major, expected("PG_SOURCE_VERSION"));
    assert_eq!(t.major, expected("PG_TARGET_VERSION"));
    for c in [s, t] {
        assert_eq!(c.version_num() / 10_000, c.major);
        let rows = c.query_strings("postgres", "SHOW server_version_num").await;
        assert_eq!(rows, vec![vec![Some(c.version_num().to_string())]]);
        let rows = c
            .query_strings(
                "postgres",
                "SELECT current_setting('wal_level'), current_setting('max_replication_slots'), \
                 current_setting('fsync'), current_setting('server_encoding'), \
                 current_setting('listen_addresses')",
            )
            .await;
        assert_eq!(
            rows,
            vec![
                ["logical", "20", "off", "UTF8", "127.0.0.1"]
                    .map(|v| Some(v.to_string()))
                    .to_vec()
            ]
        );
        assert!(c.tls.is_none());
    }

    // A database made on the source exists only there; odd names survive quoting.
    let db = s.create_database("Smoke \"DB\" ü").await;
    assert!(db.starts_with("smoke \"db\" ü_"), "{db}");
    s.execute(
        &db,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)",
    )
    .await;
    let sql = format!(
        "SELECT count(*) FROM pg_database WHERE datname = {}",
        support::quote_literal(&db)
    );
    assert_eq!(
        s.query_strings("postgres", &sql).await,
        vec![vec![Some("1".into())]]
    );
    assert_eq!(
        t.query_strings("postgres", &sql).await,
        vec![vec![Some("0".into())]]
    );
    assert_eq!(
        s.query_strings(&db, "SELECT 1; SELECT sum(id), NULL FROM t")
            .await,
        vec![vec![Some("3".into()), None]]
    );

    // The key=value socket conninfo works with a libpq-compatible parser.
    let (client, conn) = tokio_postgres::connect(&s.socket_uri("postgres", &db), NoTls)
        .await
        .expect("socket_uri connects");
    tokio::spawn(conn);
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    // Logical decoding with pgoutput works (wal_level = logical, slots available).
    // (separate calls: a multi-statement batch is one implicit transaction.)
    let slot = unique_name("slot");
    s.execute(&db, "CREATE PUBLICATION p FOR ALL TABLES").await;
    s.execute(
        &db,
        &format!("SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"),
    )
    .await;
    s.execute(&db, &format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await;

    // unique_name: distinct, lowercase, at most 63 bytes even for long prefixes.
    let long = "ÄÖ".repeat(40);
    let names: Vec<String> = (0..50).map(|_| unique_name(&long)).collect();
    for n in &names {
        assert!(n.len() <= 63, "{n} is {} bytes", n.len());
        assert_eq!(n, &n.to_lowercase());
    }
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len());
}

#[tokio::test]
async fn created_roles_log_in_over_tcp_with_their_password() {
    let c = source();
    let (admin, password) = c.create_admin("Admin O'Neil \"x\"@:/", true).await;
    let (client, conn) = tokio_postgres::connect(&c.uri(&admin, &password, "postgres"), NoTls)
        .await
        .unwrap_or_else(|e| panic!("admin {admin:?} cannot log in: {}", support::pg_error(&e)));
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, rolsuper, rolcreatedb, rolcreaterole, rolreplication \
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), admin);
    assert!(!row.get::<_, bool>(1), "admin must not be superuser");
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3) && row.get::<_, bool>(4));

    let (admin2, password2) = c.create_admin("admin_norepl", false).await;
    let rows = c
        .query_strings(
            "postgres",
            &format!(
                "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = {}",
                support::quote_literal(&admin2)
            ),
        )
        .await;
    assert_eq!(rows, vec![vec![Some("f".into()), Some("f".into())]]);

    // The wrong password is refused (SCRAM over TCP, no trust).
    let err = tokio_postgres::connect(&c.uri(&admin2, &format!("{password2}x"), "postgres"), NoTls)
        .await
        .err()
        .expect("wrong password must fail");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");

    // Superusers: the bootstrap one and created ones.
    let (su, su_password) = c.create_superuser("su").await;
    for uri in [
        c.uri(&su, &su_password, "postgres"),
        c.superuser_uri("postgres"),
    ] {
        let (client, conn) = tokio_postgres::connect(&uri, NoTls).await.unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .unwrap();
        assert!(row.get::<_, bool>(0));
    }

    // The target is a separate cluster with its own roles.
    let (tadmin, tpassword) = target().create_admin("tadmin", false).await;
    assert!(
        tokio_postgres::connect(&c.uri(&tadmin, &tpassword, "postgres"), NoTls)
            .await
            .is_err()
    );
    let (_client, conn) =
        tokio_postgres::connect(&target().uri(&tadmin, &tpassword, "postgres"), NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
}

#[tokio::test]
async fn tls_cluster_rejects_plain_tcp_and_accepts_tls() {
    let c = tls_cluster();
    let tls = c.tls.as_ref().expect("tls_cluster has TLS files");
    assert_eq!(tls.client_cn, CERT_USER);
    assert_ne!(c.port, source().port);
    assert_eq!(c.major, source().major);

    // Plain TCP: pg_hba rejects it.
    let err = tokio_postgres::connect(&c.superuser_uri("postgres"), NoTls)
        .await
        .err()
        .expect("a non-TLS TCP connection must be rejected");
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err:?}"
    );

    // The Unix socket still trusts the superuser.
    assert_eq!(
        c.query_strings("postgres", "SHOW ssl").await,
        vec![vec![Some("on".into())]]
    );

    // TLS verified against the test CA (IP SAN 127.0.0.1), password auth.
    let uri = format!("{}?sslmode=require", c.superuser_uri("postgres"));
    let (client, conn) = tokio_postgres::connect(&uri, rustls(&tls.ca_cert, None))
        .await
        .unwrap_or_else(|e| panic!("TLS + password: {}", support::pg_error(&e)));
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));

    // The certificate user logs in with its client certificate and no password.
    let uri = format!(
        "postgres://{CERT_USER}@127.0.0.1:{}/postgres?sslmode=require",
        c.port
    );
    let client_auth = Some((tls.client_cert.as_path(), tls.client_key.as_path()));
    let (client, conn) = tokio_postgres::connect(&uri, rustls(&tls.ca_cert, client_auth))
        .await
        .unwrap_or_else(|e| panic!("TLS + client certificate: {}", support::pg_error(&e)));
    tokio::spawn(conn);
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, CERT_USER);

    // Without its certificate the certificate user is refused.
    assert!(
        tokio_postgres::connect(&uri, rustls(&tls.ca_cert, None))
            .await
            .is_err()
    );

    // A CA that did not sign the server certificate fails verification.
    let uri = format!("{}?sslmode=require", c.superuser_uri("postgres"));
    let err = tokio_postgres::connect(&uri, rustls(&tls.other_ca_cert, None))
        .await
        .err()
        .expect("verification against the unrelated CA must fail");
    assert!(
        format!("{err:?}").contains("UnknownIssuer"),
        "unexpected error: {err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A minimal rustls connector for tokio-postgres, to check the TLS cluster from the client side.

#[derive(Clone)]
struct MakeRustls(Arc<rustls::ClientConfig>);

fn rustls(ca: &Path, client: Option<(&Path, &Path)>) -> MakeRustls {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    MakeRustls(Arc::new(config))
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream<Socket>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect(self.0.clone(), name))
    }
}

struct RustlsConnect(Arc<rustls::ClientConfig>, ServerName<'static>);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = tokio_rustls::TlsConnector::from(self.0)
                .connect(self.1, stream)
                .await?;
            Ok(RustlsStream(stream))
        })
    }
}

struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
