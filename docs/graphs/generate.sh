#!/usr/bin/env bash
# Draw each script in scripts/ as docs/graphs/NAME.svg: the script runs in a
# fresh sandbox (nothing touches this machine's network) and `plumb graph`
# draws what the run made, with plumb's own layout (so the pictures do not
# depend on which Graphviz is installed).
# Usage (as root, from anywhere): docs/graphs/generate.sh [PLUMB] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
plumb=$(realpath "${1:-target/release/plumb}")
out=$(realpath "${2:-docs/graphs}")
for script in scripts/*.rhai; do
  name=$(basename "$script" .rhai)
  "$plumb" sandbox -- bash -c "
    set -euo pipefail
    '$plumb' run '$script' >/dev/null 2>&1
    '$plumb' graph --renderer builtin -o '$out/$name.svg'"
  echo "$out/$name.svg"
done
