//! The controller binaries' command lines: every flag is documented in `--help`, and settings
//! that cannot work are refused instead of ignored.

use std::process::Command;

use ironcore_e2e::binary;

fn help(bin: &str) -> String {
    let out = Command::new(binary(bin))
        .arg("--help")
        .output()
        .expect("--help");
    assert!(out.status.success(), "{bin} --help");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each flag line of `--help` is followed by (or carries) a description.
fn assert_documented(bin: &str, flags: &[&str]) {
    let text = help(bin);
    let lines: Vec<&str> = text.lines().collect();
    for flag in flags {
        let i = lines
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("--{flag}")))
            .unwrap_or_else(|| panic!("{bin}: --{flag} missing from --help:\n{text}"));
        let described = lines[i]
            .split("  ")
            .filter(|s| !s.trim().is_empty())
            .count()
            > 1
            || lines.get(i + 1).is_some_and(|l| {
                let t = l.trim_start();
                !t.is_empty() && !t.starts_with('-')
            });
        assert!(described, "{bin}: --{flag} has no description:\n{text}");
    }
}

const RUNTIME_FLAGS: &[&str] = &[
    "health-probe-bind-address",
    "metrics-bind-address",
    "leader-elect",
    "leader-election-kubeconfig",
    "leader-election-namespace",
    "leader-election-id",
    "leader-election-lease-duration-seconds",
    "leader-election-renew-deadline-seconds",
    "leader-election-retry-period-seconds",
    "backoff-base-ms",
    "backoff-max-seconds",
    "resync-seconds",
    "concurrency",
];

#[test]
fn every_flag_is_documented() {
    let mut cm = vec!["kubeconfig", "controllers"];
    cm.extend_from_slice(RUNTIME_FLAGS);
    assert_documented("ironcore-controller-manager", &cm);
    let mut al = vec![
        "kubeconfig",
        "apinet-kubeconfig",
        "apinet-namespace",
        "orphan-sweep-seconds",
        "controllers",
        "is-node-affinity-aware",
    ];
    al.extend_from_slice(RUNTIME_FLAGS);
    assert_documented("apinetlet", &al);
    let mut acm = vec!["kubeconfig", "controllers", "orphan-sweep-seconds"];
    acm.extend_from_slice(RUNTIME_FLAGS);
    assert_documented("apinet-controller-manager", &acm);
    let mut nl = vec!["kubeconfig", "node-name", "node-label"];
    nl.extend_from_slice(RUNTIME_FLAGS);
    assert_documented("netlet", &nl);
}

#[test]
fn unsupported_or_missing_settings_are_refused() {
    let out = Command::new(binary("apinetlet"))
        .arg("--kubeconfig=/nonexistent")
        .output()
        .expect("run apinetlet");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--apinet-namespace"));

    // One netlet per node: leader election does not apply to it.
    let out = Command::new(binary("netlet"))
        .args([
            "--node-name=n",
            "--leader-elect",
            "--kubeconfig=/nonexistent",
        ])
        .output()
        .expect("run netlet");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--leader-elect does not apply"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(binary("netlet"))
        .args(["--node-name=n", "--node-label=novalue"])
        .output()
        .expect("run netlet");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key=value"));
}
