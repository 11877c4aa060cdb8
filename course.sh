#!/usr/bin/env bash
# One entry point for the course:
#   ./course.sh build   set up everything, then build the executed book into _build/html
#   ./course.sh test    set up everything, then run every test (unit, notebooks, strict build,
#                       real browser)
#   ./course.sh bench   set up everything, then print the benchmark table (chapter execution
#                       times and widget recompute latencies), failing past the budgets
#   ./course.sh setup   only the set-up step
# Set-up is idempotent: a stamp file records the hash of the requirement files, so a second run
# skips what is already in place. Nothing needs activating: every tool is called from .venv/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
VENDOR="$ROOT/_vendor"
BROWSER_DIR="$ROOT/tests/browser"

# Versions of the browser-side assets (vendored from the npm registry with `npm pack`).
MATHJAX_VERSION=3.2.2
HTML_MANAGER_VERSION=1.0.6
REQUIREJS_VERSION=2.3.7

# pip on some machines prints one harmless "Location ... is ignored" line per package.
quiet_pip() { "$PY" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

log() { printf '\033[1m[course]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[course] error:\033[0m %s\n' "$*" >&2; exit 1; }

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

setup_python() {
    local stamp="$VENV/.course-stamp" want
    want="$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "Python environment up to date (.venv)"
        return 0
    fi
    local python
    python="$(find_python)" || die "Python 3.11 is required (set PYTHON=/path/to/python3.11)"
    if [ ! -x "$PY" ]; then
        log "creating .venv with $python"
        "$python" -m venv "$VENV"
    fi
    log "installing pinned requirements (torch is the CPU build; first run takes ~1-2 min)"
    quiet_pip install --quiet -r requirements.txt -c constraints.txt
    log "installing ibcore in editable mode"
    quiet_pip install --quiet --no-deps -e .
    echo "$want" >"$stamp"
}

# MathJax, require.js and the ipywidgets HTML manager, so pages render with no network.
setup_vendor() {
    local stamp="$VENDOR/.versions" want="$MATHJAX_VERSION $HTML_MANAGER_VERSION $REQUIREJS_VERSION"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "browser assets up to date (_vendor)"
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        log "npm not found: the book will load MathJax and the widget manager from their CDNs"
        log "(pages then need a network connection to show math and widgets)"
        return 0
    fi
    log "vendoring MathJax $MATHJAX_VERSION, html-manager $HTML_MANAGER_VERSION, require.js $REQUIREJS_VERSION"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" \
        "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" "requirejs@$REQUIREJS_VERSION" >/dev/null)
    rm -rf "$VENDOR.tmp" && mkdir -p "$VENDOR.tmp/mathjax" "$VENDOR.tmp/widgets"
    tar -xzf "$tmp"/mathjax-*.tgz -C "$tmp" && mv "$tmp/package/es5"/* "$VENDOR.tmp/mathjax/" && rm -rf "$tmp/package"
    tar -xzf "$tmp"/jupyter-widgets-html-manager-*.tgz -C "$tmp" && cp "$tmp/package/dist"/* "$VENDOR.tmp/widgets/" && rm -rf "$tmp/package"
    tar -xzf "$tmp"/requirejs-*.tgz -C "$tmp" && cp "$tmp/package/require.js" "$VENDOR.tmp/require.js"
    rm -rf "$tmp" "$VENDOR" && mv "$VENDOR.tmp" "$VENDOR"
    echo "$want" >"$stamp"
}

# Headless Chromium (Debian package) and playwright-core (npm) for the real-browser test.
setup_browser() {
    if [ ! -x /usr/bin/chromium ]; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            log "installing Debian's chromium for the browser test"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            die "the browser test needs /usr/bin/chromium: install Debian's 'chromium' package (as root: apt-get install -y chromium)"
        fi
    fi
    if [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ]; then
        command -v npm >/dev/null 2>&1 || die "the browser test needs npm (Node.js) for playwright-core"
        log "installing playwright-core (npm, no browser download)"
        (cd "$BROWSER_DIR" && npm ci --silent --no-audit --no-fund)
    fi
}

build_book() {
    log "building the executed book (every chapter is re-executed: execute_notebooks: force)"
    rm -rf "$ROOT/_build/html" "$ROOT/_build/.doctrees"
    "$VENV/bin/jupyter-book" build "$ROOT" -W -n --keep-going
}

cmd="${1:-}"
case "$cmd" in
setup)
    setup_python
    setup_vendor
    ;;
build)
    start=$SECONDS
    setup_python
    setup_vendor
    build_book
    log "book built in $((SECONDS - start)) s: open file://$ROOT/_build/html/index.html"
    ;;
test)
    start=$SECONDS
    setup_python
    setup_vendor
    setup_browser
    log "ruff"
    "$VENV/bin/ruff" check ibcore tests benchmarks tools conftest.py _ext
    log "pytest: unit tests, chapters (nbval), strict build, browser"
    shift
    "$PY" -m pytest --nbval-lax --nbval-current-env --durations=15 "$@"
    log "all tests passed in $((SECONDS - start)) s"
    ;;
bench)
    setup_python
    shift
    "$PY" benchmarks/run.py "$@"
    ;;
*)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
