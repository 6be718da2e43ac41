#!/usr/bin/env python3
"""Fault-injection HTTP/1.1 proxy between `infra` (AWS SDK for Rust) and the emulator.

Python 3.11 standard library only:

    python3 localstack/fault_proxy.py --upstream http://127.0.0.1:4566 --port 0 --seed 7 \
        [--throttle 0.2] [--error5xx 0.05] [--drop 0.02] [--latency FILE.json] \
        [--hold-at K] [--hold-op OP [--hold-unsent]] [--drop-op OP] [--empty OP=N ...] \
        [--log FILE] [--host 127.0.0.1] [--rewrite-host] [--upstream-timeout 300] [--verbose]

Prints exactly one line ``listening on <port>`` (flushed) and serves until killed; point
the client at it with ``AWS_ENDPOINT_URL=http://127.0.0.1:<port>``. Requests are
forwarded verbatim (method, raw path + query, headers incl. Host and the SigV4
signature, body); responses go back with Content-Length and without hop-by-hop
headers, so client connections stay alive.

Per AWS request (one with a SigV4 credential scope, an X-Amz-Target or an Action) the
proxy detects service, protocol and operation, then draws two numbers from
``random.Random(seed)`` under a lock, in arrival order (the same call sequence gives the
same faults):
  r1 < throttle               -> throttling error in the protocol's shape, not forwarded
  r1 < throttle + error5xx    -> 500 / 503 (alternating) InternalError / ServiceUnavailable
  r2 < drop (Create*, Allocate*, Authorize*, Associate*, Run*, Request*, Put*, Attach*
     calls only)              -> forwarded, response read, connection closed unanswered
Then latency (``--latency``: {"Operation": s, "service:Operation": s, "*": s}) is slept
before forwarding, and the K-th forwarded mutating call (``--hold-at K``; dropped calls
count, the hold wins over the drop) — or the first call of one operation (``--hold-op OP``) —
is forwarded, its response read, ``HOLD <K|OP> <op>``
printed on stdout (flushed) and the request is never answered. With ``--hold-unsent``
every call of ``--hold-op OP`` is held *before* it is forwarded (the emulator never sees
it; ``HOLD OP <op>`` is printed for each): a client killed then stopped between the
calls of a multi-call create (the group made, its default egress not yet revoked).
``--drop-op OP`` drops the response of the first call of OP (a lost response, as ``--drop``).

After the hold or the dropped call, ``--empty OP=N`` (repeatable) answers the next N calls
of OP "not there yet", as an eventually consistent AWS read does in the seconds after a
create: the call is forwarded and its answer rewritten in the protocol's shape (EC2: the
response's first ``...Set`` emptied; JSON: every top-level list emptied, no next page;
ACM ``DescribeCertificate``: the certificate without the validation records ACM has not
published yet). The stats count them as ``faults.empty``.

Control endpoints (not forwarded, no faults): ``GET /__proxy/stats``,
``POST /__proxy/reset`` (zeroes the counters; not the random sequence nor the hold
count). ``--log FILE`` appends one tab-separated line per request:
``time seq service operation fault status``.
"""

import argparse
import email.utils
import http.client
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READ_PREFIXES = ("Describe", "List", "Get")
DROP_PREFIXES = ("Create", "Allocate", "Authorize", "Associate", "Run", "Request", "Put", "Attach")

# RFC 7230 6.1 hop-by-hop headers (+ Expect: the proxy answers 100-continue itself).
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
}

CREDENTIAL_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

# X-Amz-Target prefix -> SigV4 service name (used only without an Authorization header).
TARGET_SERVICES = {
    "TrentService": "kms",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "CertificateManager": "acm",
    "secretsmanager": "secretsmanager",
    "ResourceGroupsTaggingAPI_20170126": "tagging",
}

# xmlns of <ErrorResponse> for the query protocols and Route53.
XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "sqs": "http://queue.amazonaws.com/doc/2012-11-05/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}

