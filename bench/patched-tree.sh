#!/usr/bin/env bash
# Builds a throw-away copy of this kefu tree (src, bin, test, scripts, package.json; node_modules linked) with bench/patches/*.diff
# applied, for `bench/message-path.ts --kefu-root DIR` or `bench/appender-batch.ts --kefu-root DIR`.
# Nothing in this repository is modified.
#   bench/patched-tree.sh DIR [patch ...]     (default: every bench/patches/*.diff)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:?usage: bench/patched-tree.sh DIR [patch ...]}"; shift
patches=("$@"); [ ${#patches[@]} -gt 0 ] || patches=("$root"/bench/patches/*.diff)
rm -rf "$dir"; mkdir -p "$dir"
cp -r "$root/src" "$root/bin" "$root/test" "$root/scripts" "$root/package.json" "$root/tsconfig.json" "$dir/"
ln -s "$root/node_modules" "$dir/node_modules"
for p in "${patches[@]}"; do
  abs="$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
  (cd "$dir" && patch -p1 --quiet --forward < "$abs")
  echo "applied $(basename "$p")"
done
