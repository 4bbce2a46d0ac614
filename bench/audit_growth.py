#!/usr/bin/env python3
"""Audit growth per 1,000 requests, for sizing disks (bench/README.md, "Audit growth").

Seeds a demo database with `kim demo seed`, starts `kim serve` on it, then sends N requests of
each kind as a demo case manager and reports the bytes the audit tables (audit_batches,
audit_objects, audit_items and their indexes, measured with SQLite's dbstat) grew per 1,000
requests:
  read    GET /api/v1/cases/{id}            (one audited object)
  list    GET /api/v1/cases?limit=50        (one item per case on the page)
  write   POST /api/v1/cases/{id}/notes     (one audited change)
Usage: bench/audit_growth.py [--kim build/rel/bin/kim] [--requests 1000]
"""
import argparse, json, os, re, shutil, socket, sqlite3, subprocess, sys, tempfile, time
import urllib.request

AUDIT = ("audit_batches", "audit_objects", "audit_items", "audit_batches_user",
         "audit_batches_kind", "audit_objects_case", "audit_items_object",
         "sqlite_autoindex_audit_objects_1")


def audit_bytes(db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marks = ",".join("?" * len(AUDIT))
    used = con.execute(
        f"SELECT sum(pgsize - unused) FROM dbstat WHERE name IN ({marks})", AUDIT).fetchone()[0]
    con.close()
    return used or 0


def call(port, token, method, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kim", default="build/rel/bin/kim")
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kim_audit_growth_")
    try:
        source = json.load(open("config/kreis-steinfurt.json"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        source["server"] = {"listen": f"127.0.0.1:{port}"}
        source["data_dir"] = os.path.join(work, "data")
        source["plugins"] = {"settings": {}}
        source.pop("connectors", None)
        for partner in source.get("partners", []):
            partner.pop("connector", None)
        config = os.path.join(work, "kim.json")
        json.dump(source, open(config, "w"))
        seeded = subprocess.run([args.kim, "demo", "seed", "--config", config,
                                 "--demo-data", "config/demo"],
                                capture_output=True, text=True, check=True).stdout
        token = next(line.split()[-1] for line in seeded.splitlines()
                     if re.search(r"\bcase_manager\b", line) and "kim_" in line)
        server = subprocess.Popen([args.kim, "serve", "--config", config],
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(500):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health")
                    break
                except OSError:
                    time.sleep(0.02)
            db = os.path.join(work, "data", "kim.sqlite3")
            cases = call(port, token, "GET", "/api/v1/cases?limit=50")["items"]
            open_cases = [c["id"] for c in cases if c["phase"] != "closed"]
            kinds = {
                "read": lambda i: call(port, token, "GET", "/api/v1/cases/" + cases[i % len(cases)]["id"]),
                "list": lambda i: call(port, token, "GET", "/api/v1/cases?limit=50"),
                "write": lambda i: call(port, token, "POST",
                                        "/api/v1/cases/" + open_cases[i % len(open_cases)] + "/notes",
                                        {"occurred_on": time.strftime("%Y-%m-%d"), "kind": "phone",
                                         "text": "Kurzer Anruf"}),
            }
            print(f"list pages hold {len(cases)} cases; sqlite {sqlite3.sqlite_version}")
            print(f"{'request':<8} {'bytes/request':>14} {'per 1,000 requests':>20}")
            for name, send in kinds.items():
                before = audit_bytes(db)
                for i in range(args.requests):
                    send(i)
                grown = audit_bytes(db) - before
                print(f"{name:<8} {grown / args.requests:>14.0f} {grown * 1000 / args.requests / 1024:>17.0f} KiB")
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
