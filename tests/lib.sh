# lib.sh: what the shell tests share. Source it after setting nothing; it
# defines $tmp (removed at exit), the pass/fail counters, ok/bad, and
# expect STATUS NEEDLE -- command...: the exit status and a substring of the
# command's stdout+stderr (standard input from /dev/null).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect() {
  local want=$1 needle=$2; shift 3
  local out rc
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" != "$want" ]; then bad "$* -> exit $rc, want $want: $out"; return; fi
  case "$out" in *"$needle"*) ok ;; *) bad "$* -> output lacks '$needle': $out" ;; esac
}
