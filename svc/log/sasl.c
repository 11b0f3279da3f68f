/*
 * sasl.c: SASL authentication of myco-log's connections (PLAIN,
 * SCRAM-SHA-256, SCRAM-SHA-512) through Cyrus SASL (libsasl2), with the
 * users and passwords of a file given by --sasl-users: SaslHandshake and
 * SaslAuthenticate (KIP-43, KIP-152), and the rule that a connection that
 * has not authenticated may send nothing but ApiVersions and those two.
 *
 * Why Cyrus SASL and not GNU SASL: libgsasl 2.2 (Debian 12) has no
 * server-side SCRAM-SHA-512; Cyrus's scram plugin does SHA-256 and
 * SHA-512 (and PLAIN). The mechanisms are Cyrus's own; this file only
 * gives them the passwords, through an auxiliary-property plugin
 * ("userPassword" for a user name) registered in this process, so no
 * sasldb file or system service is involved.
 *
 * Not for: TLS (net_rt.c), the wire codec (kproto.c).
 */
#include "log_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MYCO_LOG_SASL
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

enum {
	KERR_UNSUPPORTED_SASL_MECHANISM = 33, KERR_ILLEGAL_SASL_STATE = 34,
	KERR_SASL_AUTHENTICATION_FAILED = 58,
};

typedef struct user { struct user *next; char *name, *pass; } user_t;

static user_t *users;
static char mech_list[128];     /* space-separated, for Cyrus */
static bool ready;

/* Per connection. */
struct myco__lsasl {
	sasl_conn_t *sc;
	char mech[32];
	int state;                  /* 0 new, 1 mechanism chosen, 2 started, 3 done */
	bool raw;                   /* SaslHandshake v0: raw tokens follow */
};

static const user_t *user_find(const char *name, size_t n)
{
	for (const user_t *u = users; u; u = u->next)
		if (strlen(u->name) == n && !memcmp(u->name, name, n))
			return u;
	return NULL;
}

/* The auxiliary-property plugin: "userPassword" of a user from the file. */
static int aux_lookup(void *glob, sasl_server_params_t *sp, unsigned flags, const char *user,
		      unsigned ulen)
{
	const struct propval *to_fetch, *cur;
	const user_t *u;
	size_t n = ulen;

	(void)glob;
	if (!sp || !user)
		return SASL_BADPARAM;
	for (size_t i = 0; i < ulen; i++)
		if (user[i] == '@') {     /* user@realm: the file has no realms */
			n = i;
			break;
		}
	u = user_find(user, n);
	if (!u)
		return SASL_NOUSER;
	to_fetch = sp->utils->prop_get(sp->propctx);
	if (!to_fetch)
		return SASL_NOMEM;
	for (cur = to_fetch; cur->name; cur++) {
		const char *real = cur->name;
		if (cur->name[0] == '*' && (flags & SASL_AUXPROP_AUTHZID))
			continue;
		if (!(flags & SASL_AUXPROP_AUTHZID)) {
			if (cur->name[0] != '*')
				continue;
			real = cur->name + 1;
		}
		if (strcasecmp(real, "userPassword"))
			continue;
		if (cur->values && !(flags & SASL_AUXPROP_OVERRIDE))
			continue;
		if (cur->values)
			sp->utils->prop_erase(sp->propctx, cur->name);
		sp->utils->prop_set(sp->propctx, cur->name, u->pass, (int)strlen(u->pass));
	}
	return SASL_OK;
}

static sasl_auxprop_plug_t aux_plug = {
	0, 0, NULL, NULL, aux_lookup, "myco", NULL,
};

static int aux_init(const sasl_utils_t *utils, int max_version, int *out_version,
		    sasl_auxprop_plug_t **plug, const char *name)
{
	(void)utils;
	(void)name;
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &aux_plug;
	return SASL_OK;
}

