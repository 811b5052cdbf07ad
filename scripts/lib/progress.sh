# Sourced by the set-up scripts: runs a long step with its output in a log file, and shows on
# stderr that it is alive and how far it is, every CLAWCHAOS_PROGRESS_SECONDS (default 15).
#
#   with_progress LABEL LOG COUNT_FN -- COMMAND [ARG ...]
#
# COUNT_FN is a function that prints how far the step is (read from LOG), or '-' for none.
# On failure it prints the last lines of LOG and names the file; returns the command's status.
# Each step's time is also noted for the phase summary (scripts/lib/timing.sh).

. "$(dirname "${BASH_SOURCE[0]}")/timing.sh"

progress_elapsed() {
  local s=$1
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

with_progress() {
  local label=$1 log=$2 count_fn=$3
  shift 4
  local every=${CLAWCHAOS_PROGRESS_SECONDS:-15}
  local start=$SECONDS
  mkdir -p "$(dirname "$log")"
  : >"$log"
  "$@" >>"$log" 2>&1 &
  local pid=$!
  # Stop the step with us: Ctrl-C or a failure of the caller must not leave it running. The
  # caller's own traps are put back afterwards.
  local caller_traps
  caller_traps=$(trap -p INT TERM)
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ "$waited" -ge "$every" ]; then
      waited=0
      local how=""
      if [ "$count_fn" != "-" ]; then how=", $("$count_fn" "$log")"; fi
      echo "$label: $(progress_elapsed $((SECONDS - start))) elapsed$how (log: $log)" >&2
    fi
  done
  local status=0
  wait "$pid" || status=$?
  trap - INT TERM
  eval "$caller_traps"
  timing_note "$label" $((SECONDS - start)) "$status"
  if [ "$status" -ne 0 ]; then
    echo "$label: failed (exit $status) after $(progress_elapsed $((SECONDS - start))); last lines of $log:" >&2
    tail -n 20 "$log" | sed 's/^/    /' >&2
    return "$status"
  fi
  echo "$label: done in $(progress_elapsed $((SECONDS - start)))" >&2
}
