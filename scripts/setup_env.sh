#!/usr/bin/env bash
# Set up what the book and its tests need, on a fresh machine or an old checkout. Idempotent.
#
#   bash scripts/setup_env.sh [--browser] [--vendor]
#
# always     : .venv (python3 -m venv) + `pip install -r requirements.txt` (pip only: uv/poetry would
#              pull a CUDA torch); skipped when requirements.txt and pyproject.toml are unchanged
#              since the last install (hash stamp in .venv/).
# --browser  : Debian's chromium for the browser check (apt-get; needs root or password-less sudo).
# --vendor   : the vendored MathJax + widget JavaScript in _vendor/ (scripts/fetch_static_js.sh, npm).
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_vendor=0
for arg in "$@"; do
    case "$arg" in
        --browser) want_browser=1 ;;
        --vendor) want_vendor=1 ;;
        *) echo "setup_env.sh: unknown option '$arg' (allowed: --browser, --vendor)" >&2; exit 2 ;;
    esac
done

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
    else return 1; fi
}
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. Python environment -----------------------------------------------------------------------
python_bin=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($python_bin --version 2>&1)"
    "$python_bin" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: pip install -r requirements.txt (first time: 1-5 min)"
    t0=$SECONDS
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
    echo "$want" > "$stamp"
    echo "setup: python packages installed in $((SECONDS - t0)) s"
fi

# 2. Chromium for the browser check -------------------------------------------------------------
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
    echo "setup: apt-get install chromium (about 1 min)"
    t0=$SECONDS
    if apt_install chromium; then
        echo "setup: $(/usr/bin/chromium --version 2>/dev/null) installed in $((SECONDS - t0)) s"
    else
        echo "setup: WARNING: could not install chromium (not root?); the browser check will not run" >&2
    fi
fi

# 3. Vendored JavaScript ------------------------------------------------------------------------
if [ "$want_vendor" = 1 ]; then
    missing=0
    for f in mathjax/tex-mml-chtml.js widgets/require.js widgets/embed-amd.js widgets/mathjax2-hub-shim.js; do
        [ -f "_vendor/$f" ] || missing=1
    done
    if [ "$missing" = 1 ]; then
        if ! command -v npm >/dev/null 2>&1; then
            echo "setup: npm not found; apt-get install nodejs npm"
            apt_install nodejs npm || { echo "setup: ERROR: npm is needed for scripts/fetch_static_js.sh" >&2; exit 1; }
        fi
        echo "setup: fetching vendored JavaScript into _vendor/"
        bash scripts/fetch_static_js.sh
    fi
fi
