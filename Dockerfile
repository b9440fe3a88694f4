# syntax=docker/dockerfile:1
# One image for every filemesh service; the service is chosen by the argument:
#   docker run filemesh dist/auth.js        (k8s: args: ["dist/auth.js"])
# Stages: build (dev dependencies: buf, ts-proto, esbuild → gen/ and dist/), deps (production
# node_modules only, native addons compiled for this libc), runtime (distroless, non-root).
# Validated statically by test/deploy/dockerfile.test.ts (no Docker engine on our machines).

ARG NODE_IMAGE=node:20.19-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json buf.yaml buf.gen.yaml tsconfig.json ./
COPY scripts/ scripts/
COPY proto/ proto/
COPY services/ services/
# `npm ci` runs the postinstall (scripts/generate.mjs: buf build + ts-proto + method catalog);
# build.mjs bundles dist/<svc>.js (the Go gateway is not part of this image: .dockerignore
# leaves gateway/ out, and Envoy is the gateway in a cluster).
RUN npm ci --no-audit --no-fund && node scripts/build.mjs

FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY services/auth/package.json services/auth/
COPY services/contracts/package.json services/contracts/
COPY services/file/package.json services/file/
COPY services/kit/package.json services/kit/
COPY services/permission/package.json services/permission/
COPY services/processor/package.json services/processor/
COPY services/user/package.json services/user/
# Production dependencies only. Install scripts are skipped (the root postinstall needs the
# dev tools); the native addons that need theirs are rebuilt explicitly. The workspace links
# (@filemesh/*) are bundled into dist/ and removed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild bcrypt \
  && rm -rf node_modules/@filemesh node_modules/.cache

FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
  NODE_OPTIONS=--enable-source-maps \
  GRPC_HOST=0.0.0.0
COPY --from=deps --chown=65532:65532 /src/node_modules/ node_modules/
COPY --from=build --chown=65532:65532 /src/package.json ./package.json
COPY --from=build --chown=65532:65532 /src/dist/ dist/
# distroless "nonroot" (65532); numeric so Kubernetes can verify runAsNonRoot.
USER 65532:65532
EXPOSE 50051 50052 50053 50054 50055
# The distroless entrypoint is node itself.
CMD ["dist/auth.js"]
