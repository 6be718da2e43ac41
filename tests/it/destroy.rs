//! Destroy: protection refuses before anything is touched; the out-of-band
//! sweep removes what controllers left in the network first.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_resource_refuses_destroy_and_touches_nothing() {
    let env = TestEnv::from_dev("it-protect", 46);
    env.edit_plan("protect = false", "protect = true");
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let before = (
        ec2_inventory(&sdk.ec2, &env.name).await,
        sdk.other_inventory(&env.name).await,
    );
    let out = env.expect(&["destroy", "--yes"], 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("refusing to destroy protected resources: eks_cluster.main"),
        "{stderr}"
    );
    assert!(
        stderr.contains("protect = false"),
        "says how to lift it: {stderr}"
    );
    assert_eq!(
        (
            ec2_inventory(&sdk.ec2, &env.name).await,
            sdk.other_inventory(&env.name).await
        ),
        before
    );
    env.edit_plan("protect = true", "protect = false");
    env.expect(&["destroy", "--yes"], 0);
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert!(sdk.other_inventory(&env.name).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_sweeps_what_controllers_left_in_the_network() {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let env = TestEnv::from_dev("it-sweep", 47);
    env.expect(&["up", "--yes"], 0);
    let sdk = clients().await;
    let conf = sdk_config("us-east-1").await;
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let cluster = format!("todo-{}", env.name);
    let subnets = sdk
        .ec2
        .describe_subnets()
        .filters(env_filter(&env.name))
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec();
    let subnet = |tier: &str, l: char| {
        subnets
            .iter()
            .find(|s| {
                s.tags().iter().any(|t| {
                    t.key() == Some("infra:address")
                        && t.value() == Some(format!("subnet.{tier}_{l}").as_str())
                })
            })
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_string()
    };
    let vpc = subnets[0].vpc_id().unwrap().to_string();
    let lbc = |rt: ResourceType| {
        TagSpecification::builder()
            .resource_type(rt)
            .tags(
                Tag::builder()
                    .key("elbv2.k8s.aws/cluster")
                    .value(&cluster)
                    .build(),
            )
            .build()
    };
    // What the AWS Load Balancer Controller makes: a group, a load balancer, a target group.
    let sg = sdk
        .ec2
        .create_security_group()
        .group_name(format!("k8s-{}", env.name))
        .description("managed by the load balancer controller")
        .vpc_id(&vpc)
        .tag_specifications(lbc(ResourceType::SecurityGroup))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let lbc_tag = aws_sdk_elasticloadbalancingv2::types::Tag::builder()
        .key("elbv2.k8s.aws/cluster")
        .value(&cluster)
        .build();
    let lb = elbv2
        .create_load_balancer()
        .name(format!("k8s-{}", env.name))
        .subnets(subnet("public", 'a'))
        .subnets(subnet("public", 'b'))
        .security_groups(&sg)
        .tags(lbc_tag.clone())
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let tg = elbv2
        .create_target_group()
        .name(format!("k8s-tg-{}", env.name))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .tags(lbc_tag)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    // A node Karpenter launched, and an ENI left available.
    let image = sdk.ec2.describe_images().send().await.unwrap().images()[0]
        .image_id()
        .unwrap()
        .to_string();
    let instance = sdk
        .ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet("app", 'a'))
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(
                    Tag::builder()
                        .key("karpenter.sh/nodepool")
                        .value("default")
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key(format!("kubernetes.io/cluster/{cluster}"))
                        .value("owned")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let eni = sdk
        .ec2
        .create_network_interface()
        .subnet_id(subnet("data", 'a'))
        .send()
        .await
        .unwrap();
    let eni = eni
        .network_interface()
        .unwrap()
        .network_interface_id()
        .unwrap()
        .to_string();

    // What external-dns publishes in our zone: records and their TXT
    // ownership records, in its old (same name) and current (`cname-`) formats.
    use aws_sdk_route53::types::{
        Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let outputs =
        serde_json::from_slice::<serde_json::Value>(&env.expect(&["output", "--json"], 0).stdout)
            .unwrap()["outputs"]
            .clone();
    let zone = outputs["zone_id"].as_str().unwrap().to_string();
    let domain = env.domain();
    let owner = "\"heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/todo/api\"";
    let record = |name: String, kind: RrType, value: &str| {
        Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(
                ResourceRecordSet::builder()
                    .name(name)
                    .r#type(kind)
                    .ttl(300)
                    .resource_records(ResourceRecord::builder().value(value).build().unwrap())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let batch = ChangeBatch::builder()
        .changes(record(format!("api.{domain}"), RrType::A, "10.47.0.10"))
        .changes(record(format!("api.{domain}"), RrType::Txt, owner))
        .changes(record(
            format!("www.{domain}"),
            RrType::Cname,
            "lb.example.net",
        ))
        .changes(record(format!("cname-www.{domain}"), RrType::Txt, owner))
        .build()
        .unwrap();
    sdk.route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch)
        .send()
        .await
        .unwrap();

    let plan = text(&env.expect(&["destroy", "--yes"], 0).stdout);
    assert!(
        plan.contains("Out-of-band resources that block deletion"),
        "{plan}"
    );
    for id in [&sg, &lb, &tg, &instance, &eni] {
        assert!(
            plan.contains(id.as_str()),
            "{id} listed in the destroy plan: {plan}"
        );
    }
    for name in [
        format!("api.{domain}.|A"),
        format!("api.{domain}.|TXT"),
        format!("www.{domain}.|CNAME"),
        format!("cname-www.{domain}.|TXT"),
    ] {
        assert!(
            plan.contains(&name),
            "external-dns record {name} listed: {plan}"
        );
    }
    assert!(
        sdk.route53
            .get_hosted_zone()
            .id(&zone)
            .send()
            .await
            .is_err(),
        "the zone is deleted with its records"
    );
    assert!(
        elbv2
            .describe_load_balancers()
            .load_balancer_arns(&lb)
            .send()
            .await
            .is_err(),
        "load balancer left"
    );
    assert!(
        elbv2
            .describe_target_groups()
            .target_group_arns(&tg)
            .send()
            .await
            .is_err(),
        "target group left"
    );
    assert!(
        sdk.ec2
            .describe_security_groups()
            .group_ids(&sg)
            .send()
            .await
            .is_err(),
        "controller group left"
    );
    assert!(
        sdk.ec2
            .describe_network_interfaces()
            .network_interface_ids(&eni)
            .send()
            .await
            .is_err(),
        "ENI left"
    );
    let state = sdk
        .ec2
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap();
    let state = state.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(state, "terminated");
    assert!(
        sdk.ec2.describe_vpcs().vpc_ids(&vpc).send().await.is_err(),
        "VPC left"
    );
    assert!(ec2_inventory(&sdk.ec2, &env.name).await.is_empty());
    assert!(sdk.other_inventory(&env.name).await.is_empty());
}
