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

# docker-compose.yml is validated with `docker-compose config` (no Docker engine needed); install Debian's when missing.
ensure_docker_compose() {
  if ! command -v docker-compose >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq docker-compose >/dev/null
  fi
}
