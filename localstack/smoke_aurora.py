"""Smoke test of Aurora PostgreSQL Serverless v2 through moto's RDS (served by the provider
plugin, with the rds_patches.py fixes).

Run after start.sh:  $VENV/bin/python smoke_aurora.py [ENDPOINT]
Creates a VPC + 2 subnets, a security group, a DB subnet group and a KMS key, then
exercises CreateDBClusterParameterGroup / ModifyDBClusterParameterGroup /
DescribeDBClusterParameters (Source user), CreateDBCluster (Serverless v2 scaling,
managed master password, encryption, IAM auth, deletion protection, tags) /
DescribeDBClusters (by identifier, ARN, filters) / ModifyDBCluster (scaling, backup
retention, deletion protection, in place), CreateDBInstance (db.serverless) /
DescribeDBInstances / DeleteDBInstance, tags on the cluster ARN, DeleteDBCluster (final
snapshot or none; deletion protection refuses), DescribeDBClusterSnapshots, the managed
master secret in Secrets Manager (and gone with its cluster), and the AWS error codes;
deletes everything it created. Exits non-zero on failure.
"""

import json
import os
import re
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
CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=120)
ec2, rds, sm, kms = (SESSION.client(s, endpoint_url=ENDPOINT, config=CONFIG)
                     for s in ("ec2", "rds", "secretsmanager", "kms"))
ACCOUNT = "000000000000"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def expect_error(code, status, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        check(got == (code, status), f"{fn.__name__} -> {code} {status} (got {got[0]} {got[1]})")
        return
    check(False, f"{fn.__name__} fails with {code}")


def describe_cluster(cluster_id):
    return rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]


