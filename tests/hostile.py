#!/usr/bin/python3
"""hostile.py - a hostile client for the black-box tests (t_hostile_*.sh).

Each subcommand plays one attacker (or one honest sender beside it)
against a running `stsguard serve` and prints what it saw, one
`key=value` line, for the shell test to check:

  post URL FILE [--src IP] [--type T]        one POST; prints status=N
  body URL --length N --send N [--src IP] [--conns N] [--hold S]
        N connections POST a head announcing --length bytes, send --send
        bytes of body, then stall; prints how many the server answered
        503, closed (and after how long), or left open until --hold
  idle HOST PORT --conns N --srcs A,B,.. [--hold S] [--close-after N]
        N plain TCP connections that send nothing; prints connected=N
  smtp HOST PORT --conns N [--src IP] [--hold S] [--data N] [--rcpt A]
        N SMTP sessions (EHLO, MAIL, RCPT, DATA, N bytes, then ".")
        at once; prints each session's last reply code, counted
  bomb FILE                                  writes a 16 MiB JSON of
        "{}," and "[]," (10:1 gzipped, under the ratio limit) to FILE

TLS clients verify against --ca (the daemon's local CA) with the URL's
host name as SNI and Host. Connections are made to --connect IP:PORT when
given (the name does not resolve here), from --src when given.
"""
import argparse
import gzip
import random
import select
import socket
import ssl
import sys
import time
import urllib.parse


def tls_connect(args, host, src=None):
    ip, port = args.connect.split(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    if src:
        s.bind((src, 0))
    s.connect((ip, int(port)))
    ctx = ssl.create_default_context(cafile=args.ca)
    return ctx.wrap_socket(s, server_hostname=host)


def read_status(s, timeout):
    """The status code of the answer on s, 0 when closed without one,
    -1 when nothing came in time."""
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except (socket.timeout, TimeoutError):
        return -1
    except (ConnectionError, ssl.SSLError, OSError):
        return 0
    if not data:
        return 0
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def head(u, length, ctype):
    return ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (u.path, u.netloc, ctype,
                                             length)).encode()


def cmd_post(args):
    u = urllib.parse.urlsplit(args.url)
    body = open(args.file, "rb").read()
    s = tls_connect(args, u.hostname, args.src)
    s.sendall(head(u, len(body), args.type) + body)
    print("status=%d" % read_status(s, 30))


def cmd_body(args):
    u = urllib.parse.urlsplit(args.url)
    conns, t0 = [], time.time()
    for _ in range(args.conns):
        s = tls_connect(args, u.hostname, args.src)
        s.sendall(head(u, args.length, args.type))
        sent = 0
        while sent < args.send:
            n = min(65536, args.send - sent)
            try:
                s.sendall(b" " * n)
            except OSError:
                break
            sent += n
        conns.append(s)
    busy = closed = 0
    closed_after = []
    open_ = list(conns)
    while open_ and time.time() - t0 < args.hold:
        r, _, _ = select.select(open_, [], [], 0.2)
        for s in r:
            st = read_status(s, 1)
            if st == -1:
                continue
            if st == 503:
                busy += 1
            else:
                closed += 1
                closed_after.append(time.time() - t0)
            open_.remove(s)
    print("busy=%d closed=%d open=%d closed_by=%.1f" % (
        busy, closed, len(open_), max(closed_after) if closed_after else 0))
    for s in conns:
        s.close()


def cmd_idle(args):
    srcs = args.srcs.split(",")
    conns = []
    for i in range(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind((srcs[i % len(srcs)], 0))
        try:
            s.connect((args.host, args.port))
            conns.append(s)
        except OSError:
            s.close()
    print("connected=%d" % len(conns), flush=True)
    t0 = time.time()
    while time.time() - t0 < args.hold:
        time.sleep(0.1)
        if args.close_after and time.time() - t0 >= args.close_after:
            for s in conns[:args.close]:
                s.close()
            conns = conns[args.close:]
            args.close_after = 0
            print("closed=%d" % args.close, flush=True)
    for s in conns:
        s.close()


def smtp_reply(f):
    """The last line of one SMTP reply, or '' at EOF."""
    while True:
        line = f.readline()
        if not line:
            return ""
        if line[3:4] != b"-":
            return line.decode(errors="replace").strip()


def cmd_smtp(args):
    sess = []
    for _ in range(args.conns):
        s = socket.socket(socket.AF_INET6 if ":" in args.host else
                          socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        if args.src:
            s.bind((args.src, 0))
        s.connect((args.host, args.port))
        f = s.makefile("rb")
        greet = smtp_reply(f)
        sess.append((s, f, greet))
    codes = {}
    body = (b"Subject: x\r\n\r\n" + (b"a" * 998 + b"\r\n") *
            (args.data // 1000 + 1))
    live = []
    for s, f, greet in sess:
        if not greet.startswith("220"):
            codes[greet[:3] or "closed"] = codes.get(greet[:3] or
                                                     "closed", 0) + 1
            continue
        s.sendall(b"EHLO hostile.test\r\n")
        smtp_reply(f)
        s.sendall(b"MAIL FROM:<x@hostile.test>\r\n")
        smtp_reply(f)
        s.sendall(b"RCPT TO:<%s>\r\n" % args.rcpt.encode())
        r = smtp_reply(f)
        s.sendall(b"DATA\r\n")
        r = smtp_reply(f)
        if not r.startswith("354"):
            codes[r[:3]] = codes.get(r[:3], 0) + 1
            continue
        s.sendall(body)     # all of them hold their bytes at once
        live.append((s, f))
    time.sleep(args.hold)
    for s, f in live:
        s.sendall(b".\r\n")
        r = smtp_reply(f)
        codes[r[:3] or "closed"] = codes.get(r[:3] or "closed", 0) + 1
    print(" ".join("%s=%d" % kv for kv in sorted(codes.items())))


def cmd_bomb(args):
    rnd = random.Random(1)
    parts = [b"[", b"0"]
    size = 2
    units = (b"{}, ", b"[], ", b"{},\n", b"[],\n")
    while size < 16 * 1024 * 1024 - 16:
        u = units[rnd.getrandbits(2)]
        parts.append(u)
        size += len(u)
    parts.append(b"0]")
    with open(args.file, "wb") as f:
        f.write(gzip.compress(b"".join(parts), 6, mtime=0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca")
    ap.add_argument("--connect")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("post")
    p.add_argument("url")
    p.add_argument("file")
    p.add_argument("--src")
    p.add_argument("--type", default="application/tlsrpt+json")
    p = sub.add_parser("body")
    p.add_argument("url")
    p.add_argument("--length", type=int, required=True)
    p.add_argument("--send", type=int, required=True)
    p.add_argument("--src")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--hold", type=float, default=10)
    p.add_argument("--type", default="application/tlsrpt+json")
    p = sub.add_parser("idle")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--srcs", required=True)
    p.add_argument("--hold", type=float, default=5)
    p.add_argument("--close-after", type=float, default=0)
    p.add_argument("--close", type=int, default=0)
    p = sub.add_parser("smtp")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--src")
    p.add_argument("--hold", type=float, default=0)
    p.add_argument("--data", type=int, default=1000)
    p.add_argument("--rcpt", required=True)
    p = sub.add_parser("bomb")
    p.add_argument("file")
    args = ap.parse_args()
    globals()["cmd_" + args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
