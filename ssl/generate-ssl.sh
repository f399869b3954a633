#!/usr/bin/env bash
# Self-signed TLS certificate for nginx in local runs, the sandbox demo and tests.
#
#   ssl/generate-ssl.sh [--force] [OUT_DIR]     (OUT_DIR defaults to this ssl/ directory)
#
# Writes OUT_DIR/cert.pem and OUT_DIR/key.pem: EC P-256 (fast to generate, which matters
# because tests make one per nginx instance), 365 days. The certificate names WEBHOOK_HOST
# (CN and subjectAltName, a DNS name or an IP; scheme, port and path are ignored) when it is
# set, plus localhost and 127.0.0.1: Telegram only calls a webhook whose certificate names its host.
# Existing files are kept unless --force, so re-running is cheap and never rotates a cert
# Telegram has already been given. For production use a real certificate (e.g. Let's
# Encrypt) or upload this one to Telegram with setWebhook's `certificate` field.
set -euo pipefail

force=0
out_dir=""
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        -*) echo "generate-ssl.sh: unknown flag $arg" >&2; exit 2 ;;
        *) out_dir="$arg" ;;
    esac
done
out_dir="${out_dir:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

cert="$out_dir/cert.pem"
key="$out_dir/key.pem"
if [[ $force -eq 0 && -s "$cert" && -s "$key" ]]; then
    echo "generate-ssl.sh: $cert and $key exist (use --force to replace)"
    exit 0
fi

# WEBHOOK_HOST as the seed writes it ("your-domain.com") or as a URL ("https://1.2.3.4:8443/x").
host="${WEBHOOK_HOST:-localhost}"
host="${host#*://}"
host="${host%%/*}"
if [[ $host == \[* ]]; then host="${host#[}"; host="${host%%]*}"; else host="${host%%:*}"; fi
host="${host:-localhost}"
san="DNS:localhost,IP:127.0.0.1"
if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then
    [[ $host == 127.0.0.1 ]] || san="IP:$host,$san"
elif [[ $host != localhost ]]; then
    san="DNS:$host,$san"
fi

command -v openssl >/dev/null || { echo "generate-ssl.sh: openssl not found (run scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$out_dir"

# Write to temporary names and rename, so a concurrent reader (another test, a running
# nginx reload) never sees a half-written key or a key that doesn't match the cert.
tmp_cert="$(mktemp "$out_dir/.cert.XXXXXX")"
tmp_key="$(mktemp "$out_dir/.key.XXXXXX")"
trap 'rm -f "$tmp_cert" "$tmp_key"' EXIT

openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$tmp_key" -out "$tmp_cert" -days 365 \
    -subj "/CN=$host" \
    -addext "subjectAltName=$san" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" 2>/dev/null

# Only the nginx master (root or the invoking user) reads the key: keep it private.
chmod 600 "$tmp_key"
chmod 644 "$tmp_cert"
mv -f "$tmp_key" "$key"
mv -f "$tmp_cert" "$cert"
echo "generate-ssl.sh: wrote $cert and $key (for $san)"
