#!/usr/bin/env bash
# CPU profile of Herald under the targeted load: USERS users each on their own stream, RATE
# notifications/s to random users for DURATION from 8 concurrent publishers (the same load
# generator as the side-by-side comparison, `sseload`, built by it in SSE_BENCH_DIR).
# Run from the project root after `npm run build`:
#   bench/profile-targeted.sh                 # 10k users, 1500/s, 15 s
#   USERS=2000 RATE=1000 bench/profile-targeted.sh
#   NAME=after bench/profile-targeted.sh      # also keeps the summary as bench/results/profile-after.txt
# Prints the top functions (bench/profile-summary.ts); the profile and logs stay in $OUT.
# The Herald profiled is the one built in the current folder, so another checkout can be
# profiled with this script: cd /other/checkout && /path/to/herald/bench/profile-targeted.sh
set -euo pipefail
[ -f package.json ] && [ -f dist/src/cli/herald.js ] || { echo "run from the project root after npm run build" >&2; exit 2; }
sseload=${SSELOAD:-${SSE_BENCH_DIR:-/tmp/sse-bench}/bin/sseload}
[ -x "$sseload" ] || { echo "no sseload at $sseload (the side-by-side comparison builds it)" >&2; exit 2; }
out=${OUT:-$(mktemp -d /tmp/herald-profile-XXXX)}
mkdir -p "$out"
users=${USERS:-10000} rate=${RATE:-1500} duration=${DURATION:-15s}
ulimit -n "$(ulimit -Hn)"
port=$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
node -e '
const { createHmac } = require("node:crypto");
const [secret, n, file, pubfile] = process.argv.slice(1);
const b = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const tok = (c) => { const h = b({ alg: "HS256", typ: "JWT" }), p = b(c); return `${h}.${p}.` + createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url"); };
const exp = Math.floor(Date.now() / 1000) + 7200;
require("fs").writeFileSync(file, Array.from({ length: +n }, (_, i) => tok({ sub: `u${i}`, exp })).join("\n") + "\n");
require("fs").writeFileSync(pubfile, tok({ sub: "bench", scope: "publish", exp }));
' "$secret" "$users" "$out/tokens.txt" "$out/pub.txt"

env HERALD_HOST=127.0.0.1 HERALD_PORT="$port" HERALD_DATABASE_URL="$out/herald.db" HERALD_JWT_SECRET="$secret" \
  HERALD_LOG_LEVEL=warn HERALD_DRAIN_MS=0 HERALD_MAX_CONNECTIONS=100000 HERALD_MAX_CONNECTIONS_PER_IP=100000 \
  HERALD_PUBLISH_RATE_PER_MINUTE=10000000 ${HERALD_EXTRA_ENV:-} \
  node --cpu-prof --cpu-prof-dir="$out" dist/src/cli/herald.js serve > "$out/herald.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

timeout -k 5 120 "$sseload" -label "herald/profile" -max-runtime 90s -out "$out/load.jsonl" -pid "$pid" \
  -sub-url "http://127.0.0.1:$port/v1/stream" -pub-url "http://127.0.0.1:$port/v1/notifications" \
  -tokens-file "$out/tokens.txt" -sub-header 'Authorization: Bearer {token}' -pub-header "Authorization: Bearer $(cat "$out/pub.txt")" \
  -pub-body '{"recipients":["{user}"],"type":"bench","content":"{mark}"}' \
  -mode targeted -n "$users" -ramp-rate 4000 -settle 2s -rate "$rate" -duration "$duration" -pub-conc 8 -drain 5s \
  > "$out/load.log" 2>&1 || true
grep -E '^\[(connect|step|end)|^ +e2e' "$out/load.log" || tail -5 "$out/load.log"
# SIGTERM: Herald shuts down and exits normally, which is when V8 writes the profile.
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT
node "$(dirname "$0")/../dist/bench/profile-summary.js" "$(ls "$out"/*.cpuprofile | head -1)" "${TOP:-25}" | tee "$out/summary.txt"
if [ -n "${NAME:-}" ]; then
  mkdir -p "$(dirname "$0")/results"
  # Kept beside the other results, with the load figures the profile was taken under.
  { echo "load: $users users, $rate/s asked for $duration ($(grep -oE 'achieved=[0-9.]+/s' "$out/load.log" | head -1), $(grep -oE 'p99=[0-9.]+' "$out/load.log" | head -1) ms)"; echo; cat "$out/summary.txt"; } \
    > "$(dirname "$0")/results/profile-$NAME.txt"
fi
echo "profile and logs: $out"
