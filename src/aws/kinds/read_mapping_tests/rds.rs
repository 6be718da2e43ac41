//! RDS (query XML): subnet and parameter groups, instances, Aurora clusters
//! and their instances.

use serde_json::json;

use super::*;

const ARN: &str = "arn:aws:rds:us-east-1:123456789012";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1a2b";

/// An RDS response: `<{op}Response><{op}Result>inner</…>`.
fn rds(op: &str, inner: &str) -> String {
    format!(
        r#"<{op}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><{op}Result>{inner}</{op}Result><ResponseMetadata><RequestId>5c1e</RequestId></ResponseMetadata></{op}Response>"#
    )
}

fn tag_list(tags: &[(String, String)]) -> String {
    xml_tags("TagList", "Tag", "Key", "Value", tags)
}

/// `ListTagsForResource` of `arn`.
fn tags_of(arn: &str, tags: &[(String, String)]) -> Answer {
    answer(
        "rds",
        "ListTagsForResource",
        rds("ListTagsForResource", &tag_list(tags)),
    )
    .when(&format!("ResourceName={arn}"))
}

/// `op` answered with RDS's not-found error `code`.
fn not_found(op: &str, code: &str) -> Answer {
    answer(
        "rds",
        op,
        format!(
            r#"<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>not found</Message></Error><RequestId>5c1f</RequestId></ErrorResponse>"#
        ),
    )
    .status(404)
}

