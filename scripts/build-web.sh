#!/usr/bin/env bash
# Builds the PWA (web/ -> web/dist, served by the recorder at /) unless the build is up to date:
# a stamp in dist/ names the hash of everything the build reads.
set -euo pipefail
cd "$(dirname "$0")/../web"
[[ -f package.json ]] || exit 0
digest=$(find src public index.html vite.config.ts tsconfig.json package-lock.json -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
stamp="dist/.build-$digest"
[[ -f $stamp ]] && exit 0
printf '[web] building the PWA\n' >&2
npx --no-install vite build --logLevel warn
touch "$stamp"