# REST operations, (method, requestUri, name), generated from the botocore service models
# (the same Smithy models the Rust SDK is generated from): eks 2017-11-01, route53 2013-04-01.
REST_ROUTES = {
    "eks": [
        ("POST", "/clusters/{name}/access-entries/{principalArn}/access-policies", "AssociateAccessPolicy"),
        ("POST", "/clusters/{name}/encryption-config/associate", "AssociateEncryptionConfig"),
        ("POST", "/clusters/{name}/identity-provider-configs/associate", "AssociateIdentityProviderConfig"),
        ("POST", "/clusters/{name}/access-entries", "CreateAccessEntry"),
        ("POST", "/clusters/{name}/addons", "CreateAddon"),
        ("POST", "/clusters", "CreateCluster"),
        ("POST", "/eks-anywhere-subscriptions", "CreateEksAnywhereSubscription"),
        ("POST", "/clusters/{name}/fargate-profiles", "CreateFargateProfile"),
        ("POST", "/clusters/{name}/node-groups", "CreateNodegroup"),
        ("POST", "/clusters/{name}/pod-identity-associations", "CreatePodIdentityAssociation"),
        ("DELETE", "/clusters/{name}/access-entries/{principalArn}", "DeleteAccessEntry"),
        ("DELETE", "/clusters/{name}/addons/{addonName}", "DeleteAddon"),
        ("DELETE", "/clusters/{name}", "DeleteCluster"),
        ("DELETE", "/eks-anywhere-subscriptions/{id}", "DeleteEksAnywhereSubscription"),
        ("DELETE", "/clusters/{name}/fargate-profiles/{fargateProfileName}", "DeleteFargateProfile"),
        ("DELETE", "/clusters/{name}/node-groups/{nodegroupName}", "DeleteNodegroup"),
        ("DELETE", "/clusters/{name}/pod-identity-associations/{associationId}", "DeletePodIdentityAssociation"),
        ("DELETE", "/cluster-registrations/{name}", "DeregisterCluster"),
        ("GET", "/clusters/{name}/access-entries/{principalArn}", "DescribeAccessEntry"),
        ("GET", "/clusters/{name}/addons/{addonName}", "DescribeAddon"),
        ("GET", "/addons/configuration-schemas", "DescribeAddonConfiguration"),
        ("GET", "/addons/supported-versions", "DescribeAddonVersions"),
        ("GET", "/clusters/{name}", "DescribeCluster"),
        ("GET", "/cluster-versions", "DescribeClusterVersions"),
        ("GET", "/eks-anywhere-subscriptions/{id}", "DescribeEksAnywhereSubscription"),
        ("GET", "/clusters/{name}/fargate-profiles/{fargateProfileName}", "DescribeFargateProfile"),
        ("POST", "/clusters/{name}/identity-provider-configs/describe", "DescribeIdentityProviderConfig"),
        ("GET", "/clusters/{name}/insights/{id}", "DescribeInsight"),
        ("GET", "/clusters/{name}/insights-refresh", "DescribeInsightsRefresh"),
        ("GET", "/clusters/{name}/node-groups/{nodegroupName}", "DescribeNodegroup"),
        ("GET", "/clusters/{name}/pod-identity-associations/{associationId}", "DescribePodIdentityAssociation"),
        ("GET", "/clusters/{name}/updates/{updateId}", "DescribeUpdate"),
        ("DELETE", "/clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}", "DisassociateAccessPolicy"),
        ("POST", "/clusters/{name}/identity-provider-configs/disassociate", "DisassociateIdentityProviderConfig"),
        ("GET", "/clusters/{name}/access-entries", "ListAccessEntries"),
        ("GET", "/access-policies", "ListAccessPolicies"),
        ("GET", "/clusters/{name}/addons", "ListAddons"),
        ("GET", "/clusters/{name}/access-entries/{principalArn}/access-policies", "ListAssociatedAccessPolicies"),
        ("GET", "/clusters", "ListClusters"),
        ("GET", "/eks-anywhere-subscriptions", "ListEksAnywhereSubscriptions"),
        ("GET", "/clusters/{name}/fargate-profiles", "ListFargateProfiles"),
        ("GET", "/clusters/{name}/identity-provider-configs", "ListIdentityProviderConfigs"),
        ("POST", "/clusters/{name}/insights", "ListInsights"),
        ("GET", "/clusters/{name}/node-groups", "ListNodegroups"),
        ("GET", "/clusters/{name}/pod-identity-associations", "ListPodIdentityAssociations"),
        ("GET", "/tags/{resourceArn}", "ListTagsForResource"),
        ("GET", "/clusters/{name}/updates", "ListUpdates"),
        ("POST", "/cluster-registrations", "RegisterCluster"),
        ("POST", "/clusters/{name}/insights-refresh", "StartInsightsRefresh"),
        ("POST", "/tags/{resourceArn}", "TagResource"),
        ("DELETE", "/tags/{resourceArn}", "UntagResource"),
        ("POST", "/clusters/{name}/access-entries/{principalArn}", "UpdateAccessEntry"),
        ("POST", "/clusters/{name}/addons/{addonName}/update", "UpdateAddon"),
        ("POST", "/clusters/{name}/update-config", "UpdateClusterConfig"),
        ("POST", "/clusters/{name}/updates", "UpdateClusterVersion"),
        ("POST", "/eks-anywhere-subscriptions/{id}", "UpdateEksAnywhereSubscription"),
        ("POST", "/clusters/{name}/node-groups/{nodegroupName}/update-config", "UpdateNodegroupConfig"),
        ("POST", "/clusters/{name}/node-groups/{nodegroupName}/update-version", "UpdateNodegroupVersion"),
        ("POST", "/clusters/{name}/pod-identity-associations/{associationId}", "UpdatePodIdentityAssociation"),
    ],
    "route53": [
        ("POST", "/2013-04-01/keysigningkey/{HostedZoneId}/{Name}/activate", "ActivateKeySigningKey"),
        ("POST", "/2013-04-01/hostedzone/{Id}/associatevpc", "AssociateVPCWithHostedZone"),
        ("POST", "/2013-04-01/cidrcollection/{CidrCollectionId}", "ChangeCidrCollection"),
        ("POST", "/2013-04-01/hostedzone/{Id}/rrset/", "ChangeResourceRecordSets"),
        ("POST", "/2013-04-01/tags/{ResourceType}/{ResourceId}", "ChangeTagsForResource"),
        ("POST", "/2013-04-01/cidrcollection", "CreateCidrCollection"),
        ("POST", "/2013-04-01/healthcheck", "CreateHealthCheck"),
        ("POST", "/2013-04-01/hostedzone", "CreateHostedZone"),
        ("POST", "/2013-04-01/keysigningkey", "CreateKeySigningKey"),
        ("POST", "/2013-04-01/queryloggingconfig", "CreateQueryLoggingConfig"),
        ("POST", "/2013-04-01/delegationset", "CreateReusableDelegationSet"),
        ("POST", "/2013-04-01/trafficpolicy", "CreateTrafficPolicy"),
        ("POST", "/2013-04-01/trafficpolicyinstance", "CreateTrafficPolicyInstance"),
        ("POST", "/2013-04-01/trafficpolicy/{Id}", "CreateTrafficPolicyVersion"),
        ("POST", "/2013-04-01/hostedzone/{Id}/authorizevpcassociation", "CreateVPCAssociationAuthorization"),
        ("POST", "/2013-04-01/keysigningkey/{HostedZoneId}/{Name}/deactivate", "DeactivateKeySigningKey"),
        ("DELETE", "/2013-04-01/cidrcollection/{CidrCollectionId}", "DeleteCidrCollection"),
        ("DELETE", "/2013-04-01/healthcheck/{HealthCheckId}", "DeleteHealthCheck"),
        ("DELETE", "/2013-04-01/hostedzone/{Id}", "DeleteHostedZone"),
        ("DELETE", "/2013-04-01/keysigningkey/{HostedZoneId}/{Name}", "DeleteKeySigningKey"),
        ("DELETE", "/2013-04-01/queryloggingconfig/{Id}", "DeleteQueryLoggingConfig"),
        ("DELETE", "/2013-04-01/delegationset/{Id}", "DeleteReusableDelegationSet"),
        ("DELETE", "/2013-04-01/trafficpolicy/{Id}/{Version}", "DeleteTrafficPolicy"),
        ("DELETE", "/2013-04-01/trafficpolicyinstance/{Id}", "DeleteTrafficPolicyInstance"),
        ("POST", "/2013-04-01/hostedzone/{Id}/deauthorizevpcassociation", "DeleteVPCAssociationAuthorization"),
        ("POST", "/2013-04-01/hostedzone/{Id}/disable-dnssec", "DisableHostedZoneDNSSEC"),
        ("POST", "/2013-04-01/hostedzone/{Id}/disassociatevpc", "DisassociateVPCFromHostedZone"),
        ("POST", "/2013-04-01/hostedzone/{Id}/enable-dnssec", "EnableHostedZoneDNSSEC"),
        ("GET", "/2013-04-01/accountlimit/{Type}", "GetAccountLimit"),
        ("GET", "/2013-04-01/change/{Id}", "GetChange"),
        ("GET", "/2013-04-01/checkeripranges", "GetCheckerIpRanges"),
        ("GET", "/2013-04-01/hostedzone/{Id}/dnssec", "GetDNSSEC"),
        ("GET", "/2013-04-01/geolocation", "GetGeoLocation"),
        ("GET", "/2013-04-01/healthcheck/{HealthCheckId}", "GetHealthCheck"),
        ("GET", "/2013-04-01/healthcheckcount", "GetHealthCheckCount"),
        ("GET", "/2013-04-01/healthcheck/{HealthCheckId}/lastfailurereason", "GetHealthCheckLastFailureReason"),
        ("GET", "/2013-04-01/healthcheck/{HealthCheckId}/status", "GetHealthCheckStatus"),
        ("GET", "/2013-04-01/hostedzone/{Id}", "GetHostedZone"),
        ("GET", "/2013-04-01/hostedzonecount", "GetHostedZoneCount"),
        ("GET", "/2013-04-01/hostedzonelimit/{Id}/{Type}", "GetHostedZoneLimit"),
        ("GET", "/2013-04-01/queryloggingconfig/{Id}", "GetQueryLoggingConfig"),
        ("GET", "/2013-04-01/delegationset/{Id}", "GetReusableDelegationSet"),
        ("GET", "/2013-04-01/reusabledelegationsetlimit/{Id}/{Type}", "GetReusableDelegationSetLimit"),
        ("GET", "/2013-04-01/trafficpolicy/{Id}/{Version}", "GetTrafficPolicy"),
        ("GET", "/2013-04-01/trafficpolicyinstance/{Id}", "GetTrafficPolicyInstance"),
        ("GET", "/2013-04-01/trafficpolicyinstancecount", "GetTrafficPolicyInstanceCount"),
        ("GET", "/2013-04-01/cidrcollection/{CidrCollectionId}/cidrblocks", "ListCidrBlocks"),
        ("GET", "/2013-04-01/cidrcollection", "ListCidrCollections"),
        ("GET", "/2013-04-01/cidrcollection/{CidrCollectionId}", "ListCidrLocations"),
        ("GET", "/2013-04-01/geolocations", "ListGeoLocations"),
        ("GET", "/2013-04-01/healthcheck", "ListHealthChecks"),
        ("GET", "/2013-04-01/hostedzone", "ListHostedZones"),
        ("GET", "/2013-04-01/hostedzonesbyname", "ListHostedZonesByName"),
        ("GET", "/2013-04-01/hostedzonesbyvpc", "ListHostedZonesByVPC"),
        ("GET", "/2013-04-01/queryloggingconfig", "ListQueryLoggingConfigs"),
        ("GET", "/2013-04-01/hostedzone/{Id}/rrset", "ListResourceRecordSets"),
        ("GET", "/2013-04-01/delegationset", "ListReusableDelegationSets"),
        ("GET", "/2013-04-01/tags/{ResourceType}/{ResourceId}", "ListTagsForResource"),
        ("POST", "/2013-04-01/tags/{ResourceType}", "ListTagsForResources"),
        ("GET", "/2013-04-01/trafficpolicies", "ListTrafficPolicies"),
        ("GET", "/2013-04-01/trafficpolicyinstances", "ListTrafficPolicyInstances"),
        ("GET", "/2013-04-01/trafficpolicyinstances/hostedzone", "ListTrafficPolicyInstancesByHostedZone"),
        ("GET", "/2013-04-01/trafficpolicyinstances/trafficpolicy", "ListTrafficPolicyInstancesByPolicy"),
        ("GET", "/2013-04-01/trafficpolicies/{Id}/versions", "ListTrafficPolicyVersions"),
        ("GET", "/2013-04-01/hostedzone/{Id}/authorizevpcassociation", "ListVPCAssociationAuthorizations"),
        ("GET", "/2013-04-01/testdnsanswer", "TestDNSAnswer"),
        ("POST", "/2013-04-01/healthcheck/{HealthCheckId}", "UpdateHealthCheck"),
        ("POST", "/2013-04-01/hostedzone/{Id}", "UpdateHostedZoneComment"),
        ("POST", "/2013-04-01/trafficpolicy/{Id}/{Version}", "UpdateTrafficPolicyComment"),
        ("POST", "/2013-04-01/trafficpolicyinstance/{Id}", "UpdateTrafficPolicyInstance"),
    ],
}


