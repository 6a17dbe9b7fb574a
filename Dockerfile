# truceline: a small static image running as a non-root user.
# Build: docker build -t truceline .   (compose.yaml does this for you)

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/truceline ./cmd/truceline \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/trucectl ./cmd/trucectl

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/truceline /out/trucectl /usr/local/bin/
COPY configs/truceline.yaml /etc/truceline/truceline.yaml
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/truceline", "health", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/truceline"]
CMD ["serve", "--config", "/etc/truceline/truceline.yaml"]
