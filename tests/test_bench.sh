#!/usr/bin/env bash
# test_bench: `g3vk bench` end to end on a small synthetic model, on the Vulkan
# backend (lavapipe in CI, validation on) and on the CPU reference: the table,
# --json and --csv carry the expected rows and fields with positive finite
# speeds, the logits hash repeats run to run and tells two models apart.
# Speeds are never asserted. usage: test_bench.sh /path/to/g3vk (label gpu)
set -u
g3vk=$1
. "$(dirname "$0")/lib.sh"

synth() { "$g3vk" synth --out "$1" --layers 2 --vocab 600 --type q8_0 "${@:2}" >/dev/null; }
synth "$tmp/a.gguf" && synth "$tmp/b.gguf" --seed 11 && ok || bad "synth failed"
run=(-p 8 -n 4 -r 2)

# usage errors
expect 0 "usage: g3vk bench" -- "$g3vk" bench --help
expect 2 "no model given" -- "$g3vk" bench -p 8
expect 2 "unknown option '--bogus'" -- "$g3vk" bench -m "$tmp/a.gguf" --bogus
expect 2 "nothing to measure" -- "$g3vk" bench -m "$tmp/a.gguf" -p 0 -n 0
expect 2 "-r expects" -- "$g3vk" bench -m "$tmp/a.gguf" -r 0
expect 1 "/nonexistent.gguf" -- "$g3vk" bench -m /nonexistent.gguf "${run[@]}" --backend cpu
expect 1 "needs 40000 positions" -- "$g3vk" bench -m "$tmp/a.gguf" -p 8 -n 4 --depth 39992 --backend cpu

backends=(cpu)
if "$g3vk" devices >/dev/null 2>&1; then
  backends=(vulkan cpu)
else
  echo "SKIPPED: the Vulkan part (no Vulkan device: g3vk devices failed)"
fi

# check_table FILE BACKEND: header, a pp8 and a tg4 row on BACKEND with t/s > 0.
check_table() {
  python3 - "$1" "$2" <<'PY' && ok || bad "table on $2: $(cat "$1")"
import math, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines[0].startswith("| model") and "t/s" in lines[0] and "backend" in lines[0], lines[0]
assert set(lines[1]) <= set("|-: "), lines[1]
rows = {}
for l in lines[2:]:
    if not l.startswith("| "):
        break
    cells = [c.strip() for c in l.strip("|").split("|")]
    assert len(cells) == 7, cells
    assert cells[0] == "a.gguf" and cells[3] == sys.argv[2], cells
    m = re.fullmatch(r"([0-9.]+) ± ([0-9.]+)", cells[6])
    assert m and math.isfinite(float(m[1])) and float(m[1]) > 0, cells[6]
    rows[cells[5]] = float(m[1])
assert sorted(rows) == ["pp8", "tg4"], rows
text = "\n".join(lines)
assert re.search(r"load [0-9.]+ ms, time to first token \(pp8\) [0-9.]+ ms, logits hash [0-9a-f]{16}", text), text
assert "weights: q8_0 x15, f32 x13" in text and "build: " in text, text
PY
}

