#!/usr/bin/env sh
# acme.sh deploy hook for danehook: publishes the DANE TLSA records of a new certificate.
#
#   cp danehook.sh ~/.acme.sh/deploy/      (or /usr/share/danehook/acme.sh/deploy/danehook.sh)
#   acme.sh --deploy -d mail.example.net --deploy-hook danehook
#
# acme.sh sources this file and calls danehook_deploy DOMAIN KEY CERT CA FULLCHAIN [PFX].
# With --always-force-new-domain-key acme.sh keeps the pre-generated next key's path in
# Le_Next_Domain_Key; danehook pre-publishes that key's record too.
#
# Optional settings (saved by acme.sh for renewals):
#   DANEHOOK_BIN     danehook executable (default: danehook on PATH)
#   DANEHOOK_CONFIG  configuration file (default: /etc/danehook/danehook.yaml)

danehook_deploy() {
  _cdomain="$1"
  _ckey="$2"
  _ccert="$3"
  _cca="$4"
  _cfullchain="$5"

  _debug _cdomain "$_cdomain"
  _debug _ckey "$_ckey"
  _debug _ccert "$_ccert"
  _debug _cca "$_cca"
  _debug _cfullchain "$_cfullchain"

  _getdeployconf DANEHOOK_BIN
  _getdeployconf DANEHOOK_CONFIG
  _danehook_bin="${DANEHOOK_BIN:-danehook}"
  if ! command -v "$_danehook_bin" >/dev/null 2>&1; then
    _err "danehook executable not found: $_danehook_bin (set DANEHOOK_BIN)"
    return 1
  fi
  [ -n "$DANEHOOK_BIN" ] && _savedeployconf DANEHOOK_BIN "$DANEHOOK_BIN"
  [ -n "$DANEHOOK_CONFIG" ] && _savedeployconf DANEHOOK_CONFIG "$DANEHOOK_CONFIG"

  set -- deploy --domain "$_cdomain" --cert "$_ccert" --key "$_ckey"
  if [ -n "$_cca" ] && [ -s "$_cca" ]; then
    set -- "$@" --chain "$_cca"
  elif [ -n "$_cfullchain" ] && [ -s "$_cfullchain" ]; then
    set -- "$@" --chain "$_cfullchain"
  fi
  # Only a key that exists: acme.sh keeps the variable even when the feature is off.
  if [ -n "$Le_Next_Domain_Key" ] && [ -f "$Le_Next_Domain_Key" ]; then
    set -- "$@" --next-key "$Le_Next_Domain_Key"
  fi
  if [ -n "$DANEHOOK_CONFIG" ]; then
    set -- --config "$DANEHOOK_CONFIG" "$@"
  fi

  _info "Running danehook $*"
  if ! "$_danehook_bin" "$@"; then
    _err "danehook deploy failed for $_cdomain (it keeps the work and retries from 'danehook run')"
    return 1
  fi
  return 0
}
