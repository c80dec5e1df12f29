#!/usr/bin/env bash
# Orthanc (with its DICOMweb plugin) and dcmtk, for the PACS integration tests
# (tests/integration), which start their own throw-away Orthanc and are skipped without it.
#
#   scripts/orthanc.sh install   install the Debian packages when missing (apt-get)
#   scripts/orthanc.sh check     say what is installed; exit 1 when something is missing
#
# Without apt-get (not Debian/Ubuntu) or without root, `install` says so and exits 0: the
# tests that need Orthanc are then skipped with that reason, never faked.
set -euo pipefail

PACKAGES=(orthanc orthanc-dicomweb dcmtk)
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so

orthanc_binary() {
    command -v Orthanc 2>/dev/null || { [ -x /usr/sbin/Orthanc ] && echo /usr/sbin/Orthanc; } || true
}

missing() {
    local out=()
    [ -n "$(orthanc_binary)" ] || out+=("Orthanc")
    [ -e "$PLUGIN" ] || out+=("the DICOMweb plugin ($PLUGIN)")
    command -v dsrdump >/dev/null 2>&1 || out+=("dcmtk (dsrdump)")
    printf '%s\n' "${out[@]}"
}

check() {
    local gone
    gone="$(missing)"
    if [ -z "$gone" ]; then
        echo "orthanc.sh: $("$(orthanc_binary)" --version | head -n 1), DICOMweb plugin and dcmtk are installed"
        return 0
    fi
    echo "orthanc.sh: missing: $(echo "$gone" | paste -sd ';' | sed 's/;/; /g')"
    return 1
}

install() {
    if [ -z "$(missing)" ]; then
        check
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "orthanc.sh: apt-get is not available here; install Orthanc, its DICOMweb plugin" \
            "and dcmtk by hand - until then the PACS integration tests are skipped"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "orthanc.sh: not root and no password-less sudo: cannot run apt-get;" \
                "the PACS integration tests are skipped"
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
