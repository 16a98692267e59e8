#!/usr/bin/env bash
# Makes sure Debian's headless Chromium and its ChromeDriver are here, for the web dashboard's
# tests (no browser can be downloaded by the test tools on these machines). Installing needs root.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi
echo "installing chromium and chromium-driver (apt)"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
