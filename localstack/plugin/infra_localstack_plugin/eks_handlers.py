"""
EKS operations that moto has no route for, served by this plugin: small stateful
handlers shaped after the AWS EKS API reference. Not an independent emulator.

  add-ons:  CreateAddon, DescribeAddon, ListAddons, UpdateAddon, DeleteAddon,
            DescribeAddonVersions (fixed catalogue below)
  updates:  UpdateNodegroupConfig, UpdateClusterVersion (both change moto's stored
            node group / cluster), DescribeUpdate; UpdateClusterConfig goes to moto and
            is given the documented ``update`` response (moto returns ``cluster``),
            except ``accessConfig`` updates, applied here to moto's cluster (moto
            ignores accessConfig; eks_patches.py stores it at CreateCluster).
  pod identity associations: CreatePodIdentityAssociation, DescribePodIdentityAssociation,
            ListPodIdentityAssociations, UpdatePodIdentityAssociation,
            DeletePodIdentityAssociation
  access entries: CreateAccessEntry, DescribeAccessEntry, ListAccessEntries,
            UpdateAccessEntry, DeleteAccessEntry, AssociateAccessPolicy,
            DisassociateAccessPolicy, ListAssociatedAccessPolicies, ListAccessPolicies
            (clusters in the API / API_AND_CONFIG_MAP modes; eks_patches.py makes the
            creator's entry at CreateCluster)
  tags:     TagResource, UntagResource, ListTagsForResource on add-on, pod identity
            association and access entry ARNs (other ARNs go to moto).

Every update completes at once (status ``Successful``); add-ons are ACTIVE at once.
Clusters and node groups are moto's; add-ons, updates, pod identity associations and
access entries live in ``STATE`` here, per
account and region like moto's backends, and are dropped with their cluster
(eks_patches.py). Handlers take (RequestContext, parsed request dict) and return the
output shape as a dict, or raise AWS-style errors.
"""

import json
import random
import re
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import yaml
from localstack.aws.api import CommonServiceException
from moto.eks.models import (
    CLUSTER_NOT_FOUND_MSG,
    NODEGROUP_NOT_FOUND_MSG,
    eks_backends,
    paginated_list,
)

# --- add-on catalogue: name -> (type, {addonVersion: compatible Kubernetes versions}),
# versions oldest first; the newest compatible one is the default for a cluster version.
_ALL = ("1.31", "1.32", "1.33")
CATALOGUE = {
    "vpc-cni": ("networking", {
        "v1.19.2-eksbuild.1": _ALL,
        "v1.19.6-eksbuild.1": _ALL,
        "v1.20.1-eksbuild.1": _ALL,
    }),
    "coredns": ("networking", {
        "v1.11.3-eksbuild.2": ("1.31",),
        "v1.11.4-eksbuild.14": ("1.31", "1.32"),
        "v1.12.2-eksbuild.4": ("1.33",),
    }),
    "kube-proxy": ("networking", {
        "v1.31.3-eksbuild.2": ("1.31",),
        "v1.31.10-eksbuild.2": ("1.31",),
        "v1.32.0-eksbuild.2": ("1.32",),
        "v1.32.6-eksbuild.2": ("1.32",),
        "v1.33.0-eksbuild.2": ("1.33",),
        "v1.33.3-eksbuild.4": ("1.33",),
    }),
    "aws-ebs-csi-driver": ("storage", {
        "v1.44.0-eksbuild.1": _ALL,
        "v1.45.0-eksbuild.2": _ALL,
        "v1.46.0-eksbuild.1": _ALL,
    }),
}


def _default_version(name, k8s):
    """The newest catalogue version of add-on ``name`` for Kubernetes ``k8s`` (or None)."""
    compatible = [v for v, k8s_versions in CATALOGUE[name][1].items() if k8s in k8s_versions]
    return compatible[-1] if compatible else None


@dataclass
class RegionState:
    addons: dict = field(default_factory=dict)  # cluster -> {addonName: addon dict}
    updates: dict = field(default_factory=dict)  # cluster -> {update id: (scope, update dict)}
    associations: dict = field(default_factory=dict)  # cluster -> {associationId: association dict}
    association_tokens: dict = field(default_factory=dict)  # cluster -> {clientRequestToken: associationId}
    access_entries: dict = field(default_factory=dict)  # cluster -> {principalArn: access entry dict}
    access_entry_tokens: dict = field(default_factory=dict)  # cluster -> {clientRequestToken: principalArn}
    # cluster -> {principalArn: {policyArn: associatedAccessPolicy dict}}
    access_policies: dict = field(default_factory=dict)


STATE: dict[tuple[str, str], RegionState] = {}  # (account id, region) -> state
_lock = threading.RLock()


def forget_cluster(account_id: str, region: str, cluster: str) -> None:
    """Drop the add-ons, updates, pod identity associations and access entries (with their
    policy associations) of a deleted cluster (AWS deletes them with it)."""
    with _lock:
        state = STATE.get((account_id, region))
        if state:
            for kept in (state.addons, state.updates, state.associations, state.association_tokens,
                         state.access_entries, state.access_entry_tokens, state.access_policies):
                kept.pop(cluster, None)


# --- errors and lookups ---
def _error(code: str, status: int, message: str, **fields) -> CommonServiceException:
    e = CommonServiceException(code, message, status_code=status, sender_fault=True)
    e.__dict__.update(fields)  # modelled members (clusterName, addonName, ...) go into the body
    return e


def _not_found(message, **fields):
    return _error("ResourceNotFoundException", 404, message, **fields)


