#!/usr/bin/env bash
# herald's benchmark: builds the release binary, generates the corpora once
# (bench/corpus, not committed), and prints a table of median wall time and
# peak memory for the full-archive, cron and posting workloads, with Hugo
# side by side when it is installed (apt-get install hugo).
#
#   bench/run.sh                 # all sizes, 5 runs each
#   SIZES="1000 10000" RUNS=3 bench/run.sh
# Hugo runs on HUGO_SIZES (default 1000 10000: at 50,000 it takes over a
# minute and 11 GB a run) HUGO_RUNS times (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000 50000 100000"}
RUNS=${RUNS:-5}
HUGO_SIZES=${HUGO_SIZES:-"1000 10000"}
HUGO_RUNS=${HUGO_RUNS:-3}
CORPUS=bench/corpus
WORK=$(mktemp -d)
trap 'kill "${RECEIVER:-0}" 2>/dev/null || true; [ -n "${PG_STOP:-}" ] && $PG_STOP > /dev/null 2>&1; rm -rf "$WORK"' EXIT

cargo build --release --locked --quiet --bin herald --example floor --example claims
BIN=$PWD/target/release/herald
FLOOR=$PWD/target/release/examples/floor

for n in $SIZES; do
  [ -d "$CORPUS/$n" ] || { echo "generating $n articles…" >&2; python3 bench/gen_corpus.py "$n" "$CORPUS/$n"; }
done

# median wall seconds and max peak RSS (MB) of RUNS runs of "$@";
# $PREPARE runs before each (untimed).
measure() {
  local out="$WORK/time"
  : > "$WORK/results"
  for _ in $(seq "$RUNS"); do
    ${PREPARE:-true}
    /usr/bin/time -o "$out" -f "%e %M %U %S" "$@" > /dev/null 2>> "$WORK/stderr" || true
    tail -1 "$out" >> "$WORK/results"
  done
  sort -n "$WORK/results" | awk '{w[NR]=$1; if ($2>m) m=$2; c[NR]=$3+$4} END {i=int((NR+1)/2); printf "%.3f s | %d MB | %.2f s CPU\n", w[i], m/1024, c[i]}'
}

config() { # name dir limit
  mkdir -p "$WORK/$1/config"
  cat > "$WORK/$1/config/herald.yaml" <<YAML
site: { title: Bench, url: "https://bench.example/" }
content: { dir: "$PWD/$CORPUS/$2" }
feeds: { dir: ../out, limit: $3 }
state: { path: ../state/herald.db }
YAML
}

echo "| workload | articles | herald: wall (median of $RUNS) | peak memory | CPU |"
echo "|---|---|---|---|---|"
for n in $SIZES; do
  # The floor: read every file, parse its YAML, render its Markdown, on two
  # threads, nothing else (bench/floor.rs). A first run is held to 2× it.
  measure "$FLOOR" "$PWD/$CORPUS/$n" \
    | sed "s/^/| floor: read, parse YAML, render Markdown (2 threads) | $n | /; s/$/ |/"
  config "full-$n" "$n" 0
  # First run: no feeds yet and no front-matter cache (every file parsed).
  PREPARE="rm -rf $WORK/full-$n/out $WORK/full-$n/state" measure "$BIN" -q --config "$WORK/full-$n/config/herald.yaml" feeds \
    | sed "s/^/| full archive, first run (no cache) | $n | /; s/$/ |/"
  # Every later run that rebuilds the feeds (here: all three deleted), with
  # the front-matter cache the previous run left.
  PREPARE="rm -rf $WORK/full-$n/out" measure "$BIN" -q --config "$WORK/full-$n/config/herald.yaml" feeds \
    | sed "s/^/| full archive (RSS+Atom+JSON, full content) | $n | /; s/$/ |/"
  # Nothing changed: every feed rendered and compared with the file on disk.
  measure "$BIN" -q --config "$WORK/full-$n/config/herald.yaml" feeds \
    | sed "s/^/| full archive, nothing changed | $n | /; s/$/ |/"
  config "cron-$n" "$n" 20
  "$BIN" -q --config "$WORK/cron-$n/config/herald.yaml" publish > /dev/null 2>&1 || true
  measure "$BIN" -q --config "$WORK/cron-$n/config/herald.yaml" publish \
    | sed "s/^/| cron run (limit 20, nothing changed) | $n | /; s/$/ |/"
done

