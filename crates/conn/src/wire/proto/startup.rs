//! The startup and authentication state machine of our client, with no I/O: password, md5
//! and SCRAM-SHA-256(-PLUS) with libpq's `channel_binding` choices. Its own file because it
//! carries the authentication policy (what may be sent, and when a login must be refused)
//! apart from message framing, and is driven by the `backend_messages` fuzz target too.

use bytes::Bytes;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{AuthenticationSaslBody, Message};
use postgres_protocol::message::frontend;
use tokio_postgres::fallible_iterator::FallibleIterator;

use super::{ServerMessage, encode, parameter_status, protocol};
use crate::channel_binding::{self, Refusal, TlsBinding};
use db_migrate_core::error::{Error, ErrorKind, Result};

/// What the startup state machine wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum StartupStep {
    /// Send these bytes, then read the next message.
    Send(Bytes),
    /// Read the next message.
    Wait,
    /// ReadyForQuery after a successful authentication: the session is open.
    Ready,
}

enum Auth {
    /// Nothing requested yet.
    Start,
    /// A password (cleartext or md5) was sent.
    PasswordSent,
    /// SCRAM in progress; `true` once the server's final message was verified.
    Scram(Box<sasl::ScramSha256>, bool),
    /// AuthenticationOk received.
    Done,
}

/// The startup and authentication exchange, without I/O. Build the startup packet with
/// [`startup_message`], then feed every backend message to [`Startup::handle`] and do what
/// it says.
pub struct Startup {
    user: String,
    password: Option<String>,
    auth: Auth,
    /// `channel_binding` of the conninfo, and what the transport allows to bind to.
    binding_mode: channel_binding::BindingMode,
    binding: TlsBinding,
    /// The SASL mechanism chosen (SCRAM-SHA-256 or SCRAM-SHA-256-PLUS), once chosen.
    mechanism: Option<&'static str>,
    /// ParameterStatus values (server_version, ...).
    pub parameters: Vec<(String, String)>,
    /// BackendKeyData (process id, secret key).
    pub backend_key: Option<(i32, i32)>,
}

impl std::fmt::Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish_non_exhaustive()
    }
}

impl Startup {
    /// `user` is the role name as sent in the startup packet (md5 salts with it).
    pub fn new(user: impl Into<String>, password: Option<String>) -> Self {
        Startup {
            user: user.into(),
            password,
            auth: Auth::Start,
            binding_mode: channel_binding::BindingMode::Prefer,
            binding: TlsBinding::NotTls,
            mechanism: None,
            parameters: Vec::new(),
            backend_key: None,
        }
    }

    /// Sets the `channel_binding` mode and what the connection allows to bind to (by default
    /// `prefer` on an unencrypted connection: never bound).
    pub fn channel_binding(
        mut self,
        mode: channel_binding::BindingMode,
        binding: TlsBinding,
    ) -> Self {
        self.binding_mode = mode;
        self.binding = binding;
        self
    }

