#!/usr/bin/env bash
# Set everything up from a fresh clone: a Python 3.11 virtualenv with the package and its test tools,
# the face_recognition peer (for `facetrust eval --peer` only), and the pinned model files.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# face_recognition declares dlib as a dependency, which would compile from source; dlib-bin (already
# installed) provides the same module, so the peer goes in without its dependencies.
.venv/bin/python -m pip install --quiet --no-deps face_recognition==1.3.0 face_recognition_models==0.3.0
.venv/bin/facetrust models fetch
