#!/usr/bin/env bash
# Install Debian's SoftHSM2 (a PKCS#11 token in software) for the HSM key tests if it is missing
# (tests/test_hsm_keys.py; each test initialises its own token in a temporary folder).
set -euo pipefail
if ! command -v softhsm2-util >/dev/null || [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then
    export DEBIAN_FRONTEND=noninteractive
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq >/dev/null
    $sudo_ apt-get install -y -qq softhsm2 >/dev/null
fi
