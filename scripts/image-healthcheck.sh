#!/bin/bash
# The image's HEALTHCHECK (/usr/bin/telemetry-processor-healthcheck): GET /healthz on the
# loopback with bash's /dev/tcp, so the image needs no HTTP client. Exit 0 on a 200.
# The port is TP_HTTPPORT's (8989 unless set); a listener configured for TLS
# (http.tlsCertFile) or for another address is not reached by it.
set -u
port="${TP_HTTPPORT:-8989}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS=' ' read -r -t 4 protocol status _ <&3 || exit 1
[ "${protocol#HTTP/}" != "$protocol" ] && [ "$status" = 200 ]
