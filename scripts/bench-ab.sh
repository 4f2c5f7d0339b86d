#!/usr/bin/env bash
# Cross-check of `pnpm bench` with a C load generator (Apache ab: mTLS, keep-alive):
# kes-ts with 1 and 2 workers, POST /v1/key/generate, 16 and 64 connections, 3 alternating
# repeats. Needs `ab` (apt-get install apache2-utils), openssl and `pnpm build` first.
# KES_AB_REQUESTS sets the requests per cell (default 30000). Not part of `pnpm test`.
set -u
command -v ab >/dev/null || { echo "ab not found: apt-get install apache2-utils" >&2; exit 1; }
REQUESTS=${KES_AB_REQUESTS:-30000}
KES="$(cd "$(dirname "$0")/.." && pwd)/packages/cli/bin/kes.js"
work=$(mktemp -d); cd "$work"
rm -rf keys* *.pem *.yml
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.crt -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli.key -out cli.crt -subj /CN=bench -addext basicConstraints=CA:FALSE -days 1 2>/dev/null
cat cli.crt cli.key > client.pem
ADMIN=$(node $KES identity of cli.crt | tail -1)
echo '{"context":"YmVuY2gtY29udGV4dC0zMi1ieXRlcy0xMjM0NTY3ODkw"}' > body.json
for w in 1 2; do
  cat > kes$w.yml <<Y
address: 127.0.0.1:1737$w
admin: { identity: $ADMIN }
tls: { key: $work/srv.key, cert: $work/srv.crt }
log: { error: off, audit: off }
keystore: { fs: { path: $work/keys$w } }
Y
  node $KES server --config kes$w.yml --workers $w > srv$w.log 2>&1 &
  echo $! > pid$w
done
sleep 4
for w in 1 2; do curl -sk --cert cli.crt --key cli.key -X POST https://127.0.0.1:1737$w/v1/key/create/k; done
for rep in 1 2 3; do
  for w in 1 2; do
    for c in 16 64; do
      r=$(ab -q -k -n $REQUESTS -c $c -E client.pem -p body.json -T application/json https://127.0.0.1:1737$w/v1/key/generate/k 2>&1 | grep -E "Requests per second|Failed requests|Non-2xx")
      echo "workers=$w conns=$c rep=$rep $(echo $r | tr '\n' ' ')"
    done
  done
done
kill $(cat pid1) $(cat pid2)
wait