def _invalid(message, **fields):
    return _error("InvalidParameterException", 400, message, **fields)


def _in_use(message, **fields):
    return _error("ResourceInUseException", 409, message, **fields)


def _state(ctx) -> RegionState:
    return STATE.setdefault((ctx.account_id, ctx.region), RegionState())


def _cluster(ctx, name):
    cluster = eks_backends[ctx.account_id][ctx.region].clusters.get(name)
    if cluster is None:
        raise _not_found(CLUSTER_NOT_FOUND_MSG.format(clusterName=name), clusterName=name)
    return cluster


def _addon(ctx, cluster_name, name):
    _cluster(ctx, cluster_name)
    addon = _state(ctx).addons.get(cluster_name, {}).get(name)
    if addon is None:
        raise _not_found(
            f"No addon: {name} found in cluster: {cluster_name}",
            clusterName=cluster_name, addonName=name,
        )
    return addon


def _now():
    return datetime.now(timezone.utc)


def _require(request, *names):
    for name in names:
        if request.get(name) in (None, ""):
            raise _invalid(f"{name} is required")


def _max_results(request):
    n = request.get("maxResults") or 100
    if not 1 <= n <= 100:
        raise _invalid("maxResults must be between 1 and 100")
    return n


def _page(names, request):
    try:
        return paginated_list(names, _max_results(request), request.get("nextToken"))
    except ValueError:
        raise _invalid("The nextToken is not valid")


# --- access config (authentication mode); moto ignores accessConfig ---
# The order AWS allows, one step at a time and never back:
# CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
AUTHENTICATION_MODES = ("CONFIG_MAP", "API_AND_CONFIG_MAP", "API")


def new_access_config(requested):
    """The cluster's ``accessConfig`` for CreateCluster's ``accessConfig`` (None: AWS's
    defaults for API/SDK callers). Raises ValueError (message) when AWS refuses it."""
    requested = requested or {}
    if not isinstance(requested, dict):
        raise ValueError("accessConfig must be an object")
    mode = requested.get("authenticationMode") or "CONFIG_MAP"
    bootstrap = requested.get("bootstrapClusterCreatorAdminPermissions")
    if mode not in AUTHENTICATION_MODES:
        raise ValueError(f"Invalid authenticationMode: {mode}")
    if bootstrap is None:
        bootstrap = True
    elif not isinstance(bootstrap, bool):
        raise ValueError(f"Invalid bootstrapClusterCreatorAdminPermissions: {bootstrap}")
    if mode == "CONFIG_MAP" and not bootstrap:
        raise ValueError("bootstrapClusterCreatorAdminPermissions must be true "
                         "when the authentication mode is CONFIG_MAP")
    return {"bootstrapClusterCreatorAdminPermissions": bootstrap, "authenticationMode": mode}


def _update_access_config(ctx, name, access):
    cluster = _cluster(ctx, name)
    config = getattr(cluster, "access_config", None) or new_access_config(None)
    current = config["authenticationMode"]
    target = access.get("authenticationMode")
    if target not in AUTHENTICATION_MODES:
        raise _invalid(f"Invalid authenticationMode: {target}", clusterName=name)
    if AUTHENTICATION_MODES.index(target) != AUTHENTICATION_MODES.index(current) + 1:
        raise _invalid(f"Unsupported authentication mode update from {current} to {target}",
                       clusterName=name)
    cluster.access_config = dict(config, authenticationMode=target)
    return _record_update(ctx, name, "AccessConfigUpdate", [("AuthenticationMode", target)])


def _record_update(ctx, cluster, type_, params, scope=None):
    update = {
        "id": str(uuid.uuid4()), "status": "Successful", "type": type_,
        "params": [{"type": t, "value": v} for t, v in params], "createdAt": _now(), "errors": [],
    }
    _state(ctx).updates.setdefault(cluster, {})[update["id"]] = (scope, update)
    return {"update": update}


# --- add-on validation ---
def _check_addon_fields(request, cluster, name, current=None):
    """Validate the fields CreateAddon and UpdateAddon share; returns the add-on version
    (the requested one, else ``current``, else the default for the cluster version)."""
    if request.get("resolveConflicts") not in (None, "NONE", "OVERWRITE", "PRESERVE"):
        raise _invalid(f"Invalid resolveConflicts: {request['resolveConflicts']}")
    role = request.get("serviceAccountRoleArn")
    if role is not None and not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/.+", role):
        raise _invalid(f"Invalid serviceAccountRoleArn: {role}")
    config = request.get("configurationValues")
    if config is not None:
        try:  # JSON or YAML, an object at the top (AWS also checks it against the schema)
            ok = isinstance(yaml.safe_load(config), dict)
        except yaml.YAMLError:
            ok = False
        if not ok:
            raise _invalid("ConfigurationValue provided in request is not supported: not a JSON or YAML object")
    if request.get("podIdentityAssociations") or request.get("namespaceConfig"):
        raise _invalid("podIdentityAssociations and namespaceConfig are not served by the emulator plugin")
    version = request.get("addonVersion")
    if version is None:
        version = current or _default_version(name, cluster.version)
        if version is None:
            raise _invalid(f"Addon {name} is not supported on Kubernetes version {cluster.version}")
    elif cluster.version not in CATALOGUE[name][1].get(version, ()):
        raise _invalid(f"Addon version specified is not supported: {name} {version} on Kubernetes {cluster.version}")
    return version


