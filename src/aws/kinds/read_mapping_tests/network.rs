//! EC2 (query XML): the VPC, its subnets, gateways, routing and security groups.

use serde_json::json;

use super::*;

/// An EC2 response: `<{op}Response>` around `inner`.
fn ec2(op: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<{op}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>8f7e</requestId>{inner}</{op}Response>"#
    )
}

fn tag_set(tags: &[(String, String)]) -> String {
    xml_tags("tagSet", "item", "key", "value", tags)
}

/// The env filter every EC2 read sends.
const ENV_FILTER: &str = "Filter.1.Name=tag:infra:env&Filter.1.Value.1=dev";

#[tokio::test]
async fn reads_vpc_with_its_dns_attributes() {
    let vpc = |id: &str, cidr: &str, tags: &[(String, String)]| {
        format!(
            "<item><vpcId>{id}</vpcId><state>available</state><cidrBlock>{cidr}</cidrBlock><isDefault>false</isDefault>{}</item>",
            tag_set(tags)
        )
    };
    let vpcs = [
        vpc("vpc-0a1", "10.0.0.0/16", &our_tags("vpc.main")),
        vpc("vpc-0b2", "10.1.0.0/16", &other_env_tags("vpc.main")),
        vpc("vpc-0c3", "10.2.0.0/16", &other_project_tags("vpc.main")),
    ]
    .concat();
    let attribute = |name: &str, value: bool| {
        ec2(
            "DescribeVpcAttribute",
            &format!("<vpcId>vpc-0a1</vpcId><{name}><value>{value}</value></{name}>"),
        )
    };
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeVpcs",
            ec2("DescribeVpcs", &format!("<vpcSet>{vpcs}</vpcSet>")),
        )
        .when(ENV_FILTER),
        answer(
            "ec2",
            "DescribeVpcAttribute",
            attribute("enableDnsSupport", true),
        )
        .when("Attribute=enableDnsSupport&VpcId=vpc-0a1"),
        answer(
            "ec2",
            "DescribeVpcAttribute",
            attribute("enableDnsHostnames", false),
        )
        .when("Attribute=enableDnsHostnames&VpcId=vpc-0a1"),
    ]);
    let lives = read(&r, "Vpc", &[]).await;
    assert_eq!(ids(&lives), ["vpc-0a1"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("vpc.main"));
    assert_eq!(
        props(live),
        json!({
            "cidr": "10.0.0.0/16",
            "enable_dns_support": true,
            "enable_dns_hostnames": false,
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(live.outputs, outputs(&[("id", "vpc-0a1")]));
    // The attributes are read only for the env's own VPC.
    assert_eq!(r.count("DescribeVpcAttribute"), 2);
}

#[tokio::test]
async fn reads_subnet() {
    let subnet = |id: &str, tags: &[(String, String)]| {
        format!(
            "<item><subnetId>{id}</subnetId><state>available</state><vpcId>vpc-0a1</vpcId>\
             <cidrBlock>10.0.32.0/19</cidrBlock><availableIpAddressCount>8187</availableIpAddressCount>\
             <availabilityZone>us-east-1b</availabilityZone><availabilityZoneId>use1-az2</availabilityZoneId>\
             <defaultForAz>false</defaultForAz><mapPublicIpOnLaunch>true</mapPublicIpOnLaunch>\
             <subnetArn>arn:aws:ec2:us-east-1:123456789012:subnet/{id}</subnetArn>{}</item>",
            tag_set(tags)
        )
    };
    let subnets = [
        subnet("subnet-0pub", &our_tags("subnet.public_b")),
        subnet("subnet-0qa", &other_env_tags("subnet.public_b")),
        subnet("subnet-0oth", &other_project_tags("subnet.public_b")),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeSubnets",
            ec2(
                "DescribeSubnets",
                &format!("<subnetSet>{subnets}</subnetSet>"),
            ),
        )
        .when(ENV_FILTER),
    ]);
    let lives = read(&r, "Subnet", &[]).await;
    assert_eq!(ids(&lives), ["subnet-0pub"]);
    let live = &lives[0];
    assert_eq!(live.address.as_deref(), Some("subnet.public_b"));
    assert_eq!(
        props(live),
        json!({
            "vpc_id": "vpc-0a1",
            "cidr": "10.0.32.0/19",
            "az": "us-east-1b",
            "map_public_ip_on_launch": true,
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(
        live.outputs,
        outputs(&[
            ("id", "subnet-0pub"),
            (
                "arn",
                "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0pub"
            ),
        ])
    );
}

#[tokio::test]
async fn reads_internet_gateway_with_its_attachment() {
    let gateway = |id: &str, attachments: &str, tags: &[(String, String)]| {
        format!(
            "<item><internetGatewayId>{id}</internetGatewayId><ownerId>123456789012</ownerId>\
             <attachmentSet>{attachments}</attachmentSet>{}</item>",
            tag_set(tags)
        )
    };
    let gateways = [
        gateway(
            "igw-0att",
            "<item><vpcId>vpc-0a1</vpcId><state>available</state></item>",
            &our_tags("internet_gateway.main"),
        ),
        // Created, then cut short before the attach: no VPC yet.
        gateway("igw-0det", "", &our_tags("internet_gateway.spare")),
        gateway("igw-0qa", "", &other_env_tags("internet_gateway.main")),
        gateway("igw-0oth", "", &other_project_tags("internet_gateway.main")),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeInternetGateways",
            ec2(
                "DescribeInternetGateways",
                &format!("<internetGatewaySet>{gateways}</internetGatewaySet>"),
            ),
        )
        .when(ENV_FILTER),
    ]);
    let lives = read(&r, "InternetGateway", &[]).await;
    assert_eq!(ids(&lives), ["igw-0att", "igw-0det"]);
    assert_eq!(lives[0].address.as_deref(), Some("internet_gateway.main"));
    assert_eq!(
        props(&lives[0]),
        json!({ "vpc_id": "vpc-0a1", "tags": { "infra:project": "todo", "Team": "platform" } })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", "igw-0att")]));
    assert_eq!(lives[1].address.as_deref(), Some("internet_gateway.spare"));
    assert_eq!(props(&lives[1])["vpc_id"], json!(""));
}

#[tokio::test]
async fn reads_elastic_ip_with_its_public_ip() {
    let address = |alloc: &str, ip: &str, tags: &[(String, String)]| {
        format!(
            "<item><publicIp>{ip}</publicIp><allocationId>{alloc}</allocationId><domain>vpc</domain>\
             <networkBorderGroup>us-east-1</networkBorderGroup>{}</item>",
            tag_set(tags)
        )
    };
    let addresses = [
        address("eipalloc-0a", "54.210.1.10", &our_tags("elastic_ip.nat_a")),
        address(
            "eipalloc-0qa",
            "54.210.1.11",
            &other_env_tags("elastic_ip.nat_a"),
        ),
        address(
            "eipalloc-0oth",
            "54.210.1.12",
            &other_project_tags("elastic_ip.nat_a"),
        ),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeAddresses",
            ec2(
                "DescribeAddresses",
                &format!("<addressesSet>{addresses}</addressesSet>"),
            ),
        )
        .when(ENV_FILTER),
    ]);
    let lives = read(&r, "ElasticIp", &[]).await;
    assert_eq!(ids(&lives), ["eipalloc-0a"]);
    assert_eq!(lives[0].address.as_deref(), Some("elastic_ip.nat_a"));
    assert_eq!(
        props(&lives[0]),
        json!({ "tags": { "infra:project": "todo", "Team": "platform" } })
    );
    assert_eq!(
        lives[0].outputs,
        outputs(&[("id", "eipalloc-0a"), ("public_ip", "54.210.1.10")])
    );
}

#[tokio::test]
async fn reads_nat_gateway_of_live_states_only() {
    let gateway = |id: &str, tags: &[(String, String)]| {
        format!(
            "<item><natGatewayId>{id}</natGatewayId><subnetId>subnet-0pub</subnetId><vpcId>vpc-0a1</vpcId>\
             <state>available</state><connectivityType>public</connectivityType>\
             <natGatewayAddressSet><item><allocationId>eipalloc-0a</allocationId>\
             <networkInterfaceId>eni-1</networkInterfaceId><privateIp>10.0.32.7</privateIp>\
             <publicIp>54.210.1.10</publicIp><isPrimary>true</isPrimary><status>succeeded</status></item>\
             </natGatewayAddressSet>{}</item>",
            tag_set(tags)
        )
    };
    let gateways = [
        gateway("nat-0a", &our_tags("nat_gateway.a")),
        gateway("nat-0qa", &other_env_tags("nat_gateway.a")),
        gateway("nat-0oth", &other_project_tags("nat_gateway.a")),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeNatGateways",
            ec2(
                "DescribeNatGateways",
                &format!("<natGatewaySet>{gateways}</natGatewaySet>"),
            ),
        )
        // The env's tag, and only gateways not deleted or failed.
        .when("Filter.1.Name=tag:infra:env&Filter.1.Value.1=dev&Filter.2.Name=state&Filter.2.Value.1=pending&Filter.2.Value.2=available"),
    ]);
    let lives = read(&r, "NatGateway", &[]).await;
    assert_eq!(ids(&lives), ["nat-0a"]);
    assert_eq!(lives[0].address.as_deref(), Some("nat_gateway.a"));
    assert_eq!(
        props(&lives[0]),
        json!({
            "subnet_id": "subnet-0pub",
            "allocation_id": "eipalloc-0a",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", "nat-0a")]));
}

/// The env's route tables: a private one with a NAT route, a public one with
/// an internet route and the VPC's `local` route, the VPC's main table (its
/// association is `main`), and another env's table whose routes and
/// associations must never be read.
fn route_tables() -> Answer {
    let table = |id: &str, routes: &str, associations: &str, tags: &[(String, String)]| {
        format!(
            "<item><routeTableId>{id}</routeTableId><vpcId>vpc-0a1</vpcId><ownerId>123456789012</ownerId>\
             <routeSet>{routes}</routeSet><associationSet>{associations}</associationSet>{}</item>",
            tag_set(tags)
        )
    };
    let local = "<item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId>\
                 <state>active</state><origin>CreateRouteTable</origin></item>";
    let tables = [
        table(
            "rtb-0priv",
            &format!(
                "{local}<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock>\
                 <natGatewayId>nat-0a</natGatewayId><state>active</state><origin>CreateRoute</origin></item>"
            ),
            "<item><routeTableAssociationId>rtbassoc-0p1</routeTableAssociationId>\
             <routeTableId>rtb-0priv</routeTableId><subnetId>subnet-0app</subnetId><main>false</main>\
             <associationState><state>associated</state></associationState></item>",
            &our_tags("route_table.private"),
        ),
        table(
            "rtb-0pub",
            &format!(
                "{local}<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock>\
                 <gatewayId>igw-0att</gatewayId><state>active</state><origin>CreateRoute</origin></item>\
                 <item><destinationIpv6CidrBlock>::/0</destinationIpv6CidrBlock>\
                 <gatewayId>igw-0att</gatewayId><state>active</state></item>"
            ),
            "<item><routeTableAssociationId>rtbassoc-0main</routeTableAssociationId>\
             <routeTableId>rtb-0pub</routeTableId><main>true</main></item>\
             <item><routeTableAssociationId>rtbassoc-0u1</routeTableAssociationId>\
             <routeTableId>rtb-0pub</routeTableId><subnetId>subnet-0pub</subnetId><main>false</main></item>",
            &our_tags("route_table.public"),
        ),
        table(
            "rtb-0qa",
            "<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-0qa</gatewayId></item>",
            "<item><routeTableAssociationId>rtbassoc-0qa</routeTableAssociationId>\
             <routeTableId>rtb-0qa</routeTableId><subnetId>subnet-0qa</subnetId><main>false</main></item>",
            &other_env_tags("route_table.public"),
        ),
        table(
            "rtb-0oth",
            "<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-0oth</gatewayId></item>",
            "<item><routeTableAssociationId>rtbassoc-0oth</routeTableAssociationId>\
             <routeTableId>rtb-0oth</routeTableId><subnetId>subnet-0oth</subnetId><main>false</main></item>",
            &other_project_tags("route_table.public"),
        ),
    ]
    .concat();
    answer(
        "ec2",
        "DescribeRouteTables",
        ec2(
            "DescribeRouteTables",
            &format!("<routeTableSet>{tables}</routeTableSet>"),
        ),
    )
    .when(ENV_FILTER)
}

#[tokio::test]
async fn reads_route_table() {
    let r = recorded(vec![route_tables()]);
    let lives = read(&r, "RouteTable", &[]).await;
    assert_eq!(ids(&lives), ["rtb-0priv", "rtb-0pub"]);
    assert_eq!(lives[0].address.as_deref(), Some("route_table.private"));
    assert_eq!(lives[1].address.as_deref(), Some("route_table.public"));
    assert_eq!(
        props(&lives[1]),
        json!({ "vpc_id": "vpc-0a1", "tags": { "infra:project": "todo", "Team": "platform" } })
    );
    assert_eq!(lives[1].outputs, outputs(&[("id", "rtb-0pub")]));
}

#[tokio::test]
async fn reads_route_by_table_and_destination_without_local_or_ipv6() {
    let r = recorded(vec![route_tables()]);
    let lives = read(&r, "Route", &[]).await;
    assert_eq!(ids(&lives), ["rtb-0priv_0.0.0.0/0", "rtb-0pub_0.0.0.0/0"]);
    let nat = &lives[0];
    assert_eq!(nat.address, None);
    assert_eq!(
        props(nat),
        json!({
            "route_table_id": "rtb-0priv",
            "destination_cidr": "0.0.0.0/0",
            "nat_gateway_id": "nat-0a",
        })
    );
    assert_eq!(nat.outputs, outputs(&[("id", "rtb-0priv_0.0.0.0/0")]));
    assert_eq!(
        props(&lives[1]),
        json!({
            "route_table_id": "rtb-0pub",
            "destination_cidr": "0.0.0.0/0",
            "gateway_id": "igw-0att",
        })
    );
}

#[tokio::test]
async fn reads_route_table_association_except_the_main_one() {
    let r = recorded(vec![route_tables()]);
    let lives = read(&r, "RouteTableAssociation", &[]).await;
    assert_eq!(ids(&lives), ["rtbassoc-0p1", "rtbassoc-0u1"]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({ "route_table_id": "rtb-0priv", "subnet_id": "subnet-0app" })
    );
    assert_eq!(
        props(&lives[1]),
        json!({ "route_table_id": "rtb-0pub", "subnet_id": "subnet-0pub" })
    );
    assert_eq!(lives[1].outputs, outputs(&[("id", "rtbassoc-0u1")]));
}

#[tokio::test]
async fn one_route_table_read_serves_tables_routes_and_associations_in_a_refresh() {
    let mut r = recorded(vec![route_tables()]);
    r.cx = r.cx.with_read_cache();
    for kind in ["RouteTable", "Route", "RouteTableAssociation"] {
        assert_eq!(read(&r, kind, &[]).await.len(), 2, "{kind}");
    }
    assert_eq!(r.count("DescribeRouteTables"), 1);
}

fn security_groups() -> Answer {
    let group = |id: &str, name: &str, tags: &[(String, String)]| {
        format!(
            "<item><ownerId>123456789012</ownerId><groupId>{id}</groupId><groupName>{name}</groupName>\
             <groupDescription>EKS worker nodes</groupDescription><vpcId>vpc-0a1</vpcId>\
             <ipPermissions/><ipPermissionsEgress/>\
             <securityGroupArn>arn:aws:ec2:us-east-1:123456789012:security-group/{id}</securityGroupArn>{}</item>",
            tag_set(tags)
        )
    };
    let groups = [
        group(
            "sg-0nodes",
            "todo-dev-nodes",
            &our_tags("security_group.nodes"),
        ),
        group(
            "sg-0qa",
            "todo-qa-nodes",
            &other_env_tags("security_group.nodes"),
        ),
        group(
            "sg-0oth",
            "other-dev-nodes",
            &other_project_tags("security_group.nodes"),
        ),
    ]
    .concat();
    answer(
        "ec2",
        "DescribeSecurityGroups",
        ec2(
            "DescribeSecurityGroups",
            &format!("<securityGroupInfo>{groups}</securityGroupInfo>"),
        ),
    )
    .when(ENV_FILTER)
}

#[tokio::test]
async fn reads_security_group() {
    let r = recorded(vec![security_groups()]);
    let lives = read(&r, "SecurityGroup", &[]).await;
    assert_eq!(ids(&lives), ["sg-0nodes"]);
    assert_eq!(lives[0].address.as_deref(), Some("security_group.nodes"));
    assert_eq!(
        props(&lives[0]),
        json!({
            "vpc_id": "vpc-0a1",
            "name": "todo-dev-nodes",
            "description": "EKS worker nodes",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", "sg-0nodes")]));
}

fn rule(id: &str, egress: bool, peer: &str, ports: &str, extra: &str, tags: &str) -> String {
    format!(
        "<item><securityGroupRuleId>{id}</securityGroupRuleId><groupId>sg-0nodes</groupId>\
         <groupOwnerId>123456789012</groupOwnerId><isEgress>{egress}</isEgress>{ports}{peer}{extra}{tags}\
         <securityGroupRuleArn>arn:aws:ec2:us-east-1:123456789012:security-group-rule/{id}</securityGroupRuleArn></item>"
    )
}

#[tokio::test]
async fn reads_security_group_rule_with_cidr_or_source_group() {
    let https = "<ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>";
    let all = "<ipProtocol>-1</ipProtocol><fromPort>-1</fromPort><toPort>-1</toPort>";
    let rules = [
        rule(
            "sgr-0https",
            false,
            "<cidrIpv4>10.0.0.0/16</cidrIpv4>",
            https,
            "<description>HTTPS from the VPC</description>",
            &tag_set(&our_tags("security_group_rule.https")),
        ),
        rule(
            "sgr-0peer",
            true,
            "<referencedGroupInfo><groupId>sg-0cluster</groupId><userId>123456789012</userId></referencedGroupInfo>",
            all,
            "",
            &tag_set(&our_tags("security_group_rule.to_cluster")),
        ),
        rule(
            "sgr-0qa",
            false,
            "<cidrIpv4>10.1.0.0/16</cidrIpv4>",
            https,
            "",
            &tag_set(&other_env_tags("security_group_rule.https")),
        ),
        rule(
            "sgr-0oth",
            false,
            "<cidrIpv4>10.2.0.0/16</cidrIpv4>",
            https,
            "",
            &tag_set(&other_project_tags("security_group_rule.https")),
        ),
    ]
    .concat();
    let r = recorded(vec![
        answer(
            "ec2",
            "DescribeSecurityGroupRules",
            ec2(
                "DescribeSecurityGroupRules",
                &format!("<securityGroupRuleSet>{rules}</securityGroupRuleSet>"),
            ),
        )
        .when(ENV_FILTER),
    ]);
    let lives = read(&r, "SecurityGroupRule", &[]).await;
    assert_eq!(ids(&lives), ["sgr-0https", "sgr-0peer"]);
    assert_eq!(
        lives[0].address.as_deref(),
        Some("security_group_rule.https")
    );
    assert_eq!(
        props(&lives[0]),
        json!({
            "group_id": "sg-0nodes",
            "direction": "ingress",
            "protocol": "tcp",
            "from_port": 443,
            "to_port": 443,
            "cidr": "10.0.0.0/16",
            "description": "HTTPS from the VPC",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
    assert_eq!(lives[0].outputs, outputs(&[("id", "sgr-0https")]));
    assert_eq!(
        lives[1].address.as_deref(),
        Some("security_group_rule.to_cluster")
    );
    assert_eq!(
        props(&lives[1]),
        json!({
            "group_id": "sg-0nodes",
            "direction": "egress",
            "protocol": "-1",
            "from_port": -1,
            "to_port": -1,
            "source_group_id": "sg-0cluster",
            "description": "",
            "tags": { "infra:project": "todo", "Team": "platform" },
        })
    );
}

#[tokio::test]
async fn reads_untagged_security_group_rules_of_the_env_groups() {
    let all = "<ipProtocol>-1</ipProtocol><fromPort>-1</fromPort><toPort>-1</toPort>";
    let rules = [
        // AWS's default egress, or a rule added by hand: no tags.
        rule(
            "sgr-0hand",
            true,
            "<cidrIpv4>0.0.0.0/0</cidrIpv4>",
            all,
            "",
            "",
        ),
        // infra's own rule: read by `read`, not here.
        rule(
            "sgr-0https",
            false,
            "<cidrIpv4>10.0.0.0/16</cidrIpv4>",
            all,
            "",
            &tag_set(&our_tags("security_group_rule.https")),
        ),
    ]
    .concat();
    let r = recorded(vec![
        security_groups(),
        answer(
            "ec2",
            "DescribeSecurityGroupRules",
            ec2(
                "DescribeSecurityGroupRules",
                &format!("<securityGroupRuleSet>{rules}</securityGroupRuleSet>"),
            ),
        )
        // Only the env's own group, not the other env's or project's.
        .when("Filter.1.Name=group-id&Filter.1.Value.1=sg-0nodes&MaxResults"),
    ]);
    let registry = Registry::new();
    let scope = ReadScope {
        owner: owner(),
        known: Vec::new(),
    };
    let lives = registry
        .get("SecurityGroupRule")
        .expect("kind")
        .read_untagged(&r.cx, &scope)
        .await
        .expect("read_untagged");
    assert_eq!(ids(&lives), ["sgr-0hand"]);
    assert_eq!(lives[0].address, None);
    assert_eq!(
        props(&lives[0]),
        json!({
            "group_id": "sg-0nodes",
            "direction": "egress",
            "protocol": "-1",
            "from_port": -1,
            "to_port": -1,
            "cidr": "0.0.0.0/0",
            "description": "",
            "tags": {},
        })
    );
}
