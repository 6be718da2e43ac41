use std::path::PathBuf;
use std::process::{Command, Output};

pub const ENDPOINT_VAR: &str = "INFRA_TEST_ENDPOINT";

pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// Fails loudly (never skips) when the emulator is not there.
pub fn require_emulator() {
    let url = endpoint();
    let hostport = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    if std::net::TcpStream::connect(&hostport).is_err() {
        panic!(
            "the emulator is not reachable at {url}; start it with `bash localstack/start.sh` (or set {ENDPOINT_VAR})"
        );
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One isolated environment: its own plan folder, state file and env name.
pub struct TestEnv {
    pub name: String,
    pub dir: tempfile::TempDir,
    /// Where AWS calls go (the emulator, or a fault proxy in front of it).
    pub endpoint: String,
}

impl TestEnv {
    /// An env whose plan is the checked-in dev plan with its own CIDR `10.<octet>.0.0/16`.
    pub fn from_dev(prefix: &str, octet: u8) -> TestEnv {
        require_emulator();
        let name = format!(
            "{prefix}-{}",
            fastrand::u32(..).to_string().get(..6).unwrap_or("0")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("plans")).unwrap();
        let env = TestEnv {
            name,
            dir,
            endpoint: endpoint(),
        };
        let text = std::fs::read_to_string(repo().join("plans/dev.toml"))
            .unwrap()
            .replace("10.10.", &format!("10.{octet}."))
            .replace("env = \"dev\"", &format!("env = \"{}\"", env.name))
            .replace("dev.todo.example.com", &env.domain());
        env.write_plan(&text);
        env
    }

    /// An env whose plan is the checked-in prod plan (us-west-2) with its own
    /// CIDR `10.<octet>.0.0/16` and zone.
    pub fn from_prod(prefix: &str, octet: u8) -> TestEnv {
        require_emulator();
        let name = format!(
            "{prefix}-{}",
            fastrand::u32(..).to_string().get(..6).unwrap_or("0")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("plans")).unwrap();
        let env = TestEnv {
            name,
            dir,
            endpoint: endpoint(),
        };
        let text = std::fs::read_to_string(repo().join("plans/prod.toml"))
            .unwrap()
            .replace("10.20.", &format!("10.{octet}."))
            .replace("env = \"prod\"", &format!("env = \"{}\"", env.name))
            .replace(
                "domain = \"todo.example.com\"",
                &format!("domain = \"{}\"", env.domain()),
            );
        env.write_plan(&text);
        env
    }

    /// The env's own DNS zone (the dev plan's domain, made unique).
    pub fn domain(&self) -> String {
        format!("{}.todo.example.com", self.name)
    }

    pub fn plan_path(&self) -> PathBuf {
        self.dir
            .path()
            .join("plans")
            .join(format!("{}.toml", self.name))
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir
            .path()
            .join("state")
            .join(format!("{}.db", self.name))
    }

    pub fn write_plan(&self, text: &str) {
        std::fs::write(self.plan_path(), text).unwrap();
    }

    pub fn plan_text(&self) -> String {
        std::fs::read_to_string(self.plan_path()).unwrap()
    }

    /// Edits the plan file, asserting the text to replace is there.
    pub fn edit_plan(&self, from: &str, to: &str) {
        let text = self.plan_text();
        assert!(text.contains(from), "plan has no `{from}`");
        self.write_plan(&text.replacen(from, to, 1));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = infra_command(&self.endpoint);
        cmd.arg("--plans")
            .arg(self.dir.path().join("plans"))
            .arg("--state")
            .arg(self.state_path());
        cmd.args(args).arg("--env").arg(&self.name);
        cmd
    }

    pub fn infra(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run infra")
    }

    /// Runs and asserts the exit code, printing output when it differs.
    pub fn expect(&self, args: &[&str], code: i32) -> Output {
        let out = self.infra(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "infra {args:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }
}

/// The binary under test: cargo's, or `INFRA_TEST_BIN` when set (a copy of
/// it, safe from other checkouts building into the same target directory).
pub fn infra_bin() -> PathBuf {
    std::env::var_os("INFRA_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_infra")))
}

pub fn infra_command(endpoint: &str) -> Command {
    let mut cmd = Command::new(infra_bin());
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("NO_COLOR", "1")
        // The shared emulator answers slowly while many tests run; the
        // 10 s default is tested in preflight.rs.
        .env("INFRA_PREFLIGHT_TIMEOUT", "120s")
        // A create that failed with a 5xx is looked up this long before it
        // is sent again (60 s on AWS); the emulator lists at once, and the
        // tests of the lookup (recovery.rs) set their own.
        .env("INFRA_LOST_CREATE_LOOKUP", "5s");
    cmd
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

pub async fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config("us-east-1").await)
}

pub fn env_filter(env: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("tag:infra:env")
        .values(env)
        .build()
}

/// Everything EC2 still holds for the env (NAT gateways in state `deleted`
/// stay visible on AWS for an hour, so they do not count).
pub async fn ec2_inventory(ec2: &aws_sdk_ec2::Client, env: &str) -> Vec<String> {
    let mut out: Vec<String> = ec2_tagged(ec2, env)
        .await
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    out.sort();
    out
}

/// [`ec2_inventory`] with each resource's `infra:project` tag (`-` for none).
pub async fn ec2_tagged(ec2: &aws_sdk_ec2::Client, env: &str) -> Vec<(String, String)> {
    use aws_sdk_ec2::types::Tag;
    let f = || env_filter(env);
    let project = |tags: &[Tag]| {
        let tag = tags.iter().find(|t| t.key() == Some("infra:project"));
        tag.and_then(|t| t.value()).unwrap_or("-").to_string()
    };
    let mut out = Vec::new();
    let mut add = |tags: &[Tag], what: &str, id: Option<&str>| {
        out.push((project(tags), format!("{what} {}", id.unwrap())));
    };
    for v in ec2
        .describe_vpcs()
        .filters(f())
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        add(v.tags(), "vpc", v.vpc_id());
    }
    for s in ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .unwrap()
        .subnets()
    {
        add(s.tags(), "subnet", s.subnet_id());
    }
    let groups = ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .unwrap();
    for g in groups.security_groups() {
        add(g.tags(), "sg", g.group_id());
    }
    let rules = ec2
        .describe_security_group_rules()
        .filters(f())
        .send()
        .await
        .unwrap();
    for r in rules.security_group_rules() {
        add(r.tags(), "sgr", r.security_group_rule_id());
    }
    let tables = ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        add(t.tags(), "rtb", t.route_table_id());
    }
    let gateways = ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap();
    for g in gateways.internet_gateways() {
        add(g.tags(), "igw", g.internet_gateway_id());
    }
    for a in ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .unwrap()
        .addresses()
    {
        add(a.tags(), "eip", a.allocation_id());
    }
    let nats = ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .unwrap();
    for n in nats.nat_gateways() {
        // Checked here too: the emulator ignores tag filters on NAT gateways.
        let ours = n
            .tags()
            .iter()
            .any(|t| t.key() == Some("infra:env") && t.value() == Some(env));
        if ours && n.state().map(|s| s.as_str()) != Some("deleted") {
            add(n.tags(), "nat", n.nat_gateway_id());
        }
    }
    out
}