# --- add-on operations ---
def create_addon(ctx, request):
    _require(request, "clusterName", "addonName")
    cluster_name, name = request["clusterName"], request["addonName"]
    cluster = _cluster(ctx, cluster_name)
    if name not in CATALOGUE:
        raise _invalid(f"Addon {name} specified is not supported", clusterName=cluster_name, addonName=name)
    addons = _state(ctx).addons.setdefault(cluster_name, {})
    if name in addons:
        raise _in_use("Addon already exists.", clusterName=cluster_name, addonName=name)
    version = _check_addon_fields(request, cluster, name)
    now = _now()
    addon = {
        "addonName": name,
        "clusterName": cluster_name,
        "status": "ACTIVE",
        "addonVersion": version,
        "health": {"issues": []},
        # arn:aws:eks:<region>:<account>:addon/<cluster>/<name>/<uuid>
        "addonArn": cluster.arn.rsplit(":", 1)[0] + f":addon/{cluster_name}/{name}/{uuid.uuid4()}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(request.get("tags") or {}),
    }
    for key in ("serviceAccountRoleArn", "configurationValues"):
        if request.get(key) is not None:
            addon[key] = request[key]
    addons[name] = addon
    return {"addon": addon}


def describe_addon(ctx, request):
    return {"addon": _addon(ctx, request["clusterName"], request["addonName"])}


def list_addons(ctx, request):
    _cluster(ctx, request["clusterName"])
    names, next_token = _page(list(_state(ctx).addons.get(request["clusterName"], {})), request)
    return {"addons": names, "nextToken": next_token}


def update_addon(ctx, request):
    cluster_name, name = request["clusterName"], request["addonName"]
    addon = _addon(ctx, cluster_name, name)
    version = _check_addon_fields(request, _cluster(ctx, cluster_name), name, addon["addonVersion"])
    params = []
    if request.get("addonVersion"):
        params.append(("AddonVersion", version))
    for key, param in (("serviceAccountRoleArn", "ServiceAccountRoleArn"),
                       ("resolveConflicts", "ResolveConflicts"),
                       ("configurationValues", "ConfigurationValues")):
        if request.get(key) is not None:
            params.append((param, request[key]))
    addon["addonVersion"] = version
    for key in ("serviceAccountRoleArn", "configurationValues"):
        if request.get(key) is not None:
            addon[key] = request[key]
    addon["modifiedAt"] = _now()
    return _record_update(ctx, cluster_name, "AddonUpdate", params, scope=("addon", name))


def delete_addon(ctx, request):  # `preserve` (keep the add-on's k8s objects) is accepted
    cluster_name, name = request["clusterName"], request["addonName"]
    addon = _addon(ctx, cluster_name, name)
    del _state(ctx).addons[cluster_name][name]
    return {"addon": dict(addon, status="DELETING")}


def describe_addon_versions(ctx, request):
    k8s = request.get("kubernetesVersion")
    infos = {}
    for name, (type_, versions) in CATALOGUE.items():
        if (request.get("addonName") not in (None, name)
                or type_ not in (request.get("types") or [type_])
                or "eks" not in (request.get("publishers") or ["eks"])
                or "aws" not in (request.get("owners") or ["aws"])):
            continue
        entries = []
        for version, cluster_versions in reversed(versions.items()):  # newest first, as AWS
            shown = [v for v in cluster_versions if k8s in (None, v)]
            if shown:
                entries.append({
                    "addonVersion": version,
                    "architecture": ["amd64", "arm64"],
                    "compatibilities": [
                        {"clusterVersion": v, "platformVersions": ["*"],
                         "defaultVersion": version == _default_version(name, v)}
                        for v in shown
                    ],
                    "requiresConfiguration": False,
                })
        if entries:
            infos[name] = {"addonName": name, "type": type_, "addonVersions": entries,
                           "publisher": "eks", "owner": "aws"}
    names, next_token = _page(list(infos), request)
    return {"addons": [infos[n] for n in names], "nextToken": next_token}


