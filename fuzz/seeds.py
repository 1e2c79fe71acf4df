#!/usr/bin/env python3
# seeds.py [NAME...] - writes the hand-made seeds of fuzz/corpus/NAME/ for
# the targets whose input has a binary header or exact sizes: tls_hello,
# smtp_server, chunked, and the boundary seeds of http (the other seeds of http,
# and the other corpora, are hand-written files). Run from anywhere; it
# overwrites the files it names and leaves the others alone. Re-run it
# when a target's input format changes (fuzz_smtp_server.c's header,
# its hooks' random choices). The ClientHello of smtp_server/010 comes
# from Python's ssl module, so it differs at each run.
import os
import ssl
import struct
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def out(name, fn, data):
    d = os.path.join(TOP, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fn), 'wb') as f:
        f.write(data)


# --- tls_hello: 2-byte length of the server_name body, then the ALPN body

def tls_hello():
    def sni(name, entries=None):
        if entries is None:
            if isinstance(name, str):
                name = name.encode()
            entries = b'\x00' + struct.pack('>H', len(name)) + name
        return struct.pack('>H', len(entries)) + entries

    def alpn(protos, listlen=None):
        body = b''.join(bytes([len(p)]) + p for p in protos)
        n = len(body) if listlen is None else listlen
        return struct.pack('>H', n) + body

    def seed(fn, s, a):
        out('tls_hello', fn, struct.pack('>H', len(s)) + s + a)

    def name_of(n):
        # labels of 50 bytes and a final ".com", n bytes in all
        b = bytearray(b'a' * n)
        for i in range(50, n, 51):
            b[i] = ord('.')
        b[n - 4:] = b'.com'
        return bytes(b)

    H, A, H2 = b'http/1.1', b'acme-tls/1', b'h2'
    host = 'mta-sts.example.com'
    seed('001-rfc6066-host', sni(host), alpn([H2, H]))
    seed('002-name-253', sni(name_of(253)), alpn([H2, H, A]))
    seed('003-name-254-refused', sni(name_of(254)), alpn([H]))
    seed('004-name-253-trailing-dot', sni(name_of(253) + b'.'), alpn([H]))
    seed('005-label-63', sni(b'b' * 63 + b'.example.com'), alpn([H]))
    seed('006-label-64-refused', sni(b'b' * 64 + b'.example.com'),
         alpn([H]))
    seed('007-ipv4-literal', sni('192.0.2.1'), alpn([H]))
    seed('008-ipv6-literal', sni('2001:DB8::1'), alpn([H]))
    seed('009-ipv4-mapped-v6', sni('::ffff:192.0.2.1'), alpn([H]))
    seed('010-ipv4-trailing-dot', sni('192.0.2.1.'), b'')
    seed('011-alpn-acme-last', sni(host), alpn([H2, H, A]))
    seed('012-alpn-zero-length-proto', sni(host), alpn([A, b'']))
    seed('013-alpn-list-len-short', sni(host), alpn([A, H], listlen=11))
    seed('014-alpn-list-len-long', sni(host), alpn([A], listlen=12))
    seed('015-alpn-empty-list', sni(host), alpn([]))
    seed('016-alpn-truncated-entry', sni(host), alpn([A])[:-3])
    seed('017-upper-case-dot', sni('MTA-STS.Example.COM.'), alpn([A]))
    seed('018-double-trailing-dot', sni(host + '..'), alpn([H]))
    seed('019-two-entries-refused',
         sni(None, entries=b'\x00\x00\x01a\x00\x00\x01b'), alpn([H]))
    seed('020-name-type-1', sni(None, entries=b'\x01\x00\x01a'), alpn([H]))
    seed('021-empty-name', sni(''), alpn([H]))
    seed('022-no-sni-acme', b'', alpn([A]))
    seed('023-underscore-colon', sni('_a.example.com:443'), alpn([H]))
    seed('024-leading-dot', sni('.example.com'), alpn([H]))
    seed('025-nul-in-name', sni(b'a\x00.example.com'), alpn([H]))
    seed('026-acme-prefix-only', sni(host),
         alpn([b'acme-tls/12', b'acme-tls']))


