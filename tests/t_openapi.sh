#!/bin/bash
# t_openapi.sh - docs/openapi.yaml against the real answers of a running
# `stsguard serve`: every operation the file lists is called (with a
# success and its errors), each answer's status must be one the file
# lists for it, its Content-Type one of the operation's, and a JSON body
# must validate against the schema (python3-jsonschema, python3-yaml;
# OpenAPI 3.0's "nullable" read as JSON Schema's null type). A route the
# daemon answers that the file does not list fails, and so does an
# operation of the file that no call reached with a 2xx.
#
# Own loopback address and random port; the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.openapi.test

$PY -c 'import jsonschema, yaml' 2>/dev/null || {
	bad "python3-jsonschema and python3-yaml are needed (scripts/deps.sh)"
	finish; exit; }

sg tenant add acme > /dev/null
sg tenant add globex > /dev/null
sg domain add example.com --tenant acme --mode testing --mx mail.example.com > /dev/null
sg domain add a1.example --tenant acme --mx mx.a1.example > /dev/null
sg domain add g1.example --tenant globex --mx mx.g1.example > /dev/null
sg report import "$TOP"/tests/data/reports/00[1-5]*.json > /dev/null 2>&1
TA=$(sg token create --tenant acme | tail -1)
TG=$(sg token create --tenant globex --read-only | tail -1)

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" curl -sS -o /dev/null --cacert "$DIR/data/local-ca.pem" \
    --resolve "$SH:$PORT:$IP" "https://$SH:$PORT/api/v1/domains" || exit 1

RID=$(sg report list --domain example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

$PY - "$TOP/docs/openapi.yaml" "$DIR/data/local-ca.pem" "$IP" "$PORT" "$SH" \
    "$TA" "$TG" "$RID" <<'PYEOF'
import http.client, json, re, socket, ssl, sys
import jsonschema, yaml

spec_file, ca, ip, port, sh, ta, tg, rid = sys.argv[1:]
spec = yaml.safe_load(open(spec_file))
fails = 0

def ok(m): print("ok   " + m)
def bad(m):
    global fails
    fails += 1
    print("FAIL " + m)

def nullable(x):
    """OpenAPI 3.0 -> JSON Schema: nullable: true admits null."""
    if isinstance(x, dict):
        x = {k: nullable(v) for k, v in x.items()}
        if x.pop("nullable", False):
            if "type" in x:
                x["type"] = [x["type"], "null"]
            if "enum" in x:
                x["enum"] = x["enum"] + [None]
            if "$ref" in x:
                x = {"anyOf": [{"$ref": x.pop("$ref")}, {"type": "null"}]}
        return x
    if isinstance(x, list):
        return [nullable(v) for v in x]
    return x

components = nullable(spec["components"])

def resolve(x):
    while isinstance(x, dict) and "$ref" in x:
        node = spec
        for part in x["$ref"][2:].split("/"):
            node = node[part]
        x = node
    return x

def operation(method, path):
    p = path.split("?")[0]
    for tpl, item in spec["paths"].items():
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tpl) + "$"
        if re.match(rx, p) and method.lower() in item:
            # a literal path wins over a template (/domains/import)
            lit = [t for t in spec["paths"] if t == p and method.lower() in spec["paths"][t]]
            if lit and lit[0] != tpl:
                continue
            return tpl, item[method.lower()]
    return None, None

ctx = ssl.create_default_context(cafile=ca)
reached = set()

