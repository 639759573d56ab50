#!/bin/sh
# Builds the C filters with Debian's clang + lld + wasi-libc
# (apt-get install clang lld wasi-libc). -mexec-model=reactor: a library
# module with _initialize, no main. malloc is exported for the host.
set -e
cd "$(dirname "$0")"
CC=${CC:-clang}
for f in header_filter local_response; do
  $CC --target=wasm32-wasi --sysroot=${WASI_SYSROOT:-/usr} -O2 -Wall -Werror -mexec-model=reactor \
    -Wl,--export=malloc -Wl,--export=free -Wl,--strip-all -o $f.wasm $f.c
  ls -l $f.wasm
done
