"""
RDS (moto): refuse a DB subnet group name already taken; keep a modified DB subnet
group; report Performance Insights; Aurora DB
clusters (Serverless v2 included) as AWS documents them (see the section below and
README.md's "Fixes on top").

moto's ``RDSBackend.modify_db_subnet_group`` pops the group out of
``subnet_groups`` to change it and never puts it back, so the group vanishes after
any modify (AWS keeps it, same name, same ARN and tags). Applied by the
``on_infra_start`` hook (hooks.py).
"""

import json
import secrets
import string

from localstack.utils.patch import patch
from moto.core.utils import utcnow
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBClusterSnapshotAlreadyExistsError,
    DBSubnetGroupNotFoundError,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstanceClustered, MasterUserSecret, RDSBackend
from moto.rds.responses import RDSResponse


# CreateDBSubnetGroup with a name already taken: AWS answers DBSubnetGroupAlreadyExists
# (HTTP 400, "DBSubnetGroupName is already used by an existing DB subnet group"); moto
# replaced the existing group, tags and all.
@patch(RDSBackend.create_subnet_group)
def create_subnet_group(fn, self, subnet_name, description, subnets, tags):
    if subnet_name in self.subnet_groups:
        raise RDSClientError(
            "DBSubnetGroupAlreadyExists", f"The DB subnet group '{subnet_name}' already exists."
        )
    return fn(self, subnet_name, description, subnets, tags)


@patch(RDSBackend.modify_db_subnet_group)
def modify_db_subnet_group(fn, self, subnet_name, description, subnets):
    group = fn(self, subnet_name, description, subnets)
    self.subnet_groups[subnet_name] = group
    return group


# Performance Insights: moto accepts EnablePerformanceInsights and drops it, so
# DescribeDBInstances said it was off; AWS reports PerformanceInsightsEnabled.
def _performance_insights(db_kwargs):
    for key in ("enable_performance_insights", "EnablePerformanceInsights"):
        if key in db_kwargs and db_kwargs[key] is not None:
            value = db_kwargs[key]
            return value if isinstance(value, bool) else str(value).lower() == "true"
    return None


@patch(RDSBackend.create_db_instance)
def create_db_instance(fn, self, db_kwargs):
    database = fn(self, db_kwargs)
    database.performance_insights_enabled = bool(_performance_insights(db_kwargs))
    return database


@patch(RDSBackend.modify_db_instance)
def modify_db_instance(fn, self, db_instance_identifier, db_kwargs):
    requested = _performance_insights(db_kwargs)
    database = fn(self, db_instance_identifier, db_kwargs)
    if requested is not None:
        database.performance_insights_enabled = requested
    return database


# --- Aurora (DB clusters) ---------------------------------------------------------------
# moto's DB cluster model departs from AWS in these places (each checked with boto3
# against the AWS RDS API reference; smoke_aurora.py covers them):


def _flag(value):
    return value if isinstance(value, bool) or value is None else str(value).lower() == "true"


def _check_serverless_v2(config):
    """ServerlessV2ScalingConfiguration: ACUs in 0.5 steps, MinCapacity 0..256 (0: auto-pause),
    MaxCapacity 1..256, MinCapacity <= MaxCapacity (moto took any numbers)."""
    if not config:
        return
    lo = config.get("min_capacity", config.get("MinCapacity"))
    hi = config.get("max_capacity", config.get("MaxCapacity"))
    for name, value, least in (("MinCapacity", lo, 0), ("MaxCapacity", hi, 1)):
        if value is not None and not (least <= float(value) <= 256 and float(value) * 2 == int(float(value) * 2)):
            raise InvalidParameterValue(
                f"Invalid ServerlessV2ScalingConfiguration {name} {value}: use {least} to 256 ACUs "
                "in steps of 0.5")
    if lo is not None and hi is not None and float(lo) > float(hi):
        raise InvalidParameterCombination(
            f"ServerlessV2ScalingConfiguration MinCapacity {lo} is greater than MaxCapacity {hi}")


def _check_cluster_parameter_group(backend, name):
    # AWS's default groups (default.aurora-postgresql16, ...) exist without being created.
    if name and not name.lower().startswith("default.") \
            and name.lower() not in backend.db_cluster_parameter_groups:
        raise RDSClientError("DBClusterParameterGroupNotFound",
                             f"DBClusterParameterGroup not found: {name}")