def main() -> int:
    suffix = uuid.uuid4().hex[:8]
    cleanup = []  # (description, callable), run in reverse order
    failed = False

    def forget(what):  # deleted by the test itself
        cleanup[:] = [(w, fn) for w, fn in cleanup if w != what]
    try:
        vpc_id = ec2.create_vpc(CidrBlock="10.46.0.0/16")["Vpc"]["VpcId"]
        cleanup.append((f"vpc {vpc_id}", lambda: ec2.delete_vpc(VpcId=vpc_id)))
        subnets = []
        for i, az in enumerate(("us-east-1a", "us-east-1b")):
            sid = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.46.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
            subnets.append(sid)
            cleanup.append((f"subnet {sid}", lambda sid=sid: ec2.delete_subnet(SubnetId=sid)))
        sg = ec2.create_security_group(GroupName=f"smoke-aurora-{suffix}", Description="smoke",
                                       VpcId=vpc_id)["GroupId"]
        cleanup.append((f"security group {sg}", lambda: ec2.delete_security_group(GroupId=sg)))
        subnet_group = f"smoke-aurora-{suffix}"
        rds.create_db_subnet_group(DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="smoke",
                                   SubnetIds=subnets)
        cleanup.append((f"db subnet group {subnet_group}",
                        lambda: rds.delete_db_subnet_group(DBSubnetGroupName=subnet_group)))
        key = kms.create_key(Description="smoke aurora")["KeyMetadata"]["Arn"]
        cleanup.append((f"kms key {key}", lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)))

        # --- cluster parameter group ---
        pg = f"smoke-aurora-pg-{suffix}"
        created_pg = rds.create_db_cluster_parameter_group(
            DBClusterParameterGroupName=pg, DBParameterGroupFamily="aurora-postgresql16", Description="smoke",
            Tags=[{"Key": "infra:env", "Value": "smoke"}])["DBClusterParameterGroup"]
        cleanup.append((f"db cluster parameter group {pg}",
                        lambda: rds.delete_db_cluster_parameter_group(DBClusterParameterGroupName=pg)))
        try:
            rds.create_db_cluster_parameter_group(
                DBClusterParameterGroupName=pg, DBParameterGroupFamily="aurora-postgresql16", Description="again")
            taken = None
        except ClientError as e:
            taken = e.response["Error"]["Code"]
        check(taken == "DBParameterGroupAlreadyExists", f"a taken cluster parameter group name is refused ({taken})")
        check((created_pg["DBClusterParameterGroupName"], created_pg["DBParameterGroupFamily"]) == (pg, "aurora-postgresql16")
              and created_pg["DBClusterParameterGroupArn"] == f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-pg:{pg}",
              "create cluster parameter group (name, family, ARN)")
        modified = rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=pg,
            Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}])
        check(modified["DBClusterParameterGroupName"] == pg, "modify answers the group name")
        params = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=pg, Source="user")["Parameters"]
        check([(p["ParameterName"], p["ParameterValue"], p["Source"], p["ApplyMethod"]) for p in params]
              == [("rds.force_ssl", "1", "user", "immediate")],
              "DescribeDBClusterParameters Source=user: rds.force_ssl = 1, Source user")
        check(rds.describe_db_cluster_parameters(DBClusterParameterGroupName=pg, Source="engine-default")["Parameters"]
              == [], "Source=engine-default does not answer the user's parameters")
        expect_error("DBParameterGroupNotFound", 404, rds.describe_db_cluster_parameters,
                     DBClusterParameterGroupName=f"missing-{suffix}")

        # --- create the Serverless v2 cluster ---
        cluster_id = f"smoke-aurora-{suffix}"
        base = dict(Engine="aurora-postgresql", EngineVersion="16.4", DBSubnetGroupName=subnet_group,
                    VpcSecurityGroupIds=[sg], MasterUsername="app", ManageMasterUserPassword=True)
        created = rds.create_db_cluster(
            DBClusterIdentifier=cluster_id, DBClusterParameterGroupName=pg, DatabaseName="appdb",
            StorageEncrypted=True, KmsKeyId=key, EnableIAMDatabaseAuthentication=True, DeletionProtection=True,
            BackupRetentionPeriod=7, ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4},
            Tags=[{"Key": "infra:env", "Value": "smoke"}], **base)["DBCluster"]
        cleanup.append((f"db cluster {cluster_id}", lambda: (
            rds.modify_db_cluster(DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True),
            rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True))))
        check(created["DBClusterIdentifier"] == cluster_id and created["Status"] == "creating",
              "create answers the cluster (status creating)")
        cluster = describe_cluster(cluster_id)
        arn = cluster["DBClusterArn"]
        check(arn == f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{cluster_id}" and cluster["Status"] == "available",
              f"cluster ARN {arn}, available")
        check(re.fullmatch(rf"{cluster_id}\.cluster-[a-z0-9]+\.us-east-1\.rds\.amazonaws\.com", cluster["Endpoint"])
              and re.fullmatch(rf"{cluster_id}\.cluster-ro-[a-z0-9]+\.us-east-1\.rds\.amazonaws\.com",
                               cluster["ReaderEndpoint"]) and cluster["Port"] == 5432,
              f"Endpoint {cluster['Endpoint']}, ReaderEndpoint, Port 5432")
        check(re.fullmatch(r"cluster-[A-Z0-9]{26}", cluster["DbClusterResourceId"]) is not None,
              f"DbClusterResourceId {cluster['DbClusterResourceId']}")
        check(cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4.0},
              "ServerlessV2ScalingConfiguration 0.5-4")
        check((cluster["Engine"], cluster["EngineVersion"], cluster["EngineMode"], cluster["StorageType"])
              == ("aurora-postgresql", "16.4", "provisioned", "aurora"),
              "engine aurora-postgresql 16.4, mode provisioned, storage aurora")
        check((cluster["IAMDatabaseAuthenticationEnabled"], cluster["DeletionProtection"], cluster["StorageEncrypted"],
               cluster["KmsKeyId"], cluster["BackupRetentionPeriod"]) == (True, True, True, key, 7),
              "IAM auth, deletion protection, encryption with the key, backup retention 7")
        check((cluster["MasterUsername"], cluster["DatabaseName"], cluster["DBClusterParameterGroup"],
               cluster["DBSubnetGroup"]) == ("app", "appdb", pg, subnet_group),
              "master username, database name, parameter group, subnet group")
        check(cluster["VpcSecurityGroups"] == [{"VpcSecurityGroupId": sg, "Status": "active"}], "VpcSecurityGroups")
        check(cluster["TagList"] == [{"Key": "infra:env", "Value": "smoke"}], "TagList")
        secret_arn = cluster["MasterUserSecret"]["SecretArn"]
        check(cluster["MasterUserSecret"]["SecretStatus"] in ("creating", "active")
              and secret_arn.startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!cluster-"),
              f"MasterUserSecret {secret_arn}")
        secret = sm.describe_secret(SecretId=secret_arn)
        check(secret["ARN"] == secret_arn and {"Key": "aws:rds:primaryDBClusterArn", "Value": arn} in secret["Tags"],
              "the secret exists in Secrets Manager, tagged with the cluster ARN")
        value = json.loads(sm.get_secret_value(SecretId=secret_arn)["SecretString"])
        check(set(value) == {"username", "password"} and value["username"] == "app"
              and len(value["password"]) >= 20 and value["password"] != "P@55w0rd!",
              "the secret holds the master username and a generated password")

        # --- create errors, defaults ---
        expect_error("DBClusterAlreadyExistsFault", 400, rds.create_db_cluster, DBClusterIdentifier=cluster_id, **base)
        check(describe_cluster(cluster_id)["DBClusterParameterGroup"] == pg, "the existing cluster is untouched")
        expect_error("DBClusterParameterGroupNotFound", 404, rds.create_db_cluster, DBClusterIdentifier=f"x-{suffix}",
                     DBClusterParameterGroupName=f"missing-{suffix}", **base)
        expect_error("DBSubnetGroupNotFoundFault", 404, rds.create_db_cluster, DBClusterIdentifier=f"x-{suffix}",
                     **dict(base, DBSubnetGroupName=f"missing-{suffix}"))
        expect_error("InvalidParameterCombination", 400, rds.create_db_cluster, DBClusterIdentifier=f"x-{suffix}",
                     ServerlessV2ScalingConfiguration={"MinCapacity": 8, "MaxCapacity": 2}, **base)
        expect_error("InvalidParameterValue", 400, rds.create_db_cluster, DBClusterIdentifier=f"x-{suffix}",
                     ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 512}, **base)
        expect_error("DBClusterNotFoundFault", 404, rds.describe_db_clusters, DBClusterIdentifier=f"x-{suffix}")
        other_id = f"smoke-aurora-other-{suffix}"
        rds.create_db_cluster(DBClusterIdentifier=other_id, MasterUserSecretKmsKeyId=key, **base)
        cleanup.append((f"db cluster {other_id}",
                        lambda: rds.delete_db_cluster(DBClusterIdentifier=other_id, SkipFinalSnapshot=True)))
        other = describe_cluster(other_id)
        check(other["DBClusterParameterGroup"] == "default.aurora-postgresql16"
              and other["MasterUserSecret"]["KmsKeyId"] == key and other["BackupRetentionPeriod"] == 1
              and other["DeletionProtection"] is False and other["IAMDatabaseAuthenticationEnabled"] is False,
              "defaults: default.aurora-postgresql16, backup retention 1; secret encrypted with the given key")

        # --- describe: identifier, ARN, filters ---
        check([c["DBClusterIdentifier"] for c in rds.describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"]]
              == [cluster_id], "describe by ARN")
        for value_ in (cluster_id, arn):
            got = rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [value_]}])["DBClusters"]
            check([c["DBClusterIdentifier"] for c in got] == [cluster_id], f"filter db-cluster-id {value_}")
        by_engine = {c["DBClusterIdentifier"] for c in rds.describe_db_clusters(
            Filters=[{"Name": "engine", "Values": ["aurora-postgresql"]}])["DBClusters"]}
        check({cluster_id, other_id} <= by_engine, "filter engine aurora-postgresql")
        check(rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [f"x-{suffix}"]}])["DBClusters"]
              == [], "filter on a missing cluster answers none")

        # --- modify in place ---
        mod = rds.modify_db_cluster(DBClusterIdentifier=cluster_id, ApplyImmediately=True, BackupRetentionPeriod=14,
                                    ServerlessV2ScalingConfiguration={"MinCapacity": 1, "MaxCapacity": 8})["DBCluster"]
        check(mod["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1.0, "MaxCapacity": 8.0}
              and mod["BackupRetentionPeriod"] == 14, "modify answers the new scaling and retention")
        cluster = describe_cluster(cluster_id)
        check((cluster["ServerlessV2ScalingConfiguration"], cluster["BackupRetentionPeriod"], cluster["DeletionProtection"],
               cluster["DbClusterResourceId"], cluster["MasterUserSecret"]["SecretArn"])
              == ({"MinCapacity": 1.0, "MaxCapacity": 8.0}, 14, True, mod["DbClusterResourceId"], secret_arn),
              "describe: scaling 1-8, retention 14, same cluster and secret")
        rds.modify_db_cluster(DBClusterIdentifier=other_id, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
        check(describe_cluster(other_id)["IAMDatabaseAuthenticationEnabled"] is True, "modify turns IAM auth on")
        expect_error("DBClusterNotFoundFault", 404, rds.modify_db_cluster, DBClusterIdentifier=f"x-{suffix}",
                     BackupRetentionPeriod=3)
        expect_error("InvalidParameterCombination", 400, rds.modify_db_cluster, DBClusterIdentifier=cluster_id,
                     ServerlessV2ScalingConfiguration={"MinCapacity": 16, "MaxCapacity": 8}, ApplyImmediately=True)

        # --- tags ---
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "owner", "Value": "smoke"}])
        tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
        check({(t["Key"], t["Value"]) for t in tags} == {("infra:env", "smoke"), ("owner", "smoke")},
              "AddTagsToResource / ListTagsForResource on the cluster ARN")
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["owner"])
        check(describe_cluster(cluster_id)["TagList"] == [{"Key": "infra:env", "Value": "smoke"}],
              "RemoveTagsFromResource; DescribeDBClusters shows the tags")

        # --- Serverless v2 instance ---
        instance_id = f"smoke-aurora-1-{suffix}"
        expect_error("DBClusterNotFoundFault", 404, rds.create_db_instance, DBInstanceIdentifier=instance_id,
                     DBInstanceClass="db.serverless", Engine="aurora-postgresql", DBClusterIdentifier=f"x-{suffix}")
        instance = rds.create_db_instance(DBInstanceIdentifier=instance_id, DBInstanceClass="db.serverless",
                                          Engine="aurora-postgresql", DBClusterIdentifier=cluster_id)["DBInstance"]
        cleanup.append((f"db instance {instance_id}", lambda: rds.delete_db_instance(DBInstanceIdentifier=instance_id)))
        check((instance["DBInstanceClass"], instance["Engine"], instance["DBClusterIdentifier"])
              == ("db.serverless", "aurora-postgresql", cluster_id), "create db.serverless instance in the cluster")
        described = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
        check((described["DBClusterIdentifier"], described["EngineVersion"], described["StorageEncrypted"],
               described["IAMDatabaseAuthenticationEnabled"]) == (cluster_id, "16.4", True, True),
              "DescribeDBInstances: DBClusterIdentifier, the cluster's version, encryption and IAM auth")
        members = describe_cluster(cluster_id)["DBClusterMembers"]
        check([(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in members] == [(instance_id, True)],
              "the instance is the cluster's writer member")

        # --- delete refusals ---
        expect_error("InvalidParameterCombination", 400, rds.delete_db_cluster, DBClusterIdentifier=cluster_id,
                     SkipFinalSnapshot=True)
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, DeletionProtection=False, ApplyImmediately=True)
        check(describe_cluster(cluster_id)["DeletionProtection"] is False, "deletion protection off in place")
        expect_error("InvalidDBClusterStateFault", 400, rds.delete_db_cluster, DBClusterIdentifier=cluster_id,
                     SkipFinalSnapshot=True)
        expect_error("InvalidParameterCombination", 400, rds.delete_db_instance, DBInstanceIdentifier=instance_id,
                     FinalDBSnapshotIdentifier=f"smoke-aurora-instance-final-{suffix}")
        deleted = rds.delete_db_instance(DBInstanceIdentifier=instance_id)["DBInstance"]
        forget(f"db instance {instance_id}")
        check(deleted["DBInstanceStatus"] == "deleting", "DeleteDBInstance answers deleting")
        expect_error("DBInstanceNotFound", 404, rds.describe_db_instances, DBInstanceIdentifier=instance_id)
        check(describe_cluster(cluster_id)["DBClusterMembers"] == [], "no members left")
        expect_error("InvalidParameterCombination", 400, rds.delete_db_cluster, DBClusterIdentifier=cluster_id)
        expect_error("InvalidParameterCombination", 400, rds.delete_db_cluster, DBClusterIdentifier=cluster_id,
                     SkipFinalSnapshot=True, FinalDBSnapshotIdentifier=f"smoke-aurora-final-{suffix}")
        expect_error("InvalidParameterValue", 400, rds.delete_db_cluster, DBClusterIdentifier=cluster_id,
                     FinalDBSnapshotIdentifier=f"1-not--valid-{suffix}")
        check(describe_cluster(cluster_id)["Status"] == "available", "refused deletes leave the cluster")

        # --- delete with a final snapshot ---
        final = f"smoke-aurora-final-{suffix}"
        rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=False, FinalDBSnapshotIdentifier=final)
        forget(f"db cluster {cluster_id}")
        cleanup.append((f"db cluster snapshot {final}",
                        lambda: rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=final)))
        expect_error("DBClusterNotFoundFault", 404, rds.describe_db_clusters, DBClusterIdentifier=cluster_id)
        snapshot = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"][0]
        check((snapshot["DBClusterSnapshotIdentifier"], snapshot["DBClusterIdentifier"], snapshot["SnapshotType"],
               snapshot["Status"], snapshot["Engine"], snapshot["EngineVersion"], snapshot["StorageEncrypted"],
               snapshot["KmsKeyId"]) == (final, cluster_id, "manual", "available", "aurora-postgresql", "16.4", True, key),
              "the final cluster snapshot remains (manual, encrypted with the cluster's key)")
        left = rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster_id)["DBClusterSnapshots"]
        check([s["DBClusterSnapshotIdentifier"] for s in left] == [final],
              "only the final snapshot is left (the automated ones went with the cluster)")
        expect_error("ResourceNotFoundException", 400, sm.describe_secret, SecretId=secret_arn)
        print("ok: the managed master secret is deleted with its cluster", flush=True)

        # --- delete: final snapshot id taken, then skip ---
        other_secret = other["MasterUserSecret"]["SecretArn"]
        expect_error("DBClusterSnapshotAlreadyExistsFault", 400, rds.delete_db_cluster, DBClusterIdentifier=other_id,
                     FinalDBSnapshotIdentifier=final)
        check(describe_cluster(other_id)["Status"] == "available" and sm.describe_secret(SecretId=other_secret),
              "the refused delete left the cluster and its secret")
        rds.delete_db_cluster(DBClusterIdentifier=other_id, SkipFinalSnapshot=True)
        forget(f"db cluster {other_id}")
        check(rds.describe_db_cluster_snapshots(DBClusterIdentifier=other_id)["DBClusterSnapshots"] == [],
              "SkipFinalSnapshot: no snapshot left")
        expect_error("DBClusterNotFoundFault", 404, rds.delete_db_cluster, DBClusterIdentifier=other_id,
                     SkipFinalSnapshot=True)

        # --- the same name again, at once ---
        rds.create_db_cluster(DBClusterIdentifier=other_id, **base)
        rds.delete_db_cluster(DBClusterIdentifier=other_id, SkipFinalSnapshot=True)
        print("ok: a deleted cluster's name can be used again at once", flush=True)
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
    print("smoke_aurora: FAILED" if failed else "smoke_aurora: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    t0 = time.monotonic()
    rc = main()
    print(f"smoke_aurora took {time.monotonic() - t0:.1f} s")
    sys.exit(rc)