# --- updates ---
def update_nodegroup_config(ctx, request):
    cluster_name, ng_name = request["clusterName"], request["nodegroupName"]
    nodegroup = _cluster(ctx, cluster_name).nodegroups.get(ng_name)
    if nodegroup is None:
        raise _not_found(NODEGROUP_NOT_FOUND_MSG.format(nodegroupName=ng_name),
                         clusterName=cluster_name, nodegroupName=ng_name)
    if request.get("updateConfig") or request.get("nodeRepairConfig"):
        raise _invalid("updateConfig and nodeRepairConfig are not served by the emulator plugin")
    params = []

    scaling = request.get("scalingConfig")
    if scaling:
        new = dict(nodegroup.scaling_config, **scaling)  # a copy: moto shares its default dict
        lo, hi, want = new.get("minSize"), new.get("maxSize"), new.get("desiredSize")
        if None in (lo, hi, want):
            raise _invalid("scalingConfig needs minSize, maxSize and desiredSize")
        if lo < 0 or want < 0 or hi < 1:
            raise _invalid("minSize and desiredSize must be >= 0 and maxSize >= 1")
        if lo > hi:
            raise _invalid(f"Minimum capacity {lo} can't be greater than max size {hi}")
        if not lo <= want <= hi:
            raise _invalid(f"Desired size {want} must be between minimum capacity {lo} and max size {hi}")
        params += [(t, str(scaling[k])) for t, k in
                   (("MinSize", "minSize"), ("MaxSize", "maxSize"), ("DesiredSize", "desiredSize"))
                   if k in scaling]

    labels = request.get("labels") or {}
    add_labels, remove_labels = labels.get("addOrUpdateLabels") or {}, labels.get("removeLabels") or []
    if set(add_labels) & set(remove_labels):
        raise _invalid("The same label key cannot be both added and removed")

    taints = request.get("taints") or {}
    add_taints, remove_taints = taints.get("addOrUpdateTaints") or [], taints.get("removeTaints") or []
    for taint in add_taints + remove_taints:
        if not taint.get("key"):
            raise _invalid("A taint requires a key")
        if taint.get("effect") not in ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"):
            raise _invalid(f"Invalid taint effect: {taint.get('effect')}")
    if {(t["key"], t["effect"]) for t in add_taints} & {(t["key"], t["effect"]) for t in remove_taints}:
        raise _invalid("The same taint cannot be both added and removed")

    if not (scaling or add_labels or remove_labels or add_taints or remove_taints):
        raise _invalid("No changes were requested")

    # All validated: apply (new objects, never mutate moto's shared defaults).
    if scaling:
        nodegroup.scaling_config = new
    if add_labels or remove_labels:
        kept = {k: v for k, v in (nodegroup.labels or {}).items() if k not in remove_labels}
        nodegroup.labels = dict(kept, **add_labels)
        if add_labels:
            params.append(("LabelsToAdd", json.dumps(add_labels)))
        if remove_labels:
            params.append(("LabelsToRemove", json.dumps(remove_labels)))
    if add_taints or remove_taints:
        # a taint is identified by key + effect; addOrUpdate replaces the value
        gone = {(t["key"], t["effect"]) for t in add_taints + remove_taints}
        nodegroup.taints = [t for t in nodegroup.taints or [] if (t["key"], t["effect"]) not in gone]
        nodegroup.taints += [dict(t) for t in add_taints]
        if add_taints:
            params.append(("TaintsToAdd", json.dumps(add_taints)))
        if remove_taints:
            params.append(("TaintsToRemove", json.dumps(remove_taints)))
    nodegroup.modified_at = _now()
    return _record_update(ctx, cluster_name, "ConfigUpdate", params, scope=("nodegroup", ng_name))


def update_cluster_version(ctx, request):
    _require(request, "name", "version")
    cluster = _cluster(ctx, request["name"])
    current, target = cluster.version, request["version"]
    m_cur, m_new = re.fullmatch(r"1\.(\d+)", current or ""), re.fullmatch(r"1\.(\d+)", target)
    # AWS upgrades one minor version at a time, never down or to the same version.
    if not (m_cur and m_new and int(m_new[1]) == int(m_cur[1]) + 1):
        raise _invalid(f"Unsupported Kubernetes minor version update from {current} to {target}",
                       clusterName=cluster.name)
    cluster.version = target
    return _record_update(ctx, cluster.name, "VersionUpdate",
                          [("Version", target), ("PlatformVersion", cluster.platformVersion)])


def update_cluster_config(ctx, request):
    """moto applies UpdateClusterConfig (eks_patches.py merges resourcesVpcConfig) but
    answers ``cluster``; AWS answers an ``update``. Added here for VPC/endpoint and
    logging updates; ``accessConfig`` (which moto ignores) is applied here, not by moto;
    any other field gets moto's answer unchanged (no ``update``)."""
    from localstack.services.moto import dispatch_to_moto

    vpc, logging = request.get("resourcesVpcConfig") or {}, request.get("logging")
    access = request.get("accessConfig") or {}
    if len([x for x in (vpc, logging, access) if x]) > 1:
        raise _invalid("Only one type of update can be allowed.", clusterName=request["name"])
    if access:
        return _update_access_config(ctx, request["name"], access)
    response = dispatch_to_moto(ctx)
    if response.status_code >= 300 or not (vpc or logging):
        return response
    if logging:
        return _record_update(ctx, request["name"], "LoggingUpdate",
                              [("ClusterLogging", json.dumps(logging.get("clusterLogging", [])))])
    params = [(p, json.dumps(vpc[k]) if isinstance(vpc[k], list) else str(vpc[k]).lower())
              for k, p in (("endpointPublicAccess", "EndpointPublicAccess"),
                           ("endpointPrivateAccess", "EndpointPrivateAccess"),
                           ("publicAccessCidrs", "PublicAccessCidrs"),
                           ("subnetIds", "Subnets"), ("securityGroupIds", "SecurityGroups"))
              if k in vpc]
    type_ = "VpcConfigUpdate" if {"subnetIds", "securityGroupIds"} & set(vpc) else "EndpointAccessUpdate"
    return _record_update(ctx, request["name"], type_, params)


def describe_update(ctx, request):
    _require(request, "name", "updateId")
    _cluster(ctx, request["name"])
    if request.get("nodegroupName"):
        scope = ("nodegroup", request["nodegroupName"])
    elif request.get("addonName"):
        scope = ("addon", request["addonName"])
    else:
        scope = None
    found = _state(ctx).updates.get(request["name"], {}).get(request["updateId"])
    if found is None or found[0] != scope:
        raise _not_found(f"No update found for ID: {request['updateId']}", clusterName=request["name"])
    return {"update": found[1]}


# --- pod identity associations ---
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/.+")


def _association_id():
    """``a-`` and 17 lowercase letters and digits, as AWS's ids (a-8mvwvh57cu74mgcst)."""
    return "a-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=17))


def _association(ctx, cluster_name, association_id):
    _cluster(ctx, cluster_name)
    association = _state(ctx).associations.get(cluster_name, {}).get(association_id)
    if association is None:
        raise _not_found(f"No Pod Identity Association found for id: {association_id}",
                         clusterName=cluster_name)
    return association