def _default_cluster_parameter_group(engine, version):
    """AWS's default group of the engine's family: default.aurora-postgresql16 for
    aurora-postgresql 16.x, default.aurora-mysql8.0 for aurora-mysql 8.0 (3.x)."""
    version = version or ""
    if engine == "aurora-postgresql":
        return f"default.aurora-postgresql{version.split('.')[0]}"
    if engine == "aurora-mysql":
        return "default.aurora-mysql5.7" if version.startswith("5.7") else "default.aurora-mysql8.0"
    return None


@patch(RDSBackend.create_db_cluster)
def create_db_cluster(fn, self, kwargs):
    # moto replaced an existing cluster of the same name (or failed on its automated
    # snapshot within the same minute); it took any parameter / subnet group name.
    cluster_id = kwargs["db_cluster_identifier"]
    if cluster_id in self.clusters or cluster_id.lower() in self.clusters:
        raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
    _check_cluster_parameter_group(self, kwargs.get("db_cluster_parameter_group_name"))
    subnet_group = kwargs.get("db_subnet_group_name")
    if subnet_group and subnet_group not in self.subnet_groups:
        raise DBSubnetGroupNotFoundError(subnet_group)
    _check_serverless_v2(kwargs.get("serverless_v2_scaling_configuration"))
    cluster = fn(self, kwargs)
    if cluster.engine.startswith("aurora"):
        if not kwargs.get("storage_type"):
            cluster.storage_type = "aurora"  # Aurora standard (moto: gp2)
        if not kwargs.get("db_cluster_parameter_group_name"):  # moto: default.aurora8.0
            cluster.parameter_group = _default_cluster_parameter_group(
                cluster.engine, cluster.engine_version) or cluster.parameter_group
    return cluster


@patch(DBCluster.save_automated_backup)
def save_automated_backup(fn, self):
    # The automated snapshot id is per cluster and minute: one left by a deleted cluster of
    # the same name (DeleteAutomatedBackups false) made the new cluster's create fail.
    stamp = utcnow().strftime("%Y-%m-%d-%H-%M")
    self.backend.cluster_snapshots.pop(f"rds:{self.db_cluster_identifier}-{stamp}", None)
    return fn(self)


@patch(RDSBackend.modify_db_cluster)
def modify_db_cluster(fn, self, kwargs):
    cluster_id = kwargs.get("db_cluster_identifier")
    if cluster_id not in self.clusters:  # moto: HTTP 500 (KeyError)
        raise DBClusterNotFoundError(cluster_id)
    _check_cluster_parameter_group(self, kwargs.get("db_cluster_parameter_group_name"))
    _check_serverless_v2(kwargs.get("serverless_v2_scaling_configuration"))
    iam_auth = _flag(kwargs.get("enable_iam_database_authentication"))
    result = fn(self, kwargs)
    if iam_auth is not None:  # moto stored it where DescribeDBClusters does not read it
        cluster = self.clusters[kwargs.get("new_db_cluster_identifier") or cluster_id]
        cluster.iam_auth = result.iam_auth = iam_auth
    return result


