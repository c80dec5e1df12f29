#!/usr/bin/env bash
# Tesseract OCR with its English data, for the burned-in text detector of snapshot exports
# (orthogui/io/burned_in.py) and its tests, which are skipped without it.
#
#   scripts/ocr.sh install   install the Debian packages when missing (apt-get)
#   scripts/ocr.sh check     say what is installed; exit 1 when something is missing
#
# Without apt-get (not Debian/Ubuntu) or without root, `install` says so and exits 0: exports
# then fall back to the OCR-free text detector and the tests that need tesseract are skipped
# with that reason, never faked.
set -euo pipefail

PACKAGES=(tesseract-ocr tesseract-ocr-eng)

missing() {
    local out=()
    if ! command -v tesseract >/dev/null 2>&1; then
        out+=("tesseract")
    elif ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
        out+=("the English data (tesseract-ocr-eng)")
    fi
    printf '%s\n' "${out[@]}"
}

check() {
    local gone
    gone="$(missing)"
    if [ -z "$gone" ]; then
        echo "ocr.sh: $(tesseract --version 2>&1 | head -n 1) with English data is installed"
        return 0
    fi
    echo "ocr.sh: missing: $(echo "$gone" | paste -sd ';' | sed 's/;/; /g')"
    return 1
}

install() {
    if [ -z "$(missing)" ]; then
        check
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ocr.sh: apt-get is not available here; install tesseract and its English data" \
            "by hand - until then the OCR tests are skipped"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "ocr.sh: not root and no password-less sudo: cannot run apt-get;" \
                "the OCR tests are skipped"
            return 0
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}"; then
        "${sudo[@]}" apt-get update
        "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    fi
    check
}

case "${1:-}" in
    install) install ;;
    check) check ;;
    *)
        echo "usage: $0 install|check" >&2
        exit 2
        ;;
esac
