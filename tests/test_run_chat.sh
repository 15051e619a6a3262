#!/usr/bin/env bash
# test_run_chat: `g3vk run` and `g3vk chat` as a person (or a script) uses them:
# the exact tokens the chat template produces over a three-turn conversation,
# /reset, Ctrl-C during a reply, the progress bar only on a terminal, and the
# errors a person meets. usage: test_run_chat.sh /path/to/g3vk   (label unit)
set -u
g3vk=$1
# The backend under test: cpu in the sanitizer build (label unit), vulkan on
# lavapipe in the plain build (label gpu).
B=${G3_TEST_BACKEND:-cpu}
. "$(dirname "$0")/lib.sh"

# A model with the real Gemma 3 vocabulary (first 4096 pieces: the control
# tokens, byte pieces and the chat template's pieces are all there).
tok=${G3_TOKENIZER_JSON:-}
model=$tmp/chat.gguf
if [ -n "$tok" ] && [ -f "$tok" ]; then
  "$g3vk" synth --out "$model" --vocab 4096 --layers 2 --window 64 --pattern 2 --type q8_0 \
    --tokenizer "$tok" >/dev/null || bad "synth"
elif [ -n "${G3_SHARED_DIR:-}" ] && [ -f "$G3_SHARED_DIR/reference/mini-q8_0.gguf" ]; then
  echo "note: G3_TOKENIZER_JSON missing: using shared/reference/mini-q8_0.gguf"
  cp "$G3_SHARED_DIR/reference/mini-q8_0.gguf" "$model"
else
  echo "SKIPPED: no model with the real vocabulary (set G3_TOKENIZER_JSON)"
  echo "test_run_chat: 0 passed, 0 failed"
  exit 77
fi

# Token ids of JSON strings, one array per line, via `g3vk tokenize`.
ids() { "$g3vk" tokenize -m "$model" "$@" | tr ',' ' ' | tr -d '[]' ; }

# ---- chat: three turns, the exact tokens the template produced ----------------
sys="Be brief."
printf 'Hello there!\n\n   \nWhat is 2+2?\nAnd 3+3?\n/exit\nnever read\n' > "$tmp/turns.txt"
"$g3vk" chat --backend "$B" -m "$model" --system "$sys" --seed 7 -n 6 --verbose-prompt --no-timings \
  < "$tmp/turns.txt" > "$tmp/chat.out" 2> "$tmp/chat.err"
rc=$?
[ $rc = 0 ] && ok || bad "chat exit $rc: $(cat "$tmp/chat.err")"
grep '^prompt tokens:' "$tmp/chat.err" | sed 's/^prompt tokens: //' > "$tmp/got.txt"
{
  printf '"<start_of_turn>user\\n%s\\n\\nHello there!<end_of_turn>\\n<start_of_turn>model\\n"\n' "$sys" | ids
  printf '"<end_of_turn>\\n<start_of_turn>user\\nWhat is 2+2?<end_of_turn>\\n<start_of_turn>model\\n"\n' | ids --no-bos
  printf '"<end_of_turn>\\n<start_of_turn>user\\nAnd 3+3?<end_of_turn>\\n<start_of_turn>model\\n"\n' | ids --no-bos
} > "$tmp/want.txt"
if diff -u "$tmp/want.txt" "$tmp/got.txt" >/dev/null; then ok; else
  bad "chat token sequence differs: $(diff -u "$tmp/want.txt" "$tmp/got.txt")"; fi
[ "$(wc -l < "$tmp/got.txt")" = 3 ] && ok || bad "three turns (blank lines are no turn)"
head -1 "$tmp/got.txt" | grep -q '^2 105 ' && ok || bad "first turn starts with <bos> <start_of_turn>"
sed -n 2p "$tmp/got.txt" | grep -q '^106 ' && ok || bad "next turn closes the reply with <end_of_turn>"
[ "$(wc -l < "$tmp/chat.out")" -ge 3 ] && ok || bad "three replies printed"

# Same seed, same conversation, same replies.
"$g3vk" chat --backend "$B" -m "$model" --system "$sys" --seed 7 -n 6 --no-timings < "$tmp/turns.txt" > "$tmp/chat2.out" 2>/dev/null
cmp -s "$tmp/chat.out" "$tmp/chat2.out" && ok || bad "same seed gives the same replies"

# /reset starts over: the next turn is a first turn again (BOS, system prompt).
printf 'Hi\n/reset\nHi\n' | "$g3vk" chat --backend "$B" -m "$model" --system "$sys" --seed 1 -n 3 \
  --verbose-prompt --no-timings > /dev/null 2> "$tmp/reset.err"
n1=$(grep '^prompt tokens:' "$tmp/reset.err" | sed -n 1p)
n2=$(grep '^prompt tokens:' "$tmp/reset.err" | sed -n 2p)
[ -n "$n1" ] && [ "$n1" = "$n2" ] && ok || bad "/reset: '$n1' vs '$n2'"
grep -q "conversation was reset" "$tmp/reset.err" && ok || bad "/reset message"

# A turn that does not fit is refused and the conversation goes on.
long=$(printf 'word %.0s' $(seq 1 200))
printf 'Hi\n%s\nHi again\n' "$long" | "$g3vk" chat --backend "$B" -m "$model" -c 128 --seed 1 -n 4 \
  --verbose-prompt --no-timings > /dev/null 2> "$tmp/full.err"
grep -q "this turn is .* tokens and the conversation already holds .* of the 128-token context" "$tmp/full.err" && ok || bad "over-long turn message: $(cat "$tmp/full.err")"
[ "$(grep -c '^prompt tokens:' "$tmp/full.err")" = 2 ] && ok || bad "the turn after the refused one runs"

