#!/bin/sh
# Builds the sample certificates under config-samples/certs/ with the openssl command-line tool:
# a test root CA, an RSA and an ECDSA intermediate, and leaf certificates (RSA 2048, ECDSA P-256,
# ECDSA P-384, Ed25519) laid out as certbot lineage directories, an expired leaf, an acme.sh
# style directory with a pre-generated next key, and a few other input forms (CSR, PKCS#1 public
# key). Every key made here is a TEST FIXTURE, published in the repository: never use it.
#
# Validity runs to 9999-12-31 (RFC 5280's "no well-defined expiration"), so the tests never rot.
# Running the script again makes new keys: run scripts/make-tlsa-vectors.sh afterwards.
#   usage: scripts/make-sample-certs.sh [OUTPUT_DIR]   (default config-samples/certs)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/config-samples/certs}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
umask 022

start=20250101000000Z
forever=99991231235959Z

new_key() {  # new_key FILE TYPE
    case "$2" in
        rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
        rsa4096) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$1" 2>/dev/null ;;
        p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1" ;;
        p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$1" ;;
        ed25519) openssl genpkey -algorithm ED25519 -out "$1" ;;
        *) echo "unknown key type $2" >&2; exit 1 ;;
    esac
}

# A minimal `openssl ca` set-up per issuing CA: `openssl ca` is the CLI that takes explicit
# start and end dates (needed for the expired certificate and for fixed validity).
ca_config() {  # ca_config NAME
    dir=$work/$1
    mkdir -p "$dir/issued"
    : >"$dir/index.txt"
    echo 1000 >"$dir/serial"
    cat >"$dir/ca.cnf" <<CNF
[ca]
default_ca = this_ca
[this_ca]
dir = $dir
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/issued
certificate = \$dir/cert.pem
private_key = \$dir/key.pem
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
organizationName = optional
commonName = supplied
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[root_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate_ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_rsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:www.example.net, DNS:mail.example.net
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:www.example.net, DNS:mail.example.net
CNF
}

sign() {  # sign ISSUER CSR OUT EXTENSIONS START END
    openssl ca -batch -notext -config "$work/$1/ca.cnf" -in "$2" -out "$3" -extensions "$4" \
        -startdate "$5" -enddate "$6" 2>/dev/null
}

# Root CA (self-signed through `openssl ca -selfsign` so it also gets the fixed dates).
ca_config root
new_key "$work/root/key.pem" rsa4096
openssl req -new -key "$work/root/key.pem" -subj "/O=danehook test fixtures/CN=danehook Test Root X1" \
    -out "$work/root/req.pem"
openssl ca -batch -notext -selfsign -config "$work/root/ca.cnf" -keyfile "$work/root/key.pem" \
    -in "$work/root/req.pem" -out "$work/root/cert.pem" -extensions root_ca \
    -startdate $start -enddate $forever 2>/dev/null

intermediate() {  # intermediate NAME KEYTYPE CN
    ca_config "$1"
    new_key "$work/$1/key.pem" "$2"
    openssl req -new -key "$work/$1/key.pem" -subj "/O=danehook test fixtures/CN=$3" -out "$work/$1/req.pem"
    sign root "$work/$1/req.pem" "$work/$1/cert.pem" intermediate_ca $start $forever
}
intermediate int-rsa rsa2048 "danehook Test R1"
intermediate int-ecdsa p384 "danehook Test E1"

rm -rf "$out"
mkdir -p "$out/ca" "$out/inputs"
cp "$work/root/cert.pem" "$out/ca/root.pem"
cp "$work/int-rsa/cert.pem" "$out/ca/intermediate-rsa.pem"
cp "$work/int-ecdsa/cert.pem" "$out/ca/intermediate-ecdsa.pem"

leaf() {  # leaf NAME KEYTYPE ISSUER EXTENSIONS START END -> $work/NAME/{privkey,cert,csr}.pem
    mkdir -p "$work/$1"
    new_key "$work/$1/privkey.pem" "$2"
    openssl req -new -key "$work/$1/privkey.pem" -subj "/CN=www.example.net" -out "$work/$1/csr.pem"
    sign "$3" "$work/$1/csr.pem" "$work/$1/cert.pem" "$4" "$5" "$6"
}

lineage() {  # lineage NAME KEYTYPE ISSUER EXTENSIONS [START END]: a certbot live/NAME directory
    leaf "$1" "$2" "$3" "$4" "${5:-$start}" "${6:-$forever}"
    dir=$out/$1
    mkdir -p "$dir"
    cp "$work/$1/cert.pem" "$dir/cert.pem"
    cp "$work/$3/cert.pem" "$dir/chain.pem"
    cat "$work/$1/cert.pem" "$work/$3/cert.pem" >"$dir/fullchain.pem"
    cp "$work/$1/privkey.pem" "$dir/privkey.pem"
    chmod 600 "$dir/privkey.pem"
}
lineage rsa2048 rsa2048 int-rsa leaf_rsa
lineage ecdsa-p256 p256 int-ecdsa leaf
lineage ecdsa-p384 p384 int-ecdsa leaf
lineage ed25519 ed25519 int-ecdsa leaf
lineage expired p256 int-ecdsa leaf 20200101000000Z 20210101000000Z

# acme.sh keeps ~/.acme.sh/<domain>_ecc/ with <domain>.cer, <domain>.key, ca.cer and
# fullchain.cer; the next key is pre-generated for the "current + next" rollover. Here ca.cer
# carries the root too, as some CAs send it, so that `--trust-anchor top` has something to find.
leaf acme p256 int-ecdsa leaf $start $forever
acme=$out/acme.sh/mail.example.net_ecc
mkdir -p "$acme"
cp "$work/acme/cert.pem" "$acme/mail.example.net.cer"
cp "$work/acme/privkey.pem" "$acme/mail.example.net.key"
cat "$work/int-ecdsa/cert.pem" "$work/root/cert.pem" >"$acme/ca.cer"
cat "$work/acme/cert.pem" "$work/int-ecdsa/cert.pem" "$work/root/cert.pem" >"$acme/fullchain.cer"
new_key "$acme/mail.example.net.key.next" p256
chmod 600 "$acme/mail.example.net.key" "$acme/mail.example.net.key.next"

# Other input forms of the RSA leaf's key: its CSR, its SPKI public key and PKCS#1 public key.
cp "$work/rsa2048/csr.pem" "$out/inputs/rsa2048.csr.pem"
openssl pkey -in "$work/rsa2048/privkey.pem" -pubout -out "$out/inputs/rsa2048.pub.pem"
openssl rsa -in "$work/rsa2048/privkey.pem" -RSAPublicKey_out -out "$out/inputs/rsa2048.rsa-pub.pem" 2>/dev/null
cp "$work/ed25519/csr.pem" "$out/inputs/ed25519.csr.pem"

cat >"$out/README.md" <<'README'
# Sample certificates (test fixtures)

Made by `scripts/make-sample-certs.sh` with the openssl command-line tool. **Every private key
here is a published test fixture: never use one for anything real.** The certificates chain to
"danehook Test Root X1", which nobody trusts.

| Path | What |
|------|------|
| `ca/root.pem` | root CA (RSA 4096, self-signed) |
| `ca/intermediate-rsa.pem`, `ca/intermediate-ecdsa.pem` | intermediates "R1" (RSA 2048) and "E1" (ECDSA P-384) |
| `rsa2048/`, `ecdsa-p256/`, `ecdsa-p384/`, `ed25519/` | certbot lineages (`cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem`); RSA leaf issued by R1, the others by E1 |
| `expired/` | certbot lineage whose ECDSA P-256 leaf expired on 2021-01-01 |
| `acme.sh/mail.example.net_ecc/` | acme.sh layout (`mail.example.net.cer`, `.key`, `ca.cer` = E1 + root, `fullchain.cer`) plus a pre-generated next key `mail.example.net.key.next` |
| `inputs/` | other forms of the RSA leaf's key: CSR, SPKI public key, PKCS#1 `RSA PUBLIC KEY`; the Ed25519 leaf's CSR |

Every certificate except the expired one is valid from 2025-01-01 to 9999-12-31, so tests built
on them do not rot. The known-answer TLSA vectors in `tests/core/data/tlsa_vectors.txt` were
computed from these files by `scripts/make-tlsa-vectors.sh` (openssl CLI only); regenerate both
together:

```sh
scripts/make-sample-certs.sh && scripts/make-tlsa-vectors.sh
```
README
echo "sample certificates written to $out"
