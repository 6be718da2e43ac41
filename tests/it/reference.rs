//! README's command reference against the binary's `--help`: every command
//! `infra --help` lists has a line in the block under "## Commands", and each
//! line names exactly the flags its command's `--help` lists (the global ones
//! aside, which the README lists once below the block).

use std::collections::BTreeSet;

use crate::support::*;

const GLOBAL: &[&str] = &[
    "--plans",
    "--state",
    "--verbose",
    "--no-color",
    "--help",
    "--version",
];

fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(infra_bin())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    text(&out.stdout)
}

/// Long flags in an options list (`  -v, --verbose  …`, `      --env <NAME>`).
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("-")
                .filter(|r| !r.starts_with('-'))
                .map(|r| r.get(3..).unwrap_or_default())
                .unwrap_or(l);
            let flag: String = l
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(format!("--{flag}"))
        })
        .filter(|f| !GLOBAL.contains(&f.as_str()))
        .collect()
}

/// The subcommands `--help` lists under "Commands:".
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn readme_command_reference_matches_help() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("## Commands\n\n```\n")
        .expect("README has a ## Commands block")
        + "## Commands\n\n```\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    // `infra state list --env dev …` → ("state list", its flags).
    let lines: Vec<(String, BTreeSet<String>)> = block
        .lines()
        .filter_map(|l| l.strip_prefix("infra "))
        .map(|l| {
            let words: Vec<&str> = l
                .split_whitespace()
                .take_while(|w| {
                    w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
                })
                .collect();
            let flags = l
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("--"))
                .map(String::from)
                .filter(|f| !GLOBAL.contains(&f.as_str()))
                .collect();
            (words.join(" "), flags)
        })
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    for c in commands(&help(&[])) {
        let subs = commands(&help(&[c.as_str()]));
        if subs.is_empty() {
            wanted.push(c);
        } else {
            wanted.extend(subs.into_iter().map(|s| format!("{c} {s}")));
        }
    }
    let documented: Vec<&String> = lines.iter().map(|(c, _)| c).collect();
    for c in &wanted {
        assert!(
            documented.contains(&c),
            "README's command block has no line for `infra {c}`: {documented:?}"
        );
    }
    for (command, flags) in &lines {
        assert!(
            wanted.contains(command),
            "README documents `infra {command}`, which `infra --help` does not list"
        );
        let args: Vec<&str> = command.split(' ').collect();
        let real = help_flags(&help(&args));
        assert_eq!(
            flags, &real,
            "README's `infra {command}` line against `infra {command} --help`"
        );
    }
}
