#!/usr/bin/env bash
# Make sure the e2e tests have a Chromium: the system one if present, else install one.
set -euo pipefail
cd "$(dirname "$0")/.."

# e2e/conftest.py launches $CHROMIUM_PATH, else /usr/bin/chromium, else Playwright's own build.
for candidate in "${CHROMIUM_PATH:-}" /usr/bin/chromium; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        echo "Chromium: $candidate"
        exit 0
    fi
done

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    # Debian's package brings its own system libraries, which Playwright's download does not.
    apt-get update
    apt-get install -y chromium
elif [ -x .venv/bin/playwright ]; then
    .venv/bin/playwright install chromium
else
    python3 -m playwright install chromium
fi
