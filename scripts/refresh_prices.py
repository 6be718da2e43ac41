#!/usr/bin/env python3
"""Refresh src/cost/prices.toml from the AWS Price List bulk files.

    python3 scripts/refresh_prices.py [--file src/cost/prices.toml] [--dry-run]

For every entry already in the file it finds the matching on-demand price in
the public bulk offer files

    https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<service>/current/<region>/index.json

and rewrites the entry's `usd` and `as_of` (today, UTC). Comments, order and
sources stay as they are; entries are never added (add a line by hand, same
layout, and rerun). Needs only the Python 3.11+ standard library. The EC2
offer of one region is several GB: it is streamed to a temporary file and
parsed member by member, never loaded whole.

Exit status:
  0  every entry found (the file is rewritten where a price changed)
  1  bad arguments, or the price file cannot be read
  2  an offer could not be fetched or parsed (no network, say): the price
     file is left untouched
  3  some entries were not found in the offers: the others are written, the
     missing ones keep their old price and date and are listed

--offers-dir DIR reads DIR/<service>/<region>/index.json (and
DIR/AmazonRoute53/index.json) instead of the network: for a mirror, or for
testing the matching on small files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_BASE = "https://pricing.us-east-1.amazonaws.com"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "src" / "cost" / "prices.toml"
GLOBAL = "global"


class FetchError(Exception):
    pass


# ---------------------------------------------------------------- matching


def _usage_ends(suffix):
    return lambda fam, a: a.get("usagetype", "").endswith(suffix)


def _eq(attrs: dict, key: str, want: str) -> bool:
    return attrs.get(key) == want


def matcher(table: str, item: str):
    """(service, predicate(productFamily, attributes)) for one entry, or None."""
    if table == "eks":
        suffix = {"cluster_hour_standard": "AmazonEKS-Hours:perCluster", "cluster_hour_extended": "AmazonEKS-Hours:extendedSupport"}.get(item)
        return suffix and ("AmazonEKS", _usage_ends(suffix))
    if table == "vpc":
        if item == "nat_gateway_hour":
            return "AmazonEC2", lambda fam, a: fam == "NAT Gateway" and a.get("usagetype", "").endswith("NatGateway-Hours")
        if item == "nat_gateway_gb":
            return "AmazonEC2", lambda fam, a: fam == "NAT Gateway" and a.get("usagetype", "").endswith("NatGateway-Bytes")
        if item == "public_ipv4_hour":
            return "AmazonVPC", _usage_ends("PublicIPv4:InUseAddress")
        return None
    if table == "ebs_gb_month":
        return "AmazonEC2", lambda fam, a: fam == "Storage" and _eq(a, "volumeApiName", item)
    if table == "ec2_instance_hour":
        return "AmazonEC2", lambda fam, a: (
            fam == "Compute Instance"
            and _eq(a, "instanceType", item)
            and _eq(a, "operatingSystem", "Linux")
            and _eq(a, "tenancy", "Shared")
            and _eq(a, "preInstalledSw", "NA")
            and a.get("capacitystatus", "Used") == "Used"
            and a.get("licenseModel", "No License required") == "No License required"
        )
    if table == "rds_postgres_instance_hour":
        return "AmazonRDS", lambda fam, a: (
            fam == "Database Instance"
            and _eq(a, "instanceType", item)
            and _eq(a, "databaseEngine", "PostgreSQL")
            and _eq(a, "deploymentOption", "Single-AZ")
        )
    if table == "rds_storage_gb_month":
        volume = {"gp3": ("General Purpose-GP3", "RDS:GP3-Storage"), "gp2": ("General Purpose", "RDS:GP2-Storage")}.get(item)
        if not volume:
            return None
        return "AmazonRDS", lambda fam, a: (
            fam == "Database Storage"
            and a.get("databaseEngine") == "PostgreSQL"
            and a.get("deploymentOption") == "Single-AZ"
            and (a.get("volumeType") == volume[0] or a.get("usagetype", "").endswith(volume[1]))
        )
    if table == "aurora":
        suffix = {"serverless_v2_acu_hour": "Aurora:ServerlessV2Usage", "storage_gb_month": "Aurora:StorageUsage"}.get(item)
        return suffix and (
            "AmazonRDS",
            lambda fam, a: a.get("usagetype", "").endswith(suffix) and a.get("databaseEngine", "Aurora PostgreSQL") in ("Aurora PostgreSQL", "Any"),
        )
    if table == "kms" and item == "key_month":
        return "awskms", _usage_ends("KMS-Keys")
    if table == "route53" and item == "hosted_zone_month":
        return "AmazonRoute53", lambda fam, a: a.get("usagetype", "").endswith("HostedZone")
    return None


# ---------------------------------------------------------------- streaming JSON

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


class Stream:
    """Walks one large JSON document without loading it: objects are entered
    member by member; only the values asked for are decoded whole."""

    def __init__(self, f, chunk: int = 1 << 20):
        self.f, self.chunk = f, chunk
        self.buf, self.pos, self.eof = "", 0, False

    def _more(self) -> bool:
        data = self.f.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, c: str) -> None:
        got = self.peek()
        if got != c:
            raise ValueError(f"expected {c!r}, found {got!r} near offset {self.pos}")
        self.pos += 1

    def value(self):
        self.peek()
        while True:
            try:
                v, end = _DECODER.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return v
            except json.JSONDecodeError:
                if self.eof:
                    raise
            if not self._more():
                v, self.pos = _DECODER.raw_decode(self.buf, self.pos)
                return v

    def members(self):
        """Yields each key of the object at the cursor; the caller consumes
        its value (value(), or members() again) before the next key."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            self.expect(":")
            yield key
            c = self.peek()
            self.pos += 1
            if c == "}":
                return
            if c != ",":
                raise ValueError(f"expected ',' or '}}', found {c!r}")