def _check_role_arns(request, cluster_name):
    for key in ("roleArn", "targetRoleArn"):
        value = request.get(key)
        if value and not _ROLE_ARN.fullmatch(value):
            raise _invalid(f"Invalid {key}: {value}", clusterName=cluster_name)
    if request.get("disableSessionTags") not in (None, True, False):
        raise _invalid(f"Invalid disableSessionTags: {request['disableSessionTags']}",
                       clusterName=cluster_name)


def _set_target_role(association, target):
    """``targetRoleArn`` with its ``externalId`` (kept while the target role is); an empty
    string removes both."""
    if target:
        if association.get("targetRoleArn") != target or "externalId" not in association:
            association["externalId"] = str(uuid.uuid4())
        association["targetRoleArn"] = target
    else:
        association.pop("targetRoleArn", None)
        association.pop("externalId", None)


def create_pod_identity_association(ctx, request):
    _require(request, "clusterName", "namespace", "serviceAccount", "roleArn")
    cluster_name = request["clusterName"]
    cluster = _cluster(ctx, cluster_name)
    _check_role_arns(request, cluster_name)
    tags = dict(request.get("tags") or {})
    if len(tags) > 50:
        raise _invalid("A resource can have at most 50 tags", clusterName=cluster_name)
    state = _state(ctx)
    associations = state.associations.setdefault(cluster_name, {})
    tokens = state.association_tokens.setdefault(cluster_name, {})
    namespace, service_account = request["namespace"], request["serviceAccount"]
    token = request.get("clientRequestToken")
    if token and token in tokens and tokens[token] in associations:
        # A retried request (same idempotency token): the association it created.
        earlier = associations[tokens[token]]
        if (earlier["namespace"], earlier["serviceAccount"], earlier["roleArn"]) == (
                namespace, service_account, request["roleArn"]):
            return {"association": earlier}
        raise _invalid("The client request token was already used for a different request",
                       clusterName=cluster_name)
    for existing in associations.values():
        if (existing["namespace"], existing["serviceAccount"]) == (namespace, service_account):
            raise _in_use(f"Association already exists: {existing['associationId']}",
                          clusterName=cluster_name)
    association_id = _association_id()
    now = _now()
    association = {
        "clusterName": cluster_name,
        "namespace": namespace,
        "serviceAccount": service_account,
        "roleArn": request["roleArn"],
        # arn:aws:eks:<region>:<account>:podidentityassociation/<cluster>/<association id>
        "associationArn": cluster.arn.rsplit(":", 1)[0]
        + f":podidentityassociation/{cluster_name}/{association_id}",
        "associationId": association_id,
        "tags": tags,
        "createdAt": now,
        "modifiedAt": now,
        "disableSessionTags": bool(request.get("disableSessionTags")),
    }
    _set_target_role(association, request.get("targetRoleArn"))
    associations[association_id] = association
    if token:
        tokens[token] = association_id
    return {"association": association}


def describe_pod_identity_association(ctx, request):
    _require(request, "clusterName", "associationId")
    return {"association": _association(ctx, request["clusterName"], request["associationId"])}


def list_pod_identity_associations(ctx, request):
    _require(request, "clusterName")
    cluster_name = request["clusterName"]
    _cluster(ctx, cluster_name)
    associations = _state(ctx).associations.get(cluster_name, {})
    ids = [a["associationId"] for a in associations.values()
           if request.get("namespace") in (None, a["namespace"])
           and request.get("serviceAccount") in (None, a["serviceAccount"])]
    ids, next_token = _page(ids, request)
    summary = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
    return {
        "associations": [{k: associations[i][k] for k in summary if k in associations[i]} for i in ids],
        "nextToken": next_token,
    }


def update_pod_identity_association(ctx, request):
    _require(request, "clusterName", "associationId")
    cluster_name = request["clusterName"]
    association = _association(ctx, cluster_name, request["associationId"])
    if all(request.get(k) is None for k in ("roleArn", "targetRoleArn", "disableSessionTags")):
        raise _invalid("At least one of roleArn, targetRoleArn or disableSessionTags must be given",
                       clusterName=cluster_name)
    _check_role_arns(request, cluster_name)
    if request.get("roleArn"):
        association["roleArn"] = request["roleArn"]
    if request.get("targetRoleArn") is not None:
        _set_target_role(association, request["targetRoleArn"])
    if request.get("disableSessionTags") is not None:
        association["disableSessionTags"] = request["disableSessionTags"]
    association["modifiedAt"] = _now()
    return {"association": association}


def delete_pod_identity_association(ctx, request):
    _require(request, "clusterName", "associationId")
    cluster_name, association_id = request["clusterName"], request["associationId"]
    association = _association(ctx, cluster_name, association_id)
    state = _state(ctx)
    del state.associations[cluster_name][association_id]
    tokens = state.association_tokens.get(cluster_name, {})
    for token in [t for t, i in tokens.items() if i == association_id]:
        del tokens[token]
    return {"association": association}


# --- access entries and access policy associations ---
# Only in the API and API_AND_CONFIG_MAP authentication modes (InvalidRequestException in
# CONFIG_MAP). One entry per IAM principal ARN; the principal ARN identifies it in paths.
ACCESS_ENTRY_TYPES = ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2",
                      "HYBRID_LINUX", "HYPERPOD_LINUX")
