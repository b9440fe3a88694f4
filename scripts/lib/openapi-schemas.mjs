// JSON Schemas (OpenAPI 3.1 dialect) of protobuf messages as proto3 JSON renders them: field
// names in lowerCamelCase, 64-bit integers as decimal strings, enums by name, well-known types
// in their JSON forms. The local gateway marshals with EmitUnpopulated, so every field is
// present in a response and an unset message (or proto3 `optional`) field is `null`; behind
// Envoy default values are left out. So no field is `required` and message fields admit null.
// Schemas are closed (`additionalProperties: false`): a field the contracts do not declare
// fails validation.

const INT64 = { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
const UINT64 = { type: "string", format: "uint64", pattern: "^[0-9]+$" };

const SCALARS = {
  TYPE_STRING: { type: "string" },
  TYPE_BYTES: { type: "string", format: "byte", contentEncoding: "base64" },
  TYPE_BOOL: { type: "boolean" },
  TYPE_INT32: { type: "integer", format: "int32" },
  TYPE_SINT32: { type: "integer", format: "int32" },
  TYPE_SFIXED32: { type: "integer", format: "int32" },
  TYPE_UINT32: { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 },
  TYPE_FIXED32: { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 },
  TYPE_INT64: INT64,
  TYPE_SINT64: INT64,
  TYPE_SFIXED64: INT64,
  TYPE_UINT64: UINT64,
  TYPE_FIXED64: UINT64,
  TYPE_DOUBLE: { type: "number", format: "double" },
  TYPE_FLOAT: { type: "number", format: "float" },
};

/** Well-known types that proto3 JSON renders as something other than an object of fields. */
const WELL_KNOWN = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time", description: "RFC 3339, UTC (`Z`)." },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: "Seconds with up to 9 fractional digits and an `s` suffix, e.g. `1.5s`.",
  },
  "google.protobuf.FieldMask": {
    type: "string",
    description: "Comma-separated field paths (lowerCamelCase), e.g. `name,parentId`.",
  },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Any": {
    type: "object",
    description: "A message of any type, named by `@type`, with that message's fields beside it.",
    required: ["@type"],
    properties: { "@type": { type: "string" } },
    additionalProperties: true,
  },
  "google.protobuf.DoubleValue": SCALARS.TYPE_DOUBLE,
  "google.protobuf.FloatValue": SCALARS.TYPE_FLOAT,
  "google.protobuf.Int64Value": INT64,
  "google.protobuf.UInt64Value": UINT64,
  "google.protobuf.Int32Value": SCALARS.TYPE_INT32,
  "google.protobuf.UInt32Value": SCALARS.TYPE_UINT32,
  "google.protobuf.BoolValue": SCALARS.TYPE_BOOL,
  "google.protobuf.StringValue": SCALARS.TYPE_STRING,
  "google.protobuf.BytesValue": SCALARS.TYPE_BYTES,
};

/** The component name of a message or enum: its full name, e.g. `filemesh.file.v1.File`. */
export const componentName = (fullName) => fullName.replace(/^\./, "");
export const ref = (fullName) => ({ $ref: `#/components/schemas/${componentName(fullName)}` });
const nullable = (schema) => ({ anyOf: [schema, { type: "null" }] });

/**
 * An index of the image's messages and enums by full name (no leading dot), each with the
 * source comment when the image carries source info.
 */
