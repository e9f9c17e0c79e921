#!/bin/sh
# Rulebook's container build steps, all of them: the Dockerfile RUNs this script, and the test
# suite runs it too (tests/test_packaging.py), so the image differs from what the suite tested
# only by its base (python:3.11-slim there, this machine's Python 3.11 here).
#
#   build.sh venv   PREFIX REQUIREMENTS  a virtualenv at PREFIX with the hashed locks:
#                                        REQUIREMENTS/build.txt then lock.txt, --require-hashes
#   build.sh wheel  PREFIX SOURCE DIST   build Rulebook's wheel from SOURCE into DIST, with
#                                        PREFIX's Python and its hashed setuptools
#   build.sh app    PREFIX DIST          install DIST's wheel into PREFIX, --no-deps
#   build.sh layout HOME [USER]          the instance folder HOME (database, secret key),
#                                        mode 0700; owned by USER, a system user without a
#                                        login that is created when missing (needs root)
#
# PYTHON chooses the interpreter that makes the virtualenv (default: python3).
set -eu

PYTHON=${PYTHON:-python3}

step=${1:-}
if [ $# -gt 0 ]; then shift; fi
case "$step" in
venv)
    prefix=$1 requirements=$2
    "$PYTHON" -m venv "$prefix"
    # As the Makefile: no build isolation, so durable-rules' sdist is built with the hashed
    # setuptools of build.txt rather than one pip would fetch unhashed.
    venv_python="$prefix/bin/python"
    "$venv_python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
        --require-hashes -r "$requirements/build.txt"
    "$venv_python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
        --require-hashes -r "$requirements/lock.txt"
    ;;
wheel)
    prefix=$1 source=$2 dist=$3
    mkdir -p "$dist"
    "$prefix/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-build-isolation \
        --no-deps -w "$dist" "$source"
    ;;
app)
    prefix=$1 dist=$2
    set -- "$dist"/rulebook-*.whl
    if [ $# -ne 1 ] || [ ! -f "$1" ]; then
        echo "build.sh app: expected one rulebook-*.whl in $dist" >&2
        exit 1
    fi
    "$prefix/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$1"
    "$prefix/bin/rulebook" --version
    ;;
layout)
    home=$1 user=${2:-}
    mkdir -p "$home"
    chmod 0700 "$home"
    if [ -n "$user" ]; then
        if ! id -u "$user" >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir "$home" \
                --shell /usr/sbin/nologin "$user"
        fi
        chown "$user:$(id -gn "$user")" "$home"
    fi
    ;;
*)
    echo "usage: build.sh venv|wheel|app|layout ... (see the comment at the top)" >&2
    exit 2
    ;;
esac
