#!/bin/sh
# Opt-in: installs onnxruntime-node (pinned) into bench/peers/node_modules, git-ignored, for
# `vitbench bench --peers onnxruntime`. Nothing in the build or the tests runs this.
#
# ONNXRUNTIME_NODE_INSTALL=skip: the package's install script would fetch CUDA binaries from a
# host that may be unreachable; the CPU binaries ship inside the package itself.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=${ONNXRUNTIME_NODE_VERSION:-1.30.0}
command -v npm >/dev/null 2>&1 || { echo "install-onnxruntime.sh: npm not found (apt-get install npm)" >&2; exit 1; }
ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$here" --no-save --no-package-lock \
  --no-audit --no-fund "onnxruntime-node@$version"
node -e "const o = require('$here/node_modules/onnxruntime-node'); console.log('onnxruntime-node', require('$here/node_modules/onnxruntime-node/package.json').version, 'installed in $here/node_modules')"
