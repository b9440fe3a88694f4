// The OpenAPI 3.1 document of the REST surface, generated from the descriptor image (JSON form,
// with source info for descriptions) and the method catalog (gen/methods.json: the
// filemesh.options.v1.policy of every RPC). Every google.api.http binding of a non-internal
// RPC becomes an operation; internal RPCs (policy.internal_callers) never appear. From the
// policy: bearer security unless public, the rate class, idempotency, admin. Errors are
// google.rpc.Status bodies under the HTTP statuses the gateways map gRPC codes to. The raw-body
// routes (google.api.HttpBody streams) are described as what they are on the wire: bytes.
import { componentName, indexTypes, isWellKnown, mapEntryOf, schemaBuilder } from "./openapi-schemas.mjs";

const HTTP_BODY = "google.api.HttpBody";
const VERBS = ["get", "post", "put", "patch", "delete"];

/** What each error status means here (ARCHITECTURE §7; gateway/internal/rpcstatus). */
const ERRORS = {
  400: "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: a bad field or parameter (`BadRequest` details), malformed JSON (`MALFORMED_JSON`), a state that does not allow the call.",
  401: "UNAUTHENTICATED: no, malformed, expired or revoked access token; wrong credentials.",
  403: "PERMISSION_DENIED: authenticated, but not allowed (a resource the caller cannot read answers 404 instead).",
  404: "NOT_FOUND: no such resource, or none the caller may read.",
  409: "ALREADY_EXISTS or ABORTED: a name or member already taken, a concurrent change (retry).",
  412: "FAILED_PRECONDITION `ETAG_MISMATCH`: the `etag` sent is not the current one (400 behind Envoy).",
  413: "The request body is over the gateway's limit (`BODY_TOO_LARGE`) or the upload over the size cap (`UPLOAD_TOO_LARGE`).",
  429: "RESOURCE_EXHAUSTED: a rate limit (`Retry-After` tells when to retry), a quota (`QuotaFailure`), load shed.",
  500: "INTERNAL or UNKNOWN: a fault of the service (a generic message; details are in its log).",
  503: "UNAVAILABLE: the service or one of its stores is away or busy (`Retry-After` when known). Retry idempotent calls.",
  504: "DEADLINE_EXCEEDED: the call did not finish within the gateway's upstream timeout.",
};

/** The error statuses an operation may answer, from its policy and shape. */
function errorStatuses(policy, { hasPathVars, hasBody, method, etag, rawUpload }) {
  const out = [400];
  // Public methods that take a credential in the request (a password, a refresh token, a link's
  // password) answer 401 when it is wrong: they are the ones in these rate classes.
  if (!policy.public || ["login", "refresh", "link"].includes(policy.rateClass)) out.push(401);
  if (!policy.public || policy.rateClass === "link") out.push(403);
  if (hasPathVars || !policy.public) out.push(404);
  if (method !== "get") out.push(409);
  if (etag) out.push(412);
  if (hasBody || rawUpload) out.push(413);
  out.push(429, 500, 503, 504);
  return out;
}

