# The dashboard's browser test (crates/repobus-cli/tests/dashboard_browser.rs):
# headless Chromium from Debian and playwright-core from npm, driven by
# tests/browser/dashboard.mjs. Playwright's own browser download is not
# used: the test launches /usr/bin/chromium.
if [ ! -x /usr/bin/chromium ]; then
    echo "tools.d/browser.sh: installing Debian's chromium" >&2
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
            { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
    fi
fi
if [ ! -f "$root/.tools/node/node_modules/playwright-core/package.json" ]; then
    echo "tools.d/browser.sh: installing playwright-core into .tools/node" >&2
    mkdir -p "$root/.tools/node"
    npm install --silent --no-audit --no-fund --prefix "$root/.tools/node" playwright-core@1 >&2
fi
export REPOBUS_CHROMIUM=/usr/bin/chromium
export REPOBUS_NODE_MODULES="$root/.tools/node/node_modules"
