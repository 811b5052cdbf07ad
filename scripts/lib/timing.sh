# Sourced by the set-up and test scripts: notes how long each phase took, for the summary that
# `scripts/test` (and so CI) prints at its end.
#
#   timing_note LABEL SECONDS [STATUS]   appends a line to $CLAWCHAOS_TIMINGS, when it is set
#   timing_test_binaries LOG             notes each test binary's time, read from cargo test's
#                                        output ("Running X" ... "finished in Ns")
#   timing_summary FILE TOTAL            prints the phases noted in FILE and the total

timing_note() {
  [ -n "${CLAWCHAOS_TIMINGS:-}" ] || return 0
  printf '%s\t%s\t%s\n' "$1" "$2" "${3:-0}" >>"$CLAWCHAOS_TIMINGS"
}

timing_test_binaries() {
  [ -n "${CLAWCHAOS_TIMINGS:-}" ] || return 0
  awk '
    /^ *Running / {
      line = $0; sub(/^ *Running /, "", line)
      crate = line; sub(/^.*\//, "", crate); sub(/-[0-9a-f]+\)$/, "", crate)
      sub(/ \(.*$/, "", line)
      binary = "cargo test: " line " [" crate "]"; next
    }
    /^ *Doc-tests / { sub(/^ *Doc-tests /, ""); binary = "cargo test: doc-tests " $0; next }
    /^test result: / && binary != "" {
      status = ($0 ~ /^test result: ok\./) ? 0 : 1
      secs = $0; sub(/.*finished in /, "", secs); sub(/s.*$/, "", secs)
      if (binary ~ /tests\/scenarios\.rs /) binary = binary ": the scenario tier"
      printf "%s\t%.0f\t%s\n", binary, secs, status
      binary = ""
    }
  ' "$1" >>"$CLAWCHAOS_TIMINGS"
}

timing_summary() {
  local file=$1 total=$2
  [ -s "$file" ] || return 0
  echo
  echo "phases (the test binaries run one after another; set-up steps partly side by side):"
  # Test binaries under 2 s are summed on one line, unless they failed.
  awk -F '\t' '
    function show(label, secs, mark) {
      printf "  %-68s %6d s  %3dm%02ds%s\n", label, secs, secs / 60, secs % 60, mark
    }
    {
      mark = ($3 == 0) ? "" : "  FAILED (exit " $3 ")"
      if ($1 ~ /^cargo test: / && $2 < 2 && $3 == 0) { small++; small_secs += $2; next }
      show($1, $2, mark)
    }
    END { if (small) show("cargo test: " small " other test binaries, under 2 s each", small_secs, "") }
  ' "$file"
  printf '  %-68s %6d s  %3dm%02ds\n' "total" "$total" $((total / 60)) $((total % 60))
}
