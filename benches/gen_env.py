#!/usr/bin/env python3
"""Synthetic environment generator for infra's benchmarks.

    python3 benches/gen_env.py N OUT_DIR [--env NAME] [--with-state]

Writes OUT_DIR/plans/<env>.toml with about N resources of real kinds in
realistic proportions, as `[resources."<address>"]` entries with explicit
`${address.output}` references (valid for infra and for the emulator).
One "unit" is a VPC with an internet gateway, 6 subnets, 3 route tables with a route each and 6
associations, 4 security groups with 24 standalone rules, 3 IAM roles with 6
policy attachments, an SQS queue, a KMS key and 2 Route53 records (in one
zone for the whole env): 59 resources.

With --with-state it also writes OUT_DIR/state/<env>.db holding every
resource as already applied (fake ids, properties equal to the plan's), so
`infra plan --refresh=false` measures load + graph + state + diff with no
changes to find. The schema is read from src/state/migrations.rs, so the
fixture always matches the binary.
"""

import argparse
import json
import pathlib
import re
import sqlite3
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def unit(u, env):
    """Yield (address, kind, props) for one unit; refs as ${addr.output}."""
    a = u % 250
    domain = f"{env}.bench.example.com"
    if u == 0:
        yield "route53_zone.bench", "Route53Zone", {"name": domain, "comment": "bench", "tags": {"Name": domain}}
    # Records: one zone for the env, a few names per unit (one list call reads 300).
    for r, (rtype, value) in enumerate([("A", f"10.{a}.0.10"), ("TXT", f'"unit={u}"')]):
        yield f"route53_record.u{u}_{r}", "Route53Record", {"zone_id": "${route53_zone.bench.id}", "name": f"u{u}-{r}.{domain}.",
                                                           "type": rtype, "ttl": 300, "records": [value]}
    vpc = f"vpc.u{u}"
    yield vpc, "Vpc", {"cidr": f"10.{a}.0.0/16", "enable_dns_support": True,
                        "enable_dns_hostnames": True, "tags": {"Name": f"{env}-u{u}"}}
    igw = f"internet_gateway.u{u}"
    yield igw, "InternetGateway", {"vpc_id": f"${{{vpc}.id}}", "tags": {"Name": f"{env}-u{u}"}}
    subnets = []
    for i in range(6):
        s = f"subnet.u{u}_{i}"
        subnets.append(s)
        yield s, "Subnet", {"vpc_id": f"${{{vpc}.id}}", "cidr": f"10.{a}.{i * 16}.0/20",
                            "az": "us-east-1" + "abc"[i % 3], "map_public_ip_on_launch": i < 2,
                            "tags": {"Name": f"bench-u{u}-{i}"}}
    for t in range(3):
        rt = f"route_table.u{u}_{t}"
        yield rt, "RouteTable", {"vpc_id": f"${{{vpc}.id}}", "tags": {"Name": f"bench-u{u}-rt{t}"}}
        yield f"route.u{u}_{t}", "Route", {"route_table_id": f"${{{rt}.id}}", "destination_cidr": f"192.168.{t}.0/24",
                                           "gateway_id": f"${{{igw}.id}}"}
        for s in subnets[t * 2:(t + 1) * 2]:
            yield f"route_table_association.{s.split('.')[1]}", "RouteTableAssociation", {
                "route_table_id": f"${{{rt}.id}}", "subnet_id": f"${{{s}.id}}"}
    for g in range(4):
        sg = f"security_group.u{u}_{g}"
        yield sg, "SecurityGroup", {"vpc_id": f"${{{vpc}.id}}", "name": f"{env}-u{u}-{g}", "description": "bench",
                                    "tags": {"Name": f"bench-u{u}-sg{g}"}}
        for r in range(6):
            yield f"security_group_rule.u{u}_{g}_{r}", "SecurityGroupRule", {
                "group_id": f"${{{sg}.id}}", "direction": "ingress", "protocol": "tcp", "from_port": 1000 + r,
                "to_port": 1000 + r, "cidr": f"10.{a}.0.0/16", "description": f"rule {r}",
                "tags": {"Name": f"bench-u{u}-sg{g}-r{r}"}}
    for i in range(3):
        role = f"iam_role.u{u}_{i}"
        yield role, "IamRole", {"name": f"{env}-u{u}-{i}", "path": "/", "assume_role_policy": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                   "Action": "sts:AssumeRole"}]}, "tags": {"Name": f"bench-u{u}-{i}"}}
        for p, policy in enumerate(["AmazonSSMManagedInstanceCore", "AmazonEC2ContainerRegistryReadOnly"]):
            yield f"iam_role_policy_attachment.u{u}_{i}_{p}", "IamRolePolicyAttachment", {
                "role": f"${{{role}.name}}", "policy_arn": f"arn:aws:iam::aws:policy/{policy}"}
    yield f"sqs_queue.u{u}", "SqsQueue", {"name": f"{env}-u{u}", "sse": True, "message_retention_seconds": 300,
                                          "tags": {"Name": f"bench-u{u}"}}
    yield f"kms_key.u{u}", "KmsKey", {"description": f"bench u{u}", "enable_rotation": True,
                                      "tags": {"Name": f"bench-u{u}"}}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


REF = re.compile(r"\$\{([a-z_0-9]+\.[a-z_0-9]+)\.([a-z_]+)\}")


def resolve(v, ids):
    if isinstance(v, str):
        return REF.sub(lambda m: ids[m.group(1)][m.group(2)], v)
    if isinstance(v, list):
        return [resolve(x, ids) for x in v]
    if isinstance(v, dict):
        return {resolve(k, ids): resolve(x, ids) for k, x in v.items()}
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--env", default="bench")
    ap.add_argument("--with-state", action="store_true")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    (out / "plans").mkdir(parents=True, exist_ok=True)
    resources = []
    u = 0
    while len(resources) < args.n:
        resources.extend(unit(u, args.env))
        u += 1
    resources = resources[: args.n]
    # Drop resources whose references point past the cut.
    names = {a for a, _, _ in resources}
    resources = [r for r in resources if all(m.group(1) in names for m in REF.finditer(json.dumps(r[2])))]
    lines = ['project = "bench"', 'region = "us-east-1"', ""]
    for address, kind, props in resources:
        lines.append(f'[resources."{address}"]')
        lines.append(f'kind = "{kind}"')
        lines.append(f"props = {toml_value(props)}")
        lines.append("")
    (out / "plans" / f"{args.env}.toml").write_text("\n".join(lines))
    if args.with_state:
        write_state(out, args.env, resources)
    print(f"{len(resources)} resources in {out / 'plans' / (args.env + '.toml')}")


def write_state(out, env, resources):
    src = (ROOT / "src/state/migrations.rs").read_text()
    sql = re.search(r'MIGRATIONS: &\[&str\] = &\[\s*//[^\n]*\n\s*"(.*?)",\n\];', src, re.S).group(1)
    (out / "state").mkdir(exist_ok=True)
    path = out / "state" / f"{env}.db"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(sql)
    db.execute("PRAGMA user_version = 1")
    ids = {}
    now = int(time.time())
    rows = []
    for n, (address, kind, props) in enumerate(resources):
        ident = f"{env}-{n:08x}"
        ids[address] = {"id": ident, "name": props.get("name", ident), "arn": f"arn:aws:bench:::{ident}", "url": ident}
        resolved = resolve(props, ids)
        deps = sorted({m.group(1) for m in REF.finditer(json.dumps(props))})
        rows.append((address, kind, ident, json.dumps(resolved), json.dumps(ids[address]), json.dumps(deps), 0, now))
    db.executemany("INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
