#!/usr/bin/env bash
# Vendor the JavaScript the book needs into _vendor/ (gitignored), so the built HTML renders
# math and widgets without any CDN: MathJax 3 (trimmed: the combined tex-mml-chtml bundle,
# its CHTML woff2 fonts and the TeX extensions), require.js and the ipywidgets embed manager.
# _config.yml points html_static_path at _vendor (never _static/: jupyter-book 1.x would add
# every .js/.css found under _static/ to every page).
# Usage: bash scripts/fetch_static_js.sh        (needs node + npm and the npm registry)
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX_VERSION=3.2.2
HTML_MANAGER_VERSION=1.0.15   # @jupyter-widgets/html-manager 1.0.x <-> ipywidgets 8 (state 2.0.0)
REQUIREJS_VERSION=2.3.8

if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_static_js.sh: npm not found (install Node.js >= 18 with npm)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
    "mathjax@${MATHJAX_VERSION}" \
    "@jupyter-widgets/html-manager@${HTML_MANAGER_VERSION}" \
    "requirejs@${REQUIREJS_VERSION}"

mj="$tmp/node_modules/mathjax/es5"
stage="$tmp/_vendor"
mkdir -p "$stage/mathjax/output/chtml/fonts" "$stage/mathjax/input/tex" "$stage/widgets"
cp "$mj/tex-mml-chtml.js" "$stage/mathjax/"
cp -r "$mj/output/chtml/fonts/woff-v2" "$stage/mathjax/output/chtml/fonts/"
cp -r "$mj/input/tex/extensions" "$stage/mathjax/input/tex/"
cp "$tmp/node_modules/requirejs/require.js" \
   "$tmp/node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js" "$stage/widgets/"

# ipywidgets 8 (html-manager 1.0.x) typesets widget labels with the MathJax 2 API,
# MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]); the book loads MathJax 3, which has no Hub, so the
# embed manager throws "Cannot read properties of undefined (reading 'Queue')". Map it onto MathJax 3.
cat > "$stage/widgets/mathjax2-hub-shim.js" <<'JS'
/* Shim: MathJax 2's MathJax.Hub.Queue on top of MathJax 3, for the ipywidgets embed manager. */
(function () {
  function install() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") return;
    mj.Hub = {
      Queue: function () {
        var els = [];
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) els.push(job[2]);
        }
        var run = function () { return mj.typesetPromise(els.length ? els : undefined); };
        var ready = mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
        ready.then(run).catch(function (err) { console.warn("MathJax typeset:", err); });
      }
    };
  }
  // MathJax 3 is loaded with `defer`: it exists by DOMContentLoaded, before the widgets render on load.
  install();
  document.addEventListener("DOMContentLoaded", install);
})();
JS

# swap in only after everything was copied, so an interrupted fetch never leaves half a _vendor
rm -rf _vendor
mv "$stage" _vendor
echo "fetch_static_js.sh: _vendor/ ready ($(du -sh _vendor | cut -f1)): MathJax ${MATHJAX_VERSION}, html-manager ${HTML_MANAGER_VERSION}, require.js ${REQUIREJS_VERSION}"
