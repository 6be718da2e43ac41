"""End-to-end smoke test of the emulator and the provider plugin (EKS, RDS, ELBv2).

Run after start.sh:  $VENV/bin/python smoke.py [ENDPOINT]
(smoke_eks.py covers the EKS operations the plugin serves itself.)
Creates a VPC + 3 subnets, two security groups with a group-referencing rule, an EKS
cluster, an RDS subnet group + postgres instance with a managed master password, and an
ELBv2 load balancer; checks the fidelity points the project relies on; deletes
everything it created. Exits non-zero on any failure.
"""

import os
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get(
    "INFRA_LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566"
)
SESSION = boto3.session.Session(
    aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
)
CONFIG = Config(retries={"max_attempts": 1}, read_timeout=120)


def client(service):
    return SESSION.client(service, endpoint_url=ENDPOINT, config=CONFIG)


ec2, eks, rds, elbv2, sm = (client(s) for s in ("ec2", "eks", "rds", "elbv2", "secretsmanager"))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    cleanup = []  # (description, callable), run in reverse order
    failed = False
    try:
        vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        cleanup.append((f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id)))
        subnet_ids = []
        for i, az in enumerate(("us-east-1a", "us-east-1b", "us-east-1c")):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
            subnet_ids.append(sid)
            cleanup.append((f"subnet {sid}", lambda sid=sid: ec2.delete_subnet(SubnetId=sid)))
        check(len(subnet_ids) == 3, f"vpc {vpc_id} with 3 subnets")

        # --- EC2 security group rule referencing a group (plugin's on_infra_start patch) ---
        sgs = []
        for name in ("src", "dst"):
            sg = ec2.create_security_group(GroupName=f"smoke-{name}-{suffix}", Description=name, VpcId=vpc_id)
            sgs.append(sg["GroupId"])
            cleanup.append((f"security group {sg['GroupId']}", lambda g=sg["GroupId"]: ec2.delete_security_group(GroupId=g)))
        src, dst = sgs
        ec2.authorize_security_group_ingress(
            GroupId=dst,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                            "UserIdGroupPairs": [{"GroupId": src, "Description": "from src"}]}],
            TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [{"Key": "smoke", "Value": suffix}]}],
        )
        by_tag = [{"Name": "tag:smoke", "Values": [suffix]}]
        rule = ec2.describe_security_group_rules(Filters=by_tag)["SecurityGroupRules"][0]
        check(rule["ReferencedGroupInfo"]["GroupId"] == src and rule.get("Description") == "from src",
              "group-referencing rule has its Description")
        ec2.modify_security_group_rules(GroupId=dst, SecurityGroupRules=[{
            "SecurityGroupRuleId": rule["SecurityGroupRuleId"],
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443,
                                  "ReferencedGroupId": src, "Description": "from src v2"}}])
        rule = ec2.describe_security_group_rules(Filters=by_tag)["SecurityGroupRules"][0]
        check((rule["FromPort"], rule.get("Description")) == (8443, "from src v2"),
              "modify_security_group_rules updated port and Description")
        pairs = ec2.describe_security_groups(GroupIds=[dst])["SecurityGroups"][0]["IpPermissions"][0]["UserIdGroupPairs"]
        check([p.get("Description") for p in pairs] == ["from src v2"], "describe_security_groups shows the new Description")

        # --- EKS (plugin) ---
        cluster = f"smoke-{suffix}"
        eks.create_cluster(
            name=cluster,
            roleArn="arn:aws:iam::000000000000:role/x",
            resourcesVpcConfig={"subnetIds": subnet_ids, "endpointPublicAccess": True},
        )
        cleanup.append((f"eks cluster {cluster}", lambda: eks.delete_cluster(name=cluster)))
        desc = eks.describe_cluster(name=cluster)["cluster"]
        check(desc["status"] == "ACTIVE", f"eks cluster {cluster} ACTIVE")
        check(
            sorted(desc["resourcesVpcConfig"].get("subnetIds", [])) == sorted(subnet_ids),
            "eks cluster subnets as created",
        )
        eks.update_cluster_config(
            name=cluster, resourcesVpcConfig={"publicAccessCidrs": ["203.0.113.0/24"]}
        )
        vpc_cfg = eks.describe_cluster(name=cluster)["cluster"]["resourcesVpcConfig"]
        check(
            vpc_cfg.get("publicAccessCidrs") == ["203.0.113.0/24"],
            "update_cluster_config set publicAccessCidrs",
        )
        check(
            sorted(vpc_cfg.get("subnetIds", [])) == sorted(subnet_ids),
            "update_cluster_config kept subnetIds (merge, as AWS)",
        )
        check(vpc_cfg.get("endpointPublicAccess") is True, "update_cluster_config kept endpointPublicAccess")
        try:
            eks.describe_cluster(name=f"missing-{suffix}")
            check(False, "eks describe of a missing cluster fails")
        except ClientError as e:
            code = e.response["Error"]["Code"]
            check(code == "ResourceNotFoundException", f"eks missing cluster error code is {code}")

        # --- RDS (plugin) + Secrets Manager ---
        sng = f"smoke-{suffix}"
        rds.create_db_subnet_group(
            DBSubnetGroupName=sng, DBSubnetGroupDescription="smoke", SubnetIds=subnet_ids
        )
        cleanup.append((f"db subnet group {sng}", lambda: rds.delete_db_subnet_group(DBSubnetGroupName=sng)))
        try:
            rds.create_db_subnet_group(
                DBSubnetGroupName=sng, DBSubnetGroupDescription="again", SubnetIds=subnet_ids
            )
            taken = None
        except ClientError as e:
            taken = e.response["Error"]["Code"]
        check(taken == "DBSubnetGroupAlreadyExists", f"a taken subnet group name is refused ({taken})")
        db = f"smoke-{suffix}"
        inst = rds.create_db_instance(
            DBInstanceIdentifier=db,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="infra",
            ManageMasterUserPassword=True,
            AllocatedStorage=20,
            DBSubnetGroupName=sng,
        )["DBInstance"]
        secret_arn = (inst.get("MasterUserSecret") or {}).get("SecretArn")

        def delete_db():
            rds.delete_db_instance(
                DBInstanceIdentifier=db, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
            if secret_arn:
                # AWS deletes the managed secret with the instance; remove it if moto kept it.
                try:
                    sm.describe_secret(SecretId=secret_arn)
                except ClientError:
                    return
                print(f"note: managed secret survived the instance delete; deleting {secret_arn}")
                sm.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)

        cleanup.append((f"db instance {db}", delete_db))
        check(bool(secret_arn), f"db instance {db} has MasterUserSecret")
        desc = rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
        check(desc["DBSubnetGroup"]["DBSubnetGroupName"] == sng, "db instance in the subnet group")
        secret = sm.describe_secret(SecretId=secret_arn)
        check(secret["ARN"] == secret_arn, "secretsmanager describe_secret on the managed secret")
        names = [s["ARN"] for s in sm.list_secrets()["SecretList"]]
        check(secret_arn in names, "secretsmanager list_secrets lists the managed secret")
        try:
            rds.describe_db_instances(DBInstanceIdentifier=f"missing-{suffix}")
            check(False, "rds describe of a missing instance fails")
        except ClientError as e:
            code = e.response["Error"]["Code"]
            check(code == "DBInstanceNotFound", f"rds missing instance error code is {code}")

        # --- ELBv2 (plugin) ---
        lb = elbv2.create_load_balancer(Name=f"smoke-{suffix}", Subnets=subnet_ids, Type="application")[
            "LoadBalancers"
        ][0]
        lb_arn = lb["LoadBalancerArn"]
        cleanup.append((f"load balancer {lb_arn}", lambda: elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)))
        got = elbv2.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0]
        check(got["VpcId"] == vpc_id, "load balancer in the vpc")
        check(
            sorted(az["SubnetId"] for az in got["AvailabilityZones"]) == sorted(subnet_ids),
            "load balancer in the 3 subnets",
        )
    except Exception as e:
        failed = True
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        for what, fn in reversed(cleanup):
            try:
                fn()
                print(f"deleted {what}", flush=True)
            except Exception as e:
                failed = True
                print(f"FAILED to delete {what}: {e}", file=sys.stderr, flush=True)
    print("smoke: FAILED" if failed else "smoke: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"smoke took {time.monotonic() - t0:.1f} s")
    sys.exit(rc)