# Posting: 10 targets × 50 due posts, a receiver answering after 50 ms.
PORT=$((20000 + RANDOM % 20000))
python3 bench/receiver.py "$PORT" 50 &
RECEIVER=$!
sleep 0.5
mkdir -p "$WORK/post/config" "$WORK/post/content"
python3 bench/gen_corpus.py 50 "$WORK/post/content"
{
  echo 'site: { title: Bench, url: "https://bench.example/" }'
  echo 'content: { dir: ../content }'
  echo 'feeds: { dir: ../out }'
  echo 'social:'
  echo '  max_age: 36500d'
  echo '  max_per_run: 50'
  echo '  targets:'
  for t in $(seq 10); do echo "    - { name: hook$t, type: webhook, url: \"http://127.0.0.1:$PORT/hook$t\" }"; done
  echo 'state: { path: ../state/herald.db }'
} > "$WORK/post/config/herald.yaml"
PREPARE="rm -rf $WORK/post/state $WORK/post/out" measure "$BIN" -q --config "$WORK/post/config/herald.yaml" publish \
  | sed "s/^/| posting: 10 targets × 50 posts, 50 ms receiver (floor 2.5 s) | 500 posts | /; s/$/ |/"
# The cron run once all 500 are posted: the ledger read, nothing sent.
"$BIN" -q --config "$WORK/post/config/herald.yaml" publish > /dev/null 2>&1 || true
measure "$BIN" -q --config "$WORK/post/config/herald.yaml" publish \
  | sed "s/^/| cron run, 500 posts in the ledger, nothing due (SQLite) | 50 | /; s/$/ |/"

# Several hosts: the same with the ledger in PostgreSQL, on a throwaway
# cluster on this machine (as the user postgres when run as root).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)
if [ -n "$PG_BIN" ]; then
  chmod 755 "$WORK"
  mkdir -p "$WORK/pg"
  AS_PG=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pg"; AS_PG=(runuser -u postgres --); fi
  PG_PORT=$((40000 + RANDOM % 20000))
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U herald --auth=trust -E UTF8 --no-sync > /dev/null
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start > /dev/null
  PG_STOP="${AS_PG[*]} $PG_BIN/pg_ctl -D $WORK/pg/data -m immediate stop"
  PG_URL="postgres://herald@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  echo
  ./target/release/examples/claims "$WORK/claims.db" "$PG_URL" 2000 4
  echo
  echo "| workload | articles | herald: wall (median of $RUNS) | peak memory | CPU |"
  echo "|---|---|---|---|---|"
  sed -i "s|^state: .*|state: { path: ../state/herald.db, url: \"${PG_URL}\&schema=post\" }|" "$WORK/post/config/herald.yaml"
  pg_fresh() {
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres \
      -c 'DROP SCHEMA IF EXISTS post CASCADE' 2> /dev/null
    rm -rf "$WORK/post/state" "$WORK/post/out"
  }
  PREPARE=pg_fresh measure "$BIN" -q --config "$WORK/post/config/herald.yaml" publish \
    | sed "s/^/| posting: 10 targets × 50 posts (PostgreSQL) | 500 posts | /; s/$/ |/"
  "$BIN" -q --config "$WORK/post/config/herald.yaml" publish > /dev/null 2>&1 || true
  measure "$BIN" -q --config "$WORK/post/config/herald.yaml" publish \
    | sed "s/^/| cron run, 500 posts in the ledger, nothing due (PostgreSQL) | 50 | /; s/$/ |/"
fi

if command -v hugo > /dev/null; then
  echo
  echo "| Hugo $(hugo version | awk '{print $2}'), one RSS file, full content | articles | wall (median of $HUGO_RUNS) | peak memory | CPU |"
  echo "|---|---|---|---|---|"
  for n in $HUGO_SIZES; do
    site="$WORK/hugo-$n"
    [ -d "$CORPUS/hugo-$n" ] || python3 bench/gen_corpus.py "$n" "$CORPUS/hugo-$n" --hugo
    mkdir -p "$site/layouts/_default"
    ln -sfn "$PWD/$CORPUS/hugo-$n" "$site/content"
    # Pages are built and listed (their content rendered) but not written:
    # Hugo then does the same work as herald's feed, one RSS file.
    printf 'baseURL = "https://bench.example/"\ntitle = "Bench"\ndisableKinds = ["taxonomy", "term"]\n[outputs]\nhome = ["RSS"]\nsection = []\n[services.rss]\nlimit = -1\n[[cascade]]\n  [cascade._target]\n    kind = "page"\n  [cascade.build]\n    render = "never"\n    list = "always"\n' > "$site/hugo.toml"
    cat > "$site/layouts/_default/rss.xml" <<'XML'
<rss version="2.0"><channel><title>{{ .Site.Title }}</title>{{ range .Site.RegularPages }}<item><title>{{ .Title }}</title><link>{{ .Permalink }}</link><pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" }}</pubDate><description>{{ .Content | html }}</description></item>{{ end }}</channel></rss>
XML
    PREPARE="rm -rf $site/public" RUNS=$HUGO_RUNS measure hugo --quiet -s "$site" \
      | sed "s/^/| Hugo | $n | /; s/$/ |/"
  done
fi
