// The generated contracts, one namespace per proto package, plus the method catalog and the
// descriptor image (both generated from proto/ by scripts/generate.mjs).

export { methodCatalog } from "../gen/catalog.js";
export { descriptorSetBase64 } from "../gen/descriptor.js";
export * as authTypes from "../gen/filemesh/auth/v1/account.js";
export * as authv1 from "../gen/filemesh/auth/v1/auth_service.js";
export * as processorv1 from "../gen/filemesh/processor/v1/processor_service.js";
export * as anypb from "../gen/google/protobuf/any.js";
export * as rpcDetails from "../gen/google/rpc/error_details.js";
export * as rpcStatus from "../gen/google/rpc/status.js";
export type { MethodInfo } from "./catalog-types.js";
export * as eventsv1 from "./events.js";
export * as filev1 from "./file.js";
export * as permissionv1 from "./permission.js";
export * as userv1 from "./user.js";
