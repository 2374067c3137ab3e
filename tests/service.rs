//! The shipped systemd unit: hardened, and holding its exposure score.

use std::process::Command;

fn analyze() -> Option<()> {
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            eprintln!("skipped: systemd-analyze is not installed");
            None
        }
    }
}

/// `systemd-analyze security` rates the unit 2.0 or lower (0 is the most
/// locked down, 10 the least).
#[test]
fn the_unit_is_hardened() {
    if analyze().is_none() {
        return;
    }
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/newshound.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", unit])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for newshound.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    assert!(score <= 2.0, "exposure {score}:\n{text}");
    let unit_text = std::fs::read_to_string(unit).unwrap();
    for setting in [
        "ProtectSystem=strict",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
    ] {
        assert!(unit_text.contains(setting), "{setting} missing");
    }
}