export function openapiDocument({ image, methods, version }) {
  const types = indexTypes(image);
  const builder = schemaBuilder(types);
  const policyOf = new Map(methods.map((m) => [m.path, m.policy]));
  const paths = {};
  const tags = [];
  for (const file of image.file) {
    if (!file.package?.startsWith("filemesh.")) continue;
    (file.service ?? []).forEach((svc, si) => {
      const fullService = `${file.package}.${svc.name}`;
      let tagged = false;
      (svc.method ?? []).forEach((m, mi) => {
        const policy = policyOf.get(`/${fullService}/${m.name}`);
        if (!policy) throw new Error(`openapi: ${fullService}/${m.name} is missing from methods.json`);
        const http = m.options?.["[google.api.http]"];
        if (!http || policy.internalCallers.length > 0) return; // internal RPCs never appear
        const rules = [http, ...(http.additionalBindings ?? [])];
        rules.forEach((rule, i) => {
          const verb = VERBS.find((v) => rule[v]);
          if (!verb)
            throw new Error(`openapi: ${m.name}: only get/post/put/patch/delete bindings are described`);
          const op = operation({
            types,
            builder,
            svc,
            method: m,
            rule,
            verb,
            policy,
            operationId: `${svc.name}_${m.name}${i ? `_${i + 1}` : ""}`,
            comment: file.comments.get(`6.${si}.2.${mi}`),
          });
          const path = openapiPath(rule[verb], types, m.inputType);
          paths[path] ??= {};
          if (paths[path][verb]) throw new Error(`openapi: two operations for ${verb.toUpperCase()} ${path}`);
          paths[path][verb] = op;
          tagged = true;
        });
      });
      if (tagged) {
        const note = file.comments.get(`6.${si}`);
        tags.push({ name: svc.name, description: note ?? fullService });
      }
    });
  }
  const status = errorSchemas(builder);
  const responses = {};
  for (const [code, description] of Object.entries(ERRORS)) {
    responses[`Error${code}`] = {
      description,
      ...(code === "429" || code === "503"
        ? {
            headers: {
              "Retry-After": {
                description: "Seconds to wait before retrying.",
                schema: { type: "integer", minimum: 0 },
              },
            },
          }
        : {}),
      content: { "application/json": { schema: status } },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "filemesh REST API",
      version,
      description: [
        "The REST surface of filemesh, generated from its protobuf contracts (`google.api.http` bindings) and",
        "their method policy by `scripts/generate.mjs`. Bodies are proto3 JSON (lowerCamelCase; 64-bit integers",
        "as strings; enums by name; timestamps RFC 3339). Authenticated routes take `Authorization: Bearer",
        "<accessToken>` from `POST /v1/auth:login`. Errors are `google.rpc.Status` with an `ErrorInfo` detail",
        "whose `reason` is stable. Every response carries `X-Request-Id` (the client's, or a new one).",
      ].join(" "),
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [
      { url: "/", description: "the gateway serving this document (`npm start`: http://localhost:8080)" },
    ],
    security: [{ bearer: [] }],
    tags,
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The `accessToken` of Login or Refresh (short-lived; ends with the session).",
        },
      },
      schemas: Object.fromEntries(Object.entries(builder.schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses,
    },
  };
}

/**
 * The error body: google.rpc.Status whose details always include an ErrorInfo (ARCHITECTURE
 * §7), each detail an Any; the details the services send are described with their fields.
 */
function errorSchemas(builder) {
  const known = ["ErrorInfo", "BadRequest", "RetryInfo", "QuotaFailure"];
  const url = (d) => `type.googleapis.com/google.rpc.${d}`;
  for (const d of known) {
    const inline = builder.inlineMessage(`google.rpc.${d}`);
    builder.schemas[`google.rpc.${d}.Any`] = {
      ...inline,
      description: `google.rpc.${d} as an Any.${inline.description ? `\n\n${inline.description}` : ""}`,
      required: ["@type"],
      properties: { "@type": { type: "string", const: url(d) }, ...inline.properties },
    };
  }
  const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
  const anyRef = builder.messageRef("google.protobuf.Any"); // inline: the Any JSON form
  builder.schemas["google.rpc.Status.Detail"] = {
    description:
      "One error detail: a known google.rpc detail with its fields, or any other message as an Any.",
    anyOf: [
      ...known.map((d) => ref(`google.rpc.${d}.Any`)),
      { ...anyRef, not: { required: ["@type"], properties: { "@type": { enum: known.map(url) } } } },
    ],
  };
  const status = builder.inlineMessage("google.rpc.Status");
  status.required = ["code", "details"];
  status.properties.details = {
    ...status.properties.details,
    items: ref("google.rpc.Status.Detail"),
    contains: ref("google.rpc.ErrorInfo.Any"),
  };
  builder.schemas["google.rpc.Status"] = status;
  return ref("google.rpc.Status");
}

