#!/usr/bin/env bash
# test_bench: `g3vk bench` end to end on a small synthetic model, on the Vulkan
# backend (lavapipe in CI, validation on) and on the CPU reference: the table,
# --json and --csv carry the expected rows and fields with positive finite
# speeds, the logits hash repeats run to run and tells two models apart;
# --kernels (table, JSON, --svg chart) has every op with positive finite times,
# bytes and GB/s whose shares add up to 100%, and --micro checks every kernel
# against the CPU reference. Speeds are never asserted.
# usage: test_bench.sh /path/to/g3vk (label gpu)
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
        "n_threads n_batch n_depth n_prompt n_gen test load_ms ttft_ms logits_hash first_token "
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
    assert r["n_batch"] == ("1" if sys.argv[2] == "cpu" else "512"), r
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

# --kernels: the profiled run's tables, JSON and chart (lavapipe: timestamps exist).
# Structure, positive finite numbers and shares adding up to 100% are checked; the
# speeds themselves never are.
expect 2 "not --csv" -- "$g3vk" bench -m "$tmp/a.gguf" --kernels --csv
expect 2 "--peak expects" -- "$g3vk" bench -m "$tmp/a.gguf" --kernels --peak 0
kern=(-p 4 -n 3 -r 1)
if [ "${backends[0]}" = vulkan ]; then
  if "$g3vk" bench -m "$tmp/a.gguf" "${kern[@]}" --backend vulkan --kernels --json \
       --svg "$tmp/k.svg" > "$tmp/k.json" 2> "$tmp/err"; then
    python3 - "$tmp/k.json" <<'PY' && ok || bad "--kernels --json: $(cat "$tmp/k.json")"
import json, math, sys
rows = json.load(open(sys.argv[1]))
assert [r["test"] for r in rows] == ["pp4", "tg3"], rows
def num(x, what, pos=False):
    assert isinstance(x, (int, float)) and math.isfinite(x) and x >= 0, (what, x)
    assert not pos or x > 0, (what, x)
for r in rows:
    k = r["kernel_profile"]
    assert k["test"] == r["test"] and k["supported"] is True and k["note"] == "", k
    assert k["n_tokens"] == (4 if r["test"] == "pp4" else 3), k
    for f in ("peak_gbps", "transfer_gbps", "wall_ns_per_token", "gpu_ns_per_token",
              "unprofiled_ns_per_token", "submissions"):
        num(k[f], f, pos=True)
    num(k["host_ns_per_token"], "host_ns_per_token")
    assert "copy kernel" in k["peak_source"], k["peak_source"]
    assert abs(k["wall_ns_per_token"] - k["gpu_ns_per_token"] - k["host_ns_per_token"]) < 1e-3 * k["wall_ns_per_token"] + 1, k
    ops = {o["name"]: o for o in k["ops"]}
    assert {"matvec q8_0", "rms_norm", "attn f16", "rope_kv f16", "gelu_mul", "embed q8_0",
            "CPU + submission"} <= set(ops), sorted(ops)
    share = sum(o["share"] for o in k["ops"])
    assert abs(share - 100) < 0.01, share
    ns = sum(o["ns_per_token"] for o in k["ops"])
    assert abs(ns - k["wall_ns_per_token"]) < 1e-3 * ns + 1, (ns, k["wall_ns_per_token"])
    for o in k["ops"] + k["kernels"]:
        for f in ("calls_per_token", "ns_per_token", "share", "bytes_read_per_token",
                  "bytes_written_per_token", "gbps", "peak_pct"):
            num(o[f], o["name"] + " " + f)
        if o["op"] != "host":
            assert o["calls_per_token"] > 0 and o["ns_per_token"] > 0, o
            assert o["bytes_read_per_token"] + o["bytes_written_per_token"] > 0 and o["gbps"] > 0, o
    kern = [o for o in k["kernels"] if o["op"] == "matvec"]
    assert {o["shape"] for o in kern} == {"640x1024", "640x256", "1024x640", "640x2048",
                                          "2048x640", "640x600"}, kern
    assert abs(sum(o["ns_per_token"] for o in k["kernels"]) - k["gpu_ns_per_token"]) < 1e-3 * k["gpu_ns_per_token"] + 1, k
    if r["test"] == "tg3":  # 2 layers x 7 matrices + the LM head, per token
        assert ops["matvec q8_0"]["calls_per_token"] == 15, ops["matvec q8_0"]
        # the LM head reads its whole 600 x 640 Q8_0 table once per token
        head = [o for o in kern if o["shape"] == "640x600"][0]
        assert head["bytes_read_per_token"] >= 600 * 680, head