def on_demand_usd(sku_terms: dict) -> str | None:
    """The first-tier USD price of an on-demand term, as the file's string."""
    for term in sku_terms.values():
        dims = list(term.get("priceDimensions", {}).values())
        dims.sort(key=lambda d: float(d.get("beginRange", "0") or 0))
        for d in dims:
            usd = d.get("pricePerUnit", {}).get("USD")
            if usd is not None and float(d.get("beginRange", "0") or 0) == 0:
                return usd
    return None


def scan_offer(path: Path, wanted: list[tuple[tuple, object]]) -> dict[tuple, set[str]]:
    """Entry key → the set of prices (strings) of the SKUs that match it."""
    sku_entries: dict[str, list[tuple]] = {}
    found: dict[tuple, set[str]] = {}
    with open(path, encoding="utf-8") as f:
        s = Stream(f)
        for key in s.members():
            if key == "products":
                for sku in s.members():
                    p = s.value()
                    fam, attrs = p.get("productFamily", ""), p.get("attributes", {})
                    # A region's file also lists its Local Zones and Outposts, at other prices.
                    if attrs.get("locationType", "AWS Region") != "AWS Region":
                        continue
                    for entry, pred in wanted:
                        if pred(fam, attrs):
                            sku_entries.setdefault(sku, []).append(entry)
            elif key == "terms":
                for term_type in s.members():
                    for sku in s.members():
                        terms = s.value()
                        if term_type == "OnDemand" and sku in sku_entries:
                            usd = on_demand_usd(terms)
                            if usd is not None:
                                for entry in sku_entries[sku]:
                                    found.setdefault(entry, set()).add(usd)
            else:
                s.value()
    return found


# ---------------------------------------------------------------- fetching


def offer_location(service: str, region: str) -> str:
    if region == GLOBAL:
        return f"{service}/current/index.json"
    return f"{service}/current/{region}/index.json"