/// `infra:address` values that appear more than once: duplicates.
/// The env's subnet ids of one tier (`tier` tag: public, app, data).
pub async fn subnet_ids(ec2: &aws_sdk_ec2::Client, env: &str, tier: &str) -> Vec<String> {
    let tier = aws_sdk_ec2::types::Filter::builder()
        .name("tag:tier")
        .values(tier)
        .build();
    let out = ec2
        .describe_subnets()
        .filters(env_filter(env))
        .filters(tier)
        .send()
        .await
        .unwrap();
    out.subnets()
        .iter()
        .map(|s| s.subnet_id().unwrap().to_string())
        .collect()
}

pub fn duplicates(addresses: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for a in addresses {
        *seen.entry(a).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(a, _)| a.to_string())
        .collect()
}

/// The `infra:address` tag of every EC2 resource tagged with the env,
/// duplicates included (NAT gateways already deleted excluded).
pub async fn tagged_addresses(env: &str) -> Vec<String> {
    let ec2 = ec2().await;
    let f = || env_filter(env);
    let addr = |tags: &[aws_sdk_ec2::types::Tag]| {
        tags.iter()
            .find(|t| t.key() == Some("infra:address"))
            .and_then(|t| t.value())
            .unwrap_or("?")
            .to_string()
    };
    let mut out = Vec::new();
    out.extend(
        ec2.describe_vpcs()
            .filters(f())
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_subnets()
            .filters(f())
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_security_group_rules()
            .filters(f())
            .send()
            .await
            .unwrap()
            .security_group_rules()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_route_tables()
            .filters(f())
            .send()
            .await
            .unwrap()
            .route_tables()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_internet_gateways()
            .filters(f())
            .send()
            .await
            .unwrap()
            .internet_gateways()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_addresses()
            .filters(f())
            .send()
            .await
            .unwrap()
            .addresses()
            .iter()
            .map(|x| addr(x.tags())),
    );
    out.extend(
        ec2.describe_nat_gateways()
            .filter(f())
            .send()
            .await
            .unwrap()
            .nat_gateways()
            .iter()
            .filter(|n| {
                n.tags()
                    .iter()
                    .any(|t| t.key() == Some("infra:env") && t.value() == Some(env))
            })
            .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
            .map(|x| addr(x.tags())),
    );
    out.sort();
    out
}