PY
    python3 - "$tmp/k.svg" <<'PY' && ok || bad "--svg: $(head -c 2000 "$tmp/k.svg")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg" and int(root.get("width")) > 0 and int(root.get("height")) > 0
texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
titles = [t for t in texts if "per token" in t]
assert len(titles) == 2 and "a.gguf" in titles[0] and "pp4" in titles[0] and "tg3" in titles[1], titles
for label in ("matvec q8_0", "rms_norm", "attn f16", "CPU + submission"):
    assert texts.count(label) == 2, (label, texts)
assert any("GB/s" in t and "% of peak" in t for t in texts), texts
bars = [r for r in root.iter(ns + "rect") if r.get("fill") != "#ffffff"]
assert len(bars) >= 16 and all(float(b.get("width")) > 0 for b in bars), len(bars)
PY
  else
    bad "bench --kernels --json --svg: $(cat "$tmp/err")"
  fi
  if "$g3vk" bench -m "$tmp/a.gguf" "${kern[@]}" --backend vulkan --kernels --peak 7.5 \
       > "$tmp/k.md" 2> "$tmp/err"; then
    python3 - "$tmp/k.md" <<'PY' && ok || bad "--kernels table: $(cat "$tmp/k.md")"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text.count("kernel profile: a.gguf") == 2 and "peak 7.50 GB/s (--peak)" in text, text
assert text.count("| op and type ") == 2 and text.count("| kernel ") == 2, text
for m in re.finditer(r"^\| (matvec q8_0|CPU \+ submission) +\|([^\n]*)$", text, re.M):
    cells = [c.strip() for c in m[2].split("|")]
    assert float(cells[1]) > 0 and cells[2].endswith("%"), cells
assert len(re.findall(r"per token: wall [0-9.]+ ms = GPU [0-9.]+ ms \([0-9.]+%\) \+ CPU and "
                      r"submission [0-9.]+ ms", text)) == 2, text
PY
  else
    bad "bench --kernels --peak: $(cat "$tmp/err")"
  fi
  # the micro-benchmarks: every result checked against the CPU reference
  if "$g3vk" bench --micro --types q8_0,q4_k --vocab 8192 --tokens 8 -r 2 --json > "$tmp/m.json" 2> "$tmp/err"; then
    python3 - "$tmp/m.json" <<'PY' && ok || bad "--micro: $(cat "$tmp/m.json")"
import json, math, sys
rows = json.load(open(sys.argv[1]))
ran = [r for r in rows if "skipped" not in r]
assert {r["op"] for r in ran} == {"matvec", "matmul", "embed", "rms_norm", "norm_add", "rope_kv",
                                  "attn", "gelu_mul", "argmax"}, rows
count = lambda op: sum(r["op"] == op for r in ran)
assert count("matvec") == 8 and count("matmul") == 7 and count("attn") == 3, ran
skipped = [r for r in rows if "skipped" in r]  # q4_K at 640 columns: not whole blocks
assert len(skipped) == 8 and all(r["type"] == "q4_K" for r in skipped), skipped
for r in ran:
    assert r["ok"] is True and r["nmse"] < 1e-6, r
    for f in ("ns_per_call", "bytes_per_call", "gbps", "peak_pct"):
        assert math.isfinite(r[f]) and r[f] > 0, (f, r)
    assert (r["gflops"] > 0) == (r["op"] in ("matvec", "matmul")), r
PY
  else
    bad "bench --micro: $(cat "$tmp/err")"
  fi
fi
# the CPU reference has no kernel profile, and says so
if "$g3vk" bench -m "$tmp/a.gguf" -p 2 -n 2 -r 1 --backend cpu --kernels --json > "$tmp/c.json" 2> "$tmp/err"; then
  python3 - "$tmp/c.json" <<'PY' && ok || bad "--kernels on cpu: $(cat "$tmp/c.json")"
import json, sys
for r in json.load(open(sys.argv[1])):
    k = r["kernel_profile"]
    assert k["supported"] is False and "CPU reference" in k["note"] and k["ops"] == [], k
    assert k["wall_ns_per_token"] > 0, k
PY
else
  bad "bench --kernels --backend cpu: $(cat "$tmp/err")"
fi

# two models in one run: a row pair each, one table
if "$g3vk" bench -m "$tmp/a.gguf" -m "$tmp/b.gguf" -p 2 -n 2 -r 1 --backend cpu > "$tmp/two.md" 2>&1; then
  [ "$(grep -c '^| [ab]\.gguf ' "$tmp/two.md")" = 4 ] && ok || bad "two models: $(cat "$tmp/two.md")"
else
  bad "two models: $(cat "$tmp/two.md")"
fi

echo "test_bench: $pass passed, $fail failed"
[ "$fail" = 0 ] || exit 1
[ "${#backends[@]}" = 2 ] || exit 77
