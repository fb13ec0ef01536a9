#!/usr/bin/env python3
"""Aggregates the schemathesis cassettes of scripts/api-fuzz.sh.

    api_fuzz_report.py [--st-status N] [--seconds S] OPENAPI.json cassette-ROLE.yaml...

Maps every recorded request to its operationId (method and path template of the document),
prints the statuses each role saw per operation, lists server errors (5xx) and failed checks,
and exits non-zero if any operation never got a 2xx from any role, any 5xx was seen, any check
failed, or schemathesis itself reported a failure (--st-status non-zero).
"""

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from urllib.parse import urlsplit

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
}
SHORT = {
    "anonymous": "anon",
    "registry_admin": "admin",
    "registry_officer": "officer",
    "account_representative": "acct_rep",
    "jc_member": "jc",
    "verifier": "verifier",
    "national_authority": "nat_auth",
    "participant": "particip",
    "auditor": "auditor",
}


def operations(doc):
    """[(method, template segments, operationId)] in document order."""
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                ops.append((method.upper(), path.strip("/").split("/"), op["operationId"]))
    return ops


def match(ops, method, path):
    segs = path.strip("/").split("/")
    for m, tpl, op_id in ops:
        if m != method or len(tpl) != len(segs):
            continue
        if all(t == s or (t.startswith("{") and t.endswith("}") and s) for t, s in zip(tpl, segs)):
            return op_id
    return None


def body_text(part):
    body = (part or {}).get("body") or {}
    if "string" in body:
        return body["string"] or ""
    if "base64_string" in body:
        return "<base64 body>"
    return ""


def one_line(s, n=400):
    s = re.sub(r"\s+", " ", s or "").strip()
    return s if len(s) <= n else s[: n - 3] + "..."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--st-status", type=int, default=0)
    ap.add_argument("--seconds", type=int, default=None)
    ap.add_argument("openapi")
    ap.add_argument("cassettes", nargs="+")
    a = ap.parse_args()

    with open(a.openapi) as f:
        ops = operations(json.load(f))
    op_ids = [o[2] for o in ops]

    seen = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))  # op -> role -> status -> n
    roles = []
    requests = 0
    unmatched = defaultdict(int)
    server_errors = {}  # (op, role, status) -> (count, example)
    failures = {}  # (op, role, status, check) -> (count, example)
    no_response = 0

    for path in a.cassettes:
        role = re.sub(r"^cassette-|\.ya?ml$", "", os.path.basename(path))
        roles.append(role)
        with open(path) as f:
            cas = yaml.load(f, Loader=Loader) or {}
        for it in cas.get("http_interactions") or []:
            req = it.get("request") or {}
            resp = it.get("response")
            requests += 1
            method = (req.get("method") or "").upper()
            url = urlsplit(req.get("uri") or "")
            op = match(ops, method, url.path)
            if op is None:
                unmatched[f"{method} {url.path}"] += 1
                op = f"{method} {url.path}"
            if not resp:
                no_response += 1
                seen[op][role]["ERR"] += 1
                continue
            status = int(resp["status"]["code"])
            seen[op][role][status] += 1
            example = (
                f"{method} {url.path}{'?' + url.query if url.query else ''}"
                f" body={one_line(body_text(req), 200)!s} -> {status} {one_line(body_text(resp))}"
            )
            if status >= 500:
                k = (op, role, status)
                n, ex = server_errors.get(k, (0, example))
                server_errors[k] = (n + 1, ex)
            for c in it.get("checks") or []:
                if c.get("name") in CHECKS and c.get("status") == "FAILURE":
                    if c["name"] == "not_a_server_error":
                        continue  # counted as a server error above
                    k = (op, role, status, c["name"])
                    n, ex = failures.get(k, (0, f"{example}\n      {one_line(c.get('message') or '', 600)}"))
                    failures[k] = (n + 1, ex)

    # The table: per operation, the distinct statuses each role saw.
    cols = [SHORT.get(r, r) for r in roles]
    width = max(len(o) for o in op_ids + ["operationId"])
    cells = {}
    for op in op_ids:
        for r in roles:
            st = seen[op][r]
            cells[(op, r)] = ",".join(str(s) for s in sorted(st, key=str)) or "-"
    colw = {r: max(len(SHORT.get(r, r)), *(len(cells[(o, r)]) for o in op_ids)) for r in roles}
    print()
    print(f"{'operationId':<{width}}  2xx  " + "  ".join(f"{SHORT.get(r, r):<{colw[r]}}" for r in roles))
    never = []
    for op in op_ids:
        ok = any(200 <= s < 300 for r in roles for s in seen[op][r] if isinstance(s, int))
        if not ok:
            never.append(op)
        print(
            f"{op:<{width}}  {'yes' if ok else 'NO '}  "
            + "  ".join(f"{cells[(op, r)]:<{colw[r]}}" for r in roles)
        )
    print()

    if unmatched:
        # Methods a path does not support (the coverage phase tries them) and malformed paths.
        by = defaultdict(int)
        for k, n in unmatched.items():
            method = k.split(" ", 1)[0]
            for r in roles:
                for s, c in seen[k][r].items():
                    by[(method, s)] += c
        print(
            "Requests outside the document (method/status): "
            + ", ".join(f"{m} {s} x{n}" for (m, s), n in sorted(by.items(), key=str))
        )
    if server_errors:
        print("Server errors (5xx):")
        for (op, role, status), (n, ex) in sorted(server_errors.items()):
            print(f"  {op} [{role}] {status} x{n}\n      {ex}")
    if failures:
        print("Failed checks:")
        for (op, role, status, check), (n, ex) in sorted(failures.items()):
            print(f"  {op} [{role}] {status} {check} x{n}\n      {ex}")
    if never:
        print("Operations without any 2xx response:")
        for op in never:
            per = "; ".join(f"{r}: {cells[(op, r)]}" for r in roles)
            print(f"  {op}  ({per})")

    n_5xx = sum(n for n, _ in server_errors.values())
    n_fail = sum(n for n, _ in failures.values())
    tail = (
        "all operations had a 2xx"
        if not never
        else f"{len(never)} operations without a 2xx ({', '.join(never)})"
    )
    extra = ""
    if no_response:
        extra += f", {no_response} requests without a response"
    if a.st_status:
        extra += ", schemathesis reported failures"
    if a.seconds is not None:
        extra += f", {a.seconds}s"
    print(
        f"api-fuzz: {len(op_ids)} operations, {requests} requests, {n_5xx} server errors, "
        f"{n_fail} schema failures, {tail}{extra}"
    )
    bad = never or n_5xx or n_fail or no_response or a.st_status
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
