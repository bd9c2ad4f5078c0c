//! The server-level checks: `same-server` (are source and target one cluster?) and `version`
//! (supported source major, target not older). Pure functions of the conninfos and the
//! [`ServerFacts`] read when preflight connects, so they are unit-tested here without servers.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::catalog::server::ServerFacts;
use crate::conn::ConnInfo;
use crate::remedy::Setting;
use crate::report::ValidationReport;

/// The source majors db-migrate supports.
pub const SUPPORTED_SOURCE_MAJORS: RangeInclusive<u32> = 12..=18;

/// Where a conninfo points, normalized for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Tcp(String, u16),
    Socket(String, u16),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(h, p) => write!(f, "host {h} port {p}"),
            Endpoint::Socket(d, p) => write!(f, "socket directory {d} port {p}"),
        }
    }
}

fn normalize_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => "localhost".into(),
        Ok(ip) => ip.to_string(),
        Err(_) if bare == "localhost" || bare == "localhost6" || bare == "ip6-localhost" => {
            "localhost".into()
        }
        Err(_) => bare.to_string(),
    }
}

fn endpoint(info: &ConnInfo) -> Endpoint {
    let port = info.port();
    if info.is_unix_socket() {
        let dir = info.host().to_string();
        let dir = std::fs::canonicalize(&dir)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| {
                let t = dir.trim_end_matches('/');
                if t.is_empty() {
                    "/".into()
                } else {
                    t.to_string()
                }
            });
        return Endpoint::Socket(dir, port);
    }
    let host = match info.hostaddr {
        Some(ip) => normalize_host(&ip.to_string()),
        None => normalize_host(&info.host().to_string()),
    };
    Endpoint::Tcp(host, port)
}

