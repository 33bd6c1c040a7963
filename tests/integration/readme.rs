//! The README's first two commands stay true (issue 15, defect 4): the run
//! command builds with a profile that skips whole-program optimisation
//! (fat LTO with one codegen unit took 312 s cold on 2 cores; the dev
//! profile 103 s), and what is installed keeps it.

use std::path::Path;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The `[profile.NAME]` table of Cargo.toml, if any.
fn profile(manifest: &toml::Table, name: &str) -> Option<toml::Table> {
    manifest.get("profile")?.get(name)?.as_table().cloned()
}

#[test]
fn the_run_command_builds_without_whole_program_optimisation() {
    let readme = read("README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the README opens with a sh block");
    let mut lines = block.lines();
    let run = lines.next().unwrap();
    let test = lines.next().unwrap();
    assert!(run.starts_with("cargo run "), "{run}");
    assert!(run.contains("--config config.toml run"), "{run}");
    assert!(test.starts_with("cargo test"), "{test}");

    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let name = if run.contains("--release") {
        "release"
    } else if let Some(p) = run.split("--profile ").nth(1) {
        p.split_whitespace().next().unwrap()
    } else {
        "dev"
    };
    let run_profile = profile(&manifest, name).unwrap_or_default();
    let lto = run_profile.get("lto").and_then(|v| v.as_str());
    assert!(
        !matches!(lto, Some("fat"))
            && run_profile.get("lto").and_then(|v| v.as_bool()) != Some(true),
        "the README's run command builds with fat LTO ({name}): {run_profile:?}"
    );
    // What is installed keeps whole-program optimisation.
    let dist = profile(&manifest, "dist").expect("a dist profile");
    assert_eq!(dist.get("lto").and_then(|v| v.as_str()), Some("fat"));
    assert!(readme.contains("cargo build --profile dist"));
}

/// The README's command list, each line as (its words after
/// `tickerfeed [--config PATH]`, its comment).
fn command_list() -> Vec<(String, String)> {
    let readme = read("README.md");
    let block = readme
        .split("## Commands\n\n```\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the README lists the commands");
    block
        .lines()
        .map(|line| {
            let (usage, comment) = line
                .split_once(" # ")
                .expect("each command says what it does");
            let usage = usage
                .strip_prefix("tickerfeed [--config PATH] ")
                .unwrap_or_else(|| panic!("{line}"));
            (usage.trim().to_string(), comment.trim().to_string())
        })
        .collect()
}

/// `tickerfeed <words> --help`.
fn help(words: &[&str]) -> String {
    let out = crate::util::bin()
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{words:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The command list and the binary's help agree. The README listed
/// `views ... [--limit N]`, a flag `views` does not take (only `views
/// test` does), and `render --help` and `feeds --help` described less
/// than the list: every flag the list gives a command itself (not one of
/// its subcommands) is one its help lists, and the commands whose help
/// says what the list says keep saying it.
#[test]
fn the_command_list_says_what_the_binary_takes() {
    for (usage, comment) in command_list() {
        let words: Vec<&str> = usage
            .split_whitespace()
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        let help = help(&words);
        // A flag inside one bracket whose group opens with a flag is the
        // command's own (`[--tag TAG | --view NAME]`); one in a group
        // opening with a word is a subcommand's (`[test NAME [--limit N]]`).
        let mut groups: Vec<&str> = Vec::new();
        for token in usage.split_whitespace() {
            let opened = token.len() - token.trim_start_matches('[').len();
            let word = token.trim_start_matches('[').trim_end_matches(']');
            for _ in 0..opened {
                groups.push(word);
            }
            if word.starts_with("--") && groups.len() == 1 && groups[0].starts_with("--") {
                let flag = word.split('=').next().unwrap();
                assert!(
                    help.contains(&format!("{flag} ")),
                    "README: `{usage}`, but `tickerfeed {} --help` has no {flag}:\n{help}",
                    words.join(" ")
                );
            }
            let closed = token.len() - token.trim_end_matches(']').len();
            for _ in 0..closed {
                groups.pop();
            }
        }
        if ["poll", "render", "check", "feeds", "quotes"].contains(&words[0]) {
            let said = help.lines().next().unwrap().to_lowercase();
            assert!(
                said.ends_with(&comment.to_lowercase()),
                "README: `{usage}  # {comment}`, help: {said}"
            );
        }
    }
}