# check_json FILE BACKEND: the fields of every row; prints the logits hash.
check_json() {
  python3 -m json.tool "$1" >/dev/null || { bad "--json on $2 does not parse: $(cat "$1")"; return; }
  python3 - "$1" "$2" > "$1.hash" <<'PY' && ok || bad "--json on $2: $(cat "$1")"
import json, math, re, sys
rows = json.load(open(sys.argv[1]))
assert [r["test"] for r in rows] == ["pp8", "tg4"], rows
keys = ("build_commit model_filename model_size model_n_params weight_types backend device driver "
        "n_threads n_depth n_prompt n_gen test load_ms ttft_ms logits_hash first_token "
        "logits_nonfinite avg_ns stddev_ns avg_ts stddev_ts samples_ns samples_ts").split()
for r in rows:
    for k in keys:
        assert k in r, k
    assert r["backend"] == sys.argv[2] and r["model_filename"] == "a.gguf", r
    assert r["build_commit"] and r["device"] and r["driver"], r
    assert r["weight_types"] == "q8_0 x15, f32 x13", r["weight_types"]
    assert r["model_n_params"] > 0 and r["model_size"] > 0, r
    assert math.isfinite(r["avg_ts"]) and r["avg_ts"] > 0 and r["stddev_ts"] >= 0, r
    assert len(r["samples_ts"]) == 2 and all(x > 0 for x in r["samples_ts"]), r
    assert r["load_ms"] > 0 and r["ttft_ms"] > 0, r
    assert re.fullmatch(r"[0-9a-f]{16}", r["logits_hash"]) and 0 <= r["first_token"] < 600, r
    assert r["logits_nonfinite"] == 0, "NaN/Inf logits: the benchmarked numbers are broken"
assert rows[0]["n_prompt"] == 8 and rows[1]["n_gen"] == 4, rows
assert rows[0]["logits_hash"] == rows[1]["logits_hash"], rows
print(rows[0]["logits_hash"])
PY
}

hash_of() { # MODEL BACKEND: the logits hash from a minimal run
  "$g3vk" bench -m "$1" -p 1 -n 0 -r 1 --backend "$2" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["logits_hash"])'
}

for be in "${backends[@]}"; do
  if "$g3vk" bench -m "$tmp/a.gguf" "${run[@]}" --backend "$be" > "$tmp/t.md" 2> "$tmp/err"; then
    check_table "$tmp/t.md" "$be"
  else
    bad "bench --backend $be: $(cat "$tmp/err")"
  fi
  if "$g3vk" bench -m "$tmp/a.gguf" "${run[@]}" --backend "$be" --json > "$tmp/t.json" 2> "$tmp/err"; then
    check_json "$tmp/t.json" "$be"
  else
    bad "bench --json --backend $be: $(cat "$tmp/err")"
  fi
  if "$g3vk" bench -m "$tmp/a.gguf" "${run[@]}" --depth 3 --backend "$be" --csv > "$tmp/t.csv" 2> "$tmp/err"; then
    python3 - "$tmp/t.csv" "$be" <<'PY' && ok || bad "--csv on $be: $(cat "$tmp/t.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["test"] for r in rows] == ["pp8 @ d3", "tg4 @ d3"], rows
for r in rows:
    assert r["backend"] == sys.argv[2] and r["n_depth"] == "3" and float(r["avg_ts"]) > 0, r
    assert r["weight_types"] == "q8_0 x15, f32 x13", r
PY
  else
    bad "bench --csv --backend $be: $(cat "$tmp/err")"
  fi
  # the numbers: the same model gives the same hash run to run, another model another
  h1=$(hash_of "$tmp/a.gguf" "$be"); h2=$(hash_of "$tmp/a.gguf" "$be"); h3=$(hash_of "$tmp/b.gguf" "$be")
  [ -n "$h1" ] && [ "$h1" = "$h2" ] && ok || bad "$be: hash not repeatable: '$h1' vs '$h2'"
  [ "$h1" = "$(cat "$tmp/t.json.hash" 2>/dev/null)" ] && ok || bad "$be: hash depends on -p/-n"
  [ -n "$h3" ] && [ "$h1" != "$h3" ] && ok || bad "$be: two models, one hash: '$h1' vs '$h3'"
done

# two models in one run: a row pair each, one table
if "$g3vk" bench -m "$tmp/a.gguf" -m "$tmp/b.gguf" -p 2 -n 2 -r 1 --backend cpu > "$tmp/two.md" 2>&1; then
  [ "$(grep -c '^| [ab]\.gguf ' "$tmp/two.md")" = 4 ] && ok || bad "two models: $(cat "$tmp/two.md")"
else
  bad "two models: $(cat "$tmp/two.md")"
fi

echo "test_bench: $pass passed, $fail failed"
[ "$fail" = 0 ] || exit 1
[ "${#backends[@]}" = 2 ] || exit 77
