//! The Debian package: `cargo deb` (skipped where cargo-deb is absent)
//! builds one that holds the binary, the unit, the config as conffiles,
//! the man page and the completions.

use std::path::Path;
use std::process::Command;

#[test]
fn the_debian_package_holds_what_a_service_needs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match Command::new("cargo").args(["deb", "--version"]).output() {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!("skipped: cargo-deb is not installed (cargo install cargo-deb)");
            return;
        }
    }
    // The man page and completions from the binary under test; the
    // package from the dev profile's build, which this test run made.
    let assets = root.join("target/assets");
    let out = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(["generate", "--out"])
        .arg(&assets)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("cargo")
        .current_dir(root)
        .args(["deb", "--no-build", "--profile", "dev", "--no-strip", "--output"])
        .arg(root.join("target/debian/newshound-test.deb"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deb = root.join("target/debian/newshound-test.deb");
    let listing = Command::new("dpkg-deb").arg("--contents").arg(&deb).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in [
        "./usr/bin/newshound",
        "./lib/systemd/system/newshound.service",
        "./etc/newshound/newshound.toml",
        "./etc/newshound/feeds.toml",
        "./etc/newshound/watchlists/ukraine-peace-plan.toml",
        "./etc/newshound/aliases/people.toml",
        "./usr/share/man/man1/newshound.1",
        "./usr/share/bash-completion/completions/newshound",
        "./usr/share/zsh/vendor-completions/_newshound",
        "./usr/share/fish/vendor_completions.d/newshound.fish",
    ] {
        assert!(listing.contains(path), "{path} missing from:\n{listing}");
    }
    let conffiles = Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles")
        .output()
        .unwrap();
    let conffiles = String::from_utf8_lossy(&conffiles.stdout);
    assert!(
        conffiles.contains("/etc/newshound/newshound.toml")
            && conffiles.contains("/etc/newshound/watchlists/ukraine-peace-plan.toml"),
        "{conffiles}"
    );
}
