#!/bin/sh
# Makes the test provider's CA and server certificate (for the provider host
# names, localhost and 127.0.0.1) in DIR. Reuses them if present.
set -eu
dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -s server.pem ] && [ -s ca.pem ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=spaturzu test CA" \
  -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cat > san.cnf <<'CNF'
subjectAltName = @alt
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
[alt]
DNS.1 = localhost
DNS.2 = api.openai.com
DNS.3 = *.openai.azure.com
DNS.4 = api.anthropic.com
DNS.5 = generativelanguage.googleapis.com
DNS.6 = *.googleapis.com
DNS.7 = bedrock-runtime.us-east-1.amazonaws.com
DNS.8 = api.mistral.ai
DNS.9 = api.cohere.com
DNS.10 = api.groq.com
DNS.11 = api.deepseek.com
DNS.12 = api.x.ai
DNS.13 = openrouter.ai
DNS.14 = api.together.xyz
DNS.15 = api.fireworks.ai
DNS.16 = llm.internal.test
IP.1 = 127.0.0.1
CNF
openssl req -newkey rsa:2048 -nodes -subj "/CN=spaturzu test provider" \
  -keyout server.key -out server.csr 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile san.cnf -out server.pem 2>/dev/null
rm -f server.csr
