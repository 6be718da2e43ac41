//! Recovery sees every kind it journals (issue 13, item 5), and a create
//! whose answer was lost is looked up until the cloud can answer before it
//! is sent again (item 7). Through the fault proxy: `--hold-op` holds a
//! create's answer and the run is killed -9; `--drop-op` loses the answer;
//! `--empty` makes the reads after it answer "not there yet", as AWS's
//! eventually consistent reads do. Counted by asking the emulator.

use std::process::Stdio;

use crate::support::*;

/// What the held create makes, counted with the test's names.
#[derive(Clone, Copy, Debug)]
enum Made {
    InstanceProfile,
    DbParameterGroup,
    ValidationRecord,
    Certificate,
    Vpc,
    KmsKey,
}

async fn count(sdk: &Sdk, env: &TestEnv, made: Made) -> usize {
    let prefix = format!("todo-{}-", env.name);
    let domain = env.domain();
    match made {
        Made::InstanceProfile => {
            let mut n = 0;
            let mut marker = None;
            loop {
                let page = sdk
                    .iam
                    .list_instance_profiles()
                    .set_marker(marker)
                    .send()
                    .await
                    .unwrap();
                n += page
                    .instance_profiles()
                    .iter()
                    .filter(|p| p.instance_profile_name().starts_with(&prefix))
                    .count();
                match page.marker().filter(|_| page.is_truncated()) {
                    Some(m) => marker = Some(m.to_string()),
                    None => break n,
                }
            }
        }
        Made::DbParameterGroup => sdk
            .rds
            .describe_db_parameter_groups()
            .send()
            .await
            .unwrap()
            .db_parameter_groups()
            .iter()
            .filter(|g| {
                g.db_parameter_group_name()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .count(),
        Made::ValidationRecord => {
            let mut n = 0;
            for z in sdk
                .route53
                .list_hosted_zones()
                .send()
                .await
                .unwrap()
                .hosted_zones()
            {
                if z.name() != format!("{domain}.") {
                    continue;
                }
                n += sdk
                    .route53
                    .list_resource_record_sets()
                    .hosted_zone_id(z.id())
                    .send()
                    .await
                    .unwrap()
                    .resource_record_sets()
                    .iter()
                    .filter(|r| r.r#type().as_str() == "CNAME" && r.name().starts_with('_'))
                    .count();
            }
            n
        }
        Made::Certificate => {
            use aws_sdk_acm::types::CertificateStatus as S;
            sdk.acm
                .list_certificates()
                .set_certificate_statuses(Some(vec![
                    S::PendingValidation,
                    S::Issued,
                    S::Inactive,
                    S::Expired,
                    S::ValidationTimedOut,
                    S::Revoked,
                    S::Failed,
                ]))
                .send()
                .await
                .unwrap()
                .certificate_summary_list()
                .iter()
                .filter(|c| c.domain_name() == Some(domain.as_str()))
                .count()
        }
        Made::Vpc => sdk
            .ec2
            .describe_vpcs()
            .filters(env_filter(&env.name))
            .send()
            .await
            .unwrap()
            .vpcs()
            .len(),
        // Keys scheduled for deletion are gone as far as infra is concerned.
        Made::KmsKey => {
            let mut n = 0;
            let keys: Vec<_> = sdk
                .kms
                .list_keys()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .unwrap();
            for k in keys {
                let id = k.key_id().unwrap();
                let Ok(tags) = sdk.kms.list_resource_tags().key_id(id).send().await else {
                    continue;
                };
                if !tags
                    .tags()
                    .iter()
                    .any(|t| t.tag_key() == "infra:env" && t.tag_value() == env.name)
                {
                    continue;
                }
                let meta = sdk.kms.describe_key().key_id(id).send().await.unwrap();
                if meta.key_metadata().and_then(|m| m.key_state())
                    != Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
                {
                    n += 1;
                }
            }
            n
        }
    }
}

fn spawn_via(env: &TestEnv, proxy: &Proxy, args: &[&str]) -> std::process::Child {
    let mut cmd = env.command(args);
    cmd.env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

/// Runs `args` through `proxy` to its end; asserts exit 0.
fn expect_via(env: &TestEnv, proxy: &Proxy, args: &[&str], lookup_limit: &str) {
    let out = env
        .command(args)
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("INFRA_LOST_CREATE_LOOKUP", lookup_limit)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "infra {args:?}\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `up` through a proxy holding the first call of `op`, killed -9 once held.
fn kill_up_after(env: &TestEnv, proxy: &Proxy, op: &str) {
    let mut child = spawn_via(env, proxy, &["up", "--yes"]);
    let held = proxy.wait_hold(&mut || child.try_wait().unwrap().is_some());
    let _ = child.kill();
    let _ = child.wait();
    assert!(held.is_some(), "up ended before it called {op}");
}

async fn assert_all_gone(env: &TestEnv, sdk: &Sdk, made: Made, when: &str) {
    assert_eq!(count(sdk, env, made).await, 0, "{when}: {made:?} left");
    assert!(
        ec2_inventory(&sdk.ec2, &env.name).await.is_empty(),
        "{when}: EC2 leftovers"
    );
    assert_eq!(
        sdk.other_inventory(&env.name).await,
        Vec::<String>::new(),
        "{when}: leftovers"
    );
}

/// How the plan changes after the kill in the third round, and how many of
/// what the held create makes the changed plan keeps.
struct Change {
    edit: fn(&TestEnv),
    keeps: usize,
}

/// The plan without `[dns]` (and external-dns, whose policy names the zone).
fn without_dns(env: &TestEnv) {
    let mut s = env.plan_text();
    let cut = |s: &mut String, from: &str, to: &str| {
        let a = s.find(from).unwrap();
        let b = a + s[a..].find(to).unwrap();
        s.replace_range(a..b, "");
    };
    cut(&mut s, "[dns]", "[[workload_identity]]");
    cut(
        &mut s,
        "[[workload_identity]]\nname = \"external-dns\"",
        "[[workload_identity]]\nname = \"external-secrets\"",
    );
    env.write_plan(&s);
}

/// Kill -9 right after `op` reached the emulator, then:
/// 1. rerun `up`: exactly one of what `op` made, the plan converged, and
///    `destroy` leaves nothing;
/// 2. kill again, then `destroy` at once: it too finds what the interrupted
///    create made and deletes it;
/// 3. kill again, change the plan so that it no longer declares what `op`
///    made (or names it otherwise), then `up`: the interrupted create is
///    found from the journal and deleted, nothing blocks (a leftover record
///    kept its zone from being deleted), and `destroy` leaves nothing.
///
/// `proxy_args` add faults to the runs after the kill.
async fn killed_after(op: &str, made: Made, octet: u8, proxy_args: &[&str], change: Change) {
    let env = TestEnv::from_dev(&format!("it-rec{octet}"), octet);
    let sdk = clients().await;
    let mut args = vec!["--hold-op", op];
    args.extend_from_slice(proxy_args);

    let proxy = Proxy::start(&args);
    kill_up_after(&env, &proxy, op);
    assert_eq!(count(&sdk, &env, made).await, 1, "{op} made one {made:?}");
    expect_via(&env, &proxy, &["up", "--yes"], "10s");
    assert_eq!(
        count(&sdk, &env, made).await,
        1,
        "after the rerun: exactly one {made:?}"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert_all_gone(&env, &sdk, made, "killed, rerun, destroyed").await;
    drop(proxy);

    let proxy = Proxy::start(&args);
    kill_up_after(&env, &proxy, op);
    assert_eq!(count(&sdk, &env, made).await, 1, "{op} made one {made:?}");
    expect_via(&env, &proxy, &["destroy", "--yes"], "10s");
    assert_all_gone(&env, &sdk, made, "killed, then destroyed").await;
    drop(proxy);

    let proxy = Proxy::start(&args);
    kill_up_after(&env, &proxy, op);
    assert_eq!(count(&sdk, &env, made).await, 1, "{op} made one {made:?}");
    (change.edit)(&env);
    expect_via(&env, &proxy, &["up", "--yes"], "10s");
    assert_eq!(
        count(&sdk, &env, made).await,
        change.keeps,
        "killed, plan changed, rerun: what the interrupted create made is gone"
    );
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert_all_gone(&env, &sdk, made, "killed, plan changed, rerun, destroyed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_create_instance_profile_nothing_orphaned_or_twice() {
    let change = Change {
        edit: |env| env.edit_plan("karpenter = true", "karpenter = false"),
        keeps: 0,
    };
    killed_after(
        "CreateInstanceProfile",
        Made::InstanceProfile,
        90,
        &[],
        change,
    )
    .await;
}

/// The third round renames the group (PostgreSQL 15): the old one goes.
#[tokio::test(flavor = "multi_thread")]
async fn killed_after_create_db_parameter_group_nothing_orphaned_or_twice() {
    let change = Change {
        edit: |env| env.edit_plan("engine_version = \"16.4\"", "engine_version = \"15.8\""),
        keeps: 1,
    };
    killed_after(
        "CreateDBParameterGroup",
        Made::DbParameterGroup,
        91,
        &[],
        change,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_change_resource_record_sets_nothing_orphaned_or_twice() {
    let change = Change {
        edit: without_dns,
        keeps: 0,
    };
    killed_after(
        "ChangeResourceRecordSets",
        Made::ValidationRecord,
        92,
        &[],
        change,
    )
    .await;
}

/// ACM publishes the validation record seconds after the request: the
/// first describes after the kill show the certificate without it.
#[tokio::test(flavor = "multi_thread")]
async fn killed_after_request_certificate_nothing_orphaned_or_twice() {
    let change = Change {
        edit: without_dns,
        keeps: 0,
    };
    killed_after(
        "RequestCertificate",
        Made::Certificate,
        93,
        &["--empty", "DescribeCertificate=3"],
        change,
    )
    .await;
}

/// `up` through a proxy that loses the answer of `op` and answers the next
/// `reads` "not there yet": after the run exactly one resource exists, and
/// the proxy did answer those reads empty (the lookup waited them out).
async fn lost_answer(op: &str, reads: &str, made: Made, octet: u8, edit: Option<(&str, &str)>) {
    let env = TestEnv::from_dev(&format!("it-lost{octet}"), octet);
    if let Some((from, to)) = edit {
        env.edit_plan(from, to);
    }
    let sdk = clients().await;
    let proxy = Proxy::start(&["--drop-op", op, "--empty", reads]);
    expect_via(&env, &proxy, &["up", "--yes"], "30s");
    assert_eq!(
        count(&sdk, &env, made).await,
        1,
        "exactly one {made:?} after a lost {op} answer"
    );
    let stats = proxy.stats();
    assert_eq!(
        stats["faults"]["drop"].as_u64(),
        Some(1),
        "{op}'s answer was lost: {stats}"
    );
    let want: u64 = reads.rsplit('=').next().unwrap().parse().unwrap();
    assert_eq!(
        stats["faults"]["empty"].as_u64(),
        Some(want),
        "the reads after it answered empty: {stats}"
    );
    drop(proxy);
    env.expect(&["plan", "--detailed-exitcode"], 0);
    env.expect(&["destroy", "--yes"], 0);
    assert_all_gone(&env, &sdk, made, "destroyed").await;
}

/// EC2 has no idempotency token on CreateVpc: looked up with backoff.
#[tokio::test(flavor = "multi_thread")]
async fn lost_create_vpc_answer_is_looked_up_until_listed() {
    lost_answer("CreateVpc", "DescribeVpcs=3", Made::Vpc, 94, None).await;
}

/// KMS has none on CreateKey: looked up with backoff.
#[tokio::test(flavor = "multi_thread")]
async fn lost_create_key_answer_is_looked_up_until_listed() {
    lost_answer(
        "CreateKey",
        "ListKeys=3",
        Made::KmsKey,
        95,
        Some(("logs = false", "logs = true")),
    )
    .await;
}

/// ACM takes an IdempotencyToken: the request is sent again with the same
/// token and answers the first certificate.
#[tokio::test(flavor = "multi_thread")]
async fn lost_request_certificate_answer_is_resent_with_its_token() {
    lost_answer(
        "RequestCertificate",
        "ListCertificates=1",
        Made::Certificate,
        96,
        None,
    )
    .await;
}
