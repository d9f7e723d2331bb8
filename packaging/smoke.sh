#!/usr/bin/env bash
# Smoke-test a built artifact, as a user would run it. Builds nothing.
#   packaging/smoke.sh [ARTIFACT]   (a .tar.gz onedir bundle, a onefile executable, or a
#                                    directory holding the `appliance` executable;
#                                    default: the newest .tar.gz in dist/)
# Starts it on a free loopback port with an empty data dir, waits for /readyz, creates a
# user, scores sentiment, asks a sample-corpus question and checks its citations, redeems a
# license key, reads an inline-XBRL fact of the sample, loads the console and the API docs,
# then stops it with SIGTERM and checks that it exited cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
artifact="${1:-$(ls -t dist/*.tar.gz 2>/dev/null | head -n 1)}"
[ -n "$artifact" ] && [ -e "$artifact" ] || { echo "smoke: no artifact (run make binary)" >&2; exit 2; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
if [[ "$artifact" == *.tar.gz ]]; then
  tar -C "$work" -xzf "$artifact"
  exe=$(find "$work" -maxdepth 2 -type f -name appliance | head -n 1)
elif [ -d "$artifact" ]; then
  exe="$artifact/appliance"
else
  exe="$artifact"
fi
[ -x "$exe" ] || { echo "smoke: no executable in $artifact" >&2; exit 2; }
export HOME="$work/home"  # nothing from the developer's home leaks in
mkdir -p "$HOME"
unset $(env | grep -o '^APPLIANCE_[A-Z_]*') 2>/dev/null || true
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
base="http://127.0.0.1:$port"
fail() { echo "smoke: FAIL: $*" >&2; echo "--- server log" >&2; tail -n 40 "$work/server.log" >&2; exit 1; }

# Vendor side: a license signing key, made with the artifact itself.
"$exe" license keygen --out "$work/vendor" > "$work/keygen.txt"
pub=$(grep -o '"[^"]*:[^"]*="' "$work/keygen.txt" | head -n 1)
export APPLIANCE_LICENSE_PUBLIC_KEYS="[$pub]"
export APPLIANCE_DATA_DIR="$work/data" APPLIANCE_PORT="$port" APPLIANCE_ACCESS_LOG=false

start=$(date +%s.%N)
"$exe" serve > "$work/stdout.log" 2> "$work/server.log" &
pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "$base/readyz" > /dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || fail "the server exited during start-up"
  sleep 0.05
done
curl -fsS "$base/readyz" > /dev/null || fail "/readyz never answered 200"
ready=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
echo "smoke: ready in ${ready}s ($artifact)"

# The first start prints the admin key on stdout, never into the log (stderr).
admin=$(grep -o 'apk_[A-Za-z0-9_-]*' "$work/stdout.log" | head -n 1)
[ -n "$admin" ] || fail "no admin key printed on first start"
grep -q "$admin" "$work/server.log" && fail "the admin key is in the server log"
# Enough credits for the Q&A polls below: each one made before the sample is indexed is charged,
# and on a busy machine indexing takes a while.
user=$(curl -fsS -X POST "$base/v1/users" -H "Authorization: Bearer $admin" \
  -H 'Content-Type: application/json' -d '{"email":"smoke@example.com","credits":100}') \
  || fail "create user"
key=$(echo "$user" | json 'd["api_key"]')
auth=(-H "Authorization: Bearer $key" -H 'Content-Type: application/json')

label=$(curl -fsS -X POST "$base/v1/nlp/sentiment" "${auth[@]}" \
  -d '{"text":"Operating profit rose to EUR 13.1 mn from EUR 8.7 mn"}' | json 'd["label"]') \
  || fail "sentiment"
[ "$label" = positive ] || fail "sentiment label $label"
echo "smoke: sentiment ok ($label)"

# The sample corpus is imported and indexed on first start, in the background: until Apple's
# filings are indexed the question answers 503 index_building (free), then it is answered.
cites=0
for _ in $(seq 1 300); do
  code=$(curl -sS -o "$work/qa.json" -w '%{http_code}' -X POST "$base/v1/qa/filings" \
    "${auth[@]}" -d '{"query":"How many employees does Apple have?"}') || fail "qa"
  if [ "$code" = 503 ]; then sleep 2; continue; fi
  [ "$code" = 200 ] || fail "qa answered $code: $(cat "$work/qa.json")"
  status=$(json 'd["status"]' < "$work/qa.json")
  [ "$status" = answered ] || fail "qa status $status: $(cat "$work/qa.json")"
  cites=$(json 'len([c for c in d["citations"] if c["ticker"]=="AAPL" and c["accession"]])' \
    < "$work/qa.json")
  break
done
[ "$cites" -gt 0 ] || fail "no citations for the sample question"
echo "smoke: qa ok ($cites citations)"

install_id=$(curl -fsS "$base/version" | json 'd["install_id"]')
lic=$("$exe" license issue --private-key "$work/vendor/license_signing_key.pem" --credits 50 \
  --install-id "$install_id")
before=$(curl -fsS "$base/v1/quota" "${auth[@]}" | json 'd["purchased"]')
curl -fsS -X POST "$base/billing/licenses/redeem" "${auth[@]}" \
  -d "{\"license_key\":\"$lic\"}" > /dev/null || fail "license redeem"
after=$(curl -fsS "$base/v1/quota" "${auth[@]}" | json 'd["purchased"]')
[ "$after" -eq $((before + 50)) ] || fail "license credited $before -> $after"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/billing/licenses/redeem" "${auth[@]}" \
  -d "{\"license_key\":\"$lic\"}")
[ "$code" = 409 ] || fail "replayed license answered $code"
echo "smoke: license ok ($before -> $after, replay 409)"

# Inline-XBRL facts were extracted when the sample was imported.
assets=$(curl -fsS "$base/v1/facts?ticker=AAPL&concept=Assets&fy=2025&fp=FY" "${auth[@]}" \
  | json '",".join(f["value"] for f in d["facts"])') || fail "facts"
[ "$assets" = 359241000000 ] || fail "facts: Apple total assets at fiscal 2025's end: $assets"
echo "smoke: facts ok (AAPL Assets FY2025 = $assets)"

# The console and the API docs, with their vendored assets, come from inside the bundle.
for page in / /docs /docs/swagger; do
  curl -fsS -D "$work/headers" -o "$work/page.html" "$base$page" || fail "GET $page"
  grep -qi '^content-security-policy:' "$work/headers" || fail "no CSP on $page"
done
grep -q 'swagger-ui-bundle.js' "$work/page.html" || fail "/docs/swagger does not load Swagger UI"
for asset in console/app.js console/dom.js docs.js docs.css vendor/swagger-ui-dist/swagger-ui-bundle.js vendor/swagger-ui-dist/swagger-ui.css; do
  curl -fsS -o /dev/null "$base/static/$asset" || fail "GET /static/$asset"
done
echo "smoke: console and docs ok"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || fail "exit status $status after SIGTERM"
grep -q "Traceback" "$work/server.log" && fail "traceback in the server log"
echo "smoke: PASS (clean shutdown)"
