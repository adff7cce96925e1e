#!/usr/bin/env bash
# Regenerates TollgateClient's sources (Sources/TollgateClient/Generated) from openapi.yaml with
# swift-openapi-generator, built apart (scripts/openapi-generator, in .build-openapi-generator) so
# the generator and OpenAPIKit stay out of Tollgate's own build and of every product that links
# the client. `--check` regenerates into a temporary directory and fails if the committed
# sources differ from what the document generates (the test command runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --package-path scripts/openapi-generator --scratch-path .build-openapi-generator \
  --product swift-openapi-generator -c debug >/dev/null
generator=.build-openapi-generator/debug/swift-openapi-generator
target=Sources/TollgateClient/Generated
out=$target
if [ "${1:-}" = --check ]; then out=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-client.XXXXXX"); fi
rm -f "$out"/*.swift
log=$(mktemp "${TMPDIR:-/tmp}/tollgate-generator.XXXXXX")
if ! "$generator" generate --config scripts/openapi-generator/openapi-generator-config.yaml \
  --output-directory "$out" Sources/TollgateServer/Resources/openapi.yaml >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
# The generator writes `public import` in every file, and Swift 6.3 warns for each file that
# declares nothing with it (empty shards). Without InternalImportsByDefault a plain `import` is
# already public, so dropping the modifier changes nothing but the warnings.
sed -i -E 's/^(@_spi\(Generated\) )?public import /\1import /' "$out"/*.swift
if [ "$out" != "$target" ]; then
  if ! diff -r -q "$target" "$out"; then
    echo "TollgateClient's generated sources are out of date with openapi.yaml: run scripts/generate-client.sh" >&2
    rm -rf "$out"; exit 1
  fi
  rm -rf "$out"
fi
