//! `kubectl ebi`: the binary linked as `kubectl-ebi` on the PATH, found and run by the real
//! kubectl's plugin discovery, against the local API server (and moto for `audit` and
//! `orphans`). The krew manifest is packed by the script the release uses.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::process::{Command, Output};

use support::*;

/// A folder on the PATH holding `kubectl-ebi` (a link to the binary, as krew makes).
fn plugin_path() -> String {
    let dir = std::env::temp_dir().join(format!("ebi-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("kubectl-ebi");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_eventbridge-integration-controller"),
        &link,
    )
    .unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

fn kubectl_ebi(path: &str, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("ebi")
        .args(args)
        .env("PATH", path)
        .env_remove("NO_COLOR")
        .output()
        .expect("kubectl runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_finds_the_plugin_and_it_explains_integrations() {
    let ns = namespace("plugin");
    let path = plugin_path();
    let listed = Command::new("kubectl")
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(text(&listed).contains("kubectl-ebi"), "{}", text(&listed));

    let _ctl = Controller::start(&ns, &[]);
    apply(&sfn_yaml(&ns, "works"));
    // A bring-your-own role that does not exist: TargetRoleNotFound, with the command that
    // creates it.
    apply(&ecs_yaml(
        &ns,
        "broken",
        &format!("  role: {{arn: \"arn:aws:iam::{ACCOUNT}:role/missing-{ns}\"}}\n"),
    ));
    let api = kube_api(&ns).await;
    wait_condition(&api, "works", "Ready", "True", None).await;
    wait_condition(&api, "broken", "Ready", "False", None).await;

    let ok = kubectl_ebi(&path, &["why", "works", "-n", &ns]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("Works: Ready=True"), "{}", text(&ok));
    assert!(!text(&ok).contains('\x1b'), "no colour into a pipe");

    let bad = kubectl_ebi(&path, &["why", "broken", "-n", &ns]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let out = text(&bad);
    assert!(out.contains("Does not work: Ready=False"), "{out}");
    assert!(
        out.contains("ERROR TargetRoleNotFound") && out.contains("Fix: aws iam create-role"),
        "{out}"
    );
    let coloured = kubectl_ebi(&path, &["why", "broken", "-n", &ns, "--color", "always"]);
    assert!(text(&coloured).contains("\x1b[1;31mERROR\x1b[0m"));

    let missing = kubectl_ebi(&path, &["why", "nothing-here", "-n", &ns]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("no EventBridgeIntegration nothing-here"),
        "{}",
        text(&missing)
    );

    // The account audit and the orphan report, as `diagnose --all` and `orphans` give them.
    let audit = kubectl_ebi(&path, &["audit", "--output", "json"]);
    assert!(
        matches!(audit.status.code(), Some(0 | 1)),
        "{}",
        text(&audit)
    );
    let rows: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let rule = derived(&ns, "works");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == rule.as_str()),
        "the audit lists the integration's rule: {rows}"
    );
    let orphans = kubectl_ebi(
        &path,
        &["orphans", "--output", "json", "--locations-namespace", &ns],
    );
    assert_eq!(orphans.status.code(), Some(0), "{}", text(&orphans));
    let report: serde_json::Value = serde_json::from_slice(&orphans.stdout).unwrap();
    assert!(report["orphans"].is_array(), "{report}");

    let help = kubectl_ebi(&path, &["--help"]);
    assert!(text(&help).contains("kubectl ebi"), "{}", text(&help));
    delete_and_wait(&ns, &["works", "broken"]);
}

#[test]
fn the_krew_manifest_names_the_archive_the_release_script_packs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let archive = std::env::temp_dir().join(format!("kubectl-ebi-{}.tar.gz", std::process::id()));
    let out = Command::new(format!("{root}/hack/krew-manifest.sh"))
        .args([
            "v0.1.0",
            env!("CARGO_BIN_EXE_eventbridge-integration-controller"),
            "https://example.com/kubectl-ebi-v0.1.0-linux-amd64.tar.gz",
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let manifest: serde_json::Value = serde_norway::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "ebi");
    let platform = &manifest["spec"]["platforms"][0];
    let sha = Command::new("sha256sum").arg(&archive).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout);
    assert_eq!(
        platform["sha256"].as_str().unwrap(),
        sha.split(' ').next().unwrap()
    );
    assert_eq!(platform["bin"], "eventbridge-integration-controller");
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "eventbridge-integration-controller"
    );
    let _ = std::fs::remove_file(&archive);
}
