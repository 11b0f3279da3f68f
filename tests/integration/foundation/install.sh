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
int main(void)
{
	printf("%s\n", myco_version());
	return strcmp(myco_version(), "0.1.0") != 0;
}
C
# shellcheck disable=SC2046
"$cc" -std=c17 -Wall -Wextra -Werror $(pkg-config --cflags myco) "$tmp/user.c" \
	-o "$tmp/user" $(pkg-config --libs myco)
LD_LIBRARY_PATH=$(pkg-config --variable=libdir myco) "$tmp/user"
"$cc" -std=c17 $(pkg-config --cflags myco) "$tmp/user.c" -o "$tmp/user-static" \
	$(pkg-config --variable=libdir myco)/libmyco.a $(pkg-config --libs --static myco | sed 's/-lmyco//')
"$tmp/user-static"
[ -x "$tmp/root$prefix/bin/myco" ] || { echo "FAIL: myco command not installed"; exit 1; }
"$tmp/root$prefix/bin/myco" version
echo "install: ok"