def fetch(args, service: str, region: str, workdir: Path) -> Path:
    rel = offer_location(service, region)
    if args.offers_dir:
        local = Path(args.offers_dir) / (f"{service}/index.json" if region == GLOBAL else f"{service}/{region}/index.json")
        if not local.is_file():
            raise FetchError(f"{local}: no such offer file")
        return local
    url = f"{args.base_url.rstrip('/')}/offers/v1.0/aws/{rel}"
    out = workdir / f"{service}-{region}.json"
    print(f"fetching {url}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as r, open(out, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise FetchError(f"{url}: {e}") from e
    return out


# ---------------------------------------------------------------- rewriting

HEADER = re.compile(r'^\[regions\.(?:"([^"]+)"|([A-Za-z0-9_-]+))\.([A-Za-z0-9_]+)\]\s*$')
ENTRY = re.compile(
    r'^(?P<key>"[^"]+"|[A-Za-z0-9_-]+)(?P<pad>\s*)=\s*\{\s*usd\s*=\s*(?P<usd>[0-9.eE+-]+)\s*,'
    r'\s*source\s*=\s*"(?P<source>[^"]*)"\s*,\s*as_of\s*=\s*"(?P<as_of>[^"]*)"\s*\}\s*$'
)


def tidy(usd: str) -> str:
    """`0.0416000000` → `0.0416`, `1.0000000000` → `1.0`."""
    v = f"{float(usd):.10f}".rstrip("0")
    return v + "0" if v.endswith(".") else v


def rewrite(text: str, new: dict[tuple, str], today: str) -> tuple[str, int]:
    out, changed, region, table = [], 0, None, None
    for line in text.splitlines(keepends=True):
        h = HEADER.match(line)
        if h:
            region, table = h.group(1) or h.group(2), h.group(3)
        elif line.startswith("["):
            region = table = None
        m = ENTRY.match(line.rstrip("\n"))
        if m and region and table:
            item = m.group("key").strip('"')
            usd = new.get((region, table, item))
            if usd is not None:
                if float(usd) != float(m.group("usd")):
                    changed += 1
                line = f'{m.group("key")}{m.group("pad")}= {{ usd = {tidy(usd)}, source = "{m.group("source")}", as_of = "{today}" }}\n'
        out.append(line)
    return "".join(out), changed


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", default=str(DEFAULT_FILE), help="the price file (default: src/cost/prices.toml)")
    ap.add_argument("--base-url", default=DEFAULT_BASE, help="Price List bulk API endpoint")
    ap.add_argument("--offers-dir", help="read offer files from this folder instead of the network")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per connection attempt")
    ap.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    args = ap.parse_args(argv)

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"error: cannot read {path}: {e}", file=sys.stderr)
        return 1

    # (service, region) → [(entry, predicate)]
    jobs: dict[tuple[str, str], list] = {}
    unknown = []
    for region, tables in data.get("regions", {}).items():
        for table, items in tables.items():
            for item in items:
                m = matcher(table, item)
                if not m:
                    unknown.append(f"{region}.{table}.{item}")
                    continue
                service, pred = m
                jobs.setdefault((service, region), []).append(((region, table, item), pred))

    new: dict[tuple, str] = {}
    problems = [f"{e}: no rule to find it in the Price List (kept)" for e in unknown]
    with tempfile.TemporaryDirectory(prefix="infra-prices-") as tmp:
        for (service, region), wanted in sorted(jobs.items(), key=lambda j: j[0]):
            try:
                offer = fetch(args, service, region, Path(tmp))
                found = scan_offer(offer, wanted)
            except FetchError as e:
                print(f"error: cannot fetch the {service} offer for {region}: {e}", file=sys.stderr)
                print(f"error: {path} left untouched (the AWS Price List is not reachable from here?)", file=sys.stderr)
                return 2
            except (ValueError, json.JSONDecodeError, OSError) as e:
                print(f"error: cannot parse the {service} offer for {region}: {e}", file=sys.stderr)
                print(f"error: {path} left untouched", file=sys.stderr)
                return 2
            finally:
                if not args.offers_dir:
                    for p in Path(tmp).iterdir():
                        p.unlink()
            for entry, _ in wanted:
                prices = found.get(entry, set())
                name = ".".join(entry)
                if not prices:
                    problems.append(f"{name}: not in the {service} offer (kept)")
                elif len({float(p) for p in prices}) > 1:
                    problems.append(f"{name}: {len(prices)} different prices match ({', '.join(sorted(prices))}) (kept)")
                else:
                    new[entry] = next(iter(prices))

    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    updated, changed = rewrite(text, new, today)
    try:
        tomllib.loads(updated)
    except tomllib.TOMLDecodeError as e:
        print(f"error: the rewritten file would not parse ({e}); {path} left untouched", file=sys.stderr)
        return 2
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(f"{len(new)} prices found, {changed} changed, {len(problems)} not found", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing written", file=sys.stderr)
    elif updated != text:
        tmp_path = path.with_suffix(".toml.tmp")
        tmp_path.write_text(updated, encoding="utf-8")
        os.replace(tmp_path, path)
        print(f"wrote {path}", file=sys.stderr)
    return 3 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