def _compile_routes():
    compiled = {}
    for service, routes in REST_ROUTES.items():
        table = []
        for method, uri, name in routes:
            path = uri.split("?", 1)[0].rstrip("/") or "/"
            segments = path.strip("/").split("/")
            parts, literals = [], 0
            for seg in segments:
                if seg.startswith("{") and seg.endswith("+}"):
                    parts.append(".+")
                elif seg.startswith("{") and seg.endswith("}"):
                    parts.append("[^/]+")
                else:
                    parts.append(re.escape(seg))
                    literals += 1
            regex = re.compile("/" + "/".join(parts) + "/?")
            table.append((-literals, -len(segments), method, regex, name))
        table.sort(key=lambda t: (t[0], t[1]))
        compiled[service] = [(m, rx, n) for _, _, m, rx, n in table]
    return compiled


ROUTES = _compile_routes()
# Generic `<METHOD> <template>` name of a REST call no route matches: path segments that
# are literal in some route of the service stay, others become {}; for services without
# routes, lowercase words and API dates stay.
ROUTE_LITERALS = {
    service: {seg for _, uri, _ in routes for seg in uri.split("?", 1)[0].split("/") if "{" not in seg}
    for service, routes in REST_ROUTES.items()
}
LITERAL_SEGMENT = re.compile(r"[a-z][a-z-]*|\d{4}-\d{2}-\d{2}")


