# nugate: a caching, merging NuGet V3 proxy.
#   docker build -t nugate .
#   docker run -p 5000:5000 -v nugate-cache:/var/cache/nugate nugate
# The port inside the container is NUGATE_PORT (default 5000); the config is config/docker.json unless another one
# is mounted and named: docker run -v ./my.json:/app/config/site.json:ro nugate --config config/site.json
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
  && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    NUGATE_PORT=5000
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json proxy.config.json ./
COPY config ./config
# The cache (packages, metadata, the link-signing key) lives in a volume owned by the unprivileged user.
RUN mkdir -p /var/cache/nugate && chown node:node /var/cache/nugate
USER node
VOLUME ["/var/cache/nugate"]
EXPOSE 5000
# /ready, not /health: fails while the cache volume is not writable or the metadata store is unreachable.
# With listen.tls, set NUGATE_READY_URL=https://127.0.0.1:5000/ready (and NODE_EXTRA_CA_CERTS for a private CA).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.NUGATE_READY_URL || 'http://127.0.0.1:' + (process.env.NUGATE_PORT || 5000) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["--config", "config/docker.json"]
