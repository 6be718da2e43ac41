#!/usr/bin/env bash
# Install (or update) the LocalStack venv used by the emulator harness.
#
#   venv: ${INFRA_LOCALSTACK_VENV:-$HOME/.cache/infra-localstack-venv}
#
# Idempotent and cheap when nothing changed:
#  - packages from requirements.lock (+ build-requirements.lock) are (re)installed only
#    when the stamp inside the venv differs from the sha256 of those lock files;
#  - the provider plugin (./plugin) is reinstalled only when the sha256 of its files
#    differs from the plugin stamp. The plugin install uses no registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${INFRA_LOCALSTACK_VENV:-$HOME/.cache/infra-localstack-venv}
python=${INFRA_LOCALSTACK_PYTHON:-python3}
req_stamp=$venv/.infra-requirements.sha256
plugin_stamp=$venv/.infra-plugin.sha256

log() { printf 'install.sh: %s\n' "$*" >&2; }

# One installer at a time per venv (two start.sh runs at once must not both pip install).
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
fi

# sha256 of the lock files (order fixed) and of the plugin sources.
req_sum=$(cat "$here/requirements.lock" "$here/build-requirements.lock" | sha256sum | cut -d' ' -f1)
plugin_sum=$(
    cd "$here/plugin" &&
        find . -type f \( -name '*.py' -o -name 'pyproject.toml' \) \
            -not -path './build/*' -not -path '*.egg-info/*' -not -path '*/__pycache__/*' |
        LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
)

if [ ! -x "$venv/bin/python" ]; then
    pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$pyver" != "3.11" ]; then
        log "requirements.lock was made with Python 3.11; $python is $pyver (set INFRA_LOCALSTACK_PYTHON)"
        exit 1
    fi
    log "creating venv $venv"
    "$python" -m venv "$venv"
    rm -f "$req_stamp" "$plugin_stamp"
fi

if [ "$(cat "$req_stamp" 2>/dev/null || true)" != "$req_sum" ]; then
    log "installing requirements.lock into $venv (about 2 min on a fresh venv)"
    rm -f "$req_stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        -r "$here/requirements.lock" -r "$here/build-requirements.lock"
    printf '%s\n' "$req_sum" >"$req_stamp"
    rm -f "$plugin_stamp" # dependencies changed: reinstall the plugin against them
fi

if [ "$(cat "$plugin_stamp" 2>/dev/null || true)" != "$plugin_sum" ]; then
    log "installing provider plugin from $here/plugin"
    rm -f "$plugin_stamp"
    # Build from a copy so the source tree gets no build/ or *.egg-info.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -R "$here/plugin" "$tmp/plugin"
    rm -rf "$tmp/plugin/build" "$tmp/plugin"/*.egg-info
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        --no-deps --no-build-isolation --no-index --force-reinstall "$tmp/plugin"
    # plux (LocalStack's plugin loader) keeps an entry-point index keyed partly by file
    # mtimes stored as 32-bit floats (~2 min resolution); drop it so a quick reinstall
    # with changed entry points cannot be served a stale index. It is rebuilt on start.
    rm -f "${XDG_CACHE_HOME:-$HOME/.cache}"/plux/*.entry_points.txt
    printf '%s\n' "$plugin_sum" >"$plugin_stamp"
fi
