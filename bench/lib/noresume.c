/*
 * noresume.c - LD_PRELOAD shim for wrk: full TLS handshakes on every
 * reconnect.
 *
 * wrk closes a connection with SSL_shutdown() + SSL_clear() and reuses
 * the SSL object. SSL_clear() keeps the session, so every reconnect offers
 * the server's ticket and becomes a TLS 1.3 resumption (PSK + ECDHE: no
 * certificate, no CertificateVerify signature). This wrapper calls the
 * real SSL_clear() and then drops the session, so the next SSL_connect()
 * starts a new one: a full handshake, as a sender that fetches a policy
 * once a day would do.
 *
 * Built by bench/policy-serving:
 *	cc -O2 -shared -fPIC -o noresume.so noresume.c -ldl
 * used as LD_PRELOAD=.../noresume.so wrk ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/ssl.h>

int
SSL_clear(SSL *s)
{
	static int (*real)(SSL *);
	int r;

	if (real == NULL) {
		real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
		if (real == NULL) {
			fprintf(stderr, "noresume: no SSL_clear: %s\n",
			    dlerror());
			abort();
		}
	}
	r = real(s);
	SSL_set_session(s, NULL);
	return r;
}
