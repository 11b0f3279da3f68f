#!/usr/bin/env bash
# install.sh BUILD_DIR CC: `make install` works for a C library user:
# install into a temporary DESTDIR, then build and run a program against the
# installed headers and libmyco through pkg-config (shared and static).
set -euo pipefail
build=$1 cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null
pc=$(find "$tmp/root" -name myco.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no myco.pc installed"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$pc")
# Point the .pc file at the DESTDIR copy.
sed -i "s|^prefix=.*|prefix=$tmp/root$prefix|" "$pc"
export PKG_CONFIG_PATH=$(dirname "$pc")
cat > "$tmp/user.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <myco/common.h>
#include <myco/chan.h>
/* A user's first program: one queue channel, one message through it. */
int main(void)
{
	myco_chan_config_t cfg;
	myco_chan_owner_t *o = NULL;
	myco_chan_t *p = NULL, *c = NULL;
	myco_chan_msg_t m;
	int fds[MYCO_CHAN_MAX_FDS], n, rc = 1;

	printf("%s\n", myco_version());
	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	if (myco_chan_create(&cfg, &o) < 0)
		return 1;
	n = myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
	if (n < 0 || myco_chan_attach(fds, (size_t)n, MYCO_CHAN_PRODUCER, 0, NULL, &p) < 0)
		goto out;
	n = myco_chan_cap_fds(o, MYCO_CHAN_CONSUMER, 0, fds, MYCO_CHAN_MAX_FDS);
	if (n < 0 || myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0, NULL, &c) < 0)
		goto out;
	if (myco_chan_send(p, "hello", 6) < 0 || myco_chan_recv(c, &m, 0) < 0)
		goto out;
	printf("%s\n", (const char *)m.data);
	rc = strcmp((const char *)m.data, "hello") != 0 || myco_chan_done(c, &m) < 0;
out:
	myco_chan_close(c);
	myco_chan_close(p);
	myco_chan_owner_close(o);
	return rc || strcmp(myco_version(), "0.1.0") != 0;
}
C
# shellcheck disable=SC2046
"$cc" -std=c17 -Wall -Wextra -Werror $(pkg-config --cflags myco) "$tmp/user.c" \
	-o "$tmp/user" $(pkg-config --libs myco)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir myco) "$tmp/user"
"$cc" -std=c17 $(pkg-config --cflags myco) "$tmp/user.c" -o "$tmp/user-static" \
	$(pkg-config --variable=libdir myco)/libmyco.a $(pkg-config --libs --static myco | sed 's/-lmyco//')
"$tmp/user-static"
# Every public header compiles alone and together with all the others (no
# clashing names between libraries), as C17 and as C++.
inc=$(pkg-config --variable=includedir myco)
: > "$tmp/all.c"
for h in "$inc"/myco/*.h; do
	printf '#include <myco/%s>\n' "$(basename "$h")" > "$tmp/one.c"
	"$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/one.c"
	printf '#include <myco/%s>\n' "$(basename "$h")" >> "$tmp/all.c"
done
"$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/all.c"
if command -v c++ >/dev/null 2>&1; then
	c++ -Wall -Wextra -Werror -fsyntax-only -x c++ -I"$inc" "$tmp/all.c"
fi
[ -x "$tmp/root$prefix/bin/myco" ] || { echo "FAIL: myco command not installed"; exit 1; }
"$tmp/root$prefix/bin/myco" version
echo "install: ok"
