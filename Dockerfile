# syntax=docker/dockerfile:1
# Build: compile the TypeScript and the native SQLite module with the full toolchain.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

# Run: a small image with only the runtime, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production DESKGATE_CONFIG=/etc/deskgate/deskgate.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's own config: data in the volume, SMTP and metrics on all interfaces.
COPY config/deskgate.docker.yaml /etc/deskgate/deskgate.yaml
RUN useradd --system --uid 10025 --home-dir /var/lib/deskgate --shell /usr/sbin/nologin deskgate \
 && mkdir -p /var/lib/deskgate && chown deskgate:deskgate /var/lib/deskgate
USER deskgate
VOLUME ["/var/lib/deskgate"]
EXPOSE 2525 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve"]
