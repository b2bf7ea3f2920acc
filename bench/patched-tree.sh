#!/usr/bin/env bash
# Builds a throw-away copy of this kefu tree (src, bin, test, scripts, package.json; node_modules linked) with the given
# patch files applied (none: a plain copy), for `bench/message-path.ts --kefu-root DIR` or `bench/appender-batch.ts --kefu-root DIR`.
# Nothing in this repository is modified.
#   bench/patched-tree.sh DIR [patch ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: bench/patched-tree.sh DIR [patch ...]}"; shift
patches=("$@")
rm -rf "$dir"; mkdir -p "$dir"
cp -r "$root/src" "$root/bin" "$root/test" "$root/scripts" "$root/package.json" "$root/tsconfig.json" "$dir/"
ln -s "$root/node_modules" "$dir/node_modules"
for p in "${patches[@]+"${patches[@]}"}"; do
  abs="$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
  (cd "$dir" && patch -p1 --quiet --forward < "$abs")
  echo "applied $(basename "$p")"
done