#[tokio::test]
async fn reads_the_db_subnet_groups_state_knows_with_sorted_subnets_and_tags() {
    let group = |name: &str| {
        format!(
            "<DBSubnetGroup><DBSubnetGroupName>{name}</DBSubnetGroupName>\
             <DBSubnetGroupDescription>Data subnets</DBSubnetGroupDescription><VpcId>vpc-0a1</VpcId>\
             <SubnetGroupStatus>Complete</SubnetGroupStatus><Subnets>\
             <Subnet><SubnetIdentifier>subnet-0d2</SubnetIdentifier><SubnetAvailabilityZone><Name>us-east-1b</Name></SubnetAvailabilityZone><SubnetStatus>Active</SubnetStatus></Subnet>\
             <Subnet><SubnetIdentifier>subnet-0d1</SubnetIdentifier><SubnetAvailabilityZone><Name>us-east-1a</Name></SubnetAvailabilityZone><SubnetStatus>Active</SubnetStatus></Subnet>\
             </Subnets><DBSubnetGroupArn>{ARN}:subgrp:{name}</DBSubnetGroupArn></DBSubnetGroup>"
        )
    };
    let groups = [group("todo-dev-data"), group("default-vpc-0a1")].concat();
    let r = recorded(vec![
        answer(
            "rds",
            "DescribeDBSubnetGroups",
            rds(
                "DescribeDBSubnetGroups",
                &format!("<DBSubnetGroups>{groups}</DBSubnetGroups>"),
            ),
        ),
        tags_of(
            &format!("{ARN}:subgrp:todo-dev-data"),
            &our_tags("db_subnet_group.data"),
        ),
    ]);
    let state = [known(
        "DbSubnetGroup",
        "db_subnet_group.data",
        "todo-dev-data",
        json!({ "name": "todo-dev-data" }),
    )];
    let lives = read(&r, "DbSubnetGroup", &state).await;
    // Every group is listed; only the known one is read, with its tags (one
    // state does not know is found by name with `lookup`).
    assert_eq!(ids(&lives), ["todo-dev-data"]);
    assert_eq!(r.count("ListTagsForResource"), 1);
    let data = &lives[0];
    assert_eq!(data.address, None);
    assert_eq!(
        props(data),
        json!({
            "name": "todo-dev-data",
            "description": "Data subnets",
            "subnet_ids": ["subnet-0d1", "subnet-0d2"],
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        data.outputs,
        outputs(&[("id", "todo-dev-data"), ("name", "todo-dev-data")])
    );
}

/// `kind`'s lookup of the resource `props` describe.
async fn lookup(r: &Recorded, kind: &str, props: serde_json::Value) -> Option<Live> {
    let registry = Registry::new();
    let props = props.as_object().cloned().unwrap_or_default();
    let k = registry.get(kind).unwrap();
    k.lookup(&r.cx, &props)
        .await
        .unwrap_or_else(|e| panic!("{kind} lookup failed: {e}\ncalls: {:#?}", r.calls()))
}

#[tokio::test]
async fn a_named_group_tagged_for_another_project_or_env_is_never_found_by_its_name() {
    let subnet_group = |name: &str| {
        rds(
            "DescribeDBSubnetGroups",
            &format!(
                "<DBSubnetGroups><DBSubnetGroup><DBSubnetGroupName>{name}</DBSubnetGroupName>\
                 <DBSubnetGroupDescription>Data subnets</DBSubnetGroupDescription><Subnets/>\
                 <DBSubnetGroupArn>{ARN}:subgrp:{name}</DBSubnetGroupArn></DBSubnetGroup></DBSubnetGroups>"
            ),
        )
    };
    let parameter_group = |name: &str| {
        rds(
            "DescribeDBParameterGroups",
            &format!(
                "<DBParameterGroups><DBParameterGroup><DBParameterGroupName>{name}</DBParameterGroupName>\
                 <DBParameterGroupFamily>postgres16</DBParameterGroupFamily><Description>pg</Description>\
                 <DBParameterGroupArn>{ARN}:pg:{name}</DBParameterGroupArn></DBParameterGroup></DBParameterGroups>"
            ),
        )
    };
    let cluster_parameter_group = |name: &str| {
        rds(
            "DescribeDBClusterParameterGroups",
            &format!(
                "<DBClusterParameterGroups><DBClusterParameterGroup>\
                 <DBClusterParameterGroupName>{name}</DBClusterParameterGroupName>\
                 <DBParameterGroupFamily>aurora-postgresql16</DBParameterGroupFamily><Description>apg</Description>\
                 <DBClusterParameterGroupArn>{ARN}:cluster-pg:{name}</DBClusterParameterGroupArn>\
                 </DBClusterParameterGroup></DBClusterParameterGroups>"
            ),
        )
    };
    // One group of each kind per owner: another project's (same env name),
    // another env's, one with no infra tags (made by hand), and ours.
    let owners = [
        ("other-project", other_project_tags("x.y")),
        ("other-env", other_env_tags("x.y")),
        ("by-hand", tags(&[("Team", "platform")])),
        ("ours", our_tags("x.y")),
    ];
    let mut answers = vec![
        answer(
            "rds",
            "DescribeDBParameters",
            parameters("DescribeDBParameters", USER_PARAMS),
        ),
        answer(
            "rds",
            "DescribeDBClusterParameters",
            parameters("DescribeDBClusterParameters", USER_PARAMS),
        ),
    ];
    for (name, owner_tags) in &owners {
        answers.push(
            answer("rds", "DescribeDBSubnetGroups", subnet_group(name))
                .when(&format!("DBSubnetGroupName={name}")),
        );
        answers.push(
            answer("rds", "DescribeDBParameterGroups", parameter_group(name))
                .when(&format!("DBParameterGroupName={name}")),
        );
        answers.push(
            answer(
                "rds",
                "DescribeDBClusterParameterGroups",
                cluster_parameter_group(name),
            )
            .when(&format!("DBClusterParameterGroupName={name}")),
        );
        answers.push(tags_of(&format!("{ARN}:subgrp:{name}"), owner_tags));
        answers.push(tags_of(&format!("{ARN}:pg:{name}"), owner_tags));
        answers.push(tags_of(&format!("{ARN}:cluster-pg:{name}"), owner_tags));
    }
    let r = recorded(answers);
    for kind in [
        "DbSubnetGroup",
        "DbParameterGroup",
        "DbClusterParameterGroup",
    ] {
        let found = |name: &str| lookup(&r, kind, json!({ "name": name }));
        assert!(found("other-project").await.is_none(), "{kind}");
        assert!(found("other-env").await.is_none(), "{kind}");
        let by_hand = found("by-hand").await.unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(props(&by_hand).get("tags"), None, "{kind}");
        let ours = found("ours").await.unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(
            props(&ours)["tags"],
            json!({ "infra:project": "todo", "Team": "platform" }),
            "{kind}"
        );
    }
}

fn parameters(op: &str, params: &[(&str, &str)]) -> String {
    let members: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<Parameter><ParameterName>{k}</ParameterName><ParameterValue>{v}</ParameterValue>\
                 <Source>user</Source><ApplyType>dynamic</ApplyType><IsModifiable>true</IsModifiable></Parameter>"
            )
        })
        .collect();
    rds(op, &format!("<Parameters>{members}</Parameters>"))
}