def _template(service, path):
    known = ROUTE_LITERALS.get(service)
    keep = (lambda seg: seg in known) if known else LITERAL_SEGMENT.fullmatch
    return "/".join(seg if (seg == "" or keep(seg)) else "{}" for seg in path.split("/")) or "/"


class Call:
    """What a request is: service, protocol, operation, mutating, drop-eligible."""

    def __init__(self, service, protocol, operation, method):
        self.service = service  # SigV4 signing name (ec2, iam, eks, ...), "-" if unknown
        self.protocol = protocol  # ec2 | query | json | rest-json | rest-xml | None (not AWS)
        self.operation = operation
        self.json_content_type = "application/x-amz-json-1.1"
        rest = protocol in ("rest-json", "rest-xml")
        self.mutating = bool(protocol) and not operation.startswith(READ_PREFIXES) and not (
            rest and method in ("GET", "HEAD")
        )
        self.drop_eligible = self.mutating and operation.startswith(DROP_PREFIXES)


def classify(method, path, query, headers, body):
    auth = headers.get("Authorization", "") or ""
    m = CREDENTIAL_RE.search(auth) or CREDENTIAL_RE.search(
        "Credential=" + urllib.parse.unquote(
            urllib.parse.parse_qs(query).get("X-Amz-Credential", [""])[0]
        )
    )
    service = m.group(2) if m else None
    target = headers.get("X-Amz-Target")
    ctype = (headers.get("Content-Type") or "").lower()

    if target:
        prefix, _, op = target.rpartition(".")
        call = Call(service or TARGET_SERVICES.get(prefix, prefix or "-"), "json", op or target, method)
        if "x-amz-json-1.0" in ctype:
            call.json_content_type = "application/x-amz-json-1.0"
        return call

    action = urllib.parse.parse_qs(query).get("Action", [None])[0]
    if action is None and body and ("x-www-form-urlencoded" in ctype or not ctype):
        try:
            action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
        except ValueError:
            action = None
    if action:
        service = service or "-"
        return Call(service, "ec2" if service == "ec2" else "query", action, method)

    if service is None:
        if path.startswith("/2013-04-01/"):
            service = "route53"
        else:
            return Call("-", None, f"{method} {path}", method)  # not an AWS call: no faults
    protocol = "rest-xml" if service in ("route53", "s3", "cloudfront") else "rest-json"
    clean = path.rstrip("/") or "/"
    for route_method, regex, name in ROUTES.get(service, ()):
        if route_method == method and regex.fullmatch(clean):
            return Call(service, protocol, name, method)
    return Call(service, protocol, f"{method} {_template(service, clean)}", method)


