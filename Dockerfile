# Builds spladeq with the same make targets as a developer machine, then
# copies the binary, ONNX Runtime and the converted models into a slim image.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm python3 python3-venv curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Rust from rustup's own toolchain image contents (tokenizers needs a recent rustc).
COPY --from=rust:1-bookworm /usr/local/cargo /usr/local/cargo
COPY --from=rust:1-bookworm /usr/local/rustup /usr/local/rustup
ENV PATH=/usr/local/cargo/bin:$PATH RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
WORKDIR /src
COPY . .
RUN make build models

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /app spladeq
WORKDIR /app
COPY --from=build /src/bin/spladeq /app/spladeq
COPY --from=build /src/.deps/lib/libonnxruntime.so.1 /app/.deps/lib/libonnxruntime.so.1
COPY --from=build /src/.deps/models /app/.deps/models
ENV ONNXRUNTIME_LIB=/app/.deps/lib/libonnxruntime.so.1
USER spladeq
EXPOSE 8080
ENTRYPOINT ["/app/spladeq"]
