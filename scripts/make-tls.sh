#!/usr/bin/env bash
# Makes the TLS files of an EdgeFleet broker: a local CA and a server certificate signed by it.
#
#   bash scripts/make-tls.sh DIR [NAME ...]
#
# DIR gets ca.crt (give it to the control plane as MQTT_CA_FILE and to every agent as mqttCaFile),
# ca.key, server.crt and server.key (the broker's certfile and keyfile; docs/broker.md#tls). The server
# certificate names localhost, 127.0.0.1 and every NAME (a DNS name or an IP address): the names nodes and
# the control plane use to reach the broker. Private keys are 0600. An existing ca.key/ca.crt in DIR is
# reused, so a new server certificate (another name, a renewal) keeps the CA every agent already pins.
# Keys made here must never be committed: put DIR outside the repository or under .edgefleet/.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 DIR [NAME ...]   (NAME: extra DNS name or IP address of the broker)" >&2
  exit 64
fi
dir="$1"
shift
command -v openssl >/dev/null || { echo "make-tls: openssl is not installed" >&2; exit 69; }

# Every file is created 0600 (keys) and the certificates are opened up to 0644 afterwards.
umask 077
mkdir -p "$dir"
# The directory itself stays traversable when it already existed (e.g. /etc/mosquitto/certs); a new one
# is 0700: it holds the CA's private key.
ca_days=3650
server_days=825 # what browsers and many TLS stacks accept as the longest server certificate lifetime

if [[ -f "$dir/ca.key" && -f "$dir/ca.crt" ]]; then
  echo "make-tls: reusing the CA in $dir" >&2
else
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$ca_days" -subj "/O=EdgeFleet/CN=EdgeFleet broker CA $(date -u +%Y%m%dT%H%M%SZ)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$dir/ca.crt"
fi

# Subject alternative names: clients check the name they dialled against these, never the CN.
sans="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then sans+=",IP:$name"; else sans+=",DNS:$name"; fi
done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key"
ext="$(mktemp)"
trap 'rm -f "$ext" "$dir/server.csr"' EXIT
cat >"$ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EOF
openssl req -new -key "$dir/server.key" -subj "/O=EdgeFleet/CN=${1:-localhost}" -out "$dir/server.csr"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -CAserial "$dir/ca.srl" \
  -days "$server_days" -sha256 -extfile "$ext" -out "$dir/server.crt" 2>/dev/null

chmod 0600 "$dir/ca.key" "$dir/server.key"
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null
echo "make-tls: $dir/server.crt for $sans, signed by $dir/ca.crt" >&2