    /// The SASL mechanism the exchange uses, once the server asked for SASL.
    pub fn mechanism(&self) -> Option<&'static str> {
        self.mechanism
    }

    /// True when the authentication is (being) bound to the TLS channel: SCRAM-SHA-256-PLUS
    /// with `tls-server-end-point`.
    pub fn channel_bound(&self) -> bool {
        self.mechanism == Some(sasl::SCRAM_SHA_256_PLUS)
    }

    /// libpq's check of each authentication request under `channel_binding=require`
    /// (fe-auth.c check_expected_areq): a password request is refused before any password is
    /// sent, and AuthenticationOk only counts after a bound SCRAM exchange.
    fn require_binding(&self, refusal: Refusal) -> Result<()> {
        if self.binding_mode == channel_binding::BindingMode::Require {
            return Err(channel_binding::required_error(&refusal));
        }
        Ok(())
    }

    /// The mechanism and binding for an AuthenticationSASL offering SCRAM-SHA-256 (`scram`)
    /// and/or SCRAM-SHA-256-PLUS (`plus`), as libpq's pg_SASL_init chooses.
    fn choose_mechanism(
        &self,
        scram: bool,
        plus: bool,
    ) -> Result<(&'static str, sasl::ChannelBinding)> {
        use channel_binding::BindingMode;
        if self.binding_mode == BindingMode::Require && !self.binding.encrypted() {
            return Err(channel_binding::required_error(&Refusal::NotTls));
        }
        if plus && !self.binding.encrypted() {
            // libpq: the server would reject an unbound exchange after offering -PLUS, and a
            // server offering it over plaintext suggests a proxy stripped TLS.
            return Err(Error::new(
                ErrorKind::Tls,
                "the server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection \
                 (is a proxy stripping TLS?)",
            ));
        }
        let end_point = match (&self.binding, self.binding_mode) {
            (_, BindingMode::Disable) => None,
            (TlsBinding::EndPoint(hash), _) => Some(hash.clone()),
            (TlsBinding::Unavailable(reason), BindingMode::Require) if plus => {
                return Err(channel_binding::required_error(&Refusal::Unbindable(
                    reason.clone(),
                )));
            }
            _ => None,
        };
        match (plus, end_point) {
            (true, Some(hash)) => Ok((
                sasl::SCRAM_SHA_256_PLUS,
                sasl::ChannelBinding::tls_server_end_point(hash),
            )),
            (_, end_point) if scram || plus => {
                self.require_binding(Refusal::NoPlusOffered)?;
                if !scram {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        "the server offers only SCRAM-SHA-256-PLUS, which needs channel binding this \
                         connection cannot do (channel_binding=disable, or a certificate \
                         without a usable hash)",
                    ));
                }
                // "y": we could bind but the server did not offer it, so a server that did
                // (a man in the middle hid it) detects the downgrade. "n": we cannot bind.
                Ok(match end_point {
                    Some(_) => (sasl::SCRAM_SHA_256, sasl::ChannelBinding::unrequested()),
                    None => (sasl::SCRAM_SHA_256, sasl::ChannelBinding::unsupported()),
                })
            }
            _ => Err(Error::new(
                ErrorKind::Auth,
                "the server offers no SASL mechanism this client supports (SCRAM-SHA-256)",
            )),
        }
    }

    fn password(&self, method: &str) -> Result<&str> {
        self.password.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "the server asks for a password ({method}) but none was given \
                     (no password in the connection string, PGPASSWORD or the password file)"
                ),
            )
        })
    }

    /// True once AuthenticationOk arrived.
    pub fn authenticated(&self) -> bool {
        matches!(self.auth, Auth::Done)
    }

    /// AuthenticationSASL: picks SCRAM-SHA-256 or its channel-bound -PLUS as libpq's
    /// `channel_binding` allows ([`Self::choose_mechanism`]) and sends the first message.
    fn start_sasl(&mut self, body: AuthenticationSaslBody) -> Result<StartupStep> {
        if !matches!(self.auth, Auth::Start) {
            return Err(protocol("unexpected SASL request"));
        }
        let (mut scram, mut plus) = (false, false);
        let mut mechanisms = body.mechanisms();
        while let Some(m) = mechanisms
            .next()
            .map_err(|e| protocol(format!("malformed SASL mechanism list: {e}")))?
        {
            match m {
                sasl::SCRAM_SHA_256 => scram = true,
                sasl::SCRAM_SHA_256_PLUS => plus = true,
                _ => {}
            }
        }
        let (mechanism, binding) = self.choose_mechanism(scram, plus)?;
        let pw = self.password(mechanism)?;
        let exchange = sasl::ScramSha256::new(pw.as_bytes(), binding);
        let out = encode("a SASL initial response", |b| {
            frontend::sasl_initial_response(mechanism, exchange.message(), b)
        })?;
        self.mechanism = Some(mechanism);
        self.auth = Auth::Scram(Box::new(exchange), false);
        Ok(StartupStep::Send(out))
    }

    /// AuthenticationOk: accepted only once, after a SCRAM exchange the server finished by
    /// proving it knows the password, and with a channel binding when one is required.
    fn authentication_ok(&mut self) -> Result<StartupStep> {
        match self.auth {
            Auth::Scram(_, false) => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    "the server ended SCRAM authentication without proving it knows the password",
                ));
            }
            Auth::Done => return Err(protocol("duplicate AuthenticationOk")),
            _ => {}
        }
        if !self.channel_bound() {
            self.require_binding(Refusal::AuthenticatedWithoutBinding)?;
        }
        self.auth = Auth::Done;
        Ok(StartupStep::Wait)
    }

    /// Handles one backend message.
    pub fn handle(&mut self, msg: Message) -> Result<StartupStep> {
        match msg {
            Message::AuthenticationCleartextPassword => {
                if !matches!(self.auth, Auth::Start) {
                    return Err(protocol("unexpected password request"));
                }
                self.require_binding(Refusal::PasswordMethod("cleartext"))?;
                let pw = self.password("password")?.to_owned();
                self.auth = Auth::PasswordSent;
                Ok(StartupStep::Send(encode("a password message", |b| {
                    frontend::password_message(pw.as_bytes(), b)
                })?))
            }
            Message::AuthenticationMd5Password(body) => {
                if !matches!(self.auth, Auth::Start) {
                    return Err(protocol("unexpected md5 password request"));
                }
                self.require_binding(Refusal::PasswordMethod("md5"))?;
                let pw = self.password("md5")?;
                let hash = md5_hash(self.user.as_bytes(), pw.as_bytes(), body.salt());
                self.auth = Auth::PasswordSent;
                Ok(StartupStep::Send(encode("a password message", |b| {
                    frontend::password_message(hash.as_bytes(), b)
                })?))
            }
            Message::AuthenticationSasl(body) => self.start_sasl(body),
            Message::AuthenticationSaslContinue(body) => {
                let Auth::Scram(exchange, false) = &mut self.auth else {
                    return Err(protocol("unexpected SASL continue message"));
                };
                exchange.update(body.data()).map_err(|e| {
                    Error::new(ErrorKind::Auth, format!("SCRAM authentication failed: {e}"))
                })?;
                Ok(StartupStep::Send(encode("a SASL response", |b| {
                    frontend::sasl_response(exchange.message(), b)
                })?))
            }
            Message::AuthenticationSaslFinal(body) => {
                let Auth::Scram(exchange, done) = &mut self.auth else {
                    return Err(protocol("unexpected SASL final message"));
                };
                if *done {
                    return Err(protocol("duplicate SASL final message"));
                }
                exchange.finish(body.data()).map_err(|e| {
                    Error::new(
                        ErrorKind::Auth,
                        format!("SCRAM authentication failed: the server could not prove it knows the password: {e}"),
                    )
                })?;
                *done = true;
                Ok(StartupStep::Wait)
            }
            Message::AuthenticationOk => self.authentication_ok(),
            Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationSspi => Err(Error::new(
                ErrorKind::Auth,
                "the server asks for an authentication method this client does not support \
                 (GSSAPI/SSPI/Kerberos/SCM); use password, md5 or scram-sha-256 in pg_hba.conf",
            )),
            Message::ParameterStatus(body) => {
                self.parameters.push(parameter_status(&body)?);
                Ok(StartupStep::Wait)
            }
            Message::BackendKeyData(body) => {
                self.backend_key = Some((body.process_id(), body.secret_key()));
                Ok(StartupStep::Wait)
            }
            Message::NoticeResponse(_) => Ok(StartupStep::Wait),
            Message::ErrorResponse(body) => Err(ServerMessage::parse(body.fields())?.into_error()),
            Message::ReadyForQuery(_) => {
                if self.authenticated() {
                    Ok(StartupStep::Ready)
                } else {
                    Err(protocol("ReadyForQuery before authentication completed"))
                }
            }
            _ => Err(protocol("unexpected message during startup")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::next_message;
    use super::super::parse_server_version;
    use super::super::tests::{error_body, msg};
    use super::*;
    use bytes::BytesMut;

    fn feed_startup(m: &mut Startup, bytes: &[u8]) -> Vec<Result<StartupStep>> {
        let mut b = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(msg) = next_message(&mut b).unwrap() {
            out.push(m.handle(msg));
        }
        out
    }

    #[test]
    fn md5_authentication_sends_the_salted_hash() {
        let mut m = Startup::new("alice", Some("secret".into()));
        let mut body = 5i32.to_be_bytes().to_vec();
        body.extend_from_slice(&[1, 2, 3, 4]);
        let steps = feed_startup(&mut m, &msg(b'R', &body));
        let Ok(StartupStep::Send(bytes)) = &steps[0] else {
            panic!("{steps:?}")
        };
        let expected =
            postgres_protocol::authentication::md5_hash(b"alice", b"secret", [1, 2, 3, 4]);
        assert!(expected.starts_with("md5"));
        assert_eq!(bytes[0], b'p');
        assert_eq!(&bytes[5..bytes.len() - 1], expected.as_bytes());
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
        // Then AuthenticationOk, parameters, key data, ReadyForQuery.
        let mut rest = msg(b'R', &0i32.to_be_bytes());
        rest.extend(msg(b'S', b"server_version\x0016.2\x00"));
        rest.extend(msg(b'K', &[0, 0, 0, 42, 0, 0, 0, 7]));
        rest.extend(msg(b'Z', b"I"));
        let steps = feed_startup(&mut m, &rest);
        assert_eq!(steps.last().unwrap().as_ref().unwrap(), &StartupStep::Ready);
        assert_eq!(m.backend_key, Some((42, 7)));
        assert_eq!(parse_server_version(&m.parameters[0].1), Some(160002));
    }

    #[test]
    fn cleartext_and_missing_password() {
        let mut m = Startup::new("bob", Some("pw".into()));
        let steps = feed_startup(&mut m, &msg(b'R', &3i32.to_be_bytes()));
        let Ok(StartupStep::Send(bytes)) = &steps[0] else {
            panic!()
        };
        assert_eq!(&bytes[..], &msg(b'p', b"pw\0")[..]);

        let mut m = Startup::new("bob", None);
        let steps = feed_startup(&mut m, &msg(b'R', &3i32.to_be_bytes()));
        assert_eq!(steps[0].as_ref().unwrap_err().kind(), ErrorKind::Auth);
    }

    #[test]
    fn scram_starts_and_ok_without_final_is_refused() {
        let mut m = Startup::new("carol", Some("pw".into()));
        let steps = feed_startup(&mut m, &msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0"));
        let Ok(StartupStep::Send(bytes)) = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(bytes[0], b'p');
        assert!(bytes.windows(13).any(|w| w == b"SCRAM-SHA-256"));
        let steps = feed_startup(&mut m, &msg(b'R', &0i32.to_be_bytes()));
        assert_eq!(steps[0].as_ref().unwrap_err().kind(), ErrorKind::Auth);
        // A garbage server-first message is an auth error, not a panic.
        let mut m = Startup::new("carol", Some("pw".into()));
        feed_startup(&mut m, &msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0"));
        let mut body = 11i32.to_be_bytes().to_vec();
        body.extend_from_slice(b"r=zzz,s=!!,i=x");
        let steps = feed_startup(&mut m, &msg(b'R', &body));
        assert!(steps[0].is_err());
    }

    /// An AuthenticationSASL body listing `mechanisms`.
    fn sasl_offer(mechanisms: &[&str]) -> Vec<u8> {
        let mut body = 10i32.to_be_bytes().to_vec();
        for m in mechanisms {
            body.extend_from_slice(m.as_bytes());
            body.push(0);
        }
        body.push(0);
        msg(b'R', &body)
    }

    /// The (mechanism, client-first-message) of a SASLInitialResponse.
    fn initial_response(bytes: &[u8]) -> (String, String) {
        assert_eq!(bytes[0], b'p');
        let body = &bytes[5..];
        let nul = body.iter().position(|b| *b == 0).unwrap();
        let mechanism = String::from_utf8(body[..nul].to_vec()).unwrap();
        let data = &body[nul + 5..];
        (mechanism, String::from_utf8(data.to_vec()).unwrap())
    }

    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk.len();
            let v = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= n {
                    out.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn machine(mode: channel_binding::BindingMode, binding: TlsBinding) -> Startup {
        Startup::new("erin", Some("pw".into())).channel_binding(mode, binding)
    }

    fn first_step(m: &mut Startup, bytes: &[u8]) -> Result<StartupStep> {
        feed_startup(m, bytes).into_iter().next().unwrap()
    }

    const HASH: [u8; 32] = [7; 32];

    #[test]
    fn prefer_over_tls_picks_scram_plus_and_binds_the_certificate_hash() {
        use channel_binding::BindingMode;
        let mut m = machine(BindingMode::Prefer, TlsBinding::EndPoint(HASH.to_vec()));
        let offer = sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
        let Ok(StartupStep::Send(bytes)) = first_step(&mut m, &offer) else {
            panic!()
        };
        let (mechanism, first) = initial_response(&bytes);
        assert_eq!(mechanism, "SCRAM-SHA-256-PLUS");
        assert!(
            first.starts_with("p=tls-server-end-point,,n=,r="),
            "{first}"
        );
        assert!(m.channel_bound());
        // The client-final message carries the GS2 header and the certificate hash (c=), so
        // a relay with another certificate fails the server's check.
        let nonce = &first["p=tls-server-end-point,,n=,r=".len()..];
        let mut server_first = 11i32.to_be_bytes().to_vec();
        server_first
            .extend_from_slice(format!("r={nonce}srv,s={},i=4096", base64(b"salt")).as_bytes());
        let Ok(StartupStep::Send(bytes)) = first_step(&mut m, &msg(b'R', &server_first)) else {
            panic!()
        };
        let final_msg = String::from_utf8(bytes[5..].to_vec()).unwrap();
        let mut cbind = b"p=tls-server-end-point,,".to_vec();
        cbind.extend_from_slice(&HASH);
        assert!(
            final_msg.starts_with(&format!("c={},r={nonce}srv,p=", base64(&cbind))),
            "{final_msg}"
        );
    }

    #[test]
    fn prefer_without_an_offer_of_plus_says_y_and_without_tls_says_n() {
        use channel_binding::BindingMode;
        for (binding, flag) in [
            (TlsBinding::EndPoint(HASH.to_vec()), "y,,"),
            (TlsBinding::NotTls, "n,,"),
            (TlsBinding::Unavailable("Ed25519".into()), "n,,"),
        ] {
            let mut m = machine(BindingMode::Prefer, binding.clone());
            let Ok(StartupStep::Send(bytes)) = first_step(&mut m, &sasl_offer(&["SCRAM-SHA-256"]))
            else {
                panic!()
            };
            let (mechanism, first) = initial_response(&bytes);
            assert_eq!(mechanism, "SCRAM-SHA-256");
            assert!(first.starts_with(flag), "{binding:?}: {first}");
            assert!(!m.channel_bound());
        }
        // A certificate that cannot be bound under prefer: plain SCRAM with "n" even when the
        // server offers -PLUS (an honest "cannot", not a downgrade the server would refuse).
        let mut m = machine(
            BindingMode::Prefer,
            TlsBinding::Unavailable("Ed25519".into()),
        );
        let offer = sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
        let Ok(StartupStep::Send(bytes)) = first_step(&mut m, &offer) else {
            panic!()
        };
        let (mechanism, first) = initial_response(&bytes);
        assert_eq!((mechanism.as_str(), &first[..3]), ("SCRAM-SHA-256", "n,,"));
    }

    #[test]
    fn disable_never_binds_even_when_plus_is_offered() {
        let mut m = machine(
            channel_binding::BindingMode::Disable,
            TlsBinding::EndPoint(HASH.to_vec()),
        );
        let offer = sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
        let Ok(StartupStep::Send(bytes)) = first_step(&mut m, &offer) else {
            panic!()
        };
        let (mechanism, first) = initial_response(&bytes);
        assert_eq!(mechanism, "SCRAM-SHA-256");
        assert!(first.starts_with("n,,"), "{first}");
    }

    #[test]
    fn plus_offered_over_plaintext_is_refused_like_libpq() {
        let mut m = machine(channel_binding::BindingMode::Prefer, TlsBinding::NotTls);
        let e = first_step(
            &mut m,
            &sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-SSL connection"), "{e}");
    }

    #[test]
    fn require_refuses_every_exchange_that_cannot_bind_before_sending_a_password() {
        use channel_binding::BindingMode;
        let tls = || TlsBinding::EndPoint(HASH.to_vec());
        let md5 = {
            let mut body = 5i32.to_be_bytes().to_vec();
            body.extend_from_slice(&[1, 2, 3, 4]);
            msg(b'R', &body)
        };
        let cases: Vec<(TlsBinding, Vec<u8>, &str)> = vec![
            (
                TlsBinding::NotTls,
                sasl_offer(&["SCRAM-SHA-256"]),
                "SSL not in use",
            ),
            (tls(), sasl_offer(&["SCRAM-SHA-256"]), "did not offer"),
            (tls(), msg(b'R', &3i32.to_be_bytes()), "cleartext"),
            (tls(), md5, "md5"),
            // trust and cert: AuthenticationOk without any exchange.
            (
                tls(),
                msg(b'R', &0i32.to_be_bytes()),
                "authenticated client without channel binding",
            ),
            (
                TlsBinding::Unavailable("signed with Ed25519".into()),
                sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
                "Ed25519",
            ),
        ];
        for (binding, request, says) in cases {
            let mut m = machine(BindingMode::Require, binding.clone());
            let e = first_step(&mut m, &request).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
            let text = e.to_string();
            assert!(
                text.contains("channel_binding=require") && text.contains(says),
                "{binding:?}: {text}"
            );
        }
        // And the bound path is allowed.
        let mut m = machine(BindingMode::Require, tls());
        let step = first_step(
            &mut m,
            &sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
        );
        assert!(matches!(step, Ok(StartupStep::Send(_))));
        assert_eq!(m.mechanism(), Some("SCRAM-SHA-256-PLUS"));
    }

    #[test]
    fn prefer_accepts_trust_and_passwords_unbound() {
        let mut m = machine(
            channel_binding::BindingMode::Prefer,
            TlsBinding::EndPoint(HASH.to_vec()),
        );
        let steps = feed_startup(&mut m, &msg(b'R', &0i32.to_be_bytes()));
        assert!(steps[0].is_ok());
        let mut m = machine(
            channel_binding::BindingMode::Prefer,
            TlsBinding::EndPoint(HASH.to_vec()),
        );
        assert!(matches!(
            first_step(&mut m, &msg(b'R', &3i32.to_be_bytes())),
            Ok(StartupStep::Send(_))
        ));
    }

    #[test]
    fn error_response_keeps_sqlstate() {
        let mut m = Startup::new("dave", Some("pw".into()));
        let steps = feed_startup(
            &mut m,
            &msg(
                b'E',
                &error_body("28P01", "password authentication failed for user \"dave\""),
            ),
        );
        let e = steps[0].as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.sqlstate().unwrap().code(), "28P01");
        let e = ServerMessage {
            code: "42501".into(),
            message: "must be superuser or replication role to start walsender".into(),
            ..Default::default()
        }
        .into_error();
        assert!(e.is_insufficient_privilege());
    }
}
