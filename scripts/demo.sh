#!/bin/sh
# The main job on a built-in default:
#  1. the TLSA records of the bundled sample certificates (config-samples/certs, test fixtures),
#     for a mail and a web service, as certbot's and acme.sh's files would give them;
#  2. a full rollover into a zone file under a temporary directory (bindfile provider), served
#     by a BIND 9 named on loopback: publish, renewal with a new key, old record scheduled,
#     nothing withdrawn before the hold, withdrawn after it (DANEHOOK_NOW moves danehook's
#     clock instead of waiting), `status` along the way.
#   usage: scripts/demo.sh [DANEHOOK_BINARY]   (default build/danehook)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
danehook=${1:-$root/build/danehook}
samples=$root/config-samples/certs

if [ ! -x "$danehook" ]; then
    echo "demo: $danehook not found; build first (scripts/dev build)" >&2
    exit 1
fi

services="--service mail.example.net:25 --service www.example.net:443"

for name in rsa2048 ecdsa-p256 ecdsa-p384 ed25519; do
    echo "# certbot lineage $name: current key (3 1 1) and issuing CA (2 1 1)"
    # shellcheck disable=SC2086
    "$danehook" records --lineage "$samples/$name" $services --record "3 1 1" --record "2 1 1"
    echo
done

acme=$samples/acme.sh/mail.example.net_ecc
echo "# acme.sh certificate with its pre-generated next key (current + next rollover), nsupdate form"
"$danehook" records --cert "$acme/mail.example.net.cer" --chain "$acme/ca.cer" --key "$acme/mail.example.net.key" \
    --next-key "$acme/mail.example.net.key.next" --service mail.example.net:25 --format nsupdate
echo

echo "# an expired certificate: a warning, and the records all the same (DANE-EE ignores dates)"
"$danehook" records --lineage "$samples/expired" --service mail.example.net:25 2>&1

echo
echo "# A full rollover with the bindfile provider and named on loopback"
if ! command -v named >/dev/null 2>&1 || ! command -v dig >/dev/null 2>&1; then
    echo "(rollover demo skipped: needs named and dig, from bind9 and bind9-dnsutils)" >&2
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/danehook-demo.XXXXXX")
named_pid=""
cleanup() {
    if [ -n "$named_pid" ]; then kill "$named_pid" 2>/dev/null || true; wait "$named_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/bind" "$work/live/mail.example.net"
: >"$work/bind/example.net.tlsa"
cat >"$work/bind/db.example.net" <<ZONE
\$ORIGIN example.net.
\$TTL 60
@    IN SOA ns1.example.net. hostmaster.example.net. 2026010100 3600 600 604800 60
@    IN NS  ns1.example.net.
ns1  IN A   127.0.0.1
mail IN A   127.0.0.1
\$INCLUDE $work/bind/example.net.tlsa
ZONE
cat >"$work/bind/named.conf" <<CONF
options {
    directory "$work/bind";
    pid-file "$work/bind/named.pid";
    session-keyfile "$work/bind/session.key";
    listen-on port $port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
};
zone "example.net" { type primary; file "$work/bind/db.example.net"; };
CONF
named -g -4 -n 1 -c "$work/bind/named.conf" >"$work/bind/named.log" 2>&1 &
named_pid=$!
tries=0
until dig +short +time=1 +tries=1 -p "$port" @127.0.0.1 example.net SOA 2>/dev/null | grep -q hostmaster; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then echo "named did not start:" >&2; cat "$work/bind/named.log" >&2; exit 1; fi
    sleep 0.2
done

check_command='[named-checkzone, "{zone}", "{file}"]'
command -v named-checkzone >/dev/null 2>&1 || check_command=off
cat >"$work/danehook.yaml" <<YAML
state_dir: $work/state
providers:
  zonefile:
    type: bindfile
    zone: example.net
    zone_file: $work/bind/db.example.net
    tlsa_file: $work/bind/example.net.tlsa
    check_command: $check_command
    reload_command: [kill, -HUP, "$named_pid"]   # named re-reads its zones on SIGHUP
    nameservers: ["127.0.0.1:$port"]
certificates:
  - name: mail
    lineage: $work/live/mail.example.net
    zone: example.net
    ttl: 60
    hold_margin: 10
    records: ["3 1 1"]
    services:
      - { host: mail.example.net, port: 25 }
YAML
chmod 600 "$work/danehook.yaml"
export DANEHOOK_CONFIG="$work/danehook.yaml"

step() { printf '\n== %s\n' "$*"; }
tlsa() { dig +short +norec -p "$port" @127.0.0.1 _25._tcp.mail.example.net TLSA; }
served() { tlsa | sed 's/^/   served: /'; }
# named reloads on SIGHUP in the background: wait (up to 5 s) until it serves N records.
served_count() {
    tries=0
    while [ "$(tlsa | grep -c .)" != "$1" ] && [ "$tries" -lt 50 ]; do tries=$((tries + 1)); sleep 0.1; done
    served
}
now=$(date +%s)

step "certbot issues mail.example.net (sample ECDSA P-256 key); its deploy hook runs danehook deploy"
cp "$samples/ecdsa-p256/"*.pem "$work/live/mail.example.net/"
RENEWED_LINEAGE="$work/live/mail.example.net" RENEWED_DOMAINS=mail.example.net "$danehook" deploy
step "what the server serves now"
served

step "renewal with a new key (sample ECDSA P-384): danehook deploy publishes the new record, schedules the old"
cp "$samples/ecdsa-p384/"*.pem "$work/live/mail.example.net/"
RENEWED_LINEAGE="$work/live/mail.example.net" RENEWED_DOMAINS=mail.example.net "$danehook" deploy
step "the timer's danehook run, before the hold is over: withdraws nothing; both records are served"
"$danehook" run
served
step "danehook status"
"$danehook" status

later=$((now + 3600))
step "an hour later (DANEHOOK_NOW=$later), past 2 x TTL + hold_margin: danehook run withdraws the old record"
DANEHOOK_NOW=$later "$danehook" run
served_count 1
step "danehook status"
DANEHOOK_NOW=$later "$danehook" status