/// The plan's parameters, as state records them.
fn planned() -> serde_json::Value {
    json!({ "rds.force_ssl": "1", "log_min_duration_statement": "500" })
}

/// Set by hand, not in the plan: not compared.
const USER_PARAMS: &[(&str, &str)] = &[
    ("rds.force_ssl", "1"),
    ("log_min_duration_statement", "250"),
    ("shared_preload_libraries", "pg_stat_statements"),
];

#[tokio::test]
async fn reads_db_parameter_group_with_the_planned_parameters_only() {
    let r = recorded(vec![
        answer(
            "rds",
            "DescribeDBParameterGroups",
            rds(
                "DescribeDBParameterGroups",
                &format!(
                    "<DBParameterGroups><DBParameterGroup><DBParameterGroupName>todo-dev-pg16</DBParameterGroupName>\
                     <DBParameterGroupFamily>postgres16</DBParameterGroupFamily><Description>todo dev Postgres</Description>\
                     <DBParameterGroupArn>{ARN}:pg:todo-dev-pg16</DBParameterGroupArn></DBParameterGroup></DBParameterGroups>"
                ),
            ),
        )
        .when("DBParameterGroupName=todo-dev-pg16"),
        not_found("DescribeDBParameterGroups", "DBParameterGroupNotFound").when("DBParameterGroupName=todo-dev-gone"),
        answer(
            "rds",
            "DescribeDBParameters",
            parameters("DescribeDBParameters", USER_PARAMS),
        )
        .when("DBParameterGroupName=todo-dev-pg16&Source=user"),
        tags_of(
            &format!("{ARN}:pg:todo-dev-pg16"),
            &our_tags("db_parameter_group.pg"),
        ),
    ]);
    let state = [
        known(
            "DbParameterGroup",
            "db_parameter_group.pg",
            "todo-dev-pg16",
            json!({ "name": "todo-dev-pg16", "parameters": planned() }),
        ),
        // Deleted outside infra: not read.
        known(
            "DbParameterGroup",
            "db_parameter_group.gone",
            "todo-dev-gone",
            json!({ "name": "todo-dev-gone" }),
        ),
    ];
    let lives = read(&r, "DbParameterGroup", &state).await;
    assert_eq!(ids(&lives), ["todo-dev-pg16"]);
    let live = &lives[0];
    assert_eq!(live.address, None);
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev-pg16",
            "family": "postgres16",
            "description": "todo dev Postgres",
            "parameters": { "rds.force_ssl": "1", "log_min_duration_statement": "250" },
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[("id", "todo-dev-pg16"), ("name", "todo-dev-pg16")])
    );
}

