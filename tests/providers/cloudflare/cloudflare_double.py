#!/usr/bin/env python3
"""A local double of the Cloudflare API v4 DNS endpoints danehook uses, over HTTPS.

Standard library only. Started by the tests with a working directory DIR that holds:
  state.json    initial state (zones, records, accepted credentials, knobs), read at start
  control.json  written by the test; consumed (read and removed) before each request:
                {"faults": [...], "batch_enabled": bool, "batch_limit": n, "page_size": n,
                 "hex_case": "upper"|"lower"|"as_given", "reset_counts": true,
                 "add_records": [{"zone_id", "name", "ttl", "data", "comment"}]}
                A fault is {"kind": "429"|"500"|"503"|"malformed"|"drop"|"lost_answer", "count": n,
                "retry_after": seconds (429 only), "path": substring, "method": "GET"...}.
  stats.json    written after each request: request counts by kind, connections, records
  port          the TCP port, written once listening

The double is strict where Cloudflare is strict and where danehook could go wrong: it checks
the credentials, exact paths and query parameters, and the JSON body shapes and types of TLSA
records (data fields as integers, no `content`), answers with Cloudflare's envelope and error
codes, paginates with a small page size, and runs batches in one transaction (deletes, then
posts) that changes nothing when any operation fails.

Error codes: 10000, 9103, 9106, 6003 (authentication), 7000/7003 (no route / bad identifier),
81044, 81057, 81058 (records) and 971 (rate limit) are Cloudflare's documented or observed
codes. The validation codes (9000, 9005, 9021, 9101, 9207, 1004) and 81507 (batch over the
operation limit) stand in for Cloudflare's; the provider never depends on them, only on the
HTTP status and the documented codes.
"""

import argparse
import copy
import datetime
import http.server
import json
import os
import re
import socketserver
import ssl
import sys
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/client/v4"
HEX = re.compile(r"^[0-9A-Fa-f]+$")