pub async fn clients() -> Sdk {
    clients_in("us-east-1").await
}

pub async fn clients_in(region: &str) -> Sdk {
    let conf = sdk_config(region).await;
    Sdk {
        ec2: aws_sdk_ec2::Client::new(&conf),
        eks: aws_sdk_eks::Client::new(&conf),
        iam: aws_sdk_iam::Client::new(&conf),
        sqs: aws_sdk_sqs::Client::new(&conf),
        events: aws_sdk_eventbridge::Client::new(&conf),
        rds: aws_sdk_rds::Client::new(&conf),
        route53: aws_sdk_route53::Client::new(&conf),
        acm: aws_sdk_acm::Client::new(&conf),
        kms: aws_sdk_kms::Client::new(&conf),
        secrets: aws_sdk_secretsmanager::Client::new(&conf),
    }
}

pub struct Sdk {
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub iam: aws_sdk_iam::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub rds: aws_sdk_rds::Client,
    pub route53: aws_sdk_route53::Client,
    pub acm: aws_sdk_acm::Client,
    pub kms: aws_sdk_kms::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Sdk {
    /// Every non-EC2 resource of the env, by its name (EKS, IAM, SQS,
    /// EventBridge, RDS, Route53, ACM, KMS aliases).
    pub async fn other_inventory(&self, env: &str) -> Vec<String> {
        self.other_inventory_of("todo", env).await
    }

    /// [`Sdk::other_inventory`] of one project's env (names start with
    /// `<project>-<env>`; IAM roles and OIDC providers by the env tag alone).
    pub async fn other_inventory_of(&self, project: &str, env: &str) -> Vec<String> {
        let mut out = Vec::new();
        let cluster = format!("{project}-{env}");
        if self
            .eks
            .list_clusters()
            .send()
            .await
            .unwrap()
            .clusters()
            .iter()
            .any(|c| c == &cluster)
        {
            out.push(format!("eks {cluster}"));
        }
        let roles = self
            .iam
            .get_account_authorization_details()
            .filter(aws_sdk_iam::types::EntityType::Role)
            .send()
            .await
            .unwrap();
        for r in roles.role_detail_list() {
            if r.tags()
                .iter()
                .any(|t| t.key() == "infra:env" && t.value() == env)
            {
                out.push(format!("role {}", r.role_name().unwrap_or_default()));
            }
        }
        for p in self
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
        {
            // Another test's provider may go between the list and the get.
            let Ok(got) = self
                .iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(p.arn().unwrap())
                .send()
                .await
            else {
                continue;
            };
            if got
                .tags()
                .iter()
                .any(|t| t.key() == "infra:env" && t.value() == env)
            {
                out.push(format!("oidc {}", p.arn().unwrap()));
            }
        }
        for url in self.sqs.list_queues().send().await.unwrap().queue_urls() {
            if url.ends_with(&format!("/{cluster}-karpenter")) {
                out.push(format!("queue {url}"));
            }
        }
        for r in self
            .events
            .list_rules()
            .name_prefix(format!("{cluster}-"))
            .send()
            .await
            .unwrap()
            .rules()
        {
            out.push(format!("rule {}", r.name().unwrap_or_default()));
        }
        for db in self
            .rds
            .describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
        {
            if db
                .db_instance_identifier()
                .is_some_and(|i| i.starts_with(&format!("{cluster}-")))
            {
                out.push(format!("db {}", db.db_instance_identifier().unwrap()));
            }
        }
        for c in self
            .rds
            .describe_db_clusters()
            .send()
            .await
            .unwrap()
            .db_clusters()
        {
            if c.db_cluster_identifier()
                .is_some_and(|i| i.starts_with(&format!("{cluster}-")))
            {
                out.push(format!("db-cluster {}", c.db_cluster_identifier().unwrap()));
            }
        }
        for g in self
            .rds
            .describe_db_cluster_parameter_groups()
            .send()
            .await
            .unwrap()
            .db_cluster_parameter_groups()
        {
            if g.db_cluster_parameter_group_name()
                .is_some_and(|n| n.starts_with(&format!("{cluster}-")))
            {
                out.push(format!(
                    "db-cluster-parameter-group {}",
                    g.db_cluster_parameter_group_name().unwrap()
                ));
            }
        }
        for g in self
            .rds
            .describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
        {
            if g.db_subnet_group_name()
                .is_some_and(|n| n.starts_with(&format!("{cluster}-")))
            {
                out.push(format!(
                    "db-subnet-group {}",
                    g.db_subnet_group_name().unwrap()
                ));
            }
        }
        for g in self
            .rds
            .describe_db_parameter_groups()
            .send()
            .await
            .unwrap()
            .db_parameter_groups()
        {
            if g.db_parameter_group_name()
                .is_some_and(|n| n.starts_with(&format!("{cluster}-")))
            {
                out.push(format!(
                    "db-parameter-group {}",
                    g.db_parameter_group_name().unwrap()
                ));
            }
        }
        let domain = format!("{env}.todo.example.com");
        for z in self
            .route53
            .list_hosted_zones()
            .send()
            .await
            .unwrap()
            .hosted_zones()
        {
            if z.name() == format!("{domain}.") {
                out.push(format!("zone {}", z.id()));
            }
        }
        use aws_sdk_acm::types::CertificateStatus as S;
        let all = [
            S::PendingValidation,
            S::Issued,
            S::Inactive,
            S::Expired,
            S::ValidationTimedOut,
            S::Revoked,
            S::Failed,
        ];
        let certs = self
            .acm
            .list_certificates()
            .set_certificate_statuses(Some(all.to_vec()))
            .send()
            .await
            .unwrap();
        for c in certs.certificate_summary_list() {
            if c.domain_name() == Some(domain.as_str()) {
                out.push(format!(
                    "certificate {}",
                    c.certificate_arn().unwrap_or_default()
                ));
            }
        }
        for a in self.kms.list_aliases().send().await.unwrap().aliases() {
            if a.alias_name()
                .is_some_and(|n| n.starts_with(&format!("alias/{cluster}-")))
            {
                out.push(format!("kms-alias {}", a.alias_name().unwrap()));
            }
        }
        out.sort();
        out
    }
}

/// The fault-injection proxy (`localstack/fault_proxy.py`) in front of the emulator.
pub struct Proxy {
    child: std::process::Child,
    pub url: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Proxy {
    pub fn start(args: &[&str]) -> Proxy {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .arg(repo().join("localstack/fault_proxy.py"))
            .args(["--upstream", &endpoint(), "--port", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the fault proxy (python3)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("proxy did not start");
        let port = first
            .strip_prefix("listening on ")
            .expect("proxy's first line")
            .trim()
            .to_string();
        Proxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
            lines: rx,
        }
    }

    /// Waits for `HOLD k op`; `None` when `done` says the client finished first.
    pub fn wait_hold(&self, done: &mut dyn FnMut() -> bool) -> Option<String> {
        loop {
            match self
                .lines
                .recv_timeout(std::time::Duration::from_millis(20))
            {
                Ok(line) if line.starts_with("HOLD") => return Some(line),
                Ok(_) => {}
                Err(_) if done() => return None,
                Err(_) => {}
            }
        }
    }

    pub fn stats(&self) -> serde_json::Value {
        let hostport = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(hostport).unwrap();
        use std::io::{Read, Write};
        write!(
            s,
            "GET /__proxy/stats HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        let json = body.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(json).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Addresses in the cloud that state does not hold (orphans), by EC2 tags.
pub fn state_addresses(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT address FROM resources ORDER BY address")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
