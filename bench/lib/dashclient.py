#!/usr/bin/python3
"""dashclient.py - the HTTPS client of bench/dashboard.

Keep-alive HTTPS to one loopback address, the name sent as SNI and Host,
the certificate verified against the data dir's local CA. Every mode
prints JSON on stdout; latencies are milliseconds from sending the
request to the last byte of the answer (one request at a time on the
connection, so the figure is the server's time plus loopback and the
client's parsing).

  login  CA IP PORT HOST EMAIL PWFILE        -> {"cookie": "sg_session=..."}
  lat    CA IP PORT HOST AUTH N PATH         -> {"ms": [...], "bytes": B, "status": S}
  load   CA IP PORT HOST AUTH STOPFILE PATH... -> {"requests": n, "seconds": s, "bad": n}
  fetch  CA IP PORT HOST RATE SECONDS keep|new PATH -> {"ms": [...], "bad": n}

AUTH is "cookie:NAME=VALUE", "bearer:TOKEN" or "-". `load` cycles
through its paths until STOPFILE exists; `fetch` paces its requests at
RATE a second (open loop: a slow answer does not delay the schedule's
next slot beyond itself) and, with `new`, opens a new TLS connection (a
full handshake, no resumption) for each.
"""
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse


def context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def connect(ctx, ip, port, host):
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=60)
    raw = socket.create_connection((ip, port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sock = ctx.wrap_socket(raw, server_hostname=host)
    return c


def headers(auth):
    if auth.startswith("cookie:"):
        return {"Cookie": auth[7:]}
    if auth.startswith("bearer:"):
        return {"Authorization": "Bearer " + auth[7:]}
    return {}


def get(c, path, hdr):
    t0 = time.perf_counter()
    c.request("GET", path, headers=hdr)
    r = c.getresponse()
    body = r.read()
    return (time.perf_counter() - t0) * 1000.0, r.status, len(body), r, body


def login(ca, ip, port, host, email, pwfile):
    ctx = context(ca)
    c = connect(ctx, ip, port, host)
    _, st, _, r, body = get(c, "/login", {})
    pre = None
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("sg_login="):
            pre = v.split(";")[0]
    m = re.search(rb'name="csrf" value="([^"]*)"', body)
    if st != 200 or pre is None or m is None:
        sys.exit("login page: status %d, no form" % st)
    with open(pwfile) as f:
        pw = f.readline().rstrip("\n")
    form = urllib.parse.urlencode({"csrf": m.group(1).decode(),
                                   "email": email, "password": pw})
    c.request("POST", "/login", body=form, headers={
        "Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("sg_session="):
            print(json.dumps({"cookie": v.split(";")[0]}))
            return
    sys.exit("login: status %d, no session" % r.status)


def lat(ca, ip, port, host, auth, n, path):
    ctx = context(ca)
    c = connect(ctx, ip, port, host)
    hdr = headers(auth)
    for _ in range(3):		# warm-up: page cache, the server's caches
        get(c, path, hdr)
    ms, size, status = [], 0, 0
    for _ in range(int(n)):
        t, status, size, _, _ = get(c, path, hdr)
        ms.append(round(t, 3))
    print(json.dumps({"ms": ms, "bytes": size, "status": status}))


def load(ca, ip, port, host, auth, stop, paths):
    ctx = context(ca)
    c = connect(ctx, ip, port, host)
    hdr = headers(auth)
    n = bad = 0
    t0 = time.perf_counter()
    while not os.path.exists(stop):
        _, st, _, _, _ = get(c, paths[n % len(paths)], hdr)
        n += 1
        bad += st != 200
    print(json.dumps({"requests": n, "bad": bad,
                      "seconds": round(time.perf_counter() - t0, 3)}))


def fetch(ca, ip, port, host, rate, seconds, how, path):
    ctx = context(ca)
    ctx.options |= ssl.OP_NO_TICKET	# a full handshake each time (new)
    every = 1.0 / float(rate)
    count = int(float(rate) * float(seconds))
    c = connect(ctx, ip, port, host) if how == "keep" else None
    if c is not None:
        get(c, path, {})
    ms, bad = [], 0
    t_next = time.perf_counter()
    for _ in range(count):
        now = time.perf_counter()
        if now < t_next:
            time.sleep(t_next - now)
        t_next += every
        t0 = time.perf_counter()
        if how == "new":
            c = connect(ctx, ip, port, host)
        c.request("GET", path, headers={"Connection": "close"}
                  if how == "new" else {})
        r = c.getresponse()
        r.read()
        ms.append(round((time.perf_counter() - t0) * 1000.0, 3))
        bad += r.status != 200
        if how == "new":
            c.close()
    print(json.dumps({"ms": ms, "bad": bad}))


def main(a):
    mode = a[0]
    ca, ip, port, host = a[1], a[2], int(a[3]), a[4]
    if mode == "login":
        login(ca, ip, port, host, a[5], a[6])
    elif mode == "lat":
        lat(ca, ip, port, host, a[5], a[6], a[7])
    elif mode == "load":
        load(ca, ip, port, host, a[5], a[6], a[7:])
    elif mode == "fetch":
        fetch(ca, ip, port, host, a[5], a[6], a[7], a[8])
    else:
        sys.exit("dashclient: unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv[1:])
