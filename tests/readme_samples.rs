//! The README's and docs/' samples, run or checked against the code, so they cannot drift
//! again (issue 21 §4): every ```json block parses; the `simulate` request (docs/iam-evaluator.md)
//! is accepted by the real binary; the `diagnose --bundle` transcript is what the binary prints for that file;
//! `kubectl get ebi` has the CRD's columns, and the names in the samples are the ones
//! `plan::names` derives.
//!
//! Written with std and serde_json rather than `trycmd`: the samples are fenced blocks inside
//! prose (not one file per command), and `trycmd` is not in Cargo.lock (this branch adds no
//! dependency). A transcript line ending in `…` is compared up to the ellipsis.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The documents whose samples are checked: the README and every docs/*.md.
fn documents() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_string(), read("README.md"))];
    let mut extra: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    extra.sort();
    for p in extra {
        let rel = p
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        docs.push((rel.clone(), read(&rel)));
    }
    docs
}

/// Fenced blocks (at any indent) as (info string, body, line of the opening fence).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let indent = line.len() - trimmed.len();
                    open = Some((info.trim().to_string(), indent, i + 1, Vec::new()));
                }
            }
            Some((_, indent, _, body)) => {
                if trimmed.starts_with("```") {
                    let (info, _, at, body) = open.take().unwrap();
                    out.push((info, body.join("\n"), at));
                } else {
                    body.push(line.get(*indent..).unwrap_or(line.trim_start()));
                }
            }
        }
    }
    out
}

fn binary(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first block after `heading` whose info string is `info`.
fn block_after(text: &str, heading: &str, info: &str) -> String {
    let at = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    blocks(&text[at..])
        .into_iter()
        .find(|(i, _, _)| i == info)
        .unwrap_or_else(|| panic!("no ```{info} block after {heading:?}"))
        .1
}

/// The block whose first line is `first`.
fn transcript(text: &str, first: &str) -> String {
    blocks(text)
        .into_iter()
        .map(|(_, b, _)| b)
        .find(|b| b.lines().next() == Some(first))
        .unwrap_or_else(|| panic!("no sample starting {first:?}"))
}

#[test]
fn every_json_block_parses() {
    let mut checked = 0;
    for (name, text) in documents() {
        for (info, body, line) in blocks(&text) {
            if info == "json" {
                serde_json::from_str::<serde_json::Value>(&body)
                    .unwrap_or_else(|e| panic!("{name}:{line}: not valid JSON: {e}"));
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "no ```json block found: the test would prove nothing"
    );
}

#[test]
fn the_simulate_sample_is_a_valid_request() {
    let doc = read("docs/iam-evaluator.md");
    let sample = block_after(&doc, "## `simulate`: the evaluator on its own", "json");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.json");
    std::fs::write(&file, &sample).unwrap();
    let (code, stdout, stderr) = binary(&["simulate", "--request", file.to_str().unwrap()]);
    assert!(
        code == 0 || code == 1,
        "docs/iam-evaluator.md's simulate sample is unusable input (exit {code}): {stderr}"
    );
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(out["response"].is_string(), "{out}");
}

#[test]
fn the_diagnose_bundle_transcript_is_what_the_binary_prints() {
    let readme = read("docs/diagnosis.md");
    let command = "$ eventbridge-integration-controller diagnose --bundle tests/corpus/passrole-execution-only.json";
    let sample = transcript(&readme, command);
    let (_, stdout, stderr) = binary(&[
        "diagnose",
        "--bundle",
        "tests/corpus/passrole-execution-only.json",
    ]);
    let printed: Vec<&str> = stdout.lines().collect();
    let expected: Vec<&str> = sample.lines().skip(1).collect();
    assert!(!expected.is_empty());
    for (i, want) in expected.iter().enumerate() {
        let got = printed
            .get(i)
            .unwrap_or_else(|| panic!("line {i} missing; printed:\n{stdout}{stderr}"));
        match want.strip_suffix('…') {
            Some(prefix) => assert!(got.starts_with(prefix.trim_end()), "{got:?} vs {want:?}"),
            None => assert_eq!(got, want, "printed:\n{stdout}"),
        }
    }
    assert!(
        Path::new(&root().join("tests/corpus/passrole-execution-only.json")).exists(),
        "the sample's bundle is in the repository"
    );
}

#[test]
fn kubectl_get_ebi_has_the_crds_columns_and_derived_rule_names() {
    let readme = read("README.md");
    let sample = transcript(&readme, "$ kubectl get ebi");
    let mut lines = sample.lines().skip(1);
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let crd = ebi::api::crd();
    let mut columns = vec!["NAME".to_string()];
    for c in crd.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .filter(|c| c.priority.unwrap_or(0) == 0)
    {
        columns.push(c.name.to_uppercase());
    }
    assert_eq!(header, columns, "the sample's columns are not the CRD's");
    let rule_col = columns.iter().position(|c| c == "RULE").unwrap();
    for row in lines {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[rule_col],
            ebi::plan::names::derived_name("ebi-", "default", cells[0]),
            "{row}"
        );
    }
}

#[test]
fn the_record_sample_names_are_derived() {
    let doc = read("docs/behaviour.md");
    let want = ebi::plan::names::derived_name("ebi-", "team-a", "orders");
    let sample = transcript(
        &doc,
        "$ kubectl get ebi orders -o jsonpath='{.status.resources}' | jq -c '.[]'",
    );
    for line in sample.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["name"], want.as_str(), "{line}");
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn links_between_the_readme_and_docs_resolve() {
    for (name, text) in documents() {
        let dir = root().join(&name).parent().unwrap().to_path_buf();
        let mut anchors = Vec::new();
        let mut fence = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fence = !fence;
            } else if !fence && line.starts_with('#') {
                anchors.push(anchor(line.trim_start_matches('#')));
            }
        }
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.starts_with("http") {
                continue;
            }
            let (file, frag) = target.split_once('#').unwrap_or((target, ""));
            if file.is_empty() {
                assert!(
                    anchors.contains(&frag.to_string()),
                    "{name}: no heading for #{frag}"
                );
            } else {
                assert!(dir.join(file).exists(), "{name}: {file} does not exist");
            }
        }
    }
}