@patch(RDSResponse.delete_db_cluster)
def delete_db_cluster(fn, self):
    # moto ignored SkipFinalSnapshot (no final snapshot id: deleted without one; both given:
    # snapshot taken) and kept the cluster's automated snapshots.
    cluster_id = self.params.get("DBClusterIdentifier")
    skip = bool(_flag(self.params.get("SkipFinalSnapshot")))
    final = self.params.get("FinalDBSnapshotIdentifier")
    if cluster_id not in self.backend.clusters:
        raise DBClusterNotFoundError(cluster_id)
    if skip and final:
        raise InvalidParameterCombination(
            "You cannot specify both FinalDBSnapshotIdentifier and SkipFinalSnapshot")
    if not skip and not final:
        raise InvalidParameterCombination(
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
    if final:
        self.backend.validate_db_snapshot_identifier(final, parameter_name="FinalDBSnapshotIdentifier")
    if final and {final, final.lower()} & set(self.backend.cluster_snapshots):  # before moto
        raise DBClusterSnapshotAlreadyExistsError(final)  # deletes the cluster's secret
    result = fn(self)
    if _flag(self.params.get("DeleteAutomatedBackups")) is not False:
        snapshots = self.backend.cluster_snapshots
        for snapshot_id in [s for s, snap in snapshots.items()
                            if snap.snapshot_type == "automated"
                            and snap.db_cluster_identifier == cluster_id.lower()]:
            del snapshots[snapshot_id]
    return result


@patch(RDSResponse.delete_db_instance)
def delete_db_instance(fn, self):
    # An Aurora instance has no snapshot of its own (moto took a DB snapshot of it).
    instance = self.backend.databases.get(self.params.get("DBInstanceIdentifier") or "")
    if instance is not None and getattr(instance, "cluster", None) is not None \
            and self.params.get("FinalDBSnapshotIdentifier"):
        raise InvalidParameterCombination(
            "FinalDBSnapshotIdentifier can not be specified when deleting a cluster instance")
    return fn(self)


@patch(RDSResponse.describe_db_cluster_parameters)
def describe_db_cluster_parameters(fn, self):
    # moto answered the parameters set by ModifyDBClusterParameterGroup with no Source and
    # ignored the Source filter. The plugin has no engine defaults: Source engine-default
    # or system answers none.
    result = fn(self)
    source = self.params.get("Source")
    parameters = [dict(p, Source="user") for p in result.result["Parameters"]]
    result.result["Parameters"] = [p for p in parameters if source in (None, "user")]
    return result


# Aurora instances report the cluster's IAM database authentication (moto: the instance's
# own, always false, as CreateDBInstance takes none for Aurora).
DBInstanceClustered.iam_database_authentication_enabled = property(
    lambda self: self.cluster.iam_database_authentication_enabled)


# --- managed master user secret (clusters and instances) ---
@patch(MasterUserSecret._generate_secret_string)
def _generate_secret_string(fn, self):
    # AWS stores the master username and a generated password; moto wrote
    # {"username": "admin", "password": "P@55w0rd!"} for every database.
    alphabet = string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~"
    password = "".join(secrets.choice(alphabet) for _ in range(28))
    return json.dumps({"username": self.resource.master_username, "password": password})


_moto_secret_kms_key_id = MasterUserSecret.kms_key_id.fget


def _secret_kms_key_id(self):
    # MasterUserSecretKmsKeyId names a key of LocalStack's KMS, which moto's KMS backend does
    # not know: DescribeDBClusters failed (HTTP 500). Answer the key as given then.
    try:
        return _moto_secret_kms_key_id(self)
    except Exception:
        key = self.secret.kms_key_id
        if key.startswith("arn:"):
            return key
        arn = self.resource.arn.split(":")
        return f"arn:{arn[1]}:kms:{arn[3]}:{arn[4]}:{key if key.startswith('alias/') else 'key/' + key}"


MasterUserSecret.kms_key_id = property(_secret_kms_key_id)


# --- tags on DB cluster parameter groups ---
# AWS tags a cluster parameter group at CreateDBClusterParameterGroup (`Tags`) and through
# Add/ListTagsForResource on its `cluster-pg` ARN; moto dropped the create's tags and
# refused the ARN ("Invalid resource name").
@patch(RDSResponse.create_db_cluster_parameter_group)
def create_db_cluster_parameter_group(fn, self):
    result = fn(self)
    tags = self.params.get("Tags") or []
    if tags:
        result.result["DBClusterParameterGroup"].add_tags(tags)
    return result


# CreateDBClusterParameterGroup with a name already taken: AWS answers
# DBParameterGroupAlreadyExists (HTTP 400); moto replaced the existing group.
@patch(RDSBackend.create_db_cluster_parameter_group)
def create_db_cluster_parameter_group_once(fn, self, *args, **kwargs):
    name = kwargs.get("group_name", args[0] if args else "")
    if name in self.db_cluster_parameter_groups or name.lower() in self.db_cluster_parameter_groups:
        raise RDSClientError("DBParameterGroupAlreadyExists", f"Parameter group {name} already exists")
    return fn(self, *args, **kwargs)


@patch(RDSBackend._get_resource_for_tagging)
def _get_resource_for_tagging(fn, self, arn):
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "rds" and parts[-2] == "cluster-pg":
        return self.db_cluster_parameter_groups.get(parts[-1].lower())
    return fn(self, arn)
