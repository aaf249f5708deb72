#!/usr/bin/env bash
# Install the benchmark peers into the active environment (run from the repository root,
# after `pip install -e . --group bench`, or on its own: it installs that group first).
#
# Two peers need more than a plain `pip install`:
# - thinkstrip declares Python >= 3.13 but runs on 3.10+: --ignore-requires-python.
# - llm-router-utils (a copy of SGLang's parsers) requires transformers, xgrammar, tiktoken
#   and more; its reasoning parser imports only pydantic, orjson, openai and
#   partial-json-parser (all in the bench group), so it goes in with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet -e . --group bench
python -m pip install --quiet --no-deps --ignore-requires-python "thinkstrip==0.2.2"
python -m pip install --quiet --no-deps "llm-router-utils==0.8.1"
python -c "from benchmarks.peers import available_splitters; print('peers missing:', available_splitters()[1] or 'none')"
