//! A plan read at a glance (issue 16): the summary first, details by tier, a
//! policy change as a line diff, apply-time settings apart, unknowns named
//! outside documents, colour on a terminal only. Octet 64.

use std::process::Command;

use crate::support::*;

/// Runs the command on a pseudo-terminal (stdout a TTY) and returns all it printed.
const PTY_RUN: &str = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
buf = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    buf += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
"#;

fn on_pty(cmd: &Command) -> String {
    let mut py = Command::new("python3");
    py.arg("-c")
        .arg(PTY_RUN)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py.output().expect("python3 pty runner");
    let printed = text(&out.stdout);
    assert!(printed.trim_end().ends_with("EXIT 0"), "{printed}");
    printed
}

fn offline_plan(dir: &std::path::Path) -> Command {
    let mut cmd = infra_command("http://127.0.0.1:9");
    cmd.arg("--state")
        .arg(dir.join("dev.db"))
        .current_dir(repo())
        .args(["plan", "--env", "dev", "--refresh=false"]);
    cmd
}

#[test]
fn colour_on_a_terminal_and_never_with_no_color_or_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    const GREEN_PLUS: &str = "\x1b[32m+\x1b[0m";

    let mut tty = offline_plan(dir.path());
    tty.env_remove("NO_COLOR");
    let coloured = on_pty(&tty);
    assert!(
        coloured.contains(GREEN_PLUS),
        "creates are green on a terminal:\n{coloured}"
    );
    assert!(coloured.contains("\x1b[1mSummary:"), "the summary is bold");

    let mut no_color_env = offline_plan(dir.path());
    no_color_env.env("NO_COLOR", "1");
    assert!(
        !on_pty(&no_color_env).contains('\x1b'),
        "NO_COLOR on a terminal: plain"
    );

    let mut flag = offline_plan(dir.path());
    flag.env_remove("NO_COLOR").arg("--no-color");
    assert!(
        !on_pty(&flag).contains('\x1b'),
        "--no-color on a terminal: plain"
    );

    let mut piped = offline_plan(dir.path());
    piped.env_remove("NO_COLOR");
    let out = piped.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stdout).contains('\x1b'),
        "a pipe gets plain text"
    );
    assert!(text(&out.stdout).contains("Summary: 93 to add"));
}

fn redact(s: &str, env: &str) -> String {
    let patterns = [
        (
            r"\b(vpc|subnet|igw|nat|eipalloc|rtb|rtbassoc|sg|sgr|db)-[0-9a-zA-Z]{8,}\b",
            "[ID]",
        ),
        (r"arn:aws:[^\s\x22]+", "[ARN]"),
        (
            r"oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-Za-z]+",
            "[ISSUER]",
        ),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"-?\$[0-9,]+\.\d+", "[USD]"),
        (r"\(1\.\d+ in [^)]*support[^)]*\)", "([EKS SUPPORT])"),
        (
            r"(?m)^  - eks_cluster\.main: Kubernetes .*$",
            "  - eks_cluster.main: [EKS SUPPORT NOTE]",
        ),
    ];
    let mut out = s.replace(env, "[ENV]");
    for (re, with) in patterns {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_plan_reads_summary_first_by_tier_with_a_policy_line_diff() {
    let env = TestEnv::from_dev("it-view", 64);
    env.expect(&["up", "--yes"], 0);

    // A trust policy changes in place, a map gains a key, a number changes,
    // and a workload's role goes away.
    env.edit_plan(
        "service_account = \"todo-api\"",
        "service_account = \"todo-api-v2\"",
    );
    env.edit_plan(
        "labels = { role = \"system\" }",
        "labels = { role = \"system\", team = \"platform\" }",
    );
    env.edit_plan("backup_retention_days = 7", "backup_retention_days = 14");
    env.edit_plan(
        "[[workload_identity]]\nname = \"external-dns\"\nnamespace = \"external-dns\"\nservice_account = \"external-dns\"\nbuiltin = \"external-dns\"          # this zone only\n",
        "",
    );
    let out = env.expect(&["plan"], 0);
    let plan = text(&out.stdout);

    // The summary comes first and names what is destroyed.
    let summary = plan.find("Summary:").expect("a summary");
    let first_detail = plan.find("── ").expect("tier headings");
    assert!(summary < first_detail, "{plan}");
    let destroyed = plan
        .lines()
        .find(|l| l.starts_with("  Destroyed: "))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(destroyed.contains("iam_role.wi_external_dns"), "{plan}");
    // Tiers in build order, each once.
    let headings: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with("── "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        headings,
        ["── identity", "── cluster", "── database"],
        "{plan}"
    );
    // The policy change is its two changed lines, not the whole document twice.
    let sa = |name: &str| format!("\"system:serviceaccount:todo-backend:{name}\"");
    let removed: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with("        - "))
        .collect();
    let added: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with("        + "))
        .collect();
    assert_eq!(removed.len(), 1, "{plan}");
    assert!(removed[0].contains(&sa("todo-api")), "{plan}");
    assert_eq!(added.len(), 1, "{plan}");
    assert!(added[0].contains(&sa("todo-api-v2")), "{plan}");
    assert!(plan.contains("unchanged line"), "context is folded: {plan}");
    // A map shows its changed key only; apply-time settings are labelled, never `_name`.
    assert!(
        plan.contains("labels.team: (none) -> \"platform\""),
        "{plan}"
    );
    assert!(
        !plan.lines().any(|l| l.trim_start().starts_with('_')),
        "{plan}"
    );
    // Unknowns never sit inside a document.
    assert!(!plan.contains("\"(known after apply)"), "{plan}");
    insta::assert_snapshot!(redact(&plan, &env.name));

    env.expect(&["destroy", "--yes"], 0);
}
