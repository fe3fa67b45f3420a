# Container image of the controller:
#   docker build -t eventbridge-integration-controller .      (or: buildah bud, podman build)
# Base images are build arguments so that a machine without registry access can supply
# local equivalents: hack/image.sh builds this file that way and `make test` runs the result.

# The Rust image the binary is built in, the image it runs on, and where the binary comes from
# (the `build` stage below, or an image that already holds the release binary at
# /src/target/release/eventbridge-integration-controller).
ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
ARG BINARY_FROM=build

# --- build ---
FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them. Cargo.toml names bench targets,
# whose files must exist for cargo to load the manifest at all: a stand-in for each.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for bench in $(grep -A1 '^\[\[bench\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"$/\1/p'); do \
         echo 'fn main() {}' > "benches/$bench.rs"; done \
    && cargo build --locked --release \
    && rm -rf src benches target/release/.fingerprint/eventbridge-integration-controller-* target/release/deps/*ebi-* target/release/deps/eventbridge_integration_controller-*
COPY src ./src
COPY benches ./benches
RUN cargo build --locked --release --bin eventbridge-integration-controller \
    && strip target/release/eventbridge-integration-controller

FROM ${BINARY_FROM} AS binary

# --- run ---
# distroless/cc: glibc and CA certificates, no shell, no package manager; uid 65532.
# Run it with a read-only root filesystem: it writes nothing.
FROM ${RUNTIME_IMAGE}
COPY --from=binary /src/target/release/eventbridge-integration-controller /usr/local/bin/eventbridge-integration-controller
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/eventbridge-integration-controller"]
CMD ["run"]
