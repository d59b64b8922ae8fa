# syntax=docker/dockerfile:1
# Funnel: build with dev dependencies, run with production ones only.
# Node 24 LTS (Node 20 and 22 also work; see README). No Docker engine exists where this was written:
# docker/smoke replays these steps without one, copying exactly what the COPY lines below name.

FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
# npm ci's postinstall builds the AVX2 copy of hnswlib's addon (used only on CPUs with avx2 and fma).
COPY scripts/install ./scripts/install
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY models/manifest.json ./models/manifest.json
RUN npm run build && npm prune --omit=dev

# The offline default model is built at image build time so containers start ready and offline.
ARG FUNNEL_BUILD_DEFAULT_MODEL=true
RUN if [ "$FUNNEL_BUILD_DEFAULT_MODEL" = "true" ]; then node dist/scripts/build-default-model.js --out /app/models/funnel/glove-6b-100d-static; fi

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 FUNNEL_DATA_DIR=/data FUNNEL_MODELS_DIR=/app/models \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/models ./models
COPY --chown=node:node package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/server.js"]