#[tokio::test]
async fn reads_db_cluster_parameter_group_and_its_arn() {
    let group = |name: &str| {
        rds(
            "DescribeDBClusterParameterGroups",
            &format!(
                "<DBClusterParameterGroups><DBClusterParameterGroup>\
                 <DBClusterParameterGroupName>{name}</DBClusterParameterGroupName>\
                 <DBParameterGroupFamily>aurora-postgresql16</DBParameterGroupFamily>\
                 <Description>todo dev Aurora</Description>\
                 <DBClusterParameterGroupArn>{ARN}:cluster-pg:{name}</DBClusterParameterGroupArn>\
                 </DBClusterParameterGroup></DBClusterParameterGroups>"
            ),
        )
    };
    let r = recorded(vec![
        answer(
            "rds",
            "DescribeDBClusterParameterGroups",
            group("todo-dev-apg16"),
        )
        .when("DBClusterParameterGroupName=todo-dev-apg16"),
        answer(
            "rds",
            "DescribeDBClusterParameterGroups",
            group("other-dev-apg16"),
        )
        .when("DBClusterParameterGroupName=other-dev-apg16"),
        answer(
            "rds",
            "DescribeDBClusterParameters",
            parameters("DescribeDBClusterParameters", USER_PARAMS),
        )
        .when("Source=user"),
        tags_of(
            &format!("{ARN}:cluster-pg:todo-dev-apg16"),
            &our_tags("db_cluster_parameter_group.apg"),
        ),
        tags_of(
            &format!("{ARN}:cluster-pg:other-dev-apg16"),
            &other_project_tags("db_cluster_parameter_group.apg"),
        ),
    ]);
    let state = [
        known(
            "DbClusterParameterGroup",
            "db_cluster_parameter_group.apg",
            "todo-dev-apg16",
            json!({ "name": "todo-dev-apg16", "parameters": { "rds.force_ssl": "1" } }),
        ),
        known(
            "DbClusterParameterGroup",
            "db_cluster_parameter_group.theirs",
            "other-dev-apg16",
            json!({ "name": "other-dev-apg16", "parameters": {} }),
        ),
    ];
    let lives = read(&r, "DbClusterParameterGroup", &state).await;
    assert_eq!(ids(&lives), ["todo-dev-apg16", "other-dev-apg16"]);
    let live = &lives[0];
    assert_eq!(live.address, None);
    assert_eq!(
        props(live),
        json!({
            "name": "todo-dev-apg16",
            "family": "aurora-postgresql16",
            "description": "todo dev Aurora",
            "parameters": { "rds.force_ssl": "1" },
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-apg16"),
            ("name", "todo-dev-apg16"),
            ("arn", &format!("{ARN}:cluster-pg:todo-dev-apg16")),
        ])
    );
    // Another project's tags: the group is read by name, its tags are not.
    assert_eq!(props(&lives[1]).get("tags"), None);
    assert_eq!(props(&lives[1])["parameters"], json!({}));
}

fn instance(id: &str, cluster: Option<&str>, extra: &str, tags: &[(String, String)]) -> String {
    let cluster = cluster
        .map(|c| format!("<DBClusterIdentifier>{c}</DBClusterIdentifier>"))
        .unwrap_or_default();
    format!(
        "<DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier><DBInstanceClass>db.t4g.medium</DBInstanceClass>\
         <Engine>postgres</Engine><DBInstanceStatus>available</DBInstanceStatus><MasterUsername>app</MasterUsername>\
         <Endpoint><Address>{id}.c9akciq32.us-east-1.rds.amazonaws.com</Address><Port>5432</Port><HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId></Endpoint>\
         <AllocatedStorage>50</AllocatedStorage><BackupRetentionPeriod>7</BackupRetentionPeriod>\
         <VpcSecurityGroups>\
         <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0z</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>\
         <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0db</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>\
         </VpcSecurityGroups>\
         <DBParameterGroups><DBParameterGroup><DBParameterGroupName>todo-dev-pg16</DBParameterGroupName><ParameterApplyStatus>in-sync</ParameterApplyStatus></DBParameterGroup></DBParameterGroups>\
         <DBSubnetGroup><DBSubnetGroupName>todo-dev-data</DBSubnetGroupName><VpcId>vpc-0a1</VpcId></DBSubnetGroup>\
         <MultiAZ>false</MultiAZ><EngineVersion>16.4</EngineVersion><PubliclyAccessible>false</PubliclyAccessible>\
         {cluster}<StorageEncrypted>true</StorageEncrypted><KmsKeyId>{KEY}</KmsKeyId>\
         <DbiResourceId>db-ABCDEFGHIJ</DbiResourceId><DeletionProtection>true</DeletionProtection>\
         <IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled>\
         <PerformanceInsightsEnabled>true</PerformanceInsightsEnabled>\
         <DBInstanceArn>{ARN}:db:{id}</DBInstanceArn>{extra}{}</DBInstance>",
        tag_list(tags)
    )
}