class ApiFailure(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class State:
    def __init__(self, directory):
        self.directory = directory
        with open(os.path.join(directory, "state.json")) as f:
            initial = json.load(f)
        self.lock = threading.Lock()
        self.tokens = set(initial.get("tokens", []))
        self.global_keys = {(k["email"], k["key"]) for k in initial.get("global_keys", [])}
        self.page_size = initial.get("page_size", 2)
        self.batch_limit = initial.get("batch_limit", 200)
        self.batch_enabled = initial.get("batch_enabled", True)
        self.hex_case = initial.get("hex_case", "as_given")
        self.faults = []
        self.counts = {}
        self.connections = 0
        self.zones = {}
        for zone in initial.get("zones", []):
            self.zones[zone["id"]] = {
                "id": zone["id"],
                "name": zone["name"].lower().rstrip("."),
                "status": zone.get("status", "active"),
                "name_servers": zone.get("name_servers", []),
                "records": [],
            }
            for record in zone.get("records", []):
                self.zones[zone["id"]]["records"].append(self.make_record(self.zones[zone["id"]], record))

    def make_record(self, zone, body):
        data = dict(body["data"])
        return {
            "id": uuid.uuid4().hex,
            "zone_id": zone["id"],
            "zone_name": zone["name"],
            "name": self.full_name(zone, body["name"]),
            "type": "TLSA",
            "ttl": body.get("ttl", 1),
            "data": data,
            "proxiable": False,
            "proxied": False,
            "comment": body.get("comment"),
            "tags": [],
            "created_on": now(),
            "modified_on": now(),
        }

    @staticmethod
    def full_name(zone, name):
        name = name.lower().rstrip(".")
        if name == "@":
            return zone["name"]
        if name == zone["name"] or name.endswith("." + zone["name"]):
            return name
        return name + "." + zone["name"]

    def present(self, record):
        shown = copy.deepcopy(record)
        certificate = shown["data"]["certificate"]
        if self.hex_case == "upper":
            certificate = certificate.upper()
        elif self.hex_case == "lower":
            certificate = certificate.lower()
        shown["data"]["certificate"] = certificate
        d = shown["data"]
        shown["content"] = f'{d["usage"]} {d["selector"]} {d["matching_type"]} {certificate}'
        return shown

    def count(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def consume_control(self):
        path = os.path.join(self.directory, "control.json")
        try:
            with open(path) as f:
                control = json.load(f)
        except FileNotFoundError:
            return
        os.unlink(path)
        if control.get("reset_counts"):
            self.counts = {}
            self.connections = 0
        self.faults.extend(control.get("faults", []))
        for key in ("batch_enabled", "batch_limit", "page_size", "hex_case"):
            if key in control:
                setattr(self, key, control[key])
        if "tokens" in control:
            self.tokens = set(control["tokens"])
        for record in control.get("add_records", []):
            zone = self.zones[record["zone_id"]]
            zone["records"].append(self.make_record(zone, record))

    def take_fault(self, method, path):
        for fault in self.faults:
            if fault.get("method") and fault["method"] != method:
                continue
            if fault.get("path") and fault["path"] not in path:
                continue
            fault["count"] = fault.get("count", 1) - 1
            if fault["count"] <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def write_stats(self):
        stats = {
            "counts": self.counts,
            "connections": self.connections,
            "zones": {zid: {"name": z["name"], "records": [self.present(r) for r in z["records"]]}
                      for zid, z in self.zones.items()},
        }
        path = os.path.join(self.directory, "stats.json")
        with open(path + ".tmp", "w") as f:
            json.dump(stats, f, indent=1)
        os.replace(path + ".tmp", path)


def validate_tlsa_body(zone, body, where):
    """Checks a create body as Cloudflare does for TLSA; returns it normalised."""
    if not isinstance(body, dict):
        raise ApiFailure(400, 9207, f"{where}: request body must be a JSON object")
    allowed = {"type", "name", "ttl", "data", "comment", "proxied", "tags"}
    unknown = set(body) - allowed - {"content"}
    if unknown:
        raise ApiFailure(400, 9207, f"{where}: unexpected fields {sorted(unknown)}")
    if body.get("type") != "TLSA":
        raise ApiFailure(400, 9000, f"{where}: DNS record type must be TLSA in this double")
    if "content" in body:
        raise ApiFailure(400, 9005, f"{where}: content is read-only for TLSA records; send data")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiFailure(400, 9000, f"{where}: name is required")
    full = State.full_name(zone, name)
    if not (full == zone["name"] or full.endswith("." + zone["name"])):
        raise ApiFailure(400, 9000, f"{where}: name {name} is outside zone {zone['name']}")
    ttl = body.get("ttl", 1)
    if not is_int(ttl) or not (ttl == 1 or 60 <= ttl <= 86400):
        raise ApiFailure(400, 9021, f"{where}: Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
    data = body.get("data")
    if not isinstance(data, dict) or set(data) != {"usage", "selector", "matching_type", "certificate"}:
        raise ApiFailure(400, 9101, f"{where}: data must hold exactly usage, selector, matching_type, certificate")
    for field, top in (("usage", 3), ("selector", 1), ("matching_type", 2)):
        if not is_int(data[field]) or not 0 <= data[field] <= top:
            raise ApiFailure(400, 9101, f"{where}: data.{field} must be an integer from 0 to {top}")
    certificate = data["certificate"]
    if not isinstance(certificate, str) or not HEX.match(certificate) or len(certificate) % 2:
        raise ApiFailure(400, 9101, f"{where}: data.certificate must be hex")
    expected = {1: 64, 2: 128}.get(data["matching_type"])
    if expected and len(certificate) != expected:
        raise ApiFailure(400, 9101, f"{where}: data.certificate has the wrong length for its matching type")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 100):
        raise ApiFailure(400, 9207, f"{where}: comment must be a string of at most 100 characters")
    if body.get("proxied", False) is not False:
        raise ApiFailure(400, 9004, f"{where}: TLSA records cannot be proxied")
    normal = dict(body)
    normal["name"] = full
    return normal


def identical(a, b):
    return (a["name"] == b["name"]
            and all(a["data"][k] == b["data"][k] for k in ("usage", "selector", "matching_type"))
            and a["data"]["certificate"].lower() == b["data"]["certificate"].lower())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudflare-double/1"
    timeout = 30

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    def log_message(self, format, *args):  # noqa: A002 - no headers, so no secrets, in the log
        sys.stderr.write("double: %s\n" % (format % args))

    def do_GET(self):
        self.handle_api("GET")

    def do_POST(self):
        self.handle_api("POST")

    def do_DELETE(self):
        self.handle_api("DELETE")

    def do_PUT(self):
        self.handle_api("PUT")

    def do_PATCH(self):
        self.handle_api("PATCH")

    def send_json(self, status, payload, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_api(self, method):
        state = self.server.state
        raw = self.read_body()
        # The answer is decided and the stats written before anything is sent, so a test that
        # reads stats.json after its request returns sees that request.
        with state.lock:
            state.consume_control()
            answer = self.decide(method, raw)
            state.write_stats()
        if answer is None:  # dropped connection
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_json(*answer)

    def decide(self, method, raw):
        state = self.server.state
        state.count("requests")
        try:
            fault = state.take_fault(method, self.path)
            if fault and fault["kind"] == "lost_answer":
                # The request is carried out, then the connection drops before the answer.
                state.count("fault_lost_answer")
                try:
                    self.route(method, raw)
                except ApiFailure:
                    pass
                return None
            if fault:
                state.count("fault_" + fault["kind"])
                if fault["kind"] == "drop":
                    return None
                if fault["kind"] == "malformed":
                    return (200, None, None, b'{"success": true, "result": [')
                if fault["kind"] == "429":
                    headers = {}
                    if "retry_after" in fault:
                        headers["Retry-After"] = str(fault["retry_after"])
                    raise ApiFailure(429, 971, "Please wait and consider throttling your request speed", headers)
                status = int(fault["kind"])
                raise ApiFailure(status, 10001 if status >= 500 else 1000, "Internal server error")
            status, result, info = self.route(method, raw)
            payload = {"success": True, "errors": [], "messages": [], "result": result}
            if info is not None:
                payload["result_info"] = info
            return (status, payload)
        except ApiFailure as failure:
            state.count("error_%d" % failure.code)
            return (failure.status, {"success": False,
                                     "errors": [{"code": failure.code, "message": failure.message}],
                                     "messages": [], "result": None}, failure.headers)

    def authenticate(self):
        state = self.server.state
        authorization = self.headers.get("Authorization")
        email = self.headers.get("X-Auth-Email")
        key = self.headers.get("X-Auth-Key")
        if authorization is not None:
            match = re.fullmatch(r"Bearer ([A-Za-z0-9_\-.~+/=]+)", authorization)
            if not match:
                raise ApiFailure(400, 6003, "Invalid request headers (6111: Invalid format for Authorization header)")
            if match.group(1) not in state.tokens:
                state.count("auth_rejected")
                raise ApiFailure(403, 10000, "Authentication error")
            return
        if email is not None or key is not None:
            if not email or not key:
                raise ApiFailure(400, 6003, "Invalid request headers (6102/6103: X-Auth-Email and X-Auth-Key are both required)")
            if (email, key) not in state.global_keys:
                state.count("auth_rejected")
                raise ApiFailure(403, 9103, "Unknown X-Auth-Key or X-Auth-Email")
            return
        raise ApiFailure(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")

    def json_body(self, raw):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise ApiFailure(415, 6000, "Content-Type must be application/json")
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiFailure(400, 6007, "Malformed JSON in request body")

    def route(self, method, raw):
        state = self.server.state
        url = urlsplit(self.path)
        if not url.path.startswith(API_PREFIX + "/"):
            raise ApiFailure(404, 7000, "No route for that URI")
        self.authenticate()
        parts = url.path[len(API_PREFIX) + 1:].split("/")
        query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
        if any(len(v) != 1 for v in query.values()):
            raise ApiFailure(400, 1004, "repeated query parameter")
        query = {k: v[0] for k, v in query.items()}

        if parts == ["zones"] and method == "GET":
            state.count("zone_lookup")
            self.check_query(query, {"name", "page", "per_page", "status"})
            zones = [z for z in state.zones.values() if "name" not in query or z["name"] == query["name"].lower()]
            result = [self.zone_object(z) for z in zones]
            return 200, result, {"page": 1, "per_page": 50, "count": len(result),
                                 "total_count": len(result), "total_pages": 1}
        if len(parts) < 2 or parts[0] != "zones":
            raise ApiFailure(404, 7000, "No route for that URI")
        zone = state.zones.get(parts[1])
        if zone is None:
            raise ApiFailure(404, 7003, f"Could not route to /zones/{parts[1]}, perhaps your object identifier is invalid?")
        rest = parts[2:]
        if rest == [] and method == "GET":
            state.count("zone_get")
            self.check_query(query, set())
            return 200, self.zone_object(zone), None
        if rest == ["dns_records"] and method == "GET":
            state.count("list")
            return self.list_records(zone, query)
        if rest == ["dns_records"] and method == "POST":
            state.count("create")
            self.check_query(query, set())
            body = validate_tlsa_body(zone, self.json_body(raw), "record")
            if any(identical(r, body) for r in zone["records"]):
                raise ApiFailure(400, 81058, "An identical record already exists.")
            record = state.make_record(zone, body)
            zone["records"].append(record)
            return 200, state.present(record), None
        if len(rest) == 2 and rest[0] == "dns_records" and rest[1] == "batch" and method == "POST":
            state.count("batch")
            if not state.batch_enabled:
                raise ApiFailure(404, 7000, "No route for that URI")
            self.check_query(query, set())
            return 200, self.batch(zone, self.json_body(raw)), None
        if len(rest) == 2 and rest[0] == "dns_records" and method == "DELETE":
            state.count("delete")
            self.check_query(query, set())
            for record in zone["records"]:
                if record["id"] == rest[1]:
                    zone["records"].remove(record)
                    return 200, {"id": record["id"]}, None
            raise ApiFailure(404, 81044, "Record does not exist.")
        raise ApiFailure(405 if rest and rest[0] == "dns_records" else 404, 7001 if rest else 7000,
                         f"Method {method} not available for that URI.")

    @staticmethod
    def check_query(query, allowed):
        unknown = set(query) - allowed
        if unknown:
            raise ApiFailure(400, 1004, f"unexpected query parameters {sorted(unknown)}")

    @staticmethod
    def zone_object(zone):
        return {"id": zone["id"], "name": zone["name"], "status": zone["status"],
                "name_servers": zone["name_servers"], "paused": False, "type": "full"}

    def list_records(self, zone, query):
        state = self.server.state
        self.check_query(query, {"type", "name", "page", "per_page"})
        if query.get("type") != "TLSA":
            raise ApiFailure(400, 1004, "this double only lists type=TLSA")
        if not query.get("name"):
            raise ApiFailure(400, 1004, "danehook always filters by name")
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "100"))
        except ValueError:
            raise ApiFailure(400, 1004, "page and per_page must be integers")
        if page < 1 or not 5 <= per_page <= 5000000:
            raise ApiFailure(400, 1004, "page must be >= 1 and per_page from 5")
        size = min(per_page, state.page_size)
        name = query["name"].lower().rstrip(".")
        matches = [r for r in zone["records"] if r["name"] == name]
        total_pages = max(1, -(-len(matches) // size))
        chunk = matches[(page - 1) * size: page * size]
        return 200, [state.present(r) for r in chunk], {
            "page": page, "per_page": size, "count": len(chunk),
            "total_count": len(matches), "total_pages": total_pages}

    def batch(self, zone, body):
        state = self.server.state
        if not isinstance(body, dict) or set(body) - {"deletes", "patches", "puts", "posts"}:
            raise ApiFailure(400, 9207, "batch body holds only deletes, patches, puts, posts")
        for key in body:
            if not isinstance(body[key], list):
                raise ApiFailure(400, 9207, f"batch {key} must be a list")
        if body.get("patches") or body.get("puts"):
            raise ApiFailure(400, 9207, "this double does not implement patches or puts")
        deletes = body.get("deletes", [])
        posts = body.get("posts", [])
        if len(deletes) + len(posts) > state.batch_limit:
            # Cloudflare refuses batches over the plan's operation limit; the code is the double's.
            raise ApiFailure(400, 81507, f"Batch exceeds the limit of {state.batch_limit} operations")
        records = list(zone["records"])  # the transaction works on a copy
        deleted = []
        for i, op in enumerate(deletes):
            if not isinstance(op, dict) or set(op) != {"id"} or not isinstance(op["id"], str):
                raise ApiFailure(400, 9207, f"deletes[{i}] must be {{\"id\": string}}")
            found = next((r for r in records if r["id"] == op["id"]), None)
            if found is None:
                raise ApiFailure(400, 81044, f"deletes[{i}]: Record does not exist.")
            records.remove(found)
            deleted.append(found)
        created = []
        for i, op in enumerate(posts):
            normal = validate_tlsa_body(zone, op, f"posts[{i}]")
            if any(identical(r, normal) for r in records):
                raise ApiFailure(400, 81058, f"posts[{i}]: An identical record already exists.")
            record = state.make_record(zone, normal)
            records.append(record)
            created.append(record)
        zone["records"] = records
        return {"deletes": [state.present(r) for r in deleted], "patches": [], "puts": [],
                "posts": [state.present(r) for r in created]}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    state = State(args.dir)
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["http/1.1"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with state.lock:
        state.write_stats()
    port_file = os.path.join(args.dir, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