pub(super) fn check_same_server(
    report: &mut ValidationReport,
    source: &ConnInfo,
    target: &ConnInfo,
    source_facts: Option<&ServerFacts>,
    target_facts: Option<&ServerFacts>,
) {
    let (s, t) = (endpoint(source), endpoint(target));
    if s == t {
        report.error(
            "same-server",
            None,
            format!(
                "the source and the target are the same server ({s}): migrating a server onto \
                 itself is not supported; point {} at another server",
                Setting::Target
            ),
        );
        return;
    }
    let ids = (
        source_facts.and_then(|f| f.system_identifier),
        target_facts.and_then(|f| f.system_identifier),
    );
    if let (Some(a), Some(b)) = ids {
        if a != b {
            return;
        }
        report.error(
            "same-server",
            None,
            format!(
                "the source ({s}) and the target ({t}) have the same system identifier {a}: they \
                 are the same cluster reached through two addresses, or one is a physical \
                 standby of the other; migrating a cluster onto itself is not supported, point \
                 {} at another server",
                Setting::Target
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// version

/// `150004` -> `15.4`; `90624` -> `9.6.24`.
pub fn format_version(num: u32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10000, num % 10000)
    } else {
        format!("{}.{}.{}", num / 10000, (num / 100) % 100, num % 100)
    }
}

/// The version rule: a supported source major, and a target major not older than the
/// source's (only a warning when `skip` is set). Only majors are compared.
pub fn check_versions(
    report: &mut ValidationReport,
    source: Option<u32>,
    target: Option<u32>,
    skip: bool,
) {
    if let Some(s) = source {
        let major = s / 10000;
        if !SUPPORTED_SOURCE_MAJORS.contains(&major) {
            report.error(
                "version",
                None,
                format!(
                    "the source runs PostgreSQL {}, which is not supported: db-migrate migrates \
                     from PostgreSQL {} to {}; upgrade the source first",
                    format_version(s),
                    SUPPORTED_SOURCE_MAJORS.start(),
                    SUPPORTED_SOURCE_MAJORS.end()
                ),
            );
        }
    }
    let (Some(s), Some(t)) = (source, target) else {
        return;
    };
    let (sm, tm) = (s / 10000, t / 10000);
    if tm < sm {
        let head = format!(
            "the target runs PostgreSQL {} (major {tm}), older than the source's {} (major {sm})",
            format_version(t),
            format_version(s)
        );
        if skip {
            report.warning(
                "version",
                None,
                format!(
                    "{head}: going ahead because of {}, but objects that \
                     use features of the newer major will fail to restore",
                    Setting::SkipDbVersionCheck
                ),
            );
        } else {
            report.error(
                "version",
                None,
                format!(
                    "{head}: migrating to an older major version is not supported; use a target \
                     of major {sm} or newer, or pass {} to try anyway",
                    Setting::SkipDbVersionCheck
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_facts as facts;
    use super::*;
    use crate::report::Severity;
    #[test]
    fn older_target_major_is_an_error_or_a_warning_when_skipped() {
        let mut r = ValidationReport::default();
        check_versions(&mut r, Some(160002), Some(150006), false);
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert_eq!(r.findings[0].check, "version");
        assert!(r.findings[0].message.contains("16.2"), "{r:?}");
        assert!(
            r.findings[0].message.contains("`skip_db_version_check`"),
            "{r:?}"
        );

        let mut r = ValidationReport::default();
        check_versions(&mut r, Some(160002), Some(150006), true);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert!(r.ok);
    }

    #[test]
    fn same_or_newer_target_major_passes_minor_versions_are_ignored() {
        for (s, t) in [
            (150010, 150002),
            (150002, 150010),
            (120000, 180001),
            (180000, 180000),
        ] {
            let mut r = ValidationReport::default();
            check_versions(&mut r, Some(s), Some(t), false);
            assert!(r.findings.is_empty(), "{s} -> {t}: {r:?}");
        }
    }

    #[test]
    fn unsupported_sources_are_errors_even_when_skipping() {
        for s in [110022, 90624, 190000] {
            let mut r = ValidationReport::default();
            check_versions(&mut r, Some(s), None, true);
            assert_eq!(r.findings.len(), 1, "{s}: {r:?}");
            assert_eq!(r.findings[0].severity, Severity::Error);
            assert!(r.findings[0].message.contains(&format_version(s)), "{r:?}");
            assert!(r.findings[0].message.contains("12 to 18"), "{r:?}");
        }
        assert_eq!(format_version(90624), "9.6.24");
        assert_eq!(format_version(150004), "15.4");
    }

    #[test]
    fn versions_unknown_on_one_side_check_only_the_source_range() {
        let mut r = ValidationReport::default();
        check_versions(&mut r, None, Some(150000), false);
        check_versions(&mut r, Some(150000), None, false);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("LocalHost."), "localhost");
        assert_eq!(normalize_host("127.0.0.1"), "localhost");
        assert_eq!(normalize_host("127.1.2.3"), "localhost");
        assert_eq!(normalize_host("::1"), "localhost");
        assert_eq!(normalize_host("[::1]"), "localhost");
        assert_eq!(normalize_host("DB.example.com."), "db.example.com");
        assert_eq!(normalize_host("2001:db8::0001"), "2001:db8::1");
        assert_ne!(normalize_host("10.0.0.1"), normalize_host("10.0.0.2"));
    }

    #[test]
    fn same_host_and_port_is_the_same_server() {
        let a = ConnInfo::parse_with_env("postgres://u@LOCALHOST:5432/a", &|_| None).unwrap();
        let b = ConnInfo::parse_with_env("postgresql://v@127.0.0.1:5432/b", &|_| None).unwrap();
        let c = ConnInfo::parse_with_env("postgres://u@127.0.0.1:5433/a", &|_| None).unwrap();
        let d =
            ConnInfo::parse_with_env("host=/tmp/ port=5432 user=u dbname=a", &|_| None).unwrap();
        let e = ConnInfo::parse_with_env("host=/tmp port=5432 user=u dbname=b", &|_| None).unwrap();
        assert_eq!(endpoint(&a), endpoint(&b));
        assert_ne!(endpoint(&a), endpoint(&c));
        assert_ne!(
            endpoint(&a),
            endpoint(&d),
            "a socket and TCP cannot be compared by name"
        );
        assert_eq!(endpoint(&d), endpoint(&e));

        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &b, None, None);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].check, "same-server");

        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &c, None, None);
        assert!(r.findings.is_empty());

        // Different addresses, same cluster by system identifier.
        let mut fa = facts(true, None);
        fa.system_identifier = Some(7);
        let fb = fa.clone();
        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &d, Some(&fa), Some(&fb));
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert!(
            r.findings[0].message.contains("system identifier 7"),
            "{r:?}"
        );
        let mut fc = fa.clone();
        fc.system_identifier = Some(8);
        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &d, Some(&fa), Some(&fc));
        assert!(r.findings.is_empty());
    }
}
