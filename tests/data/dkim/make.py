#!/usr/bin/python3
"""make.py - regenerates the signed test messages of tests/data/dkim/
with python3-dkim (an independent DKIM implementation) and the test key
reporter.key (selector "sel", domains reporter.test and other.test).
The key is for tests only. Run from this folder: /usr/bin/python3 make.py
"""
import dkim

KEY = open("reporter.key", "rb").read()
REPORT = (b'{"organization-name":"Reporter Test","date-range":'
          b'{"start-datetime":"2026-11-03T00:00:00Z",'
          b'"end-datetime":"2026-11-03T23:59:59Z"},'
          b'"contact-info":"tlsrpt@reporter.test",'
          b'"report-id":"dkim-%s","policies":[{"policy":'
          b'{"policy-type":"sts","policy-domain":"example.com"},'
          b'"summary":{"total-successful-session-count":7,'
          b'"total-failure-session-count":0}}]}')


def message(rid, submitter=b"reporter.test"):
    return (b"From: tlsrpt@reporter.test\r\n"
            b"To: tlsrpt@sts.example.net\r\n"
            b"Subject: Report Domain: example.com Submitter: " + submitter +
            b" Report-ID: <" + rid + b">\r\n"
            b"Date: Tue, 03 Nov 2026 06:00:00 +0000\r\n"
            b"Message-ID: <" + rid + b"@reporter.test>\r\n"
            b"TLS-Report-Domain: example.com\r\n"
            b"TLS-Report-Submitter: " + submitter + b"\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=tlsrpt; "
            b"boundary=\"b\"\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n"
            b"--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n" +
            REPORT % rid + b"\r\n--b--\r\n")


def sign(msg, domain=b"reporter.test", length=False):
    sig = dkim.sign(msg, b"sel", domain, KEY, length=length,
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id", b"tls-report-domain",
                                     b"tls-report-submitter"])
    return sig + msg


open("signed.eml", "wb").write(sign(message(b"good")))
m = sign(message(b"tampered"))
i = m.index(b"A report.")
open("tampered.eml", "wb").write(m[:i] + b"A rep0rt." + m[i + 9:])
open("ltag.eml", "wb").write(sign(message(b"ltag"), length=True))
open("unaligned.eml", "wb").write(sign(message(b"unaligned"),
                                       domain=b"other.test"))
open("subdomain.eml", "wb").write(sign(message(b"sub", b"mail.reporter.test")))
open("unsigned.eml", "wb").write(message(b"unsigned"))
