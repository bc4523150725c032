# Telemetry Processor image: the release binary on Debian 12 (bookworm-slim) with only the
# libraries it links.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t telemetry-processor:0.1.0 .
#   podman build --format docker ...   (the OCI format has no HEALTHCHECK)
#
# VERSION must be the project's version (CMakeLists.txt): the build stops if the binary says
# otherwise, so the label cannot disagree with `telemetry-processor --version`.
# BASE_IMAGE lets a build use a locally made bookworm-slim (scripts/image-test.sh).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# Build dependencies only (scripts/install-deps.sh --build), in a layer of their own.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt CMakePresets.json /src/
COPY cmake /src/cmake
COPY src /src/src
WORKDIR /src
# The release preset (-O2 -g) without tests and benchmarks; only the binary, on every core,
# stripped of its debug information. One step, so that the layer keeps /out and not the objects.
RUN cmake --preset release -DTP_BUILD_TESTS=OFF -DTP_BUILD_BENCH=OFF >/dev/null \
 && cmake --build --preset release --target telemetry-processor -j"$(nproc)" \
 && mkdir -p /out \
 && strip --strip-debug -o /out/telemetry-processor build/release/telemetry-processor \
 && rm -rf build
# The version the labels carry is the binary's; the runtime stage installs the packages that
# own the libraries it links.
COPY scripts/runtime-packages.sh /src/scripts/runtime-packages.sh
ARG VERSION=0.1.0
RUN built="$(/out/telemetry-processor --version)" \
 && if [ "$built" != "telemetry-processor ${VERSION}" ]; then \
      echo "build-arg VERSION=${VERSION}, but the binary says: ${built}" >&2; exit 1; fi \
 && scripts/runtime-packages.sh /out/telemetry-processor >/out/runtime-packages \
 && echo "runtime packages: $(tr '\n' ' ' </out/runtime-packages)"

FROM ${BASE_IMAGE}
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# A fixed numeric user so that Kubernetes' runAsNonRoot and fsGroup can name it.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /tmp/runtime-packages \
 && groupadd --system --gid 10001 telemetry-processor \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin telemetry-processor \
 && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /out/telemetry-processor /usr/bin/telemetry-processor
COPY scripts/image-healthcheck.sh /usr/bin/telemetry-processor-healthcheck
USER 10001:10001
# The SQLite file and the queue: db.path and queue.dir default to data/telemetry-processor.db
# and data/queue, relative to here, so /data/data/... unless configured (mount a volume on /data).
WORKDIR /data
EXPOSE 8989
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/bin/telemetry-processor-healthcheck"]
ENTRYPOINT ["/usr/bin/telemetry-processor"]

# Last, so that a new revision or date reuses every layer above.
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="telemetry-processor" \
      org.opencontainers.image.description="Joins Prometheus remote-write metrics and Fluent Bit logs with Kubernetes GPU-cluster state; forwards per-workload metrics, records training performance" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
