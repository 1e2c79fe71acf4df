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
  smtp-greet HOST PORT --srcs A,B,..
        one SMTP session from each address in turn, all held open to
        the end; prints codes=<each greeting's code, or closed> and
        refusal=<the first greeting that was not 220>
  smtp-junk HOST PORT --junk N [--src IP]
        EHLO, then up to N+1 commands that carry no mail (NOOP, RSET,
        VRFY, HELP in turn), one at a time; prints answered=<how many
        got 2xx>, then=<the reply that ended it>, closed=<1 if the
        server then closed>
  smtp-report HOST PORT --rcpt A --domain D --id ID [--src IP]
        [--noops N] [--pad N]
        N NOOP/RSETs, then one report mail (report-id ID, a JSON
        attachment after a text part padded to about N bytes); prints
        code=<the reply to the final ".">
  smtp-hold HOST PORT --rcpt A --domain D --id ID --src IP --conns N
        --data N --other-src IP
        N sessions from --src, each sends a report mail of --data bytes
        but for its final "." and waits until the server has read it
        all (/proc/net/tcp); then a report from --other-src; then "."
        on every held session; then a new session from --src sends a
        report; prints held=, other=, dots=<each held one's code>,
        refused=<a 452's text> and after=
  bomb FILE                                  writes a 16 MiB JSON of
        "{}," and "[]," (10:1 gzipped, under the ratio limit) to FILE