static int getopt_cb(void *ctx, const char *plugin, const char *option, const char **result,
		     unsigned *len)
{
	(void)ctx;
	(void)plugin;
	if (!strcmp(option, "mech_list"))
		*result = mech_list;
	else if (!strcmp(option, "pwcheck_method"))
		*result = "auxprop";
	else if (!strcmp(option, "auxprop_plugin"))
		*result = "myco";
	else
		return SASL_FAIL;
	if (len)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static sasl_callback_t callbacks[] = {
	{ SASL_CB_GETOPT, (int (*)(void))(void (*)(void))getopt_cb, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

int myco__lsasl_setup(const char *users_file, const char *mechs)
{
	FILE *f = fopen(users_file, "r");
	char line[1024];
	int rc;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *end = line + strcspn(line, "\r\n");
		user_t *u;
		*end = 0;
		if (line[0] == '#' || !colon || colon == line)
			continue;
		*colon = 0;
		u = calloc(1, sizeof(*u));
		if (!u || !(u->name = strdup(line)) || !(u->pass = strdup(colon + 1))) {
			fclose(f);
			return -ENOMEM;
		}
		u->next = users;
		users = u;
	}
	fclose(f);
	if (!users)
		return -ENOENT;
	snprintf(mech_list, sizeof(mech_list), "%s", mechs ? mechs : "PLAIN SCRAM-SHA-256 SCRAM-SHA-512");
	for (char *c = mech_list; *c; c++)
		if (*c == ',')
			*c = ' ';
	rc = sasl_server_init(callbacks, "myco-log");
	if (rc == SASL_OK)
		rc = sasl_auxprop_add_plugin("myco", aux_init);
	if (rc != SASL_OK) {
		fprintf(stderr, "myco-log: SASL: %s\n", sasl_errstring(rc, NULL, NULL));
		return -EINVAL;
	}
	ready = true;
	return 0;
}

bool myco__lsasl_enabled(void)
{
	return ready;
}

void myco__lsasl_free(myco__lsasl_t *s)
{
	if (!s)
		return;
	if (s->sc)
		sasl_dispose(&s->sc);
	free(s);
}

bool myco__lsasl_authenticated(const myco__lsasl_t *s)
{
	return s && s->state == 3;
}

bool myco__lsasl_raw(const myco__lsasl_t *s)
{
	return s && s->raw && (s->state == 1 || s->state == 2);
}

/* One step of the exchange: 0 done, 1 continue, -1 failed.  *out (Cyrus's
 * buffer, valid until the next step) is what goes back. */
static int sasl_step(myco__lb_t *lb, myco__lc_t *conn, myco__lsasl_t *s, const uint8_t *p,
		     size_t len, const char **out, unsigned *outlen)
{
	/* a NUL-terminated copy: the frame is reused for the next request,
	 * and the SCRAM plugin reads its input as a string */
	unsigned n = (unsigned)len;
	char *in = malloc(n + 1);
	int rc;

	*out = NULL;
	*outlen = 0;
	if (!in)
		return -1;
	if (n)
		memcpy(in, p, n);
	in[n] = 0;
	if (s->state == 1) {
		rc = sasl_server_new("kafka", NULL, NULL, NULL, NULL, NULL,
				     SASL_SUCCESS_DATA, &s->sc);
		if (rc == SASL_OK)
			rc = sasl_server_start(s->sc, s->mech, in, n, out, outlen);
		s->state = 2;
	} else {
		rc = sasl_server_step(s->sc, in, n, out, outlen);
	}
	free(in);
	if (rc == SASL_OK) {
		const void *name = NULL;
		s->state = 3;
		(void)sasl_getprop(s->sc, SASL_USERNAME, &name);
		if (lb->cfg.verbose)
			fprintf(stderr, "myco-log: %s authenticated as %s with %s\n",
				myco__lc_peer(conn), name ? (const char *)name : "?", s->mech);
		return 0;
	}
	if (rc == SASL_CONTINUE)
		return 1;
	fprintf(stderr, "myco-log: %s: SASL %s authentication failed: %s\n", myco__lc_peer(conn),
		s->mech, s->sc ? sasl_errdetail(s->sc) : sasl_errstring(rc, NULL, NULL));
	*out = NULL;
	*outlen = 0;
	return -1;
}

void myco__lsasl_raw_token(myco__lb_t *lb, myco__lc_t *conn, const uint8_t *p, size_t len)
{
	myco__lsasl_t *s = *(myco__lsasl_t **)myco__lc_session(conn);
	const char *out;
	unsigned outlen;
	myco__kwr_t w;

	if (sasl_step(lb, conn, s, p, len, &out, &outlen) < 0) {
		myco__lc_abort(conn);           /* v0: failure closes it */
		return;
	}
	myco__kwr_init(&w);
	myco__kwr_i32(&w, (int32_t)outlen);
	myco__kwr_raw(&w, out, outlen);
	if (w.err) {
		myco__kwr_free(&w);
		myco__lc_abort(conn);
		return;
	}
	myco__lc_send(conn, &w);
}

/* Is mech one of the configured mechanisms? */
static bool mech_ok(myco__kstr_t m, char out[32])
{
	const char *p = mech_list;
	size_t n = m.len > 0 ? (size_t)m.len : 0;

	if (!m.p || n == 0 || n >= 32)
		return false;
	while (*p) {
		size_t l = strcspn(p, " ");
		if (l == n && !memcmp(p, m.p, n)) {
			memcpy(out, m.p, n);
			out[n] = 0;
			return true;
		}
		p += l;
		while (*p == ' ')
			p++;
	}
	return false;
}

static void write_mechs(myco__kwr_t *w, bool f)
{
	int32_t n = 0;
	const char *p = mech_list;
	while (*p) {
		size_t l = strcspn(p, " ");
		if (l)
			n++;
		p += l;
		while (*p == ' ')
			p++;
	}
	myco__kwr_array(w, f, n);
	for (p = mech_list; *p;) {
		size_t l = strcspn(p, " ");
		if (l)
			myco__kwr_strn(w, f, p, (int32_t)l);
		p += l;
		while (*p == ' ')
			p++;
	}
}

void myco__lh_sasl_handshake(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t mechanism)
{
	myco__lsasl_t **slot = (myco__lsasl_t **)myco__lc_session(req->conn);
	int16_t err = 0;
	myco__kwr_t w;
	char mech[32];

	(void)lb;
	if (!ready || !mech_ok(mechanism, mech)) {
		err = KERR_UNSUPPORTED_SASL_MECHANISM;
	} else if (*slot && (*slot)->state != 0) {
		err = KERR_ILLEGAL_SASL_STATE;
	} else {
		if (!*slot)
			*slot = calloc(1, sizeof(**slot));
		if (!*slot) {
			myco__lc_abort(req->conn);
			return;
		}
		memcpy((*slot)->mech, mech, sizeof(mech));
		(*slot)->state = 1;
		/* v0 (kafka-python 2.0.2): the next frames are bare SASL
		 * tokens, answered bare (KIP-43's first form) */
		(*slot)->raw = req->ver == 0;
	}
	myco__lresp_begin(&w, req);
	myco__kwr_i16(&w, err);
	write_mechs(&w, req->flex);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

void myco__lh_sasl_authenticate(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t auth)
{
	myco__lsasl_t *s = *(myco__lsasl_t **)myco__lc_session(req->conn);
	const char *out = NULL, *msg = NULL;
	unsigned outlen = 0;
	int16_t err = 0;
	bool f = req->flex, close_after = false;
	myco__kwr_t w;

	if (!s || (s->state != 1 && s->state != 2)) {
		err = KERR_ILLEGAL_SASL_STATE;
		msg = "SaslHandshake first";
		close_after = true;
	} else if (sasl_step(lb, req->conn, s, auth.p, auth.len > 0 ? (size_t)auth.len : 0, &out,
			     &outlen) < 0) {
		err = KERR_SASL_AUTHENTICATION_FAILED;
		msg = "Authentication failed: invalid credentials";
		close_after = true;
	}
	myco__lresp_begin(&w, req);
	myco__kwr_i16(&w, err);
	myco__kwr_str(&w, f, msg);
	myco__kwr_bytes(&w, f, out, (int32_t)outlen);
	if (req->ver >= 1)
		myco__kwr_i64(&w, 0);           /* session lifetime: unlimited */
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
	if (close_after)
		myco__lc_abort(req->conn);      /* Kafka closes it too */
}

#else /* no libsasl2 at build time */

int myco__lsasl_setup(const char *users_file, const char *mechs)
{
	(void)users_file;
	(void)mechs;
	return -ENOTSUP;
}

bool myco__lsasl_enabled(void)
{
	return false;
}

void myco__lsasl_free(myco__lsasl_t *s)
{
	(void)s;
}

bool myco__lsasl_authenticated(const myco__lsasl_t *s)
{
	(void)s;
	return false;
}

bool myco__lsasl_raw(const myco__lsasl_t *s)
{
	(void)s;
	return false;
}

void myco__lsasl_raw_token(myco__lb_t *lb, myco__lc_t *conn, const uint8_t *p, size_t len)
{
	(void)lb;
	(void)p;
	(void)len;
	myco__lc_abort(conn);
}

void myco__lh_sasl_handshake(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t mechanism)
{
	myco__kwr_t w;
	(void)lb;
	(void)mechanism;
	myco__lresp_begin(&w, req);
	myco__kwr_i16(&w, 33);
	myco__kwr_array(&w, req->flex, 0);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

void myco__lh_sasl_authenticate(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t auth)
{
	(void)lb;
	(void)auth;
	myco__lc_abort(req->conn);
}
#endif
