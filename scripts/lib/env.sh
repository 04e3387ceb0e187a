# Shared by the scripts: the pinned uv, never a downloaded Python, and Go without surprise toolchains.
UV_VERSION=0.13.8
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3}"
export GOTOOLCHAIN=local

# uv is the one package manager of the workspace; install the pinned version from PyPI when it is missing.
ensure_uv() {
  if ! python3 -m uv --version 2>/dev/null | grep -qx "uv $UV_VERSION"; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  uv() { python3 -m uv "$@"; }
}
