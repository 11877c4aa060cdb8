#!/usr/bin/env bash
# One entry point for the course:
#   ./course.sh build   set up everything, then build the executed book into _build/html
#   ./course.sh test    set up everything, then run every test (unit, notebooks, strict build,
#                       real browser)
#   ./course.sh lab     set up everything, then open JupyterLab at the book (chapters open as
#                       notebooks; sliders recompute live)
#   ./course.sh bench   set up everything, then print the benchmark table (chapter execution
#                       times, widget compute/draw/total latencies, live round trips in
#                       JupyterLab), failing past the budgets
#   ./course.sh resolve check, without installing, that the pins resolve for Python 3.11-3.13
#                       on Linux and macOS (pip's dry run with binary wheels only)
#   ./course.sh lock    regenerate constraints.txt (uv, universal: every Python and platform)
#   ./course.sh setup   only the set-up step
# Set-up is idempotent: a stamp file records the hash of the requirement files, so a second run
# skips what is already in place. Nothing needs activating: every tool is called from .venv/.
# Environment variables:
#   PYTHON=/path/to/python3.X   interpreter for .venv (default: the first of python3,
#                               python3.13 ... python3.11 that is a supported 3.11-3.13)
#   TORCH_INDEX_URL=URL         install torch from this package index instead of PyPI, e.g.
#                               https://download.pytorch.org/whl/cpu (Linux without CUDA)
#   CHROMIUM=/path/to/chrome    browser for the browser tests (default: /usr/bin/chromium,
#                               chromium on PATH, or Google Chrome on macOS)
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

# torch stays at the CPU wheel the build machines have (see constraints.txt).
TORCH_VERSION=2.13.0

# Supported Python versions (pyproject.toml's requires-python and the CI matrix agree).
PY_MIN=11
PY_MAX=13

# sha256sum on Linux, shasum on macOS.
hash_files() {
    if command -v sha256sum >/dev/null 2>&1; then
        cat "$@" | sha256sum | cut -d' ' -f1
    else
        cat "$@" | shasum -a 256 | cut -d' ' -f1
    fi
}

log() { printf '\033[1m[course]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[course] error:\033[0m %s\n' "$*" >&2; exit 1; }

supported() {
    "$1" -c "import sys; sys.exit(not (3, $PY_MIN) <= sys.version_info[:2] <= (3, $PY_MAX))" 2>/dev/null
}

find_python() {
    local candidate
    if [ -n "${PYTHON:-}" ]; then
        supported "$PYTHON" && echo "$PYTHON" && return 0
        die "PYTHON=$PYTHON is not a Python 3.$PY_MIN-3.$PY_MAX"
    fi
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

pyversion() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

setup_python() {
    local stamp="$VENV/.course-stamp" want python version
    python="$(find_python)" ||
        die "Python 3.$PY_MIN to 3.$PY_MAX is required (set PYTHON=/path/to/python3.X)"
    version="$(pyversion "$python")"
    want="$(hash_files requirements.txt constraints.txt pyproject.toml jupyterlab/overrides.json)"
    want="$want python$version ${TORCH_INDEX_URL:-}"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "Python environment up to date (.venv, Python $version)"
        return 0
    fi
    if [ -x "$PY" ] && [ "$(pyversion "$PY")" != "$version" ]; then
        log "recreating .venv: it was made with Python $(pyversion "$PY"), not $version"
        rm -rf "$VENV"
    fi
    if [ ! -x "$PY" ]; then
        log "creating .venv with $python (Python $version)"
        "$python" -m venv "$VENV"
    fi
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
        log "installing torch from $TORCH_INDEX_URL"
        quiet_pip install --quiet --no-deps --index-url "$TORCH_INDEX_URL" -c constraints.txt torch
    fi
    log "installing ibcore (editable) with its extras under the lock (first run takes ~2 min)"
    quiet_pip install --quiet -r requirements.txt -c constraints.txt
    # JupyterLab settings of this environment only: MyST chapters (.md) open as notebooks.
    mkdir -p "$VENV/share/jupyter/lab/settings"
    cp jupyterlab/overrides.json "$VENV/share/jupyter/lab/settings/overrides.json"
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

# The browser of the browser tests: $CHROMIUM, else Debian's chromium, else one on PATH, else
# Google Chrome on macOS.
find_chromium() {
    local candidate
    for candidate in "${CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null)" \
        "$(command -v chromium-browser 2>/dev/null)" "$(command -v google-chrome 2>/dev/null)" \
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" \
        "/Applications/Chromium.app/Contents/MacOS/Chromium"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# Headless Chromium (Debian package, or $CHROMIUM) and playwright-core (npm) for the browser tests.
setup_browser() {
    if ! CHROMIUM="$(find_chromium)"; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            log "installing Debian's chromium for the browser test"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
            CHROMIUM=/usr/bin/chromium
        else
            die "the browser tests need Chromium or Chrome: install it (Debian: apt-get install -y chromium) or set CHROMIUM=/path/to/it"
        fi
    fi
    export CHROMIUM
    log "browser for the browser tests: $CHROMIUM"
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
lab)
    setup_python
    setup_vendor
    shift
    log "opening JupyterLab at the book (Ctrl-C stops it); chapters open as notebooks"
    root_flag=()
    [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
    exec "$VENV/bin/jupyter-lab" --ServerApp.root_dir="$ROOT" \
        --LabApp.default_url=/lab/tree/book/widgets_demo.md "${root_flag[@]}" "$@"
    ;;
bench)
    setup_python
    case " $* " in *" --live "*) setup_browser ;; esac
    shift
    "$PY" benchmarks/run.py "$@"
    ;;
lock)
    # One universal resolution (every supported Python and platform, with markers) that keeps
    # the versions already locked where it can; torch stays at the CPU wheel of the machines.
    setup_python
    "$VENV/bin/uv" pip compile --quiet --universal --python-version "3.$PY_MIN" --no-annotate \
        --custom-compile-command "./course.sh lock" pyproject.toml --all-extras \
        -c <(echo "torch==$TORCH_VERSION") -o constraints.txt
    log "constraints.txt updated; check it with ./course.sh resolve"
    ;;
resolve)
    setup_python
    shift
    "$PY" tools/check_resolution.py "$@"
    ;;
*)
    sed -n '2,25p' "$0"
    exit 2
    ;;
esac