# --- http: the limits of src/lib/limits.h, exactly and one past

def http():
    def head(fields=b'', target=b'/.well-known/mta-sts.txt'):
        return (b'GET ' + target + b' HTTP/1.1\r\n'
                b'Host: mta-sts.example.com\r\n' + fields + b'\r\n')

    base = len(head(b'X-Pad: \r\n'))

    def head_of(total):		# LIMIT_HTTP_HEADER_BYTES, blank line in
        h = head(b'X-Pad: ' + b'a' * (total - base) + b'\r\n')
        assert len(h) == total
        return h

    def line_of(n, eol=b'\r\n'):	# RFC 9112 request-line, EOL not counted
        line = b'GET /' + b'a' * (n - len(b'GET / HTTP/1.1')) + b' HTTP/1.1'
        assert len(line) == n
        return line + eol + b'Host: mta-sts.example.com\r\n\r\n'

    def fields(n):			# LIMIT_HTTP_HEADERS, Host included
        return head(b''.join(b'X-F%d: v\r\n' % i for i in range(n - 1)))

    out('http', '010-head-8192', head_of(8192))
    out('http', '011-head-8193-431', head_of(8193))
    out('http', '012-request-line-2048', line_of(2048))
    out('http', '013-request-line-2049-414', line_of(2049))
    out('http', '014-request-line-2048-lf', line_of(2048, b'\n'))
    out('http', '015-request-line-2047', line_of(2047))
    out('http', '016-fields-64', fields(64))
    out('http', '017-fields-65-431', fields(65))


# --- smtp_server: flags, chunks, 2-byte seed, limits, then the client's
# bytes (see fuzz_smtp_server.c). find_seed picks a seed whose hook
# choices (xorshift32, as in fz_deliver) are the ones wanted.

M32 = 0xffffffff


def hook_seq(s16, n):
    """The first n values fz_deliver draws with seed s16."""
    x = (((s16 * 2654435761) & M32) | 1) ^ 0x5bd1e995
    seq = []
    for _ in range(n):
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        seq.append(x)
    return seq


def hook_kind(r):
    """What fz_deliver does with r: now0..now3 (answers at once), or
    timer / next / never (pending), '+take' when it takes the buffer."""
    if r % 8 < 4:
        return 'now%d' % (r % 4)
    k = {4: 'timer', 5: 'timer', 6: 'next', 7: 'never'}[r % 8]
    return k + ('+take' if (r >> 16) % 2 else '')


def find_seed(kinds, res=None):
    """A seed whose deliveries go as kinds say ('timer' matches with or
    without '+take'), the first late answer being res if given."""
    for s in range(65536):
        seq = hook_seq(s, len(kinds))
        got = [hook_kind(r) for r in seq]
        if all(g == k or ('+' not in k and g.split('+')[0] == k)
               for g, k in zip(got, kinds)) and \
                (res is None or (seq[0] >> 8) % 7 == res):
            return s
    raise SystemExit('no seed for %r' % kinds)


