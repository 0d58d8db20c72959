#!/usr/bin/env bash
# Runs every CimAspire test: unit tests, the AppHost model, and the whole cluster started locally.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
.ci/install-prerequisites

exec dotnet test CimAspire.sln \
  --logger "console;verbosity=normal" \
  --logger "trx;LogFilePrefix=cimaspire" \
  --results-directory TestResults \
  --blame-hang-timeout 10m \
  "$@"