# Node types: EKS sets username and groups itself; no kubernetesGroups/username in
# requests. Of them only EC2 (Auto Mode) and HYPERPOD_LINUX take access policies.
_NODE_USERNAME = {
    "EC2_LINUX": "system:node:{{EC2PrivateDNSName}}",
    "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
    "EC2": "system:node:{{EC2PrivateDNSName}}",
    "FARGATE_LINUX": "system:node:{{SessionName}}",
    "HYBRID_LINUX": "system:node:{{SessionName}}",
    "HYPERPOD_LINUX": "system:node:{{SessionName}}",
}
_NO_POLICY_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX")
_RESERVED_PREFIXES = ("system:", "eks:", "aws:", "amazon:", "iam:")
# IAM principals an access entry takes: roles (path allowed), users, the account root.
_PRINCIPAL_ARN = re.compile(r"arn:(aws[\w-]*):iam::(\d{12}):(?:(role|user)/(?:[^/]+/)*([^/]+)|(root))")
_POLICY_PREFIX = re.compile(r"arn:aws[\w-]*:eks::aws:cluster-access-policy/")
_POLICY_ARN = re.compile(_POLICY_PREFIX.pattern + r"[A-Za-z0-9]+")
# The access policies ListAccessPolicies answers (AWS's list; AssociateAccessPolicy also
# takes any other name under the cluster-access-policy prefix).
ACCESS_POLICIES = (
    "AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy", "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy", "AmazonEKSClusterAdminPolicy",
    "AmazonEKSComputeClusterPolicy", "AmazonEKSEditPolicy", "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingClusterPolicy", "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSViewPolicy", "AmazonEMRJobPolicy",
)
CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _api_cluster(ctx, name):
    """The cluster, which must be in an authentication mode with the access entry API."""
    cluster = _cluster(ctx, name)
    mode = (getattr(cluster, "access_config", None) or {}).get("authenticationMode", "CONFIG_MAP")
    if mode == "CONFIG_MAP":
        raise _error("InvalidRequestException", 400,
                     "The cluster's authentication mode must be set to one of "
                     "[API, API_AND_CONFIG_MAP] to perform this operation.", clusterName=name)
    return cluster


def _access_entry(ctx, cluster_name, principal_arn):
    _api_cluster(ctx, cluster_name)
    entry = _state(ctx).access_entries.get(cluster_name, {}).get(principal_arn)
    if entry is None:
        raise _not_found(f"The specified principalArn could not be found: {principal_arn}. "
                         "You can view your available access entries with 'list-access-entries'.",
                         clusterName=cluster_name)
    return entry


def _check_groups_and_username(request, cluster_name, type_):
    groups, username = request.get("kubernetesGroups"), request.get("username")
    if type_ != "STANDARD" and (groups or username):
        raise _invalid(f"kubernetesGroups and username cannot be specified for access entries "
                       f"of type {type_}", clusterName=cluster_name)
    for group in groups or []:
        if not group or group.startswith("system:"):
            raise _invalid(f"The kubernetes group name {group!r} is invalid, it cannot be empty "
                           "or start with system:", clusterName=cluster_name)
    if username is not None and (not username or username.startswith(_RESERVED_PREFIXES)):
        raise _invalid(f"The username {username!r} is invalid, it cannot be empty or start "
                       f"with {', '.join(_RESERVED_PREFIXES)}", clusterName=cluster_name)


def _new_access_entry(cluster, principal_arn, type_, groups=None, username=None, tags=None):
    """An access entry dict as AWS answers it: ARN
    arn:aws:eks:<region>:<account>:access-entry/<cluster>/<role|user|root>/<principal
    account>/<principal name>/<uuid>; the username EKS generates unless one is given."""
    match = _PRINCIPAL_ARN.fullmatch(principal_arn)
    partition, account, kind, name, root = match.groups()
    kind, name = (kind, name) if kind else ("root", root)
    if username is None:
        if type_ != "STANDARD":
            username = _NODE_USERNAME[type_]
        elif kind == "role":  # the assumed-role form, without the role's path
            username = f"arn:{partition}:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}"
        else:
            username = principal_arn
    if groups is None:
        groups = ["system:nodes"] if type_ in ("EC2_LINUX", "EC2_WINDOWS") else []
    now = _now()
    return {
        "clusterName": cluster.name,
        "principalArn": principal_arn,
        "kubernetesGroups": list(groups),
        "accessEntryArn": cluster.arn.rsplit(":", 1)[0]
        + f":access-entry/{cluster.name}/{kind}/{account}/{name}/{uuid.uuid4()}",
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(tags or {}),
        "username": username,
        "type": type_,
    }


def _policy_arn(value, cluster_name):
    if not isinstance(value, str) or not _POLICY_ARN.fullmatch(value):
        raise _invalid(f"The policyArn {value!r} is not a valid access policy ARN. You can view "
                       "the available access policies with 'list-access-policies'.",
                       clusterName=cluster_name)
    return value