def smtp_server():
    def seed(fn, flags, chunk, s16, body, lim=0):
        out('smtp_server', fn, bytes([flags, chunk]) +
            struct.pack('>H', s16) + bytes([lim]) + body)

    msg = (b'From: r <noreply@example.test>\r\n'
           b'Subject: Report Domain: customer1.test\r\n'
           b'MIME-Version: 1.0\r\n'
           b'Content-Type: application/tlsrpt+json\r\n\r\n'
           b'{"organization-name":"Fuzz Seed","report-id":"seed-1",'
           b'"policies":[]}\r\n'
           b'..stuffed\r\n')

    def tx(m=msg, rcpt=b'tlsrpt+abc@stshost.test'):
        return (b'MAIL FROM:<noreply@example.test> SIZE=500 BODY=8BITMIME'
                b'\r\nRCPT TO:<' + rcpt + b'>\r\nDATA\r\n' + m + b'.\r\n')

    ehlo = b'EHLO mail.example.test\r\n'
    quit = b'QUIT\r\n'
    full = ehlo + tx() + quit
    two = ehlo + tx() + tx() + quit
    flood = b'EHLO x\r\n' * 1600 + quit
    now = find_seed(['now0'])

    seed('001-transaction', 0, 0, now, full)
    seed('002-bytewise', 0, 1, now, full)
    seed('003-random-splits', 0, 0x90, now, full)
    seed('004-pipelined-7-byte-chunks', 0, 7, find_seed(['now2', 'now3']),
         two)
    # RFC 5321 4.5.3.1.4: a command line is 512 octets at most, with CRLF
    seed('005-cmd-line-512', 0, 0, now, b'EHLO ' + b'a' * 505 + b'\r\n' +
         quit)
    seed('006-cmd-line-513', 0, 0, now, b'EHLO ' + b'a' * 506 + b'\r\n' +
         quit)
    seed('007-cmd-line-513-bytewise', 0, 1, now,
         b'EHLO ' + b'a' * 506 + b'\r\n' + quit)
    # STARTTLS with pipelined plaintext (CVE-2011-0411): 554 and close
    seed('008-starttls-injection', 0x01, 0, now,
         b'EHLO x\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<a@b>\r\n')
    seed('009-starttls-not-offered', 0x00, 0, now,
         b'EHLO x\r\nSTARTTLS\r\n' + quit)
    # STARTTLS alone in its chunk, then a real ClientHello in 18-byte
    # pieces (the server answers it; the handshake never completes)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, bio = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, bio, server_hostname='stshost.test')
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    seed('010-starttls-clienthello', 0x01, 18, now,
         b'EHLO x\r\nSTARTTLS\r\n' + bio.read())
    seed('011-starttls-then-plaintext', 0x01, 18, now,
         b'EHLO x\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n' + quit)
    # many NOOPs: the junk-command limit (LIMIT_SMTP_JUNK_COMMANDS), or
    # none (limits 0x04)
    seed('012-many-noops', 0, 0, now, b'NOOP\r\n' * 1000)
    seed('013-many-noops-random-splits', 0, 0x84, now, b'NOOP\r\n' * 1000)
    seed('014-noops-no-junk-limit', 0, 0x84, now,
         b'NOOP\r\n' * 1000 + quit, lim=0x04)
    # replies back up past LIMIT_SMTP_OUTBUF: a minimal server send
    # buffer, the client reading at the end only, or slowly
    seed('015-ehlo-flood-backpressure', 0x10 | 0x04, 0, now, flood,
         lim=0x04)
    seed('016-ehlo-flood-slow-reader', 0x10 | 0x08, 0xa0, now, flood,
         lim=0x04)
    # deliveries answered later, commands pipelined behind the "."
    seed('017-pending-timer-pipelined', 0, 0, find_seed(['timer', 'timer']),
         two)
    # the server's own budget: the hook cannot take the buffer
    seed('018-pending-timer-own-budget', 0, 0,
         find_seed(['timer+take', 'now0']), two)
    seed('019-pending-next-chunk', 0, 64, find_seed(['next', 'now0']),
         ehlo + tx() + tx() + b'NOOP\r\n' + quit)
    never = find_seed(['never+take'])
    seed('020-pending-never-halfclose', 0x02, 0, never, full, lim=0x02)
    seed('021-pending-never', 0, 5, never, ehlo + tx() + b'RSET\r\n' + quit)
    seed('022-pending-backpressure', 0x10 | 0x04, 0, find_seed(['timer']),
         ehlo + tx() + flood, lim=0x04)
    seed('023-second-client-max-conn', 0x20, 0, now, full)
    seed('024-second-client-per-client', 0x40, 0, now, full)
    seed('025-size-exceeded', 0, 0, now,
         ehlo + tx(m=(b'y' * 998 + b'\r\n') * 5) + quit)
    seed('026-too-many-errors', 0, 0, now, b'EHLO x\r\n' + b'BOGUS\r\n' * 12)
    seed('027-smuggling-bare-lf', 0, 0, now,
         ehlo + tx(m=b'a\n.\r\nMAIL FROM:<x@y>\r\n\r\n') + quit)
    seed('028-relay-tempfail-rcpt', 0, 0, now, ehlo +
         b'MAIL FROM:<>\r\n' +
         b''.join(b'RCPT TO:<%s>\r\n' % a for a in (
             b'a@other.test', b'tlsrpt+tempfail@stshost.test',
             b'tlsrpt+abc@STSHOST.test.', b'tlsrpt+def@stshost.test',
             b'tlsrpt+g@stshost.test', b'tlsrpt+h@stshost.test',
             b'tlsrpt+i@stshost.test')) +
         b'DATA\r\nx\r\n.\r\n' + quit)
    seed('029-halfclose-in-data', 0x02, 3, now, ehlo +
         b'MAIL FROM:<a@b>\r\nRCPT TO:<tlsrpt+abc@stshost.test>\r\n'
         b'DATA\r\npartial')
    seed('030-no-quit-idle', 0, 0, now, ehlo + b'MAIL FROM:<a@b>\r\n')
    seed('031-pending-slow-reader-halfclose', 0x08 | 0x02, 0x88,
         find_seed(['timer', 'next', 'now1']),
         ehlo + tx() + tx() + tx() + quit)
    seed('032-drain-pending-timer', 0x80, 0, find_seed(['timer', 'timer']),
         two)
    seed('033-drain-pending-never', 0x80 | 0x02, 5, find_seed(['never']),
         ehlo + tx() + b'RSET\r\n' + quit)
    # message budgets of ours (limits 0x03): one byte short, exact, none
    seed('034-budget-share-one-short-452', 0, 0, now,
         ehlo + tx() + tx(m=b'') + quit, lim=0x01)
    seed('035-budget-total-exact-take', 0, 0,
         find_seed(['timer+take', 'now0']), two, lim=0x02)
    seed('036-budget-zero-empty-message-ok', 0, 9, now,
         ehlo + tx(m=b'') + tx() + quit, lim=0x03)
    seed('037-junk-limit-2', 0, 0, now,
         ehlo + b'NOOP\r\nRSET\r\nHELP\r\n' + quit, lim=0x08)
    seed('038-max-errors-1', 0, 0, now, ehlo + b'BOGUS\r\n' + quit,
         lim=0x10)
    # max_errors 3: two errors, then a late 554 (NO_REPORT) is the third
    seed('039-late-554-is-the-last-error', 0, 0, find_seed(['timer'], res=3),
         b'EHLO x\r\n' + b'BOGUS\r\n' * 2 + tx() + quit, lim=0x20)


