# Sourced by scripts/run and scripts/test: make sure .venv exists and holds the project.
# Usage: ensure_venv [EXTRA]   (EXTRA is an optional-dependency group such as "test")
# Re-installs only when pyproject.toml (or the extra asked for) changed since the last install.

ensure_venv() {
    local extra="${1:-}"
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local python=""
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
    if [ -z "$python" ]; then
        echo "hanemu needs Python 3.11 or newer (python3.11 / python3 on PATH)" >&2
        return 1
    fi
    if [ ! -x "$root/.venv/bin/python" ]; then
        echo "creating $root/.venv with $python" >&2
        "$python" -m venv "$root/.venv" || {
            echo "python -m venv failed: on Debian/Ubuntu install python3-venv" >&2
            return 1
        }
    fi
    local spec="$root"
    [ -n "$extra" ] && spec="$root[$extra]"
    local stamp="$root/.venv/.hanemu-installed"
    local want
    want="$(sha256sum <"$root/pyproject.toml" | cut -d' ' -f1) $extra"
    if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
        echo "installing hanemu${extra:+ with [$extra]} into .venv" >&2
        "$root/.venv/bin/python" -m pip install --quiet --upgrade pip >&2
        "$root/.venv/bin/python" -m pip install --quiet -e "$spec" >&2
        echo "$want" >>"$stamp"
    fi
}
