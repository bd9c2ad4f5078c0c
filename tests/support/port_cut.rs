//! A network cut on loopback, for one TCP port only, with `tc`: packets to and from the port
//! are classified into an HTB class of 8 bit/s (a burst of 10 bytes), so in practice nothing
//! passes (at most the first packet), while every other flow on `lo` is not classified at all
//! and leaves unshaped (an HTB qdisc without a default class sends unclassified packets straight
//! to the device), so the other tests and anything else using loopback on this machine keep
//! their speed.
//!
//! The class's queue is deep and never drains, rather than one packet long: a packet refused by
//! a full local queue is reported to the sending socket as local congestion, and TCP then
//! probes a zero window every 500 ms without backing off and gives up after `tcp_retries2` (15)
//! probes, about 7 s, with ETIMEDOUT, which a real network cut never does. A packet held in a
//! queue that never drains is lost the way a network loses it (the sender backs off as usual),
//! and is discarded when the cut ends.
//!
//! The cut lasts as long as the [`PortCut`] value: dropping it (also when a test panics)
//! removes the qdisc. Needs root and `tc`; [`PortCut::start`] says why not otherwise, for a
//! loud SKIPPED.

use std::process::Command;

/// Traffic to and from one port of 127.0.0.1 dropped until this is dropped.
#[derive(Debug)]
pub struct PortCut {
    port: u16,
}

fn tc(args: &[&str]) -> Result<(), String> {
    let out = Command::new("tc")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run tc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "tc {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl PortCut {
    /// Whether this machine can cut a port: root and a `tc` that runs; else why not.
    pub fn available() -> Result<(), String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root (tc needs CAP_NET_ADMIN)".into());
        }
        tc(&["qdisc", "show", "dev", "lo"]).map_err(|e| format!("no usable tc: {e}"))
    }

    /// Starts dropping the traffic of `port` (destination or source) on `lo`.
    pub fn start(port: u16) -> Result<PortCut, String> {
        Self::available()?;
        let port_s = port.to_string();
        // No `default`: unclassified traffic bypasses the classes.
        tc(&["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb"])?;
        // From here on the guard exists, so a failure below removes the qdisc again.
        let cut = PortCut { port };
        tc(&[
            "class", "add", "dev", "lo", "parent", "1:", "classid", "1:2", "htb", "rate", "8bit",
            "ceil", "8bit", "burst", "10", "cburst", "10", "quantum", "1514",
        ])?;
        tc(&[
            "qdisc", "add", "dev", "lo", "parent", "1:2", "handle", "2:", "pfifo", "limit",
            "100000",
        ])?;
        for direction in ["dport", "sport"] {
            tc(&[
                "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", direction, &port_s, "0xffff", "flowid", "1:2",
            ])?;
        }
        Ok(cut)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortCut {
    fn drop(&mut self) {
        if let Err(e) = tc(&["qdisc", "del", "dev", "lo", "root", "handle", "1:"]) {
            eprintln!("removing the cut of port {}: {e}", self.port);
        }
    }
}
