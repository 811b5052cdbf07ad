# Sourced by the scripts: sets and exports CLAWCHAOS_CACHE, the folder every install and build
# of the set-up goes to (default: /var/cache/clawchaos as root, else ~/.cache/clawchaos).
if [ -z "${CLAWCHAOS_CACHE:-}" ]; then
  if [ "$(id -u)" = 0 ]; then CLAWCHAOS_CACHE=/var/cache/clawchaos
  else CLAWCHAOS_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/clawchaos"; fi
fi
export CLAWCHAOS_CACHE
