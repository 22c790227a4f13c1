#!/bin/sh
# Installs the single-file Weft binaries on a Debian 12 host (docs/binaries.md):
#
#   sudo sh install.sh [--advertise-addr IP] [--no-deps] [--no-start] [DIR]
#
# DIR holds weft and weft-agent (default: the folder of this script, else ./dist). Installs
# /usr/local/bin/weft and /usr/local/bin/weft-agent, the systemd unit weft-agent.service, and
# /etc/default/weft-agent (kept if it exists); creates /var/lib/weft (0700); installs the Debian
# packages the agent runs (iproute2, util-linux, iptables) and libsodium23 (the cipher's fast
# path; without it the agent uses its built-in WebAssembly libsodium), unless --no-deps; then
# enables and starts the service, unless --no-start or there is no systemd.
# DESTDIR=/some/root installs into that tree instead (no packages, no systemctl).
set -eu

advertise=""
deps=1
start=1
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --advertise-addr) [ $# -ge 2 ] || { echo "install.sh: --advertise-addr needs an IPv4 address" >&2; exit 2; }; advertise="$2"; shift 2 ;;
    --no-deps) deps=0; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) dir="$1"; shift ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$dir" ]; then
  if [ -x "$here/weft-agent" ]; then dir="$here"; else dir="./dist"; fi
fi
for b in weft weft-agent; do
  [ -x "$dir/$b" ] || { echo "install.sh: $dir/$b not found or not executable; build it with 'npm run build:binaries' (writes dist/) or pass the folder that holds it" >&2; exit 1; }
done
unit="$here/weft-agent.service"
defaults="$here/weft-agent.default"
[ -f "$unit" ] || { echo "install.sh: $unit not found: keep install.sh beside weft-agent.service" >&2; exit 1; }

root="${DESTDIR:-}"
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo sh install.sh ...), or set DESTDIR to install into a folder" >&2
  exit 1
fi

if [ -z "$root" ] && [ "$deps" = 1 ]; then
  pkgs=""
  for p in iproute2 util-linux iptables libsodium23; do dpkg -s "$p" >/dev/null 2>&1 || pkgs="$pkgs $p"; done
  if [ -n "$pkgs" ]; then
    echo "installing$pkgs (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs >/dev/null
  fi
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/default"
install -d -m 0700 "$root/var/lib/weft"
# Replace, never write into, a binary a running agent may be executing.
for b in weft weft-agent; do
  install -m 0755 "$dir/$b" "$root/usr/local/bin/.$b.new"
  mv -f "$root/usr/local/bin/.$b.new" "$root/usr/local/bin/$b"
done
install -m 0644 "$unit" "$root/etc/systemd/system/weft-agent.service"
if [ ! -f "$root/etc/default/weft-agent" ]; then
  install -m 0644 "$defaults" "$root/etc/default/weft-agent"
fi
if [ -n "$advertise" ]; then
  sed -i "s|^WEFT_AGENT_OPTS=.*|WEFT_AGENT_OPTS=\"--advertise-addr $advertise\"|" "$root/etc/default/weft-agent"
fi
echo "installed: $root/usr/local/bin/weft, $root/usr/local/bin/weft-agent, $root/etc/systemd/system/weft-agent.service, $root/etc/default/weft-agent"

if [ -z "$root" ] && [ "$start" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now weft-agent.service
  echo "weft-agent.service started: check with 'systemctl status weft-agent' and 'weft info'"
else
  echo "not started: run 'systemctl daemon-reload && systemctl enable --now weft-agent' (or /usr/local/bin/weft-agent by hand)"
fi
