# Shared by scripts/serve and scripts/test: the browser and proxy components that Data
# Lab serves itself (package.json), installed into ./node_modules from the npm registry
# so that a running site needs no CDN. Re-running is cheap: skipped while the lock file
# is unchanged.

ensure_node_modules() {
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "Installing nodejs and npm (Debian) ..." >&2
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
        else
            echo "warning: npm not installed; the sky viewer and the notebook proxy are unavailable" >&2
            return
        fi
    fi
    local stamp="node_modules/.datalab-installed"
    local want
    want="$(sha256sum package-lock.json | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing web components into node_modules ..." >&2
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
        echo "$want" > "$stamp"
    fi
}
