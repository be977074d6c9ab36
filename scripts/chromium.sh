#!/usr/bin/env bash
# Install Debian's Chromium and a Chinese font for the browser tests if they are missing (the tests
# drive /usr/bin/chromium; without a CJK font the Chinese pages would render as empty boxes).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq >/dev/null
    $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi
