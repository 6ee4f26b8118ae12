# tickflow: one image for every service (`tickflow ingest | process | serve | up | migrate`).
# Build: docker build -t tickflow .   The steps are the ones CI runs: npm ci, then the dashboard build.
# Runs as the unprivileged user node; .dockerignore keeps the context to package*.json, tsconfig.json, bin/, src/.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:dashboard && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/bin ./bin
COPY --from=build --chown=node:node /app/src ./src
COPY --from=build --chown=node:node /app/schemas ./schemas
# The embedded database (`up` without DATABASE_URL) lives in ./data: WORKDIR is root-owned, so the
# directory must exist and belong to node (compose mounts a volume there).
RUN mkdir /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/tickflow.js"]
CMD ["up"]