def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_response(call, kind):
    """(status, [(header, value)], body) of an injected error in `call`'s protocol.

    kind: "throttle", "500" or "503". Shapes as the botocore parsers (parsers.py:
    EC2QueryParser, QueryParser, BaseJSONParser, RestJSONParser, RestXMLParser) and the
    Rust SDK's ec2_query_errors / rest_xml_wrapped_errors / json_errors read them.
    """
    request_id = str(uuid.uuid4())
    p = call.protocol
    if kind == "throttle":
        if p == "ec2":
            status, code, message = 503, "RequestLimitExceeded", "Request limit exceeded."
        elif p == "json":
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        elif p == "rest-json":
            status, code, message = 429, "TooManyRequestsException", "Too Many Requests"
        else:  # query, rest-xml
            status, code, message = 400, "Throttling", "Rate exceeded"
        error_type = "Sender"
    elif kind == "500":
        status, code, message = 500, "InternalError", "We encountered an internal error. Please try again."
        error_type = "Receiver"
    else:
        status, code, message = 503, "ServiceUnavailable", "Service is unavailable. Please try again later."
        error_type = "Receiver"

    if call.service == "s3":
        # S3 throttles with 503 SlowDown, and its errors are an unwrapped
        # <Error> (no <ErrorResponse>): the SDK's S3 parser finds no code in
        # the query protocols' shape and reports "Unknown".
        if kind == "throttle":
            status, code, message = 503, "SlowDown", "Please reduce your request rate."
        headers = [("x-amz-request-id", request_id), ("Date", email.utils.formatdate(usegmt=True)), ("Content-Type", "application/xml")]
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return status, headers, body.encode("utf-8")
    headers = [("x-amzn-RequestId", request_id), ("Date", email.utils.formatdate(usegmt=True))]
    if p == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif p in ("query", "rest-xml"):
        ns = XML_NAMESPACES.get(call.service)
        if p == "query" and ns is None:
            ns = f"http://{call.service}.amazonaws.com/doc/"
        xmlns = f' xmlns="{ns}"' if ns else ""
        body = (
            f"<?xml version=\"1.0\"?>\n<ErrorResponse{xmlns}><Error><Type>{error_type}</Type>"
            f"<Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif p == "json":
        body = json.dumps({"__type": code, "message": message})
        headers += [("x-amzn-ErrorType", code), ("Content-Type", call.json_content_type)]
    else:  # rest-json
        body = json.dumps({"message": message})
        headers += [("x-amzn-ErrorType", code), ("Content-Type", "application/json")]
    return status, headers, body.encode("utf-8")


EC2_FIRST_SET = re.compile(r"<(\w+Set)>.*?</\1>", re.S)
EC2_NEXT_TOKEN = re.compile(r"<nextToken>.*?</nextToken>", re.S)
JSON_NEXT_PAGE = ("NextToken", "NextMarker", "nextToken", "Marker")


def not_yet(call, payload):
    """`payload` (a successful read's answer) as AWS answers before a new resource shows.

    EC2: the response's first ``<...Set>`` (``vpcSet``, ``keySet``...) is emptied; JSON:
    every top-level list is emptied and there is no next page (KMS ``ListKeys``:
    ``Truncated`` false); ACM ``DescribeCertificate``: the certificate is there but its
    ``DomainValidationOptions`` carry no ``ResourceRecord`` (ACM publishes it seconds
    after ``RequestCertificate``). Anything else is returned unchanged.
    """
    if call.protocol == "ec2":
        text = payload.decode("utf-8")
        text = EC2_FIRST_SET.sub(lambda m: f"<{m.group(1)}/>", text, count=1)
        return EC2_NEXT_TOKEN.sub("", text).encode("utf-8")
    if call.protocol in ("json", "rest-json"):
        try:
            doc = json.loads(payload or b"{}")
        except ValueError:
            return payload
        if call.operation == "DescribeCertificate":
            for option in (doc.get("Certificate") or {}).get("DomainValidationOptions") or []:
                option.pop("ResourceRecord", None)
            return json.dumps(doc).encode("utf-8")
        for key, value in list(doc.items()):
            if isinstance(value, list):
                doc[key] = []
            elif key in JSON_NEXT_PAGE:
                del doc[key]
            elif key == "Truncated":
                doc[key] = False
        return json.dumps(doc).encode("utf-8")
    return payload


class State:
    """Seeded fault schedule and counters; everything under one lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.seq = 0  # AWS requests decided (drives the schedule)
        self.forwarded_mutating = 0  # for --hold-at; not reset by /__proxy/reset
        self.held_op = False  # for --hold-op: only the first call of the operation
        self.dropped_op = False  # for --drop-op: only the first call of the operation
        self.armed = False  # a hold or --drop-op happened: --empty applies from then on
        self.empty_left = dict(args.empty)  # operation -> "not there yet" answers left
        self.fives = 0  # alternates 500 / 503
        self.latency = {}
        if args.latency:
            with open(args.latency) as f:
                self.latency = {str(k): float(v) for k, v in json.load(f).items()}
        self.log_file = open(args.log, "a", buffering=1) if args.log else None
        self.out_lock = threading.Lock()
        self.reset()

    def reset(self):
        self.stats = {
            "total": 0,
            "mutating": 0,
            "forwarded": 0,
            "by_operation": {},
            "by_service": {},
            "faults": {"throttle": 0, "5xx": 0, "drop": 0, "hold": 0, "latency": 0, "empty": 0},
        }

    def decide(self, call):
        """-> (seq, fault, latency_seconds); fault None/throttle/500/503/drop/hold."""
        a = self.args
        with self.lock:
            s = self.stats
            s["total"] += 1
            s["by_operation"][call.operation] = s["by_operation"].get(call.operation, 0) + 1
            s["by_service"][call.service] = s["by_service"].get(call.service, 0) + 1
            if call.mutating:
                s["mutating"] += 1
            if call.protocol is None:  # not an AWS request: forwarded untouched
                s["forwarded"] += 1
                return None, None, 0.0
            self.seq += 1
            seq = self.seq
            r1, r2 = self.rng.random(), self.rng.random()  # always two: stable sequence
            fault = None
            if r1 < a.throttle:
                fault = "throttle"
                s["faults"]["throttle"] += 1
            elif r1 < a.throttle + a.error5xx:
                self.fives += 1
                fault = "500" if self.fives % 2 else "503"
                s["faults"]["5xx"] += 1
            elif a.drop_op and call.operation == a.drop_op and not self.dropped_op:
                self.dropped_op = True
                self.armed = True
                fault = "drop"
            elif call.drop_eligible and r2 < a.drop:
                fault = "drop"
            elif self.armed and self.empty_left.get(call.operation, 0) > 0:
                self.empty_left[call.operation] -= 1
                fault = "empty"
            if fault is None and a.hold_unsent and call.operation == a.hold_op:
                fault = "unsent"
                s["faults"]["hold"] += 1
            if fault in (None, "drop", "empty"):
                s["forwarded"] += 1
                if call.mutating:
                    self.forwarded_mutating += 1
                    if self.forwarded_mutating == a.hold_at:
                        fault = "hold"
                    elif a.hold_op and call.operation == a.hold_op and not self.held_op:
                        self.held_op = True
                        fault = "hold"
                    if fault == "hold":
                        self.armed = True
                if fault:
                    s["faults"][fault] += 1
            delay = 0.0
            if fault in (None, "drop", "hold", "empty"):
                delay = self.latency.get(
                    f"{call.service}:{call.operation}",
                    self.latency.get(call.operation, self.latency.get("*", 0.0)),
                )
                if delay > 0:
                    s["faults"]["latency"] += 1
            return seq, fault, delay

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))

    def out(self, line):
        with self.out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def log(self, seq, call, fault, status, delay):
        if not self.log_file:
            return
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
        what = fault or "-"
        if delay > 0:
            what += f"+latency={delay:g}"
        line = f"{t}\t{seq if seq is not None else '-'}\t{call.service}\t{call.operation}\t{what}\t{status}\n"
        with self.out_lock:
            self.log_file.write(line)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; Expect: 100-continue answered by parse_request
    server_version = "fault-proxy"
    state: State = None  # set in main()

    def log_message(self, fmt, *args):
        if self.state.args.verbose:
            sys.stderr.write("fault_proxy: " + (fmt % args) + "\n")

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # --- request ---------------------------------------------------------------------
    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            u = urllib.parse.urlsplit(target)
            target = u.path + ("?" + u.query if u.query else "")
        path, _, query = target.partition("?")
        body = self._read_body()

        if path.startswith("/__proxy/"):
            return self._control(path)

        call = classify(self.command, path, query, self.headers, body)
        seq, fault, delay = self.state.decide(call)

        if fault in ("throttle", "500", "503"):
            status, headers, payload = error_response(call, fault)
            self.state.log(seq, call, fault, status, 0.0)
            return self._respond(status, http.client.responses.get(status, ""), headers, payload)

        if fault == "unsent":
            self.state.log(seq, call, fault, 0, 0.0)
            self.state.out(f"HOLD {self.state.args.hold_op} {call.operation}")
            threading.Event().wait()  # never forwarded, never answered
        if delay > 0:
            time.sleep(delay)
        try:
            status, reason, headers, payload = self._forward(target, body)
        except Exception as e:  # noqa: BLE001 - upstream unreachable/broken
            self.state.log(seq, call, (fault or "-") + "+upstream-error", 502, delay)
            msg = f"fault_proxy: upstream error: {e!r}".encode()
            return self._respond(502, "Bad Gateway", [("Content-Type", "text/plain")], msg)

        if fault == "drop":
            self.state.log(seq, call, fault, status, delay)
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "empty":
            if any(n.lower() == "content-encoding" for n, _ in headers):
                fault = "empty+encoded-unchanged"
            else:
                payload = not_yet(call, payload)
        if fault == "hold":
            self.state.log(seq, call, fault, status, delay)
            self.state.out(f"HOLD {self.state.args.hold_at or self.state.args.hold_op} {call.operation}")
            threading.Event().wait()  # never answer; the thread is a daemon
        self.state.log(seq, call, fault, status, delay)
        self._respond(status, reason, headers, payload)

    # --- upstream --------------------------------------------------------------------
    def _forward(self, target, body):
        up = self.server.upstream
        cls = http.client.HTTPSConnection if up.scheme == "https" else http.client.HTTPConnection
        conn = cls(up.hostname, up.port or (443 if up.scheme == "https" else 80),
                   timeout=self.state.args.upstream_timeout)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            drop = set(HOP_BY_HOP) | {"content-length"}
            for token in (self.headers.get("Connection") or "").split(","):
                drop.add(token.strip().lower())
            has_host = False
            for name, value in self.headers.items():
                lname = name.lower()
                if lname in drop:
                    continue
                if lname == "host":
                    has_host = True
                    if self.state.args.rewrite_host:
                        value = up.netloc
                conn.putheader(name, value)
            if not has_host:
                conn.putheader("Host", up.netloc)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")  # a fresh upstream connection per call:
            conn.endheaders(body or None)          # never resent on a stale keep-alive
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, resp.reason, resp.getheaders(), payload
        finally:
            conn.close()

    # --- response --------------------------------------------------------------------
    def _respond(self, status, reason, headers, payload):
        lines = [f"HTTP/1.1 {status} {reason or http.client.responses.get(status, '')}"]
        for name, value in headers:
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            lines.append(f"{name}: {value}")
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if self.command == "HEAD":
            cl = [v for n, v in headers if n.lower() == "content-length"]
            lines.append(f"Content-Length: {cl[0] if cl else 0}")
        elif status not in (204, 304):
            lines.append(f"Content-Length: {len(payload)}")
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data if no_body else data + payload)
        self.wfile.flush()

    def _control(self, path):
        hdr = [("Content-Type", "application/json")]
        if path == "/__proxy/stats" and self.command == "GET":
            return self._respond(200, "OK", hdr, json.dumps(self.state.snapshot()).encode())
        if path == "/__proxy/reset" and self.command == "POST":
            with self.state.lock:
                self.state.reset()
            return self._respond(200, "OK", hdr, b'{"reset": true}')
        return self._respond(404, "Not Found", hdr, b'{"error": "unknown control endpoint"}')


def _op_count(text):
    op, sep, n = text.partition("=")
    if not sep or not op or not n.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected OPERATION=N, like DescribeVpcs=3")
    return op, int(n)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--upstream", default="http://127.0.0.1:4566")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--throttle", type=float, default=0.0, help="rate of throttling errors")
    p.add_argument("--error5xx", type=float, default=0.0, help="rate of 500/503 errors")
    p.add_argument("--drop", type=float, default=0.0, help="rate of dropped responses (Create*, ...)")
    p.add_argument("--latency", metavar="FILE.json", help='{"Operation": seconds, "*": seconds}')
    p.add_argument("--hold-at", type=int, default=0, metavar="K", help="hold the K-th forwarded mutating call")
    p.add_argument("--hold-op", default="", metavar="OPERATION", help="hold the first forwarded call of OPERATION (e.g. CreateAccessEntry)")
    p.add_argument("--hold-unsent", action="store_true",
                   help="with --hold-op: hold every call of OPERATION before forwarding it")
    p.add_argument("--drop-op", default="", metavar="OPERATION", help="drop the response of the first call of OPERATION (e.g. CreateVpc)")
    p.add_argument("--empty", action="append", default=[], type=_op_count, metavar="OPERATION=N",
                   help="after the hold or --drop-op, answer the next N calls of OPERATION 'not there yet'")
    p.add_argument("--log", metavar="FILE", help="append one line per request")
    p.add_argument("--rewrite-host", action="store_true", help="send Host: <upstream> instead of the client's")
    p.add_argument("--upstream-timeout", type=float, default=300.0)
    p.add_argument("--verbose", action="store_true", help="access log on stderr")
    args = p.parse_args(argv)
    if args.throttle + args.error5xx > 1.0:
        p.error("--throttle + --error5xx must be <= 1")
    if args.hold_unsent and not args.hold_op:
        p.error("--hold-unsent needs --hold-op")

    Handler.state = State(args)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.upstream = urllib.parse.urlsplit(args.upstream)
    Handler.state.out(f"listening on {server.server_address[1]}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
