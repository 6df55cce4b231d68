#!/usr/bin/env bash
# The TUI in a real terminal: the release binary inside tmux, driven by keys as a person would
# (switch tabs, edit a pool, save), checked by what the pane shows; then the saved file must
# keep its comments and still simulate.
#
#   cargo build --release && tests/tmux/tui.sh [path/to/headroom]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/release/headroom}")
command -v tmux >/dev/null || { echo "tmux is not installed" >&2; exit 2; }
WORK=$(mktemp -d)
SOCK="headroom-test-$$"
SOCKS=("$SOCK")
cleanup() {
  for s in "${SOCKS[@]}"; do tmux -L "$s" kill-server 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cp scenarios/chat-assistant.toml "$WORK/chat.toml"
chmod 644 "$WORK/chat.toml"

screen() { tmux -L "$SOCK" capture-pane -p -t ui; }
keys() { tmux -L "$SOCK" send-keys -t ui "$@"; }
# Waits up to 30 s for the pane to show a fixed string.
expect() {
  for _ in $(seq 300); do
    if screen | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: the screen never showed: $1" >&2
  screen >&2
  exit 1
}

tmux -L "$SOCK" new-session -d -s ui -x 120 -y 40 \
  "cd '$WORK' && env -i HOME='$WORK' TERM=xterm-256color PATH=/usr/bin:/bin '$BIN' tui chat.toml; echo EXITED \$?; sleep 60"

# The overview answers with the SLO verdict of the full run.
expect "1 Overview"
expect "✓ met"
expect "1 run ·"
echo "ok: overview shows the SLO verdict"

# Fleet: move to replicas of the first pool and add one.
keys 2
expect "l40s-reserved"
expect "replicas"
keys l l +
expect "[+] modified"
expect "pools.l40s-reserved.replicas = 4"
screen | grep -E "l40s-reserved .* 4 " >/dev/null || { echo "FAIL: replicas 4 not in the table" >&2; screen >&2; exit 1; }
echo "ok: an edit shows as modified and re-simulates"

# Latency and cost views draw.
keys 3
expect "Latency over time"
expect "Latency histogram"
keys 4
expect "Totals"
echo "ok: latency and cost views"

# Save: the diff first, then y writes.
keys s
expect "- replicas = 3"
expect "+ replicas = 4"
keys y
expect "saved chat.toml"
echo "ok: save shows the diff and writes"

# Nothing unsaved now: q quits at once, exit 0.
keys q
expect "EXITED 0"
echo "ok: q quits"

grep -q "^# A chat assistant in production" "$WORK/chat.toml" || { echo "FAIL: comments lost" >&2; exit 1; }
grep -q "^replicas = 4" "$WORK/chat.toml" || { echo "FAIL: the edit is not in the file" >&2; exit 1; }
[ "$(diff scenarios/chat-assistant.toml "$WORK/chat.toml" | grep -c '^[<>]')" = 2 ] \
  || { echo "FAIL: more than the one line changed" >&2; diff scenarios/chat-assistant.toml "$WORK/chat.toml" >&2; exit 1; }
set +e
"$BIN" simulate "$WORK/chat.toml" --set 'horizon="2h"' >/dev/null
rc=$?
set -e
[ "$rc" -le 1 ] || { echo "FAIL: the saved file does not simulate (exit $rc)" >&2; exit 1; }
echo "ok: the saved file keeps its comments, changed one line, and simulates"
[ "$(stat -c %a "$WORK/chat.toml")" = 644 ] || { echo "FAIL: mode is now $(stat -c %a "$WORK/chat.toml")" >&2; exit 1; }
[ "$(ls -A "$WORK" | grep -v '^chat.toml$' | grep -cv '^\.\(cache\|config\|local\)$')" = 0 ] \
  || { echo "FAIL: files left beside the scenario: $(ls -A "$WORK")" >&2; exit 1; }
echo "ok: mode 0644 stays 0644, nothing left beside the file"

# A new session of the TUI on the same file, on a server of its own.
restart() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  SOCK="headroom-test-$$-${#SOCKS[@]}"
  SOCKS+=("$SOCK")
  tmux -L "$SOCK" new-session -d -s ui -x 120 -y 40 \
    "cd '$WORK' && env -i HOME='$WORK' TERM=xterm-256color PATH=/usr/bin:/bin '$BIN' tui chat.toml; echo EXITED \$?; stty -a | grep -o -- '-\?icanon '; sleep 60"
  expect "1 Overview"
  expect "✓ met"
}

# Someone else edits the file while it is open: the save is refused and the TUI asks.
restart
keys 2
expect "l40s-reserved"
keys l l +
expect "[+] modified"
echo "# edited elsewhere" >> "$WORK/chat.toml"
keys s
expect "+ replicas = 5"
keys y
expect "Changed on disk"
grep -q "^# edited elsewhere" "$WORK/chat.toml" || { echo "FAIL: the outside edit was overwritten" >&2; exit 1; }
keys o
expect "saved chat.toml"
grep -q "^replicas = 5" "$WORK/chat.toml" || { echo "FAIL: o did not write the edit" >&2; exit 1; }
echo "ok: an outside edit is detected before the save, and o overwrites it"