def call(method, path, tok, want, body=None, ctype=None):
    # SNI and Host are the service host; the socket goes to ip
    conn = http.client.HTTPSConnection(sh, int(port), context=ctx, timeout=20)
    conn._create_connection = lambda addr, *a, **k: socket.create_connection((ip, int(port)), *a, **k)
    h = {}
    if tok:
        h["Authorization"] = "Bearer " + tok
    if ctype:
        h["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    ct = (r.getheader("Content-Type") or "").split(";")[0].strip()
    conn.close()
    what = "%s %s -> %d" % (method, path, r.status)
    if r.status != want:
        bad("%s, not %d: %s" % (what, want, data[:200]))
        return None
    tpl, op = operation(method, path)
    if op is None:
        bad("%s: not in openapi.yaml" % what)
        return None
    resp = op["responses"].get(str(r.status))
    if resp is None:
        bad("%s: status not listed for %s %s" % (what, method, tpl))
        return None
    resp = resolve(resp)
    content = resp.get("content", {})
    if ct not in content:
        bad("%s: Content-Type %s not one of %s" % (what, ct, list(content)))
        return None
    if r.status < 300:
        reached.add((tpl, method.lower()))
    if ct == "application/json":
        schema = dict(nullable(content[ct]["schema"]))
        schema["components"] = components
        try:
            doc = json.loads(data)
            jsonschema.validate(doc, schema)
        except Exception as e:
            bad("%s: does not match its schema: %s" % (what, str(e).splitlines()[0]))
            return None
        ok("%s matches %s %s" % (what, method, tpl))
        return doc
    ok("%s (%s) listed for %s %s" % (what, ct, method, tpl))
    return data

J = "application/json"
call("GET", "/api/v1/domains", None, 401)
call("GET", "/api/v1/domains", ta, 200)
call("GET", "/api/v1/domains?limit=1", ta, 200)
call("GET", "/api/v1/domains?limit=0", ta, 400)
call("GET", "/api/v1/domains?format=csv", ta, 200)
call("POST", "/api/v1/domains", ta, 201, json.dumps({"name": "new.example",
     "mode": "enforce", "mx": ["mx.new.example"], "max_age": 86400}), J)
call("POST", "/api/v1/domains", ta, 409, json.dumps({"name": "new.example",
     "mx": ["mx.new.example"]}), J)
call("POST", "/api/v1/domains", ta, 400, "{", J)
call("POST", "/api/v1/domains", tg, 403, "{}", J)
call("POST", "/api/v1/domains", ta, 415, "{}", "text/plain")
call("POST", "/api/v1/domains/import", ta, 201,
     "imp1.example,,testing,mx.imp.example,\nimp2.example,,none,,\n", "text/csv")
call("POST", "/api/v1/domains/import", ta, 422,
     "imp1.example,,testing,mx.imp.example,\nimp3.example,,strict,,\n", "text/csv")
call("POST", "/api/v1/domains/import", ta, 400, "# nothing\n", "text/csv")
call("GET", "/api/v1/domains/new.example", ta, 200)
call("GET", "/api/v1/domains/g1.example", ta, 404)
call("PATCH", "/api/v1/domains/new.example", ta, 200, json.dumps({"mode": "testing"}), J)
call("PATCH", "/api/v1/domains/new.example", ta, 400, json.dumps({"mode": "strict"}), J)
call("DELETE", "/api/v1/domains/new.example", ta, 200)
call("DELETE", "/api/v1/domains/new.example", ta, 409)
call("PATCH", "/api/v1/domains/new.example", ta, 409, json.dumps({"mode": "none"}), J)
call("GET", "/api/v1/domains/example.com/stats", ta, 200)
call("GET", "/api/v1/domains/example.com/stats?from=2026-05-12&to=2026-05-12", ta, 200)
call("GET", "/api/v1/domains/example.com/stats?format=csv", ta, 200)
call("GET", "/api/v1/domains/example.com/stats?from=May", ta, 400)
call("GET", "/api/v1/domains/example.com/reports", ta, 200)
call("GET", "/api/v1/domains/example.com/reports?limit=1&format=csv", ta, 200)
call("GET", "/api/v1/domains/example.com/readiness", ta, 200)
call("GET", "/api/v1/domains/g1.example/readiness", ta, 404)
call("GET", "/api/v1/domains/example.com/adoption", ta, 200)
call("GET", "/api/v1/domains/example.com/adoption?from=2026-05-01&to=2026-05-31", ta, 200)
call("GET", "/api/v1/domains/example.com/adoption?from=May", ta, 400)
call("GET", "/api/v1/domains/example.com/fetches", ta, 200)
call("GET", "/api/v1/domains/example.com/fetches?to=x", ta, 400)
call("GET", "/api/v1/domains/example.com/check", ta, 404)
call("POST", "/api/v1/domains/g1.example/check", ta, 404)
call("POST", "/api/v1/domains/g1.example/check", tg, 403)
call("POST", "/api/v1/domains/example.com/check", ta, 200)
call("GET", "/api/v1/domains/example.com/check", ta, 200)
call("POST", "/api/v1/domains/new.example/check", ta, 409)
call("GET", "/api/v1/reports", ta, 200)
call("GET", "/api/v1/reports?limit=2&provenance=import&from=2026-05-01&to=2026-06-01", ta, 200)
call("GET", "/api/v1/reports?domain=g1.example", ta, 404)
call("GET", "/api/v1/reports?cursor=x", ta, 400)
call("GET", "/api/v1/reports/%s" % rid, ta, 200)
call("GET", "/api/v1/reports/%s" % rid, tg, 404)
call("GET", "/api/v1/reports/%s/raw" % rid, ta, 200)
call("GET", "/api/v1/reports/1/raw", ta, 200)
call("GET", "/api/v1/reports/999999/raw", ta, 404)

every = {(t, m) for t, item in spec["paths"].items() for m in item
         if m in ("get", "post", "patch", "delete", "put")}
missing = sorted(every - reached)
if missing:
    bad("operations of openapi.yaml no call reached with a 2xx: %s" % missing)
else:
    ok("every operation of openapi.yaml answered as described (%d)" % len(every))
sys.exit(1 if fails else 0)
PYEOF
[ $? -eq 0 ] || bad "the API does not answer as docs/openapi.yaml says"

serve_stop
log_clean "$DIR/serve.log"
finish
