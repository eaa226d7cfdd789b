#!/usr/bin/env bash
# Installs and starts what fnforge's tests need on a Debian machine: the Docker engine
# (Debian's docker.io, started by hand where no service manager runs), debootstrap for the
# offline sandbox image, Chromium for the report test, g++ for the local-model tests' llama.cpp
# build, and a git identity when none is set.
# With --optional (used by `make demo`) a missing piece is a warning, not a failure, and
# Chromium (needed only by the report's browser test) is left out.
set -u
optional=0; [ "${1:-}" = "--optional" ] && optional=1
say() { echo "setup: $*"; }
die() { if [ $optional = 1 ]; then say "warning: $*"; exit 0; else say "error: $*"; exit 1; fi; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
[ $optional = 1 ] || command -v chromium >/dev/null || need+=(chromium fonts-liberation fonts-dejavu-core)
[ $optional = 1 ] || command -v g++ >/dev/null || need+=(g++)  # builds llama.cpp for the local-model tests
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then die "missing ${need[*]}; install them as root (apt-get install -y ${need[*]})"; fi
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see /var/log/dockerd.log"
fi
say "docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null) answers"

if [ -z "$(git config --global user.email 2>/dev/null)" ]; then
  git config --global user.email "fnforge@localhost"
  git config --global user.name "fnforge"
  say "set a global git identity (fnforge <fnforge@localhost>)"
fi
exit 0
