#!/usr/bin/env bash
# Make sure what the test suites talk to exists on this machine: a redis-server binary (the
# tests start their own server when none listens on 127.0.0.1:6379), Debian's Chromium for
# the browser suites, valgrind for the instruction-count benchmark's smoke run and wrk for the
# throughput benchmark's. Installs from Debian's packages when missing and we are root; otherwise
# says so, and the suites that need the missing piece skip with that reason.
set -u
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-services: installing ${need[*]} from Debian packages"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || echo "ensure-test-services: could not install ${need[*]}; dependent tests will skip"
  else
    echo "ensure-test-services: missing ${need[*]} (not root); dependent tests will skip"
  fi
fi
exit 0
