//! Bad input ends in exit 3 with the file and key named, and touches nothing:
//! AWS calls go to a closed port (any call would fail with exit 1, not 3) and
//! the state file must not appear.

use crate::support::*;

fn run_case(case: &str, command: &[&str]) -> (i32, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").join(format!("{case}.db"));
    let out = infra_command("http://127.0.0.1:9")
        .arg("--plans")
        .arg(repo().join("tests/fixtures/bad"))
        .arg("--state")
        .arg(&state)
        .args(command)
        .arg("--env")
        .arg(case)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stderr),
        state.exists() || dir.path().join("state").exists(),
    )
}

#[test]
fn each_bad_plan_names_file_and_key_exits_3_and_writes_nothing() {
    let cases = [
        ("malformed", "unclosed table"),
        ("unknown_key", "unknown field `nat_gatways`"),
        (
            "bad_cidr",
            "network.cidr: `10.10.0.0/33` is not a valid IPv4 CIDR",
        ),
        (
            "overlapping_cidr",
            "network.subnets.app[0]: `10.10.0.0/20` overlaps network.subnets.public[0]",
        ),
        (
            "dangling_ref",
            "`route.extra` refers to `route_table.nope`, which this plan does not declare",
        ),
        (
            "cycle",
            "dependency cycle: security_group.a -> security_group.b -> security_group.a",
        ),
        (
            "open_endpoint",
            "cluster.public_access_cidrs: the public endpoint is on, so list who may reach it",
        ),
        (
            "backup_retention",
            "database.backup_retention_days: RDS keeps backups 1 to 35 days",
        ),
        (
            "unknown_builtin",
            "workload_identity[cert-manager].builtin: `cert-manager` is not one of",
        ),
        (
            "external_dns_without_zone",
            "workload_identity[external-dns].builtin: external-dns is limited to this plan's zone, so it needs a [dns] section",
        ),
        (
            "access_config_map",
            "access[viewers]: access entries need cluster.authentication_mode \"API\" or \"API_AND_CONFIG_MAP\", not \"CONFIG_MAP\"",
        ),
        (
            "break_glass_without_until",
            "access[oncall].until: break-glass access is time-bound",
        ),
        (
            "developer_without_namespaces",
            "access[developers].namespaces: a developer is scoped to its namespaces",
        ),
        (
            "aurora_without_capacity",
            "database.serverless_v2: Aurora here is Serverless v2",
        ),
        // Issue 13, item 9: bounded numbers, names AWS would refuse or change, reserved tags.
        (
            "wait_timeout_overflow",
            "cluster.wait_timeout_minutes: 9223372036854775807 is out of range; 1 to 1440 minutes",
        ),
        (
            "reserved_tag",
            "tags.\"infra:env\": `aws:` keys are reserved by AWS",
        ),
        (
            "too_many_tags",
            "tags: 45 tags, with infra's own (up to 8), exceed AWS's 50 per resource",
        ),
        (
            "uppercase_project",
            "project: use lowercase letters, digits and '-' only",
        ),
        (
            "long_names",
            "the cluster name `todo-platform-for-the-whole-company-x-long_names` is 48 characters; at most 38",
        ),
        (
            "az_of_another_region",
            "network.azs: `us-west-2b` is not an availability zone of us-east-1",
        ),
        ("bad_region", "region: `us-east-one` is not an AWS region"),
        (
            "port_out_of_range",
            "port range 70000-70000 is not within 0-65535",
        ),
        (
            "error_past_column_65535",
            "network.cidr: `10.10.0.0/33` is not a valid IPv4 CIDR",
        ),
        ("many_identical_subnets", "more problem(s) not shown"),
    ];
    for (case, message) in cases {
        for command in [
            &["up", "--yes"][..],
            &["plan", "--detailed-exitcode"][..],
            &["destroy", "--yes"][..],
        ] {
            let (code, stderr, wrote) = run_case(case, command);
            assert_eq!(code, 3, "{case} {command:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{case}.toml")),
                "{case}: file not named: {stderr}"
            );
            // miette wraps long lines; compare without the wrapping.
            // miette wraps long lines, even inside words, at a width that depends on
            // the fixture's path: compare with every space and frame taken out.
            let squeeze = |s: &str| {
                s.split_whitespace()
                    .filter(|w| *w != "│")
                    .collect::<String>()
            };
            assert!(
                squeeze(&stderr).contains(&squeeze(message)),
                "{case}: expected `{message}` in:\n{stderr}"
            );
            assert!(!wrote, "{case} {command:?}: state was written");
        }
    }
}

#[test]
fn usage_errors_and_a_missing_tty_confirmation_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("dev.db");
    let run = |args: &[&str]| {
        infra_command("http://127.0.0.1:9")
            .arg("--state")
            .arg(&state)
            .current_dir(repo())
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    assert_eq!(run(&["plan"]).status.code(), Some(3), "missing --env");
    assert_eq!(
        run(&["plan", "--env", "dev", "--no-such-flag"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        run(&["up", "--env", "dev", "--parallelism", "0"])
            .status
            .code(),
        Some(3)
    );
    let out = run(&["up", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pass --yes"));
    assert_eq!(
        run(&["plan", "--env", "no-such-env"]).status.code(),
        Some(3)
    );
    assert!(!state.exists());
    assert_eq!(run(&["--help"]).status.code(), Some(0));
}

/// Thousands of problems are said once each, capped, fast: not megabytes.
#[test]
fn many_errors_are_capped_and_quick() {
    let started = std::time::Instant::now();
    let (code, stderr, wrote) = run_case("many_identical_subnets", &["plan"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(!wrote);
    assert!(stderr.len() < 200_000, "{} bytes of errors", stderr.len());
    let flat: String = stderr
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("more problem(s) not shown"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The reserved-tag fixture names both keys, and the past-column-65535 one names its line.
    let (_, stderr, _) = run_case("reserved_tag", &["plan"]);
    assert!(stderr.contains("aws:cloudformation:stack-name"), "{stderr}");
    let (code, stderr, _) = run_case("error_past_column_65535", &["plan"]);
    assert_eq!(code, 3, "{stderr}");
    let flat: String = stderr
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("(line 4, column"), "{stderr}");
}
