//! Fuzzes the walsender client's message handling (`db_migrate::conn::wire::proto`).
//!
//! Properties, for any bytes a server (or a man in the middle before TLS) could send:
//! - framing never panics, and a declared length below 4 or above 1 GiB is refused from the
//!   header alone;
//! - the startup/authentication state machine (with a password, so the md5, cleartext and SCRAM
//!   paths run) and the simple-query collector never panic, whatever messages arrive in
//!   whatever order;
//! - decoding consumes the buffer front to back: each decoded message removes exactly its
//!   declared length + 1 bytes.
#![no_main]

use bytes::BytesMut;
use db_migrate::conn::wire::{fuzz_backend_stream, proto};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match proto::check_header(data) {
        Ok(Some((_, len))) => assert!((4..=proto::MAX_MESSAGE_LEN).contains(&len)),
        Ok(None) => assert!(data.len() < 5),
        Err(_) => {}
    }

    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        let declared = match proto::check_header(&buf) {
            Ok(Some((_, len))) => len,
            _ => break,
        };
        match proto::next_message(&mut buf) {
            Ok(Some(_)) => assert_eq!(before - buf.len(), declared + 1),
            Ok(None) => {
                assert_eq!(buf.len(), before);
                assert!(proto::bytes_missing(&buf).unwrap() > 0);
                break;
            }
            Err(_) => break,
        }
    }

    fuzz_backend_stream(data);
});
