#!/usr/bin/env bash
# test_cli: the g3vk commands as a person uses them: output on good input,
# a message that names the problem and a non-zero status on bad input.
# usage: test_cli.sh /path/to/g3vk   (CTest passes it; label unit)
set -u
g3vk=$1
. "$(dirname "$0")/lib.sh"

expect 2 "usage: g3vk" -- "$g3vk"
expect 0 "synth" -- "$g3vk" --help
expect 2 "unknown command 'frobnicate'" -- "$g3vk" frobnicate
expect 2 "no model given" -- "$g3vk" info
expect 1 "/nonexistent.gguf: cannot open" -- "$g3vk" info -m /nonexistent.gguf
expect 2 "unknown option '--bogus'" -- "$g3vk" info --bogus
printf 'not a gguf file at all' > "$tmp/junk.gguf"
expect 1 "bad magic" -- "$g3vk" info -m "$tmp/junk.gguf"

# synth -> info -> logits round trip on a small model (no tokenizer needed).
expect 0 "wrote $tmp/s.gguf" -- "$g3vk" synth --out "$tmp/s.gguf" --type q4_0 --layers 2 --vocab 600 --window 16 --pattern 2 --seed 3
expect 0 "layers:          2 (global: 1; the rest sliding)" -- "$g3vk" info -m "$tmp/s.gguf"
expect 0 "| q8_0   |       1 |" -- "$g3vk" info -m "$tmp/s.gguf"
expect 0 "vocabulary:      600" -- "$g3vk" info -m "$tmp/s.gguf"
expect 2 "--type" -- "$g3vk" synth --out "$tmp/x.gguf" --type q9_9
expect 2 "--layers" -- "$g3vk" synth --out "$tmp/x.gguf" --layers -4
expect 2 "--out" -- "$g3vk" synth --type q8_0

# logits: a reference file of 5 tokens in the shared/reference format, made here.
python3 - "$tmp/ref.logits" <<'PY'
import struct, sys
n_vocab, ids = 600, [2, 17, 300, 5, 599]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<3i", n_vocab, 4, 1))
    f.write(struct.pack("<5i", *ids))
    f.write(b"\0" * (4 * n_vocab * len(ids)))
PY
expect 0 "5 positions" -- "$g3vk" logits --backend cpu -m "$tmp/s.gguf" --ref "$tmp/ref.logits" --out "$tmp/out.logits"
size=$(stat -c %s "$tmp/out.logits" 2>/dev/null || echo 0)
[ "$size" = $((12 + 4 * 5 + 4 * 600 * 5)) ] && ok || bad "out.logits has $size bytes"
head -c 100 "$tmp/ref.logits" > "$tmp/short.logits"
expect 1 "implies" -- "$g3vk" logits --backend cpu -m "$tmp/s.gguf" --ref "$tmp/short.logits"
expect 2 "--ref" -- "$g3vk" logits --backend cpu -m "$tmp/s.gguf"
expect 2 "--backend expects" -- "$g3vk" logits --backend cpu -m "$tmp/s.gguf" --ref "$tmp/ref.logits" --backend tpu

if [ -n "${G3_SHARED_DIR:-}" ] && [ -f "$G3_SHARED_DIR/reference/mini-q4_k_m.gguf" ]; then
  r=$G3_SHARED_DIR/reference
  expect 0 "| q4_K   |       3 |" -- "$g3vk" info -m "$r/mini-q4_k_m.gguf"
  expect 0 "top-1 agreement 192/192" -- "$g3vk" logits --backend cpu -m "$r/mini-f32.gguf" --ref "$r/mini-f32.exact.logits"
  expect 1 "has a 600-token vocabulary but" -- "$g3vk" logits --backend cpu -m "$tmp/s.gguf" --ref "$r/mini-f32.logits"
else
  echo "SKIPPED: the shared reference part (G3_SHARED_DIR not set or missing)"
fi

echo "test_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