# A signal ends the TUI with status 128+N; the terminal comes back (normal screen, no mouse
# reporting, canonical mode) and the unsaved edit (replicas = 6) is kept beside the file.
signalled() {
  pkill "-$1" -f "$BIN tui chat.toml"
  expect "EXITED $2"
  expect "icanon"
  screen | grep -q -- "-icanon" && { echo "FAIL: $1: the terminal is still in raw mode" >&2; screen >&2; exit 1; }
  [ "$(tmux -L "$SOCK" display -p -t ui '#{alternate_on}#{mouse_any_flag}#{mouse_standard_flag}')" = 000 ] \
    || { echo "FAIL: $1: alternate screen or mouse reporting left on" >&2; exit 1; }
  grep -q "^replicas = 6" "$WORK/chat.unsaved.toml" || { echo "FAIL: $1: unsaved edits not kept" >&2; exit 1; }
  rm "$WORK/chat.unsaved.toml"
  echo "ok: $1 restores the terminal and keeps unsaved edits beside the file"
}
keys +
expect "[+] modified"
signalled TERM 143
# SIGHUP (the terminal went away) the same way.
restart
keys 2
expect "l40s-reserved"
keys l l +
expect "[+] modified"
signalled HUP 129

# The terminal itself goes away (tmux kill-server closes the pty) with an edit unsaved: the TUI
# must end within 10 s, not spin on the dead terminal, and keep the edit beside the file.
restart
keys 2
expect "l40s-reserved"
keys l l +
expect "[+] modified"
tmux -L "$SOCK" kill-server
for _ in $(seq 100); do pgrep -f "$BIN tui chat.toml" >/dev/null || break; sleep 0.1; done
if pgrep -f "$BIN tui chat.toml" >/dev/null; then
  pkill -KILL -f "$BIN tui chat.toml" || true
  echo "FAIL: the TUI kept running after its terminal closed" >&2; exit 1
fi
grep -q "^replicas = 6" "$WORK/chat.unsaved.toml" || { echo "FAIL: closed terminal: unsaved edits not kept" >&2; exit 1; }
rm "$WORK/chat.unsaved.toml"
echo "ok: a closed terminal ends the TUI and keeps unsaved edits beside the file"

# kill -9 at once after y, a few times: the file is whole (old or new), nothing is left beside it.
for i in 1 2 3 4 5 6; do
  restart
  keys 2
  expect "l40s-reserved"
  keys l l +
  expect "[+] modified"
  keys s
  expect "Save chat.toml?"
  cp "$WORK/chat.toml" "$WORK/../before.$$"
  keys y
  sleep "0.00$i"
  pkill -KILL -f "$BIN tui chat.toml" || true
  expect "EXITED"
  "$BIN" validate "$WORK/chat.toml" >/dev/null || { echo "FAIL: the file is broken after kill -9" >&2; exit 1; }
  [ "$(ls -A "$WORK" | grep -v '^chat.toml$' | grep -cv '^\.\(cache\|config\|local\)$')" = 0 ] \
    || { echo "FAIL: kill -9 left files: $(ls -A "$WORK")" >&2; exit 1; }
  rm -f "$WORK/../before.$$"
done
echo "ok: kill -9 during a save leaves the file whole and nothing beside it"

# Away from the source tree, `headroom tui` with no file opens the bundled default scenario and
# writes nothing until a save, which puts it here as chat-assistant.toml.
tmux -L "$SOCK" kill-server 2>/dev/null || true
SOCK="headroom-test-$$-bundled"
SOCKS+=("$SOCK")
mkdir "$WORK/elsewhere"
tmux -L "$SOCK" new-session -d -s ui -x 120 -y 40 \
  "cd '$WORK/elsewhere' && env -i HOME='$WORK' TERM=xterm-256color PATH=/usr/bin:/bin '$BIN' tui; echo EXITED \$?; sleep 60"
expect "(bundled: s saves it here)"
expect "✓ met"
[ -z "$(ls -A "$WORK/elsewhere")" ] || { echo "FAIL: opening wrote $(ls -A "$WORK/elsewhere")" >&2; exit 1; }
keys 2
expect "l40s-reserved"
keys l l +
expect "[+] modified"
keys s
expect "Save chat-assistant.toml?"
keys y
expect "saved chat-assistant.toml"
grep -q "^replicas = 4" "$WORK/elsewhere/chat-assistant.toml" || { echo "FAIL: the bundled scenario was not saved here" >&2; exit 1; }
keys q
expect "EXITED 0"
echo "ok: tui with no file opens the bundled scenario anywhere and saves it where it runs"
echo "tmux TUI test passed"