export function indexTypes(image) {
  const messages = new Map();
  const enums = new Map();
  for (const file of image.file) {
    const comments = new Map();
    for (const loc of file.sourceCodeInfo?.location ?? []) {
      const text = (loc.leadingComments ?? loc.trailingComments ?? "").trim();
      if (text) comments.set(loc.path.join("."), text.replace(/\n /g, "\n"));
    }
    const addEnums = (list, prefix, path) => {
      (list ?? []).forEach((e, i) => {
        enums.set(`${prefix}.${e.name}`, { desc: e, comment: comments.get([...path, i].join(".")) });
      });
    };
    const addMessages = (list, prefix, path) =>
      (list ?? []).forEach((m, i) => {
        const name = `${prefix}.${m.name}`;
        const at = [...path, i];
        const fieldComments = (m.field ?? []).map((_, j) => comments.get([...at, 2, j].join(".")));
        messages.set(name, { desc: m, comment: comments.get(at.join(".")), fieldComments });
        addMessages(m.nestedType, name, [...at, 3]);
        addEnums(m.enumType, name, [...at, 4]);
      });
    addMessages(file.messageType, file.package, [4]);
    addEnums(file.enumType, file.package, [5]);
    file.comments = comments; // services' and methods' comments, read by the document builder
  }
  return { messages, enums };
}

/**
 * Builds `components.schemas` on demand: `schemaOf(fullName)` returns a `$ref` (or the inline
 * JSON form of a well-known type) and adds the schemas it needs to `schemas`.
 */
export function schemaBuilder(types) {
  const schemas = {};
  const messageRef = (fullName) => {
    const name = componentName(fullName);
    if (WELL_KNOWN[name]) return structuredClone(WELL_KNOWN[name]);
    if (!(name in schemas)) {
      const entry = types.messages.get(name);
      if (!entry) throw new Error(`openapi: unknown message ${name}`);
      schemas[name] = {}; // placeholder: recursion stops here
      schemas[name] = messageSchema(entry);
    }
    return ref(name);
  };
  const enumRef = (fullName) => {
    const name = componentName(fullName);
    if (!(name in schemas)) {
      const entry = types.enums.get(name);
      if (!entry) throw new Error(`openapi: unknown enum ${name}`);
      schemas[name] = {
        type: "string",
        enum: entry.desc.value.map((v) => v.name),
        ...(entry.comment ? { description: entry.comment } : {}),
      };
    }
    return ref(name);
  };
  const valueSchema = (field) => {
    if (field.type === "TYPE_MESSAGE") return messageRef(field.typeName);
    if (field.type === "TYPE_ENUM") return enumRef(field.typeName);
    const s = SCALARS[field.type];
    if (!s) throw new Error(`openapi: field type ${field.type} is not supported`);
    return structuredClone(s);
  };
  /** The schema of one field as it appears inside its message. */
  const fieldSchema = (field) => {
    const mapEntry = mapEntryOf(types, field);
    if (mapEntry) {
      const value = mapEntry.field.find((f) => f.number === 2);
      return { type: "object", additionalProperties: valueSchema(value) };
    }
    const item = valueSchema(field);
    if (field.label === "LABEL_REPEATED") return { type: "array", items: item };
    const presence =
      field.proto3Optional || (field.type === "TYPE_MESSAGE" && field.oneofIndex === undefined);
    return presence && !isNullAlready(item) ? nullable(item) : item;
  };
  const messageSchema = ({ desc, comment, fieldComments }) => {
    const properties = {};
    (desc.field ?? []).forEach((f, i) => {
      const s = fieldSchema(f);
      const note = fieldComments[i];
      properties[f.jsonName] = note ? { ...s, description: note } : s; // 3.1: $ref may have siblings
    });
    return {
      type: "object",
      ...(comment ? { description: comment } : {}),
      properties,
      additionalProperties: false,
    };
  };
  /** A message's schema inline (its field types still become components). */
  const inlineMessage = (fullName) => messageSchema(types.messages.get(componentName(fullName)));
  return { schemas, messageRef, fieldSchema, valueSchema, inlineMessage };
}

/** Value and ListValue may hold null themselves. */
const isNullAlready = (s) => Object.keys(s).length === 0;

/** The map-entry message of a `map<k, v>` field, or undefined. */
export function mapEntryOf(types, field) {
  if (field.type !== "TYPE_MESSAGE" || field.label !== "LABEL_REPEATED") return undefined;
  const entry = types.messages.get(componentName(field.typeName));
  return entry?.desc.options?.mapEntry ? entry.desc : undefined;
}

export const isWellKnown = (fullName) => componentName(fullName) in WELL_KNOWN;
