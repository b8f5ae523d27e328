# The imdsguard image: static binaries on distroless, running as non-root.
# /imdsguard is every command; /imdsguard-proxy is the node metadata proxy
# alone (the same flags as `imdsguard proxy`, half the memory), which the
# proxy DaemonSet runs.
#   docker build -t imdsguard/imdsguard:0.1.0 --build-arg VERSION=v0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/imdsguard/imdsguard/internal/version.Version=${VERSION}" \
    -o /out/ ./cmd/imdsguard ./cmd/imdsguard-proxy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/imdsguard /imdsguard
COPY --from=build /out/imdsguard-proxy /imdsguard-proxy
# distroless's nonroot user; the chart sets the same in its securityContext.
USER 65532:65532
ENTRYPOINT ["/imdsguard"]