# ---- run ---------------------------------------------------------------------------
expect 0 "generation 5 tokens" -- "$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 5 --seed 3
a=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 8 --seed 3 --no-timings 2>/dev/null)
b=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 8 --seed 3 --no-timings 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "run: same seed, same text"
g1=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 8 --temp 0 --no-timings 2>/dev/null)
g2=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 8 --temp 0 --seed 99 --no-timings 2>/dev/null)
[ "$g1" = "$g2" ] && ok || bad "greedy ignores the seed"
printf 'Hello from a file' > "$tmp/prompt.txt"
expect 0 "prompt" -- "$g3vk" run --backend "$B" -m "$model" -f "$tmp/prompt.txt" -n 2
out=$(printf 'Hello from stdin' | "$g3vk" run --backend "$B" -m "$model" -n 2 --verbose-prompt 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "prompt tokens: 2 105" && ok || bad "run from stdin: $out"
# --raw: no template; control-token text stays text unless --special.
raw=$(printf 'x' | "$g3vk" run --backend "$B" -m "$model" --raw -p "<start_of_turn>" -n 1 --verbose-prompt 2>&1 | grep '^prompt tokens')
case "$raw" in *" 105"*) bad "--raw parsed control text: $raw" ;; *) ok ;; esac
raw=$("$g3vk" run --backend "$B" -m "$model" --raw --special -p "<start_of_turn>" -n 1 --verbose-prompt 2>&1 | grep '^prompt tokens')
[ "$raw" = "prompt tokens: 2 105" ] && ok || bad "--raw --special: $raw"
# Stop strings cut the reply (the text before the stop string is printed).
full=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 12 --temp 0 --no-timings 2>/dev/null)
stop=${full:3:2}
if [ ${#stop} = 2 ]; then
  cut=$("$g3vk" run --backend "$B" -m "$model" -p "Hello" -n 12 --temp 0 --no-timings --stop "$stop" 2>/dev/null)
  [ ${#cut} -lt ${#full} ] && case "$full" in "$cut"*) ok ;; *) bad "stop: '$cut' not a prefix of '$full'" ;; esac || bad "stop string did not cut: '$cut' vs '$full'"
fi

# ---- errors a person meets ----------------------------------------------------------
expect 2 "no model given" -- "$g3vk" run --backend "$B" -p "hi"
expect 2 "no model given" -- "$g3vk" chat
expect 1 "cannot open" -- "$g3vk" run --backend "$B" -m "$tmp/missing.gguf" -p "hi"
python3 - "$tmp/llama.gguf" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
kv = s("general.architecture") + struct.pack("<I", 8) + s("llama")
open(sys.argv[1], "wb").write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv)
PY
expect 1 "architecture 'llama' is not supported" -- "$g3vk" run --backend "$B" -m "$tmp/llama.gguf" -p "hi"
expect 1 "the prompt is" -- "$g3vk" run --backend "$B" -m "$model" -c 16 -p "$long"
expect 1 "context holds 16 (-c 16)" -- "$g3vk" run --backend "$B" -m "$model" -c 16 -p "$long"
expect 2 "--temp expects" -- "$g3vk" run --backend "$B" -m "$model" -p "hi" --temp hot
expect 2 "--top-p expects" -- "$g3vk" run --backend "$B" -m "$model" -p "hi" --top-p 2
expect 2 "unknown option" -- "$g3vk" run --backend "$B" -m "$model" -p "hi" --frobnicate
if [ -n "${G3_SHARED_DIR:-}" ] && [ -f "$G3_SHARED_DIR/reference/mini-f32.gguf" ]; then
  expect 0 "tokens" -- "$g3vk" run --backend "$B" -m "$G3_SHARED_DIR/reference/mini-f32.gguf" -p "hi" -n 2
fi

# ---- Ctrl-C stops a reply; the conversation goes on -----------------------------
mkfifo "$tmp/in"
( "$g3vk" chat --backend "$B" -m "$model" -c 4096 --seed 1 -n 100000 --verbose-prompt --no-timings \
    < "$tmp/in" > /dev/null 2> "$tmp/int.err"; echo "rc=$?" >> "$tmp/int.err" ) &
cpid=$!
exec 3> "$tmp/in"
echo "Tell me a long story" >&3
sleep 2
pkill -INT -f "g3vk chat --backend $B -m $model -c 4096" || true
sleep 1
echo "Another turn" >&3
exec 3>&-
wait $cpid
grep -q "reply stopped; the conversation goes on" "$tmp/int.err" && ok || bad "Ctrl-C message: $(cat "$tmp/int.err")"
[ "$(grep -c '^prompt tokens:' "$tmp/int.err")" = 2 ] && ok || bad "turn after Ctrl-C runs"
grep -q "rc=0" "$tmp/int.err" && ok || bad "chat exits 0 after Ctrl-C"

# ---- progress bar on a terminal only -------------------------------------------
"$g3vk" run --backend "$B" -m "$model" -p "hi" -n 1 > /dev/null 2> "$tmp/notty.err"
grep -q "loading weights" "$tmp/notty.err" && bad "progress bar without a terminal" || ok
if command -v script >/dev/null 2>&1; then
  script -qec "$g3vk run --backend $B -m $model -p hi -n 1" /dev/null > "$tmp/tty.out" 2>&1
  grep -q "loading weights" "$tmp/tty.out" && ok || bad "progress bar on a terminal: $(cat "$tmp/tty.out")"
fi

echo "test_run_chat ($B): $pass passed, $fail failed"
[ "$fail" = 0 ]
