#!/bin/sh
# Install the pinned agent CLIs the real-CLI tests drive, into $GT_AGENTS_DIR (default .ci/agents, git-ignored).
# Progress goes to stderr; stdout is only the env lines the tests read, e.g.
#   GT_TEST_CLAUDE=/abs/.ci/agents/claude/node_modules/.bin/claude
# so `eval "$(.ci/install-agents.sh)"` (with export) or `>> "$GITHUB_ENV"` both work.
# Needs node + npm (claude 2.1.332 declares node >= 22 but runs on 20) and python3 with venv.
set -eu

CLAUDE_VERSION=2.1.332
CODEX_VERSION=0.171.0
GEMINI_VERSION=0.61.0
OPENCODE_VERSION=1.18.33
AIDER_VERSION=0.86.2

dir="${GT_AGENTS_DIR:-.ci/agents}"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# No update checks, telemetry or funding noise while installing.
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 PIP_DISABLE_PIP_VERSION_CHECK=1

npm_install() { # NAME PACKAGE@VERSION
    echo "install-agents: $2 -> $dir/$1" >&2
    npm install --prefix "$dir/$1" --no-save --loglevel=error "$2" >&2
}

npm_install claude "@anthropic-ai/claude-code@$CLAUDE_VERSION"
npm_install codex "@openai/codex@$CODEX_VERSION"
npm_install gemini "@google/gemini-cli@$GEMINI_VERSION"
npm_install opencode "opencode-ai@$OPENCODE_VERSION"

echo "install-agents: aider-chat==$AIDER_VERSION -> $dir/aider (venv)" >&2
if [ ! -x "$dir/aider/bin/python" ]; then
    python3 -m venv "$dir/aider" >&2
fi
"$dir/aider/bin/pip" install --quiet "aider-chat==$AIDER_VERSION" >&2

claude="$dir/claude/node_modules/.bin/claude"
codex="$dir/codex/node_modules/.bin/codex"
gemini="$dir/gemini/node_modules/.bin/gemini"
opencode="$dir/opencode/node_modules/.bin/opencode"
aider="$dir/aider/bin/aider"

# Each must at least report its version, or the install is broken (fail here, not in a test).
for bin in "$claude" "$codex" "$gemini" "$opencode" "$aider"; do
    if ! version=$("$bin" --version </dev/null 2>&1); then
        echo "install-agents: $bin --version failed: $version" >&2
        exit 1
    fi
    echo "install-agents: $bin: $(echo "$version" | tail -n 1)" >&2
done

echo "GT_TEST_CLAUDE=$claude"
echo "GT_TEST_CODEX=$codex"
echo "GT_TEST_GEMINI=$gemini"
echo "GT_TEST_OPENCODE=$opencode"
echo "GT_TEST_AIDER=$aider"
