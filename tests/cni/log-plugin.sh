#!/usr/bin/env bash
# A CNI plugin that records what the runtime sends, then lets the real plugin
# answer. Install it in a plugin dir as `log-TYPE` (a symlink to this file):
# it runs /usr/lib/cni/TYPE with the same env and stdin, appends one JSON line
# to $PLUGIN_CALL_LOG (default /run/cni-calls.jsonl) and answers exactly what
# TYPE answered. A line holds the CNI_* variables, the names of the other
# variables, the caller's command line, the config on stdin, the answer and
# the exit status. Podman passes its environment on to plugins, but its
# `container cleanup` (started by conmon, and often the one that sends DEL)
# has a minimal one: leave PLUGIN_CALL_LOG unset to catch every call.
set -euo pipefail
real=/usr/lib/cni/${0##*/log-}
log=${PLUGIN_CALL_LOG:-/run/cni-calls.jsonl}
stdin=$(cat)
status=0
stdout=$(printf '%s' "$stdin" | "$real") || status=$?
{
    # Each value is passed as text and parsed with fromjson? so a non-JSON
    # stdin or answer is still recorded, as a string.
    jq -cn --arg plugin "${0##*/}" --arg stdin "$stdin" --arg stdout "$stdout" --argjson status "$status" \
        --arg time "$(date +%H:%M:%S.%N)" --arg caller "$(tr '\0' ' ' </proc/$PPID/cmdline)" --arg others "$(env | cut -d= -f1 | grep -v '^CNI_' | sort | tr '\n' ' ')" '
        {time: $time, plugin: $plugin, caller: $caller,
         env: (env | with_entries(select(.key | startswith("CNI_")))),
         other_env_names: $others,
         stdin: ($stdin | fromjson? // $stdin),
         stdout: ($stdout | fromjson? // $stdout),
         status: $status}'
} >>"$log"
printf '%s' "$stdout"
exit "$status"