TLS clients verify against --ca (the daemon's local CA) with the URL's
host name as SNI and Host. Connections are made to --connect IP:PORT when
given (the name does not resolve here), from --src when given.
"""
import argparse
import fcntl
import gzip
import json
import random
import select
import socket
import ssl
import struct
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


class Smtp:
    """One SMTP session (plain TCP), from src when given."""

    def __init__(self, host, port, src=None, timeout=30):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        if src:
            self.s.bind((src, 0))
        self.s.connect((host, port))
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        """The last line of one reply, '' at EOF (or a reset)."""
        try:
            while True:
                line = self.f.readline()
                if not line:
                    return ""
                if line[3:4] != b"-":
                    return line.decode(errors="replace").strip()
        except (ConnectionError, socket.timeout, TimeoutError):
            return ""

    def cmd(self, line):
        try:
            self.s.sendall(line.encode() + b"\r\n")
        except OSError:
            return ""
        return self.reply()

    def closed(self):
        """True when the server has closed (EOF within 5 s)."""
        self.s.settimeout(5)
        try:
            return self.s.recv(1) == b""
        except (ConnectionError, OSError):
            return True

    def begin(self, rcpt):
        """EHLO, MAIL, RCPT, DATA: the reply to the last one that was
        sent (354 when the message may follow)."""
        for c in ("EHLO hostile.test", "MAIL FROM:<x@hostile.test>",
                  "RCPT TO:<%s>" % rcpt, "DATA"):
            r = self.cmd(c)
            if r[:1] not in ("2", "3"):
                return r
        return r

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def report_mail(rid, domain, rcpt, size=0):
    """A report mail: a JSON report (report-id rid) as an attachment,
    after a text part padded so that the whole is about size bytes."""
    rep = json.dumps({
        "organization-name": "Hostile SMTP", "report-id": rid,
        "date-range": {"start-datetime": "2026-11-02T00:00:00Z",
                       "end-datetime": "2026-11-02T23:59:59Z"},
        "contact-info": "x@hostile.test",
        "policies": [{"policy": {"policy-type": "sts",
                                 "policy-domain": domain},
                      "summary": {"total-successful-session-count": 1,
                                  "total-failure-session-count": 0}}]})
    headm = ("From: <x@hostile.test>\r\nTo: <%s>\r\n"
             "Subject: Report Domain: %s Submitter: hostile.test "
             "Report-ID: <%s>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/report; report-type=tlsrpt; "
             "boundary=\"b\"\r\n\r\n--b\r\n"
             "Content-Type: text/plain\r\n\r\nA TLS report.\r\n" %
             (rcpt, domain, rid)).encode()
    tail = ("--b\r\nContent-Type: application/tlsrpt+json\r\n"
            "Content-Disposition: attachment; filename=\"%s.json\"\r\n"
            "\r\n%s\r\n--b--\r\n" % (rid, rep)).encode()
    pad = max(0, size - len(headm) - len(tail))
    line = b"p" * 998 + b"\r\n"
    rest = b"p" * (pad % 1000 - 2) + b"\r\n" if pad % 1000 >= 2 else b""
    return headm + line * (pad // 1000) + rest + tail


def deliver(sess, msg):
    """Sends msg after a 354 and the final "."; returns the reply."""
    try:
        sess.s.sendall(msg + b".\r\n")
    except OSError:
        return ""
    return sess.reply()


def tcp_queue(sess):
    """(bytes the client has not had acknowledged, bytes the server's
    socket holds unread): from the client's socket and /proc/net/tcp*,
    where the server's end is the line whose remote is our address."""
    outq = struct.unpack("i", fcntl.ioctl(sess.s.fileno(), 0x5411,
                                          b"\0" * 4))[0]   # SIOCOUTQ
    me = sess.s.getsockname()
    srv = sess.s.getpeername()
    six = sess.s.family == socket.AF_INET6

    def addr(h):
        ip, port = h.split(":")
        raw = b"".join(struct.pack("<I", int(ip[i:i + 8], 16))
                       for i in range(0, len(ip), 8))
        return (socket.inet_ntop(socket.AF_INET6 if six else
                                 socket.AF_INET, raw), int(port, 16))
    for line in open("/proc/net/tcp6" if six else "/proc/net/tcp"):
        f = line.split()
        if f[0] == "sl":
            continue
        if (addr(f[1]) == (srv[0], srv[1]) and
                addr(f[2]) == (me[0], me[1])):
            return outq, int(f[4].split(":")[1], 16)
    return outq, -1


def drained(sess, limit=20):
    """Waits until the server has read everything sess sent."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if tcp_queue(sess) == (0, 0):
            time.sleep(0.1)     # the last read, through the session
            return True
        time.sleep(0.02)
    return False


def cmd_smtp_greet(args):
    held, codes, text = [], [], ""
    for src in args.srcs.split(","):
        try:
            sess = Smtp(args.host, args.port, src, timeout=10)
        except OSError as e:
            codes.append("connect-error")
            text = text or str(e)
            continue
        g = sess.greeting
        codes.append(g[:3] or "closed")
        if not g.startswith("220"):
            text = text or g
            if g and not sess.closed():
                codes[-1] += "-open"
        held.append(sess)
    print("codes=%s" % ",".join(codes))
    print("refusal=%s" % text)
    for sess in held:
        sess.close()


def cmd_smtp_junk(args):
    sess = Smtp(args.host, args.port, args.src)
    sess.cmd("EHLO hostile.test")
    cmds = ("NOOP", "RSET", "VRFY postmaster", "HELP")
    answered, last = 0, ""
    for i in range(args.junk + 1):
        last = sess.cmd(cmds[i % len(cmds)])
        if last[:1] != "2":
            break
        answered += 1
    print("answered=%d" % answered)
    print("then=%s" % last)
    print("closed=%d" % sess.closed())


def cmd_smtp_report(args):
    sess = Smtp(args.host, args.port, args.src)
    for i in range(args.noops):
        r = sess.cmd("NOOP" if i % 2 == 0 else "RSET")
        if not r.startswith("250"):
            print("code=%s" % (r[:3] or "closed"))
            return
    r = sess.begin(args.rcpt)
    if r.startswith("354"):
        r = deliver(sess, report_mail(args.id, args.domain, args.rcpt,
                                      args.pad))
    print("code=%s" % (r[:3] or "closed"))
    sess.cmd("QUIT")
    sess.close()


def cmd_smtp_hold(args):
    held = []
    for i in range(args.conns):
        sess = Smtp(args.host, args.port, args.src)
        r = sess.begin(args.rcpt)
        if not r.startswith("354"):
            print("begin%d=%s" % (i, r))
            return
        msg = report_mail("%s-held-%d" % (args.id, i), args.domain,
                          args.rcpt, args.data)
        sess.s.sendall(msg)     # all but the final "."
        if not drained(sess):
            print("drain%d=timeout %s" % (i, tcp_queue(sess)))
            return
        held.append(sess)
    print("held=%d bytes=%d" % (len(held), len(msg)), flush=True)
    other = Smtp(args.host, args.port, args.other_src)
    r = other.begin(args.rcpt)
    if r.startswith("354"):
        r = deliver(other, report_mail("%s-other" % args.id, args.domain,
                                       args.rcpt))
    print("other=%s" % (r[:3] or "closed"))
    other.close()
    codes = []
    for sess in held:
        sess.s.sendall(b".\r\n")
    for sess in held:
        r = sess.reply()
        codes.append(r[:3] or "closed")
        if r.startswith("452"):
            print("refused=%s" % r)
        sess.cmd("QUIT")
        sess.close()
    print("dots=%s" % ",".join(codes))
    after = Smtp(args.host, args.port, args.src)
    r = after.begin(args.rcpt)
    if r.startswith("354"):
        r = deliver(after, report_mail("%s-after" % args.id, args.domain,
                                       args.rcpt))
    print("after=%s" % (r[:3] or "closed"))
    after.close()


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
    p = sub.add_parser("smtp-greet")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--srcs", required=True)
    p = sub.add_parser("smtp-junk")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--src")
    p.add_argument("--junk", type=int, required=True)
    for name in ("smtp-report", "smtp-hold"):
        p = sub.add_parser(name)
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("--src")
        p.add_argument("--rcpt", required=True)
        p.add_argument("--domain", required=True)
        p.add_argument("--id", required=True)
    p = sub.choices["smtp-report"]
    p.add_argument("--noops", type=int, default=0)
    p.add_argument("--pad", type=int, default=0)
    p = sub.choices["smtp-hold"]
    p.add_argument("--conns", type=int, default=3)
    p.add_argument("--data", type=int, required=True)
    p.add_argument("--other-src", required=True)
    p = sub.add_parser("bomb")
    p.add_argument("file")
    args = ap.parse_args()
    globals()["cmd_" + args.cmd.replace("-", "_")](args)


if __name__ == "__main__":
    sys.exit(main())
