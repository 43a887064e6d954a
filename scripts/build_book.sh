#!/usr/bin/env bash
# Build the book and serve it on http://127.0.0.1:8000 (the main job for readers and authors).
#
#   bash scripts/build_book.sh [--execute] [--no-serve] [--port N]
#
#   --execute   re-execute every notebook on the CPU first (scripts/execute_notebooks.py), which
#               rewrites the committed outputs in book/*.ipynb
#   --no-serve  build only
#   --port N    serve on port N instead of 8000
# Set-up is automatic (.venv + requirements.txt, vendored MathJax/widget JS in _vendor/).
set -euo pipefail
cd "$(dirname "$0")/.."

execute=0
serve=1
port=${PORT:-8000}
while [ $# -gt 0 ]; do
    case "$1" in
        --execute) execute=1 ;;
        --no-serve) serve=0 ;;
        --port) shift; port=${1:?--port needs a number} ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "build_book.sh: unknown option '$1' (allowed: --execute, --no-serve, --port N)" >&2; exit 2 ;;
    esac
    shift
done

bash scripts/setup_env.sh --vendor
export PATH="$PWD/.venv/bin:$PATH"

if [ "$execute" = 1 ]; then
    echo "build_book.sh: executing the notebooks (CPU) ..."
    python scripts/execute_notebooks.py book/*.ipynb
fi

t0=$SECONDS
jupyter-book build . -W -n --keep-going --all
echo "build_book.sh: book built in $((SECONDS - t0)) s: $PWD/_build/html/index.html"

if [ "$serve" = 0 ]; then exit 0; fi
url="http://127.0.0.1:${port}/"
echo "build_book.sh: serving the book at $url  (Ctrl+C to stop)"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then
    (sleep 1; python -m webbrowser -t "$url" >/dev/null 2>&1 || true) &
fi
exec python -m http.server "$port" --bind 127.0.0.1 --directory _build/html