/// Two pages of instances: the env's Postgres instance (a modify pending
/// for the maintenance window) and Aurora writer, another env's and another
/// project's of each.
fn instances() -> Vec<Answer> {
    let secret = "<MasterUserSecret><SecretArn>arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a-Xy</SecretArn>\
                  <SecretStatus>active</SecretStatus></MasterUserSecret>";
    let pending = "<PendingModifiedValues><DBInstanceClass>db.t4g.large</DBInstanceClass>\
                   <AllocatedStorage>100</AllocatedStorage></PendingModifiedValues>";
    let page1 = [
        instance(
            "todo-dev-db",
            None,
            &format!("{pending}{secret}"),
            &our_tags("db_instance.main"),
        ),
        instance(
            "todo-dev-aurora-1",
            Some("todo-dev-aurora"),
            "",
            &our_tags("rds_cluster_instance.writer"),
        ),
    ]
    .concat();
    let page2 = [
        instance("todo-qa-db", None, "", &other_env_tags("db_instance.main")),
        instance(
            "other-dev-db",
            None,
            "",
            &other_project_tags("db_instance.main"),
        ),
        instance(
            "todo-qa-aurora-1",
            Some("todo-qa-aurora"),
            "",
            &other_env_tags("rds_cluster_instance.writer"),
        ),
    ]
    .concat();
    vec![
        answer(
            "rds",
            "DescribeDBInstances",
            rds(
                "DescribeDBInstances",
                &format!("<DBInstances>{page2}</DBInstances>"),
            ),
        )
        .when("Marker=page-2"),
        answer(
            "rds",
            "DescribeDBInstances",
            rds(
                "DescribeDBInstances",
                &format!("<DBInstances>{page1}</DBInstances><Marker>page-2</Marker>"),
            ),
        ),
    ]
}

#[tokio::test]
async fn reads_db_instance_with_pending_modifications_as_decided() {
    let r = recorded(instances());
    let lives = read(&r, "DbInstance", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev-db"]);
    assert_eq!(r.count("DescribeDBInstances"), 2);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("db_instance.main"));
    assert_eq!(
        props(live),
        json!({
            "identifier": "todo-dev-db",
            "engine": "postgres",
            "engine_version": "16.4",
            "engine_major": "16",
            // Pending for the maintenance window: what will be.
            "instance_class": "db.t4g.large",
            "allocated_storage": 100,
            "db_subnet_group_name": "todo-dev-data",
            "vpc_security_group_ids": ["sg-0db", "sg-0z"],
            "parameter_group_name": "todo-dev-pg16",
            "multi_az": false,
            "backup_retention_days": 7,
            "deletion_protection": true,
            "performance_insights": true,
            "storage_encrypted": true,
            "publicly_accessible": false,
            "iam_database_authentication": true,
            "kms_key_id": KEY,
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-db"),
            ("arn", &format!("{ARN}:db:todo-dev-db")),
            (
                "endpoint",
                "todo-dev-db.c9akciq32.us-east-1.rds.amazonaws.com"
            ),
            ("port", "5432"),
            ("resource_id", "db-ABCDEFGHIJ"),
            (
                "master_secret_arn",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a-Xy"
            ),
        ])
    );
}

