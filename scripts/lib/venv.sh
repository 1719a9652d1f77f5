# Shared by scripts/serve and scripts/test: make ./.venv and install the project in it.
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.

ensure_python_venv() {
    if python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null; then
        return
    fi
    # Debian splits venv support out of python3; install it when we are allowed to.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing python3-venv ..." >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "python3 cannot create virtual environments: install python3-venv (Debian) first" >&2
        exit 1
    fi
}

# ensure_venv [EXTRA]: create .venv and install the project (with the named extra).
ensure_venv() {
    local extra="${1:-}"
    local spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    if [ ! -x .venv/bin/python ]; then
        ensure_python_venv
        echo "Creating .venv ..." >&2
        python3 -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
    local stamp=".venv/.datalab-installed-${extra:-base}"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "Installing Data Lab and its dependencies into .venv ..." >&2
        .venv/bin/python -m pip install -q -e "$spec"
        echo "$want" > "$stamp"
    fi
}

# ensure_debian_packages CMD=PACKAGE...: install the Debian package for each missing
# command (e.g. stilts=stilts), when we are allowed to; otherwise say what is missing.
ensure_debian_packages() {
    local missing=()
    local pair
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
    done
    [ "${#missing[@]}" -eq 0 ] && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing ${missing[*]} (Debian) ..." >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "warning: ${missing[*]} not installed; the tests that need them are skipped" >&2
    fi
}
