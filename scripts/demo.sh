#!/usr/bin/env bash
# Fresh machine: install what is missing (tmux, git), build gt, run `gt demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'demo: %s\n' "$*" >&2; }

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# The toolchain: cargo and rustc at least the version Cargo.toml asks for.
need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  say "error: cargo/rustc not found; gt needs Rust $need or newer"
  say "hint: install it with rustup (https://rustup.rs), then run this script again"
  exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  say "error: rustc $have is older than the $need that gt needs"
  say "hint: rustup update stable"
  exit 1
fi

if [ -x target/release/gt ] && [ -z "$(find crates Cargo.toml Cargo.lock -newer target/release/gt -print -quit)" ]; then
  say "gt is built (target/release/gt)"
else
  say "building gt with cargo $have (release; the first build takes a few minutes on a small machine)"
  cargo build --release --bin gt
fi
say "running gt demo: a temporary town, three tasks, stand-in agents in tmux, the refinery landing their work"
exec ./target/release/gt demo "$@"
