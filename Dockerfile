# Container image of the controller. Build: docker build -t eventbridge-integration-controller .
# (No Docker engine runs on the project's CI machines; this recipe is kept minimal and is
# checked by reading: locked dependencies, a release build, only the binary in the image.)

# --- build ---
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --locked --release \
    && rm -rf src target/release/.fingerprint/eventbridge-integration-controller-* target/release/deps/*ebi-* target/release/deps/eventbridge_integration_controller-*
COPY src ./src
RUN cargo build --locked --release --bin eventbridge-integration-controller \
    && strip target/release/eventbridge-integration-controller

# --- run ---
# distroless/cc: glibc and CA certificates, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/eventbridge-integration-controller /usr/local/bin/eventbridge-integration-controller
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/eventbridge-integration-controller"]
CMD ["run"]
