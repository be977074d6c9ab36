#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests if it is missing (they drive /usr/bin/chromium).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq >/dev/null
    $sudo_ apt-get install -y -qq chromium >/dev/null
fi
