#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the whole system locally (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
node scripts/install-if-needed.mjs
npm run build --silent
exec node --import tsx scripts/demo.ts "$@"
