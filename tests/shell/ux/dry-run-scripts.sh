# Every script's --dry-run text, run by sh in a fresh sandbox, builds the
# state `plumb run` builds in another fresh sandbox (issue 13.1). What only
# plumb adds is left out of the comparison: its marks (link aliases, rule
# comments naming the run); so is what the kernel makes up on its own: peer
# ifindexes, netns ids, running timers, IPv6 link-local addresses (from
# random MACs) and their DAD state.
normalised() {
  plumb_snapshot | grep -v ' inet6 fe80::' |
    sed -E 's/ alias plumb:[^ ]*//; s/@if[0-9]+//; s/ link-netns(id)? [^ ]+//; s/ [a-z_]+_timer [0-9.]+//g; s/ -m comment --comment ("[^"]*"|[^ ]+)//' | sort
}
side() { # side BUILD: the normalised state after BUILD in a fresh sandbox
  plumb sandbox -- bash -c "$(declare -f plumb_snapshot normalised)
    set -e; $1 >/dev/null 2>/run/side.err || { cat /run/side.err >&2; exit 1; }
    sleep 0.3; normalised"
}
scripts=$(ls scripts/*.rhai)
[ "$(wc -l <<<"$scripts")" = 10 ] || die "expected the 10 document scripts: $scripts"
for s in $scripts; do
  plumb run --dry-run "$s" >/run/dry.sh || die "$s: the dry run failed"
  # Each group of commands is marked with the script line that made it
  # (issue 16): `# FILE:LINE  TEXT`, TEXT being that line of FILE (a stdlib
  # module's line for what a stdlib function made).
  grep -Eq "^# ($s|stdlib/[a-z]+\.rhai):[0-9]+  " /run/dry.sh || die "$s: no command is marked with its script line"
  while IFS= read -r mark; do
    at=${mark#\# }; at=${at%%  *}; said=${mark#*:*  }
    line=$(sed -n "${at##*:}p" "${at%:*}" | sed -E 's/^[[:space:]]+|[[:space:]]+$//g')
    [ "$line" = "$said" ] || die "$s: '$mark' but line ${at##*:} of ${at%:*} is '$line'"
  done < <(grep -E '^# [^ ]+\.rhai:[0-9]+  ' /run/dry.sh)
  # The inner sandbox has a /run of its own: the text goes through the machine's /tmp.
  text=$(mktemp /tmp/plumb-dry.XXXXXX)
  cp /run/dry.sh "$text"
  by_shell=$(side "sh -e $text") || { rm -f "$text"; die "$s: sh failed on its dry run: $(cat /run/dry.sh)"; }
  rm -f "$text"
  by_plumb=$(side "plumb run $s") || die "$s: plumb run failed"
  [ "$by_shell" = "$by_plumb" ] || {
    diff <(echo "$by_shell") <(echo "$by_plumb") | sed 's/^/  /'
    die "$s: the dry run's text (<) builds another state than plumb run (>)"
  }
  contains "link: " <<<"$by_plumb" || die "$s: nothing built"
  echo "$s: same state ($(grep -c . <<<"$by_plumb") facts)"
done
echo ok
