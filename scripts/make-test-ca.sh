#!/usr/bin/env bash
# Make a throw-away CA, a server certificate for localhost/127.0.0.1 and a client
# certificate, for trying vecgate's TLS and mutual TLS locally (never for production).
#
#   scripts/make-test-ca.sh DIR [HOSTNAME]
#
# Writes DIR/ca.pem, DIR/server.pem, DIR/server.key, DIR/client.pem, DIR/client.key.
set -euo pipefail
dir=${1:?usage: make-test-ca.sh DIR [HOSTNAME]}
host=${2:-localhost}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vecgate test CA" \
  -keyout ca.key -out ca.pem 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=vecgate-$who" \
    -keyout "$who.key" -out "$who.csr" 2>/dev/null
  if [ "$who" = server ]; then
    printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "$host" > ext.cnf
  else
    printf 'extendedKeyUsage=clientAuth\n' > ext.cnf
  fi
  openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out "$who.pem" 2>/dev/null
done
rm -f ./*.csr ext.cnf ca.srl
echo "wrote $dir/{ca.pem,server.pem,server.key,client.pem,client.key}"