/** `/v1/files/{file_id}` → `/v1/files/{fileId}` (JSON names; `{x=pattern}` → `{x}`). */
function openapiPath(template, types, inputType) {
  return template.replace(/\{([^}=]+)(=[^}]*)?\}/g, (_, name) => `{${jsonPath(types, inputType, name)}}`);
}

/** The fields along a dotted proto path (`parent.file_id`) from typeName. */
function fieldsAt(types, typeName, dotted) {
  const fields = [];
  let msg = types.messages.get(componentName(typeName))?.desc;
  for (const part of dotted.split(".")) {
    const field = msg?.field?.find((x) => x.name === part);
    if (!field) throw new Error(`openapi: no field ${dotted} in ${typeName}`);
    fields.push(field);
    msg = field.typeName ? types.messages.get(componentName(field.typeName))?.desc : undefined;
  }
  return fields;
}

const jsonPath = (types, typeName, dotted) =>
  fieldsAt(types, typeName, dotted)
    .map((f) => f.jsonName)
    .join(".");
const fieldAt = (types, typeName, dotted) => fieldsAt(types, typeName, dotted).at(-1);

function operation({ types, builder, svc, method, rule, verb, policy, operationId, comment }) {
  const template = rule[verb];
  const pathVars = [...template.matchAll(/\{([^}=]+)/g)].map((x) => x[1]);
  const body = rule.body ?? "";
  const input = types.messages.get(componentName(method.inputType)).desc;
  const bodyField = body && body !== "*" ? fieldAt(types, method.inputType, body) : undefined;
  const rawUpload =
    method.clientStreaming && componentName(bodyField?.typeName ?? method.inputType) === HTTP_BODY;
  const responseField = rule.responseBody ? fieldAt(types, method.outputType, rule.responseBody) : undefined;
  const rawDownload =
    method.serverStreaming && componentName(responseField?.typeName ?? method.outputType) === HTTP_BODY;
  if ((method.clientStreaming && !rawUpload) || (method.serverStreaming && !rawDownload)) {
    throw new Error(
      `openapi: ${method.name} streams messages that REST cannot carry; give it no http binding`,
    );
  }

  const parameters = pathVars.map((name) => {
    const f = fieldAt(types, method.inputType, name);
    return {
      name: jsonPath(types, method.inputType, name),
      in: "path",
      required: true,
      schema: builder.valueSchema(f),
    };
  });
  if (body !== "*") {
    const skip = new Set([...pathVars, ...(body ? [body] : [])]);
    parameters.push(...queryParameters(types, builder, input, "", skip, 0));
  }
  const passwordQuery = parameters.find((p) => p.in === "query" && p.name === "password");
  if (passwordQuery && pathVars.includes("token")) {
    passwordQuery.description =
      "The link's password; prefer the `X-Link-Password` header (a query can end up in logs).";
    parameters.push({
      name: "X-Link-Password",
      in: "header",
      required: false,
      description: "The link's password (wins over the `password` query parameter).",
      schema: { type: "string" },
    });
  }
  if (rawDownload) describeRange(parameters);

  const op = {
    operationId,
    tags: [svc.name],
    summary: `${method.name}`,
    description: describe(comment, policy, method, rawUpload, rawDownload),
    ...(policy.public ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    "x-filemesh-policy": {
      public: policy.public,
      idempotent: policy.idempotent,
      admin: policy.admin,
      rateClass: policy.rateClass,
    },
  };
  if (rawUpload) {
    op.requestBody = {
      required: true,
      description:
        "The raw bytes. `Content-Type` is stored as the content type (the processor sniffs it again).",
      content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
    };
  } else if (body) {
    op.requestBody = {
      required: true,
      content: {
        "application/json": {
          schema: bodyField ? builder.valueSchema(bodyField) : builder.messageRef(method.inputType),
        },
      },
    };
  }
  const okSchema = () =>
    responseField ? builder.valueSchema(responseField) : builder.messageRef(method.outputType);
  const ok = rawDownload
    ? {
        description: "The bytes (the range asked for).",
        headers: {
          "Content-Disposition": {
            description: "Always `attachment`, with the file's name.",
            schema: { type: "string" },
          },
          "Content-Length": {
            description: "Bytes in this response (the range).",
            schema: { type: "integer", minimum: 0 },
          },
          "X-Content-Type-Options": {
            description: "Always `nosniff`.",
            schema: { type: "string", const: "nosniff" },
          },
        },
        content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
      }
    : { description: "OK", content: { "application/json": { schema: okSchema() } } };
  const etag = (bodyField ? types.messages.get(componentName(bodyField.typeName))?.desc : input)?.field?.some(
    (f) => f.name === "etag",
  );
  op.responses = { 200: ok };
  if (rawDownload && input?.field?.some((f) => f.name === "redirect" && f.type === "TYPE_BOOL")) {
    op.responses[307] = {
      description:
        "With `redirect=true`: where the bytes are, for a short time (the data plane's " +
        "`/v1/data/{ticket}`, which serves Range and If-None-Match, or a presigned S3 URL).",
      headers: { Location: { description: "The data URL.", schema: { type: "string" } } },
    };
  }
  for (const code of errorStatuses(policy, {
    hasPathVars: pathVars.length > 0,
    hasBody: Boolean(body),
    method: verb,
    etag,
    rawUpload,
  })) {
    op.responses[code] = { $ref: `#/components/responses/Error${code}` };
  }
  return op;
}

/** Request fields not bound to the path or body, as query parameters (nested: `a.b`). */
function queryParameters(types, builder, msg, prefix, skip, depth, jsonPrefix = "") {
  const out = [];
  for (const f of msg.field ?? []) {
    const name = prefix ? `${prefix}.${f.name}` : f.name;
    if (skip.has(name)) continue;
    const jsonName = jsonPrefix ? `${jsonPrefix}.${f.jsonName}` : f.jsonName;
    if (f.type === "TYPE_MESSAGE" && !isWellKnown(f.typeName)) {
      if (mapEntryOf(types, f) || f.label === "LABEL_REPEATED" || depth > 3) continue; // not expressible as a query
      const nested = types.messages.get(componentName(f.typeName)).desc;
      out.push(...queryParameters(types, builder, nested, name, skip, depth + 1, jsonName));
      continue;
    }
    const item = builder.valueSchema(f);
    const schema = f.label === "LABEL_REPEATED" ? { type: "array", items: item } : item;
    out.push({
      name: jsonName,
      in: "query",
      required: false,
      schema,
      ...(f.label === "LABEL_REPEATED" ? { explode: true } : {}),
    });
  }
  return out;
}

function describeRange(parameters) {
  const text = {
    offset:
      "First byte to send (0-based). Past the end: 400 `OFFSET_OUT_OF_RANGE`; negative: 400 `INVALID_RANGE`.",
    length:
      "Bytes to send from `offset`; 0 or absent: to the end; more than is left: what is left. The same as " +
      "`Range: bytes=offset-(offset+length-1)` (the `Range` header itself is not read); the answer is 200 " +
      "with `Content-Length` of the range.",
  };
  for (const p of parameters) if (text[p.name]) p.description = text[p.name];
}

function describe(comment, policy, method, rawUpload, rawDownload) {
  const lines = [];
  if (comment) lines.push(comment);
  lines.push(
    `gRPC: \`${method.name}\`.` +
      (policy.public ? " Public: no access token needed." : " Needs a bearer access token.") +
      (policy.admin ? " Administrators only." : "") +
      (policy.idempotent ? " Idempotent: safe to retry." : "") +
      (policy.rateClass ? ` Rate class \`${policy.rateClass}\`.` : ""),
  );
  if (rawUpload)
    lines.push("The body is streamed to the service as it arrives (no buffering in the gateway).");
  if (rawDownload)
    lines.push(
      "The body streams; an error after the first byte aborts the connection instead of cutting the file short.",
    );
  return lines.join("\n\n");
}
