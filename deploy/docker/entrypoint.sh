#!/usr/bin/env bash
# The image's entry point. With no arguments, or options only, it runs `warden serve` on the mounted config
# ($WARDEN_CONFIG, default /etc/warden/warden.yaml); any other arguments are a warden command
# (`docker run IMAGE audit tail`), and --help and --version are warden's own. Secrets may come as files (Docker and Compose secrets): for
# WARDEN_*_FILE and PGPASSWORD_FILE, the variable without _FILE is set to the file's content. warden is
# exec'd, so it is PID 1 and gets SIGTERM (stop) and SIGHUP (reload) itself.
set -euo pipefail

fail() {
  echo "warden-entrypoint: $*" >&2
  exit 2
}

for file_var in $(compgen -e); do
  [[ "$file_var" =~ ^(WARDEN_[A-Z0-9_]+|PGPASSWORD)_FILE$ ]] || continue
  var="${file_var%_FILE}"
  path="${!file_var}"
  [[ -z "${!var:-}" ]] || fail "both $var and $file_var are set: give one"
  [[ -f "$path" && -r "$path" ]] || fail "$file_var: cannot read $path"
  value="$(<"$path")"
  [[ -n "$value" ]] || fail "$file_var: $path is empty"
  export "$var=$value"
  unset "$file_var"
done

case "${1:-}" in
  -h | --help | -V | --version) ;;
  '' | -*) set -- serve --config "${WARDEN_CONFIG:-/etc/warden/warden.yaml}" "$@" ;;
esac
exec warden "$@"