def create_access_entry(ctx, request):
    _require(request, "clusterName", "principalArn")
    cluster_name, principal_arn = request["clusterName"], request["principalArn"]
    cluster = _api_cluster(ctx, cluster_name)
    type_ = request.get("type") or "STANDARD"
    if type_ not in ACCESS_ENTRY_TYPES:
        raise _invalid(f"Invalid type: {type_}", clusterName=cluster_name)
    match = _PRINCIPAL_ARN.fullmatch(principal_arn)
    if match is None:
        # (The messages of these permanent errors avoid the words the project's client
        # reads as IAM propagation delays, which it retries.)
        raise _invalid("The principalArn is not a valid IAM principal ARN; STS session "
                       "principals cannot have access entries", clusterName=cluster_name)
    if type_ != "STANDARD" and (match[3] != "role" or match[2] != ctx.account_id):
        raise _invalid(f"Access entries of type {type_} only take a principalArn of the cluster's "
                       "account that is not an IAM user or the account root", clusterName=cluster_name)
    _check_groups_and_username(request, cluster_name, type_)
    tags = dict(request.get("tags") or {})
    if len(tags) > 50:
        raise _invalid("A resource can have at most 50 tags", clusterName=cluster_name)
    state = _state(ctx)
    entries = state.access_entries.setdefault(cluster_name, {})
    tokens = state.access_entry_tokens.setdefault(cluster_name, {})
    token = request.get("clientRequestToken")
    if token and token in tokens and tokens[token] in entries:
        # A retried request (same idempotency token): the entry it created.
        if tokens[token] == principal_arn:
            return {"accessEntry": entries[principal_arn]}
        raise _invalid("The client request token was already used for a different request",
                       clusterName=cluster_name)
    if principal_arn in entries:
        raise _in_use("The specified access entry resource is already in use on this cluster.",
                      clusterName=cluster_name)
    entry = _new_access_entry(cluster, principal_arn, type_, request.get("kubernetesGroups"),
                              request.get("username"), tags)
    entries[principal_arn] = entry
    if token:
        tokens[token] = principal_arn
    return {"accessEntry": entry}


def bootstrap_creator_access_entry(account_id, region, cluster, creator_arn):
    """CreateCluster with ``bootstrapClusterCreatorAdminPermissions`` true in the API or
    API_AND_CONFIG_MAP mode: the creator's access entry with AmazonEKSClusterAdminPolicy
    (cluster scope), as AWS makes it. ``creator_arn``: the caller's IAM principal."""
    if not _PRINCIPAL_ARN.fullmatch(creator_arn or ""):
        return
    with _lock:
        state = STATE.setdefault((account_id, region), RegionState())
        entry = _new_access_entry(cluster, creator_arn, "STANDARD")
        state.access_entries.setdefault(cluster.name, {})[creator_arn] = entry
        policy_arn = CLUSTER_ADMIN_POLICY.format(partition=cluster.arn.split(":")[1])
        state.access_policies.setdefault(cluster.name, {})[creator_arn] = {
            policy_arn: {
                "policyArn": policy_arn,
                "accessScope": {"type": "cluster", "namespaces": []},
                "associatedAt": entry["createdAt"],
                "modifiedAt": entry["createdAt"],
            }
        }


def describe_access_entry(ctx, request):
    _require(request, "clusterName", "principalArn")
    return {"accessEntry": _access_entry(ctx, request["clusterName"], request["principalArn"])}


def list_access_entries(ctx, request):
    _require(request, "clusterName")
    cluster_name = request["clusterName"]
    _api_cluster(ctx, cluster_name)
    principals = list(_state(ctx).access_entries.get(cluster_name, {}))
    policy = request.get("associatedPolicyArn")
    if policy is not None:
        _policy_arn(policy, cluster_name)
        associated = _state(ctx).access_policies.get(cluster_name, {})
        principals = [p for p in principals if policy in associated.get(p, {})]
    principals, next_token = _page(principals, request)
    return {"accessEntries": principals, "nextToken": next_token}


def update_access_entry(ctx, request):
    _require(request, "clusterName", "principalArn")
    cluster_name = request["clusterName"]
    entry = _access_entry(ctx, cluster_name, request["principalArn"])
    _check_groups_and_username(request, cluster_name, entry["type"])
    if request.get("kubernetesGroups") is not None:
        entry["kubernetesGroups"] = list(request["kubernetesGroups"])
    if request.get("username") is not None:
        entry["username"] = request["username"]
    entry["modifiedAt"] = _now()
    return {"accessEntry": entry}


def delete_access_entry(ctx, request):
    _require(request, "clusterName", "principalArn")
    cluster_name, principal_arn = request["clusterName"], request["principalArn"]
    _access_entry(ctx, cluster_name, principal_arn)
    state = _state(ctx)
    del state.access_entries[cluster_name][principal_arn]
    state.access_policies.get(cluster_name, {}).pop(principal_arn, None)
    tokens = state.access_entry_tokens.get(cluster_name, {})
    for token in [t for t, p in tokens.items() if p == principal_arn]:
        del tokens[token]
    return {}


def associate_access_policy(ctx, request):
    _require(request, "clusterName", "principalArn", "policyArn")
    cluster_name, principal_arn = request["clusterName"], request["principalArn"]
    entry = _access_entry(ctx, cluster_name, principal_arn)
    policy_arn = _policy_arn(request["policyArn"], cluster_name)
    scope = request.get("accessScope")
    if not isinstance(scope, dict) or scope.get("type") not in ("cluster", "namespace"):
        raise _invalid("accessScope needs a type: cluster or namespace", clusterName=cluster_name)
    namespaces = list(scope.get("namespaces") or [])
    if scope["type"] == "namespace" and not namespaces:
        raise _invalid("At least one namespace is required for an access scope of type namespace",
                       clusterName=cluster_name)
    if scope["type"] == "cluster" and namespaces:
        raise _invalid("Namespaces cannot be specified for an access scope of type cluster",
                       clusterName=cluster_name)
    if any(not ns for ns in namespaces):
        raise _invalid("A namespace cannot be empty", clusterName=cluster_name)
    if entry["type"] in _NO_POLICY_TYPES:
        raise _invalid(f"Access policies cannot be associated with access entries of type "
                       f"{entry['type']}", clusterName=cluster_name)
    associated = _state(ctx).access_policies.setdefault(cluster_name, {}).setdefault(principal_arn, {})
    now = _now()
    # Associating an associated policy again replaces its scope (AWS's way to change it).
    policy = associated.get(policy_arn) or {"policyArn": policy_arn, "associatedAt": now}
    policy["accessScope"] = {"type": scope["type"], "namespaces": namespaces}
    policy["modifiedAt"] = now
    associated[policy_arn] = policy
    return {"clusterName": cluster_name, "principalArn": principal_arn,
            "associatedAccessPolicy": policy}


