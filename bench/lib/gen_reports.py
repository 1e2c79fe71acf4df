#!/usr/bin/python3
"""gen_reports.py OUT N - the report set of bench/intake and bench/cluster.

Writes N distinct generated TLS-RPT reports for bench.example into OUT
(OUT/000000.json.gz ...: gzip, mtime 0; 3 organizations in turn, 0-4
failure details each, distinct report-ids, days 1-28 of 2026-10) and
prints the sum of their total-successful-session-count, which a bench
compares with what the store holds afterwards. Deterministic (seed 8460):
the same N gives the same files.
"""
import gzip, json, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(8460)
orgs = [("Bigmail Inc.", "smtp-tls-reporting@bigmail.example.net"),
        ("Example Corporation", "tlsrpt-noreply@corp.example.net"),
        ("Small Relay", "postmaster@relay.example.org")]
types = ["certificate-expired", "certificate-host-mismatch", "starttls-not-supported",
         "validation-failure", "sts-webpki-invalid"]
ok_sum = 0
for i in range(n):
    org, contact = orgs[i % 3]
    day = 1 + i % 28
    nf = rnd.randint(0, 4)
    fails = [{"result-type": rnd.choice(types),
              "sending-mta-ip": "192.0.2.%d" % rnd.randint(1, 254),
              "receiving-mx-hostname": "mx%d.bench.example" % rnd.randint(1, 2),
              "receiving-ip": "198.51.100.%d" % rnd.randint(1, 254),
              "failed-session-count": rnd.randint(1, 50)} for _ in range(nf)]
    ok = rnd.randint(1, 100000)
    ok_sum += ok
    pol = {"policy": {"policy-type": "sts",
                      "policy-string": ["version: STSv1", "mode: enforce",
                                        "mx: mx1.bench.example", "mx: mx2.bench.example",
                                        "max_age: 604800"],
                      "policy-domain": "bench.example",
                      "mx-host": ["mx1.bench.example", "mx2.bench.example"]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": sum(f["failed-session-count"] for f in fails)}}
    if fails:
        pol["failure-details"] = fails
    rep = {"organization-name": org,
           "date-range": {"start-datetime": "2026-10-%02dT00:00:00Z" % day,
                          "end-datetime": "2026-10-%02dT23:59:59Z" % day},
           "contact-info": contact,
           "report-id": "2026-10-%02dT00:00:00Z_bench.example_%06d" % (day, i),
           "policies": [pol]}
    with open("%s/%06d.json.gz" % (out, i), "wb") as f:
        f.write(gzip.compress(json.dumps(rep).encode(), mtime=0))
print(ok_sum)