#[tokio::test]
async fn reads_rds_cluster_instance_of_aurora_clusters_only() {
    let r = recorded(instances());
    let lives = read(&r, "RdsClusterInstance", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev-aurora-1"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("rds_cluster_instance.writer"));
    assert_eq!(
        props(live),
        json!({
            "identifier": "todo-dev-aurora-1",
            "cluster_identifier": "todo-dev-aurora",
            "engine": "postgres",
            "instance_class": "db.t4g.medium",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-aurora-1"),
            ("arn", &format!("{ARN}:db:todo-dev-aurora-1")),
            (
                "endpoint",
                "todo-dev-aurora-1.c9akciq32.us-east-1.rds.amazonaws.com"
            ),
        ])
    );
}

/// An Aurora cluster as DescribeDBClusters answers, with `extra` elements.
fn aurora(id: &str, extra: &str, tags: &[(String, String)]) -> String {
    format!(
        "<DBCluster><BackupRetentionPeriod>14</BackupRetentionPeriod><DBClusterIdentifier>{id}</DBClusterIdentifier>\
         <DBClusterParameterGroup>todo-dev-apg16</DBClusterParameterGroup><DBSubnetGroup>todo-dev-data</DBSubnetGroup>\
         <Status>available</Status><Endpoint>{id}.cluster-c9akciq32.us-east-1.rds.amazonaws.com</Endpoint>\
         <ReaderEndpoint>{id}.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com</ReaderEndpoint>\
         <MultiAZ>false</MultiAZ><Engine>aurora-postgresql</Engine><EngineVersion>16.6</EngineVersion><Port>5432</Port>\
         <MasterUsername>app</MasterUsername>\
         <VpcSecurityGroups>\
         <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0z</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>\
         <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0db</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>\
         </VpcSecurityGroups>\
         <StorageEncrypted>true</StorageEncrypted><KmsKeyId>{KEY}</KmsKeyId><DbClusterResourceId>cluster-XYZ</DbClusterResourceId>\
         <DBClusterArn>{ARN}:cluster:{id}</DBClusterArn><IAMDatabaseAuthenticationEnabled>false</IAMDatabaseAuthenticationEnabled>\
         <DeletionProtection>false</DeletionProtection>{}{extra}\
         <ServerlessV2ScalingConfiguration><MinCapacity>0.5</MinCapacity><MaxCapacity>4.0</MaxCapacity></ServerlessV2ScalingConfiguration>\
         <MasterUserSecret><SecretArn>arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-9-Ab</SecretArn></MasterUserSecret>\
         </DBCluster>",
        tag_list(tags)
    )
}

#[tokio::test]
async fn reads_rds_cluster_with_serverless_capacity() {
    let cluster = |id: &str, tags: &[(String, String)]| aurora(id, "", tags);
    let clusters = [
        cluster("todo-dev-aurora", &our_tags("rds_cluster.main")),
        cluster("todo-qa-aurora", &other_env_tags("rds_cluster.main")),
        cluster("other-dev-aurora", &other_project_tags("rds_cluster.main")),
    ]
    .concat();
    let r = recorded(vec![answer(
        "rds",
        "DescribeDBClusters",
        rds(
            "DescribeDBClusters",
            &format!("<DBClusters>{clusters}</DBClusters>"),
        ),
    )]);
    let lives = read(&r, "RdsCluster", &[]).await;
    assert_eq!(ids(&lives), ["todo-dev-aurora"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("rds_cluster.main"));
    assert_eq!(
        props(live),
        json!({
            "identifier": "todo-dev-aurora",
            "engine": "aurora-postgresql",
            "engine_version": "16.6",
            "engine_major": "16",
            "db_subnet_group_name": "todo-dev-data",
            "vpc_security_group_ids": ["sg-0db", "sg-0z"],
            "cluster_parameter_group_name": "todo-dev-apg16",
            "backup_retention_days": 14,
            "deletion_protection": false,
            "storage_encrypted": true,
            "iam_database_authentication": false,
            "serverless_v2": { "min_acu": 0.5, "max_acu": 4.0 },
            "kms_key_id": KEY,
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "todo-dev-aurora"),
            ("arn", &format!("{ARN}:cluster:todo-dev-aurora")),
            (
                "endpoint",
                "todo-dev-aurora.cluster-c9akciq32.us-east-1.rds.amazonaws.com"
            ),
            (
                "reader_endpoint",
                "todo-dev-aurora.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com"
            ),
            ("port", "5432"),
            ("resource_id", "cluster-XYZ"),
            (
                "master_secret_arn",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-9-Ab"
            ),
        ])
    );
}

#[tokio::test]
async fn reads_rds_cluster_modifies_pending_for_the_maintenance_window_as_decided() {
    let pending = "<PendingModifiedValues><BackupRetentionPeriod>21</BackupRetentionPeriod>\
                   <IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled>\
                   <EngineVersion>16.8</EngineVersion></PendingModifiedValues>";
    let cluster = aurora("todo-dev-aurora", pending, &our_tags("rds_cluster.main"));
    let r = recorded(vec![answer(
        "rds",
        "DescribeDBClusters",
        rds(
            "DescribeDBClusters",
            &format!("<DBClusters>{cluster}</DBClusters>"),
        ),
    )]);
    let lives = read(&r, "RdsCluster", &[]).await;
    let props = props(&lives[0]);
    assert_eq!(props["backup_retention_days"], json!(21));
    assert_eq!(props["iam_database_authentication"], json!(true));
    assert_eq!(props["engine_version"], json!("16.8"));
    // The major version is the same: a minor upgrade waits in place.
    assert_eq!(props["engine_major"], json!("16"));
}
