# Installs the Debian packages the tests and benchmarks need, if missing.
# Sourced by deploy/test, deploy/run and loadtest scripts. Uses sudo when not root.

install_packages() {
  echo "==> installing $*"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_packages command:package ... — installs each package whose command is missing.
ensure_packages() {
  local missing=() cmd pkg pair
  for pair in "$@"; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] || install_packages "${missing[@]}"
}
