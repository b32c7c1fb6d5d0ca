//! The controller binaries' command lines: every flag is documented in `--help`, and what is
//! not supported yet is refused instead of ignored.

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
    ];
    al.extend_from_slice(RUNTIME_FLAGS);
    assert_documented("apinetlet", &al);
}

#[test]
fn unsupported_or_missing_settings_are_refused() {
    let out = Command::new(binary("apinetlet"))
        .arg("--kubeconfig=/nonexistent")
        .output()
        .expect("run apinetlet");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--apinet-namespace"));

    let out = Command::new(binary("ironcore-controller-manager"))
        .args(["--leader-elect", "--kubeconfig=/nonexistent"])
        .output()
        .expect("run manager");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--leader-elect is not implemented"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
