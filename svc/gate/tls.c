/*
 * tls.c: TLS 1.2 and 1.3 for myco-gate's clients through OpenSSL: building
 * the contexts of a configuration (a default certificate and per-name
 * certificates chosen by SNI; ALPN offers http/1.1), and the handshake and
 * I/O of one connection on its non-blocking socket, the coroutine waiting
 * in myco_poll() whenever OpenSSL wants the socket readable or writable.
 * A reload builds new contexts: new connections get the new certificates,
 * open ones keep theirs (each SSL holds a reference to its context).
 * Not for: HTTP (server.c), which calls myco__gate_conn_recv/write.
 */
#include "gate_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef struct tls {
	SSL_CTX *def;
	size_t nsni;
	char names[16][128];
	SSL_CTX *sni[16];
} tls_t;

static void tls_free(void *p)
{
	tls_t *t = p;
	size_t i;

	if (!t)
		return;
	SSL_CTX_free(t->def);
	for (i = 0; i < t->nsni; i++)
		SSL_CTX_free(t->sni[i]);
	free(t);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int i = 0;

	(void)ssl;
	(void)arg;
	/* h2 when the client offers it, else http/1.1 */
	if (SSL_select_next_proto((unsigned char **)out, outlen, (const unsigned char *)"\x02h2", 3,
				  in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	while (i < inlen) {
		unsigned int n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;        /* no ALPN: HTTP/1.1 anyway */
}

static int sni_select(SSL *ssl, int *al, void *arg)
{
	tls_t *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	size_t i;

	(void)al;
	if (!name)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < t->nsni; i++)
		if (strcasecmp(t->names[i], name) == 0) {
			SSL_set_SSL_CTX(ssl, t->sni[i]);
			break;
		}
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (!ctx) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		snprintf(err, errlen, "tls: %s / %s: %s", cert, key,
			 e ? ERR_reason_error_string(e) : "cannot load");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int myco__tls_build(myco__gate_conf_t *cf, char *err, size_t errlen)
{
	tls_t *t;
	size_t i;

	if (!cf->tls_cert[0])
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->def = make_ctx(cf->tls_cert, cf->tls_key, err, errlen);
	if (!t->def)
		goto fail;
	for (i = 0; i < cf->nsni; i++) {
		t->sni[i] = make_ctx(cf->sni[i].cert, cf->sni[i].key, err, errlen);
		if (!t->sni[i])
			goto fail;
		snprintf(t->names[i], sizeof(t->names[i]), "%s", cf->sni[i].name);
		t->nsni = i + 1;
	}
	if (t->nsni) {
		SSL_CTX_set_tlsext_servername_callback(t->def, sni_select);
		SSL_CTX_set_tlsext_servername_arg(t->def, t);
	}
	cf->tls = t;
	cf->tls_free = tls_free;
	return 0;
fail:
	tls_free(t);
	return -EINVAL;
}

void *myco__tls_ctx_get(const myco__gate_conf_t *cf)
{
	tls_t *t = cf->tls;

	if (!t)
		return NULL;
	SSL_CTX_up_ref(t->def);
	return t->def;
}

bool myco__tls_alpn_h2(const myco__gate_conn_t *c)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (!c->ssl)
		return false;
	SSL_get0_alpn_selected(c->ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0;
}

void myco__tls_ctx_put(void *ssl_ctx)
{
	SSL_CTX_free(ssl_ctx);
}

static int64_t left(uint64_t deadline)
{
	uint64_t now = myco_now();

	return now >= deadline ? 0 : (int64_t)(deadline - now);
}

/* Wait as OpenSSL asks; returns 0 to retry, or an error. */
static int tls_wait(myco__gate_conn_t *c, int ret, uint64_t deadline, bool forever)
{
	int e = SSL_get_error(c->ssl, ret), rc;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		int64_t t = forever ? MYCO_FOREVER : left(deadline);
		if (!forever && t == 0)
			return -ETIMEDOUT;
		rc = myco_poll(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, t);
		return rc < 0 ? rc : 0;
	}
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		return 1;                          /* clean close */
	return e == SSL_ERROR_SYSCALL ? -ECONNRESET : -EPROTO;
}

int myco__tls_accept(myco__gate_conn_t *c, void *ssl_ctx, int64_t timeout_ns)
{
	uint64_t deadline = myco_now() + (uint64_t)timeout_ns;
	SSL *ssl = SSL_new(ssl_ctx);
	int ret, rc;

	if (!ssl)
		return -ENOMEM;
	c->ssl = ssl;
	SSL_set_fd(ssl, c->fd);
	for (;;) {
		ret = SSL_accept(ssl);
		if (ret == 1)
			return 0;
		rc = tls_wait(c, ret, deadline, false);
		if (rc != 0)
			return rc > 0 ? -ECONNRESET : rc;
	}
}

ssize_t myco__tls_recv(myco__gate_conn_t *c, void *buf, size_t len, int64_t timeout_ns)
{
	bool forever = timeout_ns < 0;
	uint64_t deadline = forever ? 0 : myco_now() + (uint64_t)timeout_ns;

	for (;;) {
		int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), rc;
		if (n > 0)
			return n;
		rc = tls_wait(c, n, deadline, forever);
		if (rc > 0)
			return 0;
		if (rc < 0)
			return rc;
	}
}

int myco__tls_write(myco__gate_conn_t *c, const void *buf, size_t len, int64_t timeout_ns)
{
	bool forever = timeout_ns < 0;
	uint64_t deadline = forever ? 0 : myco_now() + (uint64_t)timeout_ns;
	size_t off = 0;

	while (off < len) {
		size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off;
		int n = SSL_write(c->ssl, (const char *)buf + off, (int)chunk), rc;
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		rc = tls_wait(c, n, deadline, forever);
		if (rc > 0)
			return -EPIPE;
		if (rc < 0)
			return rc;
	}
	return 0;
}

void myco__tls_close(myco__gate_conn_t *c)
{
	if (!c->ssl)
		return;
	SSL_shutdown(c->ssl);          /* best effort close_notify, no wait */
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}
