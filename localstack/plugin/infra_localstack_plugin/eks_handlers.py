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
  tags:     TagResource, UntagResource, ListTagsForResource on add-on and pod identity
            association ARNs (other ARNs go to moto).

Every update completes at once (status ``Successful``); add-ons are ACTIVE at once.
Clusters and node groups are moto's; add-ons, updates and pod identity associations
live in ``STATE`` here, per
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


STATE: dict[tuple[str, str], RegionState] = {}  # (account id, region) -> state
_lock = threading.RLock()


def forget_cluster(account_id: str, region: str, cluster: str) -> None:
    """Drop the add-ons, updates and pod identity associations of a deleted cluster (AWS
    deletes add-ons and associations with it)."""
    with _lock:
        state = STATE.get((account_id, region))
        if state:
            state.addons.pop(cluster, None)
            state.updates.pop(cluster, None)
            state.associations.pop(cluster, None)
            state.association_tokens.pop(cluster, None)


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


# --- tags on add-on and pod identity association ARNs (moto knows only its own
# resources; other ARNs go to moto) ---
def _tagged_resource(ctx, arn):
    """The add-on (addon/<cluster>/<name>/<uuid>) or pod identity association
    (podidentityassociation/<cluster>/<association id>) with ARN ``arn``."""
    parts = arn.split(":", 5)[-1].split("/")
    resource = None
    if parts[0] == "addon" and len(parts) == 4:
        resource = _state(ctx).addons.get(parts[1], {}).get(parts[2])
        key = "addonArn"
    elif parts[0] == "podidentityassociation" and len(parts) == 3:
        resource = _state(ctx).associations.get(parts[1], {}).get(parts[2])
        key = "associationArn"
    if resource is None or resource[key] != arn:
        raise _not_found(f"Resource not found: {arn}")
    return resource


def _for_plugin_arn(fn):
    def handler(ctx, request):
        arn = request.get("resourceArn", "")
        if ":addon/" not in arn and ":podidentityassociation/" not in arn:
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
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }.items()
}