# --- chunked: fuzz_chunked.c's 3 + P byte header (pieces, max_data index,
# out capacity), then the body: the cases of tests/unit/test_chunked.c,
# limits exactly and one past; names end in the status expected.

def chunked():
    MAX_TAB = [16, 300, 1000, 4096, 4097, 8192, 65536, 2 << 20, 4 << 20,
               2**32 - 1, 2**63 - 2, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1,
               1 << 40]
    ANY = 2**64 - 1
    def maxbyte(m):
        if m < 0xf0:
            return m
        return 0xf0 + MAX_TAB.index(m)
    count = [0]

    def seed(name, body, max=ANY, cap=0, pieces=()):
        count[0] += 1
        assert len(pieces) < 16
        h = bytes([len(pieces), maxbyte(max), cap]) + bytes(pieces)
        out('chunked', '%03d-%s' % (count[0], name), h + body)

    ex = (b'7\r\nMozilla\r\n11;note="a \\"quoted\\" value"\r\nDeveloper Network\r\n'
          b'0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n')
    seed('example', ex, 24, 5, (1, 2, 3))
    seed('example-max-23-413', ex, 23, 0, (7,))
    seed('example-bytewise', ex, ANY, 1, (1,))
    seed('empty-calls', ex, ANY, 3, (0, 0, 1, 0, 5))
    hw = b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'
    seed('max-data-exact', hw, 11)
    seed('max-data-one-over-413', hw, 10, 2, (4, 9))
    seed('size-line-only-413', b'6\r\n', 5)
    seed('size-line-only-lf-413', b'6\n', 5)
    seed('ext-then-413', b'6;x=y\r\nhello!', 5)
    seed('max-0-empty-body', b'0\r\n\r\n', 0)
    seed('max-0-413', b'1\r\nx\r\n0\r\n\r\n', 0)
    seed('bad-size-ext-before-413', b'ff;=\r\n', 5)
    for i, s in enumerate([b'ab', b'AB', b'aB']):
        body = s + b'\r\n' + b'x' * 0xab + b'\r\n0\r\n\r\n'
        seed('hex-case-%d' % i, body, 0xab, 16, (3, 200))
        seed('hex-case-%d-413' % i, body, 0xaa)
    seed('leading-zeros', b'0003\r\nabc\r\n000\r\n\r\n')
    for i, s in enumerate([b'\r\n', b'\n', b';a\r\n', b' 3\r\nabc\r\n',
                           b'+3\r\nabc\r\n', b'-1\r\n', b'0x3\r\nabc\r\n',
                           b'3g\r\n', b'3\r\r\n', b'3\rabc']):
        seed('bad-size-%d' % i, s)
    seed('size-2^63-1-413', b'7fffffffffffffff\r\n', 2**63 - 2)
    seed('size-2^63-1-max', b'7FFFFFFFFFFFFFFF\r\nabc', 2**63 - 1)
    seed('size-2^63-400', b'8000000000000000\r\n', 2**63)
    seed('size-2^64-1-400', b'ffffffffffffffff\r\n', 2**64 - 2)
    seed('size-17-digits-400', b'10000000000000000\r\n')
    seed('size-16-digits-zeros', b'0000000000000003\r\nabc\r\n0\r\n\r\n', 3)
    seed('size-17-digits-zeros-400', b'00000000000000003\r\nabc\r\n0\r\n\r\n', 3)
    for i, s in enumerate([b'3;a\r\nabc\r\n0\r\n\r\n',
                           b'3;a=b\r\nabc\r\n0;last\r\n\r\n',
                           b'3 ;\ta = b ; c="" ;d\r\nabc\r\n0\r\n\r\n',
                           b'3;a="x;y=\\"z\\\\"\r\nabc\r\n0\r\n\r\n',
                           b'3;a="\x80\xff"\nabc\n0\n\n',
                           b'3;a;b;c=d\r\nabc\r\n0\r\n\r\n']):
        seed('ext-ok-%d' % i, s, 3, 1, (2, 1))
    for i, s in enumerate([b'3;\r\nabc\r\n', b'3;=b\r\n', b'3;a=\r\n',
                           b'3;a=b c\r\n', b'3;a b\r\n', b'3;a=b;\r\n',
                           b'3;a="b\r\nabc\r\n', b'3;a="b"c\r\n',
                           b'3;a="\x01"\r\n', b'3;a="\\\r\n', b'3;a(b)\r\n',
                           b'3 \r\nabc\r\n', b'3;a \r\n', b'3;a=b\t\r\n',
                           b'3;a="b" \r\n', b'3\t\nabc\n']):
        seed('ext-bad-%d-400' % i, s)
    for lf in (0, 1):
        eol = b'\n' if lf else b'\r\n'
        for last in (0, 1):
            line = (b'0' if last else b'1') + b';' + b'a' * 4094
            rest = b'\r\n' if last else b'x\r\n0\r\n\r\n'
            tag = '%s-%s' % ('last' if last else 'data', 'lf' if lf else 'crlf')
            seed('size-line-4096-' + tag, line + eol + rest, 1, 0, (200, 255))
            seed('size-line-4097-%s-400' % tag, line + b'a' + eol + rest, 1)
    seed('size-lines-4096-twice', (b'1;' + b'b' * 4094 + b'\r\nz\r\n') * 2 +
         b'0\r\n\r\n', 2)
    for i, s in enumerate([b'3\r\nabcd\r\n0\r\n\r\n', b'3\r\nabc\r0\r\n\r\n',
                           b'3\r\nabc0\r\n\r\n', b'3\r\nabc\r\n\r\n',
                           b'0\r\n\r\r\n', b'0\r\nA: b\rx']):
        seed('missing-crlf-%d-400' % i, s, 16, 2, (5,))
    seed('bare-lf', b'3\nabc\n0\n\n')
    seed('bare-lf-mixed', b'3\r\nabc\n2;x\nde\r\n0\nT: 1\r\nU: 2\n\r\n', 5, 1)
    seed('trailers', b'0\r\nA: b\r\nC-D:\r\nE:  f g \t\r\n\r\n')
    seed('trailer-obs-text', b'3\r\nabc\r\n0\r\nX-Sum: \x80\xfe\r\n\r\n')
    for i, s in enumerate([b'0\r\nA\r\n\r\n', b'0\r\nA b: c\r\n\r\n',
                           b'0\r\n: c\r\n\r\n', b'0\r\nA: b\r\n c\r\n\r\n',
                           b'0\r\nA: b\x01\r\n\r\n', b'0\r\nA: b\x7f\r\n\r\n',
                           b'0\r\nA : b\r\n\r\n']):
        seed('trailer-bad-%d-400' % i, s)
    fields = lambda k: b'0\r\n' + b''.join(b'F%d: v\r\n' % i for i in range(k)) + b'\r\n'
    seed('trailer-fields-64', fields(64), 0)
    seed('trailer-fields-65-431', fields(65), 0)
    for lf in (0, 1):
        e = 1 if lf else 2
        end = b'\n\n' if lf else b'\r\n\r\n'
        v = 8192 - 3 - 2 * e
        tag = 'lf' if lf else 'crlf'
        seed('trailer-bytes-8192-' + tag, b'0\r\nX: ' + b'v' * v + end, 0, 0, (250,))
        seed('trailer-bytes-8193-%s-431' % tag, b'0\r\nX: ' + b'v' * (v + 1) + end, 0)
    seed('trailer-line-runs-on-431', b'0\r\nX: ' + b'v' * 8200, 0)
    seed('pipelined', b'4\r\nbody\r\n0\r\nT: x\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 4)
    seed('pipelined-bodies', b'0\r\n\r\n0\r\n\r\n', 0)
    seed('pipelined-lf', b'0\n\n\n', 0)
    seed('zero-chunk-trailers', b'0;x=y\r\nA: b\r\nC: d\r\n\r\n')
    seed('out-full', b'5\r\nhello\r\n0\r\n\r\n', 100, 2, (3,))
    big = b''.join(b'%x\r\n' % k + bytes((i * 7 + k) % 256 for i in range(k)) + b'\r\n'
                   for k in (1, 15, 16, 255, 256, 1000, 2000)) + b'0\r\n\r\n'
    seed('many-sizes-binary', big, 4096, 7, (1, 100, 13, 255))
    seed('many-sizes-binary-413', big, 1000)
    print(count[0], 'chunked seeds')


if __name__ == '__main__':
    gens = {'tls_hello': tls_hello, 'http': http, 'smtp_server': smtp_server,
            'chunked': chunked}
    for name in sys.argv[1:] or gens:
        gens[name]()