def disassociate_access_policy(ctx, request):
    _require(request, "clusterName", "principalArn", "policyArn")
    cluster_name, principal_arn = request["clusterName"], request["principalArn"]
    _access_entry(ctx, cluster_name, principal_arn)
    associated = _state(ctx).access_policies.get(cluster_name, {}).get(principal_arn, {})
    if request["policyArn"] not in associated:
        raise _not_found(f"The access policy {request['policyArn']} is not associated with the "
                         f"access entry of {principal_arn}", clusterName=cluster_name)
    del associated[request["policyArn"]]
    return {}


def list_associated_access_policies(ctx, request):
    _require(request, "clusterName", "principalArn")
    cluster_name, principal_arn = request["clusterName"], request["principalArn"]
    _access_entry(ctx, cluster_name, principal_arn)
    associated = _state(ctx).access_policies.get(cluster_name, {}).get(principal_arn, {})
    arns, next_token = _page(list(associated), request)
    return {"clusterName": cluster_name, "principalArn": principal_arn, "nextToken": next_token,
            "associatedAccessPolicies": [associated[a] for a in arns]}


def list_access_policies(ctx, request):
    partition = getattr(ctx, "partition", None) or "aws"  # global: arn:<partition>:eks::aws:...
    arns = [f"arn:{partition}:eks::aws:cluster-access-policy/{n}" for n in ACCESS_POLICIES]
    arns, next_token = _page(arns, request)
    return {"accessPolicies": [{"name": a.rsplit("/", 1)[1], "arn": a} for a in arns],
            "nextToken": next_token}


# --- tags on add-on, pod identity association and access entry ARNs (moto knows only its
# own resources; other ARNs go to moto) ---
_PLUGIN_ARN_KINDS = (":addon/", ":podidentityassociation/", ":access-entry/")


def _tagged_resource(ctx, arn):
    """The add-on (addon/<cluster>/<name>/<uuid>), pod identity association
    (podidentityassociation/<cluster>/<association id>) or access entry
    (access-entry/<cluster>/<kind>/<account>/<name>/<uuid>) with ARN ``arn``."""
    parts = arn.split(":", 5)[-1].split("/")
    resource = None
    if parts[0] == "addon" and len(parts) == 4:
        resource = _state(ctx).addons.get(parts[1], {}).get(parts[2])
        key = "addonArn"
    elif parts[0] == "podidentityassociation" and len(parts) == 3:
        resource = _state(ctx).associations.get(parts[1], {}).get(parts[2])
        key = "associationArn"
    elif parts[0] == "access-entry" and len(parts) == 6:
        key = "accessEntryArn"
        entries = _state(ctx).access_entries.get(parts[1], {}).values()
        resource = next((e for e in entries if e[key] == arn), None)
    if resource is None or resource[key] != arn:
        raise _not_found(f"Resource not found: {arn}")
    return resource


def _for_plugin_arn(fn):
    def handler(ctx, request):
        arn = request.get("resourceArn", "")
        if not any(kind in arn for kind in _PLUGIN_ARN_KINDS):
            from localstack.services.moto import dispatch_to_moto

            return dispatch_to_moto(ctx)
        return fn(_tagged_resource(ctx, arn), request)

    return handler


@_for_plugin_arn
def tag_resource(resource, request):
    resource["tags"].update(request.get("tags") or {})
    return {}


@_for_plugin_arn
def untag_resource(resource, request):
    for key in request.get("tagKeys") or []:
        resource["tags"].pop(key, None)
    return {}


@_for_plugin_arn
def list_tags_for_resource(resource, request):
    return {"tags": resource["tags"]}


def _locked(fn):
    def handler(ctx, request):
        with _lock:
            return fn(ctx, request)

    return handler


HANDLERS = {
    op: _locked(fn)
    for op, fn in {
        "CreateAddon": create_addon,
        "DescribeAddon": describe_addon,
        "ListAddons": list_addons,
        "UpdateAddon": update_addon,
        "DeleteAddon": delete_addon,
        "DescribeAddonVersions": describe_addon_versions,
        "UpdateNodegroupConfig": update_nodegroup_config,
        "UpdateClusterVersion": update_cluster_version,
        "UpdateClusterConfig": update_cluster_config,
        "DescribeUpdate": describe_update,
        "CreatePodIdentityAssociation": create_pod_identity_association,
        "DescribePodIdentityAssociation": describe_pod_identity_association,
        "ListPodIdentityAssociations": list_pod_identity_associations,
        "UpdatePodIdentityAssociation": update_pod_identity_association,
        "DeletePodIdentityAssociation": delete_pod_identity_association,
        "CreateAccessEntry": create_access_entry,
        "DescribeAccessEntry": describe_access_entry,
        "ListAccessEntries": list_access_entries,
        "UpdateAccessEntry": update_access_entry,
        "DeleteAccessEntry": delete_access_entry,
        "AssociateAccessPolicy": associate_access_policy,
        "DisassociateAccessPolicy": disassociate_access_policy,
        "ListAssociatedAccessPolicies": list_associated_access_policies,
        "ListAccessPolicies": list_access_policies,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }.items()
}
