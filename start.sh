#!/usr/bin/env bash
# Starts the whole CimAspire cluster locally (no Docker needed) and prints the dashboard login URL.
# Stop it with Ctrl+C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
.ci/install-prerequisites

exec dotnet run --project CimAspire.AppHost --launch-profile http -- "$@"
